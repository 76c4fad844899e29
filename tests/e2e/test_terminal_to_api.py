"""Simulator -> edge -> broker -> server -> API, with the server and the broker restarted mid-stream.

Runs twice: on the embedded defaults (SQLite, amqtt inside the server process) and on the real
servers (PostgreSQL from KAOQIN_TEST_DATABASE_URL, a Mosquitto of the test's own so that it may be
restarted). Ends with every record on the terminal stored exactly once and the outbox empty.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from contracts import punch_event_id
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings, TerminalSettings
from tests.support.auth import sign_in
from tests.support.processes import KaoqinProcess, wait_until
from tests.support.services import PrivateMosquitto, free_port

pytestmark = pytest.mark.e2e
ZONE = "Asia/Shanghai"


@dataclass
class Chain:
    """The broker/database variant under test and how to restart its broker."""

    database_url: str
    mqtt_url: str | None  # None: the server runs the embedded broker
    embedded_port: int
    restart_broker: Callable[[], None] | None  # None: the broker lives and dies with the server


@pytest.fixture(params=["embedded", "mosquitto+postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    if request.param == "embedded":
        yield Chain(f"sqlite:///{tmp_path / 'server.sqlite3'}", None, free_port(), None)
        return
    database_url = str(request.getfixturevalue("postgres_url"))
    broker = PrivateMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield Chain(database_url, broker.url, 0, broker.restart)
    finally:
        broker.stop()


TOKEN_SECRET = secrets.token_hex(24)


def server_process(chain: Chain, tmp_path: Path, http_port: int) -> KaoqinProcess:
    config = tmp_path / "server.yaml"
    lines = [
        f"database_url: {chain.database_url}",
        f"http_port: {http_port}",
        "ingest_batch_wait_seconds: 0.05",
        f"auth:\n  token_secret: {TOKEN_SECRET}",  # the API token outlives the server's restart
    ]
    lines.append(
        f"mqtt_url: {chain.mqtt_url}" if chain.mqtt_url else f"embedded_broker_port: {chain.embedded_port}"
    )
    config.write_text("\n".join(lines) + "\n")
    return KaoqinProcess(["server", "--config", str(config)], tmp_path / "server.log")


def stored_ids(api: httpx.Client) -> list[str]:
    ids: list[str] = []
    while True:
        page = api.get("/api/v1/punches", params={"limit": 500, "offset": len(ids)}).json()
        ids += [item["event_id"] for item in page["items"]]
        if len(ids) >= page["total"] or not page["items"]:
            return ids


def test_every_record_stored_exactly_once_across_restarts(chain: Chain, tmp_path: Path) -> None:
    http_port = free_port()
    server = server_process(chain, tmp_path, http_port)
    server.start()
    api = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=5)
    wait_until(lambda: api.get("/healthz").status_code == 200, 60, "the server to be healthy")
    sign_in(api, chain.database_url, "inspector")

    sim = TerminalSimulator(serial="E2E0001", users=30, records=400, timezone=ZONE, seed=3)
    sim.start()
    broker_url = chain.mqtt_url or f"mqtt://127.0.0.1:{chain.embedded_port}"
    agent = EdgeAgent(
        EdgeSettings(
            edge_id="edge-e2e",
            mqtt_url=broker_url,
            outbox_path=tmp_path / "outbox.sqlite3",
            poll_interval_seconds=0.5,
            retry_max_seconds=2,
            ack_timeout_seconds=3,
            terminals=[TerminalSettings(serial="E2E0001", host="127.0.0.1", port=sim.port, timezone=ZONE)],
        )
    )
    agent.start()

    # Staff keep punching while things break: one punch every 50 ms, 120 in all.
    stop = threading.Event()
    start = datetime(2026, 11, 2, 8, 0)

    def keep_punching() -> None:
        for i in range(120):
            if stop.wait(0.05):
                return
            sim.state.add_punch(str(i % 30 + 1), when=start + timedelta(seconds=17 * i), punch_state=i % 2)

    puncher = threading.Thread(target=keep_punching)
    puncher.start()
    try:
        wait_until(
            lambda: api.get("/api/v1/punches", params={"limit": 1}).json()["total"] > 0, 60, "first punches"
        )
        server.stop()  # mid-stream: the edge keeps reading the terminal into its outbox
        server.start()
        wait_until(lambda: api.get("/healthz").status_code == 200, 60, "the restarted server")
        if chain.restart_broker is not None:
            chain.restart_broker()
        else:  # the embedded broker lives in the server process: restart that again
            server.stop()
            server.start()
        puncher.join()

        expected = {
            punch_event_id("E2E0001", r.user_id, r.timestamp, r.punch_state, r.verify_mode)
            for r in sim.state.records
        }
        assert len(expected) == 520
        wait_until(lambda: len(stored_ids(api)) >= len(expected), 120, "every record to be stored")
        wait_until(lambda: agent.outbox.depth() == 0, 60, "the edge outbox to drain")
        ids = stored_ids(api)
        assert len(ids) == len(set(ids)), "a record was stored twice"
        assert set(ids) == expected
        devices = api.get("/api/v1/devices").json()
        assert any(d["device_id"] == "E2E0001" and d["reachable"] for d in devices)
    finally:
        stop.set()
        puncher.join()
        agent.stop()
        sim.stop()
        server.stop()
        print(server.output()[-4000:])
