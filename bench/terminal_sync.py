"""Terminal sync against the simulator with 100 000 records over TCP.

1. Full read of the log: plain pyzk ``get_attendance()`` (what peer tools do every cycle) beside
   our adapter's read and the edge's reconciliation (first run, queuing every record, and steady
   state, when every record is already known).
2. Latency from a punch injected into the simulator to the event stored on the server (its
   ``stored_at``): live capture, p50 and p95 over 200 punches, beside the same chain polling the
   log instead. Simulator, edge agent, embedded broker and server ingest (SQLite) share this one
   process, so the figures include their contention for the interpreter.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from contracts import punch_event_id
from devices.zkteco import ZKTecoConfig, ZKTecoTerminal
from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent, open_zkteco_terminal
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.punch_poller import PunchPoller
from edge.settings import EdgeSettings, TerminalSettings

RECORDS = 100_000
USERS = 200
LIVE_PUNCHES = 200
LIVE_GAP_SECONDS = 0.1
POLL_PUNCHES = 20
POLL_GAP_SECONDS = 0.5
ZONE = "Asia/Shanghai"
SERIAL = "BENCH0001"


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _pyzk_full_read(port: int) -> tuple[float, int]:
    from zk import ZK

    conn = ZK("127.0.0.1", port=port, timeout=120, ommit_ping=True).connect()
    try:
        seconds, records = _timed(conn.get_attendance)
    finally:
        conn.disconnect()
    return seconds, len(records)  # type: ignore[arg-type]


def _adapter_full_read(port: int) -> tuple[float, int]:
    with ZKTecoTerminal(ZKTecoConfig(host="127.0.0.1", port=port, timezone=ZONE, timeout=120)) as terminal:
        seconds, (punches, _problems) = _timed(terminal.read_log)  # type: ignore[misc]
    return seconds, len(punches)


def _terminal(port: int, **fields: object) -> TerminalSettings:
    return TerminalSettings.model_validate(
        {"serial": SERIAL, "host": "127.0.0.1", "port": port, "timezone": ZONE, "timeout_seconds": 120}
        | fields
    )


def _reconcile(port: int, outbox: Outbox) -> tuple[float, int]:
    poller = PunchPoller(
        edge_id="bench-edge",
        terminal=_terminal(port),
        open_terminal=open_zkteco_terminal,
        outbox=outbox,
        clock=SystemClock(),
        poll_interval=1,
        retry_max=1,
        status_interval=3600,
    )
    try:
        seconds, result = _timed(poller.poll_once)
    finally:
        poller._close()
    return seconds, result.new_events  # type: ignore[attr-defined]


class _Server:
    """Embedded broker + the server's MQTT consumer and ingest into SQLite."""

    def __init__(self, workdir: Path) -> None:
        from server.adapters.db import create_db_engine
        from server.adapters.embedded_broker import EmbeddedBroker
        from server.adapters.ingest_store import SqlIngestStore
        from server.adapters.migrate import migrate
        from server.adapters.mqtt_consumer import MqttConsumer
        from server.services.ingest import IngestService, IngestStats

        url = f"sqlite:///{workdir / 'server.sqlite3'}"
        migrate(url)
        self.engine = create_db_engine(url)
        self.broker = EmbeddedBroker("127.0.0.1", _free_port())
        self.broker.start()
        self.consumer = MqttConsumer(
            self.broker.url, "bench-server", IngestService(SqlIngestStore(self.engine), IngestStats())
        )
        self.consumer.start()
        if not self.consumer.wait_until_connected(30):
            raise RuntimeError("the bench server did not connect to its broker")

    def stored_at(self, ids: list[str]) -> dict[str, datetime]:
        from server.adapters.tables import punches

        query = select(punches.c.event_id, punches.c.stored_at).where(punches.c.event_id.in_(ids))
        with self.engine.connect() as connection:
            return {row.event_id: row.stored_at for row in connection.execute(query)}

    def stop(self) -> None:
        self.consumer.stop()
        self.broker.stop()
        self.engine.dispose()


def _latencies(
    sim: TerminalSimulator,
    server: _Server,
    settings: EdgeSettings,
    count: int,
    gap: float,
    ready: Callable[[], bool],
) -> list[float]:
    agent = EdgeAgent(settings)
    agent.start()
    try:
        _wait(ready, 120, "the edge to be ready")
        injected: dict[str, datetime] = {}
        for n in range(count):
            user = str(n % USERS + 1)
            at = datetime.now(UTC)
            record = sim.add_punch(user, punch_state=(n // USERS) % 2)
            injected[
                punch_event_id(SERIAL, user, record.timestamp, record.punch_state, record.verify_mode)
            ] = at
            time.sleep(gap)
        _wait(lambda: len(server.stored_at(list(injected))) == len(injected), 120, "every punch stored")
        stored = server.stored_at(list(injected))
        return sorted((stored[i] - injected[i]).total_seconds() for i in injected)
    finally:
        agent.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark gave up waiting for {what}")
        time.sleep(0.05)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]  # type: ignore[index]


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Room above the 100 000 records, so the punches below append instead of overwriting.
        faults = SimFaults(record_capacity=RECORDS * 2)
        with TerminalSimulator(
            serial=SERIAL, users=USERS, records=RECORDS, timezone=ZONE, faults=faults
        ) as sim:
            pyzk = [_pyzk_full_read(sim.port) for _ in range(2)]
            ours = [_adapter_full_read(sim.port) for _ in range(2)]
            outbox_path = workdir / "outbox.sqlite3"
            outbox = Outbox(outbox_path)
            first = _reconcile(sim.port, outbox)
            steady = [_reconcile(sim.port, outbox) for _ in range(2)]
            # The server has acknowledged the history: the edge starts from a synced state.
            outbox.remove(
                [m.event_id for m in outbox.due(resend_after=0, limit=RECORDS * 2, max_unacked=RECORDS * 2)]
            )
            outbox.close()

            server = _Server(workdir)
            try:
                settings = EdgeSettings(
                    edge_id="bench-edge",
                    mqtt_url=server.broker.url,
                    outbox_path=outbox_path,
                    poll_interval_seconds=1,
                    status_interval_seconds=3600,
                    terminals=[_terminal(sim.port, live_idle_seconds=0.5, live_check_seconds=3600)],
                )
                live = _latencies(
                    sim,
                    server,
                    settings,
                    LIVE_PUNCHES,
                    LIVE_GAP_SECONDS,
                    lambda: sim.state.live_listeners == 1,
                )
                polling_settings = settings.model_copy(
                    update={"terminals": [_terminal(sim.port, live_capture=False)]}
                )
                polled = _latencies(
                    sim, server, polling_settings, POLL_PUNCHES, POLL_GAP_SECONDS, lambda: True
                )
            finally:
                server.stop()
        return _report(pyzk, ours, first, steady, live, polled)


def _report(
    pyzk: list[tuple[float, int]],
    ours: list[tuple[float, int]],
    first: tuple[float, int],
    steady: list[tuple[float, int]],
    live: list[float],
    polled: list[float],
) -> str:
    def best(runs: list[tuple[float, int]]) -> float:
        return min(seconds for seconds, _ in runs)

    baseline = best(pyzk)
    rows = [
        ("plain pyzk `get_attendance()` (baseline)", best(pyzk), pyzk[0][1]),
        ("our adapter `read_log()` (pyzk session, own record decoder)", best(ours), ours[0][1]),
        ("reconciliation, first run (read, decode, 100 000 events queued)", first[0], first[1]),
        ("reconciliation, steady state (read, decode, nothing new)", best(steady), steady[0][1]),
    ]
    lines = [
        f"Simulator with {RECORDS:,} attendance records (40-byte layout) and {USERS} users, TCP, one "
        "connection. Best of two runs except the first reconciliation (one run).",
        "",
        "## Full read of the log",
        "",
        "| what | seconds | records / new events | vs pyzk |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {seconds:.2f} | {count:,} | {seconds / baseline:.2f}x |" for name, seconds, count in rows
    ]
    lines += [
        "",
        "With live capture the edge needs no full read per cycle at all: new punches arrive as events, "
        "and the reconciliation above runs at start, after reconnects, on a record count that live "
        "capture does not explain, and every `reconcile_interval_seconds` (off-peak when a window is set).",
        "",
        "## Punch on the terminal to event stored on the server",
        "",
        "| path | punches | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|",
        f"| live capture (`live_idle_seconds` 0.5) | {len(live)} | {_pct(live, 50):.3f} | {_pct(live, 95):.3f} | "
        f"{max(live):.3f} |",
        f"| baseline: polling the {RECORDS:,}-record log (`poll_interval_seconds` 1) | {len(polled)} | "
        f"{_pct(polled, 50):.3f} | {_pct(polled, 95):.3f} | {max(polled):.3f} |",
        "",
        "Latency = the server's `stored_at` minus the host time just before the punch was added to the "
        "simulator (same host clock). Chain: simulator → pyzk live capture → edge outbox → embedded MQTT "
        "broker → server consumer → SQLite, all in this one process on the machine below.",
    ]
    return "\n".join(lines)
