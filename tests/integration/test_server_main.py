"""``serve()`` as a real process: it answers HTTP, and SIGTERM/SIGINT stop it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.test_server_ingest import wait_for
from tests.support.services import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "from server.main import serve\n"
    "from server.settings import load_server_settings\n"
    "serve(load_server_settings(None))\n"
)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_and_exits_cleanly_on_a_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    http_port, broker_port = free_port(), free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        KAOQIN_SERVER_DATABASE_URL=f"sqlite:///{tmp_path / 'kaoqin.sqlite3'}",
        KAOQIN_SERVER_HTTP_PORT=str(http_port),
        KAOQIN_SERVER_EMBEDDED_BROKER_PORT=str(broker_port),
    )
    env.pop("KAOQIN_SERVER_MQTT_URL", None)
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for(
                lambda: process.poll() is not None or _healthy(f"http://127.0.0.1:{http_port}/healthz"),
                "the server process to become healthy",
                timeout=30,
            )
            assert process.poll() is None, log.read_text()
            process.send_signal(stop_signal)
            assert process.wait(timeout=20) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text()
    assert "MQTT consumer stopped" in text, text
    assert "stopped" in text.split("MQTT consumer stopped")[-1], text
    assert "Traceback" not in text, text


def test_serve_raises_when_start_up_fails(tmp_path: Path) -> None:
    from server.main import ServerStartError, serve
    from server.settings import ServerSettings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = ServerSettings(
            database_url=f"sqlite:///{tmp_path / 'kaoqin.sqlite3'}",
            embedded_broker_port=taken.getsockname()[1],
            http_port=free_port(),
        )
        with pytest.raises(ServerStartError, match="did not start"):
            serve(settings)
