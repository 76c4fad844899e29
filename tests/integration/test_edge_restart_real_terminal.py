"""A restarted edge agent re-reads a real terminal without duplicates and without skipping a record.

The simulator speaks the ZK protocol over TCP; the agent reads it with the unmodified pyzk. The first
agent is stopped while punches flow, more punches are made while no agent runs, and a new agent on the
same outbox takes over. The server (in this process; SQLite with its embedded broker, and PostgreSQL
with a Mosquitto of the test's own) must end with exactly the terminal's records, and may have seen
again at most what the first agent had not yet had acknowledged when it stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

from contracts import punch_event_id
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.outbox import Outbox
from edge.settings import EdgeSettings, TerminalSettings
from server.adapters import tables
from server.adapters.db import create_db_engine
from server.app import create_app
from server.settings import ServerSettings
from tests.support.processes import wait_until
from tests.support.services import PrivateMosquitto, free_port

ZONE = "Asia/Shanghai"
SERIAL = "RESTART01"


@dataclass
class InProcessServer:
    app: FastAPI
    broker_url: str
    database_url: str

    def stored(self) -> list[str]:
        engine = create_db_engine(self.database_url)
        try:
            with engine.connect() as c:
                return list(c.execute(select(tables.punches.c.event_id)).scalars())
        finally:
            engine.dispose()

    def count(self) -> int:
        engine = create_db_engine(self.database_url)
        try:
            with engine.connect() as c:
                return int(c.execute(select(func.count()).select_from(tables.punches)).scalar_one())
        finally:
            engine.dispose()

    def duplicates_ignored(self) -> int:
        return int(self.app.state.kaoqin.ingest_stats.snapshot().duplicates_ignored)


@pytest.fixture(params=["embedded+sqlite", "mosquitto+postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessServer]:
    if request.param == "embedded+sqlite":
        yield from _serve(f"sqlite:///{tmp_path / 'server.sqlite3'}", None)
        return
    broker = PrivateMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield from _serve(str(request.getfixturevalue("postgres_url")), broker.url)
    finally:
        broker.stop()


def _serve(database_url: str, mqtt_url: str | None) -> Iterator[InProcessServer]:
    settings = ServerSettings(
        database_url=database_url,
        mqtt_url=mqtt_url,
        http_port=free_port(),
        embedded_broker_port=free_port(),
        ingest_batch_wait_seconds=0.05,
    )
    app = create_app(settings)
    runner = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.http_port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=runner.run, name="server", daemon=True)
    thread.start()
    try:
        wait_until(lambda: runner.started, 60, "the server to start")
        yield InProcessServer(app, settings.broker_url, settings.database_url)
    finally:
        runner.should_exit = True
        thread.join(timeout=30)


def _agent(server: InProcessServer, outbox: Path, port: int) -> EdgeAgent:
    return EdgeAgent(
        EdgeSettings(
            edge_id="edge-restart",
            mqtt_url=server.broker_url,
            outbox_path=outbox,
            poll_interval_seconds=0.5,
            retry_max_seconds=2,
            ack_timeout_seconds=3,
            terminals=[TerminalSettings(serial=SERIAL, host="127.0.0.1", port=port, timezone=ZONE)],
        )
    )


def test_a_restarted_agent_stores_every_record_once(server: InProcessServer, tmp_path: Path) -> None:
    sim = TerminalSimulator(serial=SERIAL, users=20, records=150, timezone=ZONE, seed=11)
    sim.start()
    outbox_path = tmp_path / "outbox.sqlite3"
    start = datetime(2026, 11, 2, 8, 0)
    made = [0]

    def punch(n: int) -> None:
        for _ in range(n):
            i = made[0]
            sim.state.add_punch(str(i % 20 + 1), when=start + timedelta(seconds=13 * i), punch_state=i % 2)
            made[0] += 1

    stop_punching = threading.Event()

    def keep_punching() -> None:
        while not stop_punching.wait(0.03):
            punch(1)

    first = _agent(server, outbox_path, sim.port)
    second: EdgeAgent | None = None
    puncher = threading.Thread(target=keep_punching)
    try:
        first.start()
        puncher.start()
        # The initial log and some punches made since: the first agent is live-capturing when stopped.
        wait_until(lambda: server.count() > 160, 60, "the first agent's records to be stored")
        first.stop()  # mid-stream: the terminal keeps logging punches
        with_first = made[0]
        left = Outbox(outbox_path)
        try:
            unacknowledged_at_stop = left.depth()
        finally:
            left.close()
        stop_punching.set()
        puncher.join()
        punch(25)  # made while no agent runs
        assert made[0] >= with_first + 25

        second = _agent(server, outbox_path, sim.port)
        second.start()
        punch(10)  # and after the new agent took over

        expected = {
            punch_event_id(SERIAL, r.user_id, r.timestamp, r.punch_state, r.verify_mode)
            for r in sim.state.records
        }
        assert len(expected) == 150 + made[0]
        wait_until(lambda: server.count() >= len(expected), 120, "every record to be stored")
        wait_until(lambda: second is not None and second.outbox.depth() == 0, 60, "the outbox to drain")
        stored = server.stored()
        assert len(stored) == len(expected)
        assert set(stored) == expected
        assert server.duplicates_ignored() <= unacknowledged_at_stop, (
            "the new agent resent acknowledged records"
        )
    finally:
        stop_punching.set()
        if puncher.is_alive():
            puncher.join()
        if second is not None:
            second.stop()
        sim.stop()
