"""`kaoqin demo --exit-after N` as `make demo` runs it: a real process on free ports in its own folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import free_port

pytestmark = pytest.mark.integration


def test_demo_runs_the_chain_and_exits_with_a_summary(tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "kaoqin.cli", "demo", "--exit-after", "8", "--staff", "10",
         "--http-port", str(http_port), "--mqtt-port", str(mqtt_port), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"http://127.0.0.1:{http_port}/docs" in done.stdout
    finished = re.search(r"^demo finished: (\d+) events stored \((\d+) punches\)", done.stdout, re.M)
    assert finished is not None, output
    stored, punches = int(finished[1]), int(finished[2])
    assert stored > 0
    # The two terminals start with 25 and 50 records in their logs: all of them reach the server.
    assert punches >= 75, output
    assert (workdir / "kaoqin.sqlite3").is_file()
    assert (workdir / "edge-outbox.sqlite3").is_file()
    assert "Traceback" not in output
