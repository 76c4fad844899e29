"""Fault-test rig: the server and edges as real processes, and a check of the end-to-end invariant.

The invariant every fault test ends with: every event the edges ever held is stored exactly once,
and no outbox holds anything. Events are planted in an edge's outbox the way its poller writes
them (``Outbox.add``), so a test can queue tens of thousands without reading them off a terminal.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from contracts import EventKind, PunchEvent, PunchSource, VerifyMethod, encode, event_topic
from edge.outbox import Outbox, OutboxMessage
from server.adapters.db import create_db_engine
from server.adapters.tables import dead_letters, device_status_reports, face_observations, punches
from tests.support.processes import KaoqinProcess, wait_until
from tests.support.services import free_port

_START = datetime(2026, 11, 2, 8, 0)
FIRMWARE_CONFIGS = Path(__file__).resolve().parents[2] / "firmware_configs"


def punch_messages(edge_id: str, serial: str, count: int, *, first: int = 0) -> list[OutboxMessage]:
    """``count`` distinct punches of terminal ``serial``, as the poller would queue them."""
    messages = []
    observed = datetime.now(UTC)
    for i in range(first, first + count):
        device_time = _START + timedelta(seconds=i)
        event = PunchEvent.create(
            edge_id=edge_id,
            device_serial=serial,
            user_id=str(i % 500 + 1),
            device_time=device_time,
            occurred_at=device_time.replace(tzinfo=UTC) - timedelta(hours=8),
            observed_at=observed,
            verify_mode=1,
            verify_method=VerifyMethod.FINGERPRINT,
            punch_state=i % 2,
            source=PunchSource.PULL,
            log_index=i,
        )
        messages.append(
            OutboxMessage(event.event_id, event_topic(edge_id, EventKind.PUNCH, serial), encode(event))
        )
    return messages


def plant(outbox_path: Path, messages: list[OutboxMessage]) -> None:
    """Queue ``messages`` in the outbox at ``outbox_path`` (created if missing)."""
    outbox = Outbox(outbox_path)
    try:
        outbox.add(messages)
    finally:
        outbox.close()


def outbox_depth(outbox_path: Path) -> int:
    """How many events the outbox still holds (read from another process, as an operator would)."""
    if not outbox_path.exists():
        return 0
    with sqlite3.connect(outbox_path, timeout=10) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
    return int(count)


def outbox_sent_unsent(outbox_path: Path) -> tuple[int, int]:
    """How many outbox entries were published at least once, and how many never (attempts = 0)."""
    if not outbox_path.exists():
        return 0, 0
    with sqlite3.connect(outbox_path, timeout=10) as db:
        sent, unsent = db.execute(
            "SELECT COALESCE(SUM(attempts > 0), 0), COALESCE(SUM(attempts = 0), 0) FROM outbox"
        ).fetchone()
    return int(sent), int(unsent)


def outbox_ids(outbox_path: Path) -> set[str]:
    """The event ids an outbox still holds."""
    with sqlite3.connect(outbox_path, timeout=10) as db:
        return {row[0] for row in db.execute("SELECT event_id FROM outbox")}


def stored_punch_ids(database_url: str) -> list[str]:
    """Every stored punch's event id (a list: a duplicate would show as a repeated id)."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(punches.c.event_id)).scalars())
    finally:
        engine.dispose()


def _continue(process: KaoqinProcess) -> None:
    if process.process is not None and process.process.poll() is None:
        process.process.send_signal(signal.SIGCONT)


@dataclass(frozen=True)
class DeadLetterRow:
    topic: str
    payload: bytes
    reason: str
    claimed_event_id: str | None


def dead_letter_rows(database_url: str) -> list[DeadLetterRow]:
    """Every dead letter, oldest first."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    dead_letters.c.topic,
                    dead_letters.c.payload,
                    dead_letters.c.reason,
                    dead_letters.c.claimed_event_id,
                ).order_by(dead_letters.c.id)
            )
            return [DeadLetterRow(r.topic, bytes(r.payload), r.reason, r.claimed_event_id) for r in rows]
    finally:
        engine.dispose()


def stored_event_count(database_url: str) -> int:
    """Punches, face observations and device status reports stored, all together."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return sum(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (punches, face_observations, device_status_reports)
            )
    finally:
        engine.dispose()


@dataclass
class ServerRig:
    """``kaoqin server`` in a process; embedded broker when ``mqtt_url`` is None."""

    workdir: Path
    database_url: str
    mqtt_url: str | None = None
    name: str = "server"
    extra: dict[str, object] = field(default_factory=dict)
    embedded_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: KaoqinProcess | None = None

    @property
    def broker_url(self) -> str:
        return self.mqtt_url or f"mqtt://127.0.0.1:{self.embedded_port}"

    def _config(self) -> Path:
        values: dict[str, object] = {
            "database_url": self.database_url,
            "http_port": self.http_port,
            "ingest_batch_wait_seconds": 0.05,
            **self.extra,
        }
        if self.mqtt_url:
            values["mqtt_url"] = self.mqtt_url
        else:
            values["embedded_broker_port"] = self.embedded_port
        path = self.workdir / f"{self.name}.yaml"
        path.write_text("".join(f"{key}: {value}\n" for key, value in values.items()))
        return path

    def start(self, *, wait: bool = True) -> None:
        self.process = KaoqinProcess(
            ["server", "--config", str(self._config())], self.workdir / f"{self.name}.log"
        )
        self.process.start()
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until /healthz answers 200: the database is reachable and the consumer is subscribed."""
        import httpx

        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2).status_code == 200,
            timeout,
            f"{self.name} to be healthy",
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None:
            _continue(self.process)  # a paused process would sit on SIGTERM
            self.process.stop(sig)

    def kill(self) -> None:
        """SIGKILL: the batch in hand is neither finished nor acknowledged (nor PUBACKed)."""
        self.stop(signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP: a server so slow it takes nothing (the broker's queue for it fills up)."""
        self._popen().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._popen().send_signal(signal.SIGCONT)

    def _popen(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "the server was never started"
        assert self.process.process is not None, "the server is not running"
        return self.process.process

    def output(self) -> str:
        return self.process.output() if self.process else ""


@dataclass
class EdgeRig:
    """``kaoqin edge --config`` in a process, with its outbox at a known path."""

    workdir: Path
    edge_id: str
    mqtt_url: str
    terminals: list[dict[str, object]] = field(default_factory=list)
    ack_timeout_seconds: float = 3
    extra: dict[str, object] = field(default_factory=dict)  # more settings, e.g. max_unacked
    process: KaoqinProcess | None = None

    @property
    def outbox_path(self) -> Path:
        return self.workdir / f"outbox-{self.edge_id}.sqlite3"

    def _config(self) -> Path:
        lines = [
            f"edge_id: {self.edge_id}",
            f"mqtt_url: {self.mqtt_url}",
            f"outbox_path: {self.outbox_path}",
            f"ack_timeout_seconds: {self.ack_timeout_seconds}",
            "poll_interval_seconds: 0.5",
            "retry_max_seconds: 2",
            "status_interval_seconds: 3600",
            f"firmware_configs_dir: {FIRMWARE_CONFIGS}",
            *(f"{key}: {value}" for key, value in self.extra.items()),
            "terminals:",
        ]
        if not self.terminals:
            lines[-1] = "terminals: []"
        for terminal in self.terminals:
            first = True
            for key, value in terminal.items():
                lines.append(f"  {'- ' if first else '  '}{key}: {value}")
                first = False
        path = self.workdir / f"edge-{self.edge_id}.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        self.process = KaoqinProcess(
            ["edge", "--config", str(self._config())], self.workdir / f"edge-{self.edge_id}.log"
        )
        self.process.start()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush; whatever was in flight is in flight."""
        if self.process is not None:
            self.process.stop(signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None:
            _continue(self.process)
            self.process.stop()

    def pause(self) -> None:
        """SIGSTOP: the edge takes nothing off its socket (acks pile up unread)."""
        assert self.process is not None, "the edge was never started"
        assert self.process.process is not None, "the edge is not running"
        self.process.process.send_signal(signal.SIGSTOP)

    def depth(self) -> int:
        return outbox_depth(self.outbox_path)

    def sent_unsent(self) -> tuple[int, int]:
        """(published at least once, never published) among the events still in the outbox."""
        return outbox_sent_unsent(self.outbox_path)

    def held_ids(self) -> set[str]:
        return outbox_ids(self.outbox_path)

    def output(self) -> str:
        return self.process.output() if self.process else ""


def assert_exactly_once(database_url: str, expected: set[str], edges: list[EdgeRig], timeout: float) -> None:
    """Wait until everything expected is stored and every outbox is empty; then check exactly once."""
    wait_until(
        lambda: len(set(stored_punch_ids(database_url)) & expected) == len(expected),
        timeout,
        f"all {len(expected)} events to be stored",
        interval=0.5,
    )
    for edge in edges:
        wait_until(lambda edge=edge: edge.depth() == 0, timeout, f"the outbox of {edge.edge_id} to drain")
    ids = stored_punch_ids(database_url)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert set(ids) == expected, f"{len(set(ids) - expected)} unexpected stored events"
