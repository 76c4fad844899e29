"""End-to-end ingest throughput: edge outbox → broker → server → database → ack back at the edge.

Each run plants the same punch events in the outboxes of ``EDGES`` edges (the edges' own
``Outbox`` and ``MqttLink``, in this process), starts them, and times from the first publish to
the last acknowledgement, when every outbox is empty; it then checks every event was stored exactly
once. Server processes are real ``kaoqin server`` processes on a fresh database. Beside each
run: the raw broker throughput of the same messages in the same run (paho publishers → one paho
subscriber in another process, QoS 1: the ceiling), p50/p99 latency from an event's first publish
to its acknowledgement, and the CPU seconds every process spent (where the time goes).

Runs: SQLite + the embedded amqtt broker (one server process; amqtt speaks MQTT 3.1.1, so no shared
subscription), and PostgreSQL (KAOQIN_TEST_DATABASE_URL, else the machine's) + a private Mosquitto
with one and with two server processes (two = one MQTT 5 shared subscription group).
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._ingest_rig import (
    AmqttBroker,
    Mosquitto,
    PostgresDatabase,
    ServerProcess,
    cpu_seconds,
    raw_broker_throughput,
    wait_for,
)
from contracts import EventKind, PunchEvent, PunchSource, VerifyMethod, encode, event_topic
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox, OutboxMessage
from edge.ports import SystemClock
from edge.settings import EdgeSettings

# KAOQIN_BENCH_INGEST_EVENTS makes a quick smoke run smaller; `make bench` uses the default.
EVENTS = int(os.environ.get("KAOQIN_BENCH_INGEST_EVENTS", "40000"))
EDGES = 4
EDGE_INFLIGHT = 100  # MqttLink's paho window (max_inflight_messages_set)
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SERVER_SETTINGS: dict[str, object] = {"ingest_batch_size": 500, "ingest_batch_wait_seconds": 0.05}


class TimedOutbox(Outbox):
    """The edge's outbox, noting when each event was first handed out to publish and when acked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path
        self.first_sent: dict[str, float] = {}
        self.acked_at: dict[str, float] = {}

    def due(self, *, resend_after: float, limit: int, max_unacked: int) -> list[OutboxMessage]:
        messages = super().due(resend_after=resend_after, limit=limit, max_unacked=max_unacked)
        now = time.perf_counter()
        for message in messages:
            self.first_sent.setdefault(message.event_id, now)
        return messages

    def remove(self, event_ids: list[str]) -> int:  # type: ignore[override]
        removed = super().remove(event_ids)
        now = time.perf_counter()
        for event_id in event_ids:
            self.acked_at.setdefault(event_id, now)
        return removed


def punches(edge_id: str, count: int) -> list[OutboxMessage]:
    """``count`` distinct punches of one terminal of ``edge_id``, as its poller would queue them."""
    serial = f"BENCH-{edge_id}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=count)
    messages = []
    for i in range(count):
        occurred = start + timedelta(seconds=i)
        event = PunchEvent.create(
            edge_id=edge_id,
            device_serial=serial,
            user_id=str(i % 500 + 1),
            device_time=(occurred + timedelta(hours=8)).replace(tzinfo=None),
            occurred_at=occurred,
            observed_at=occurred,
            verify_mode=1,
            verify_method=VerifyMethod.FINGERPRINT,
            punch_state=i % 2,
            source=PunchSource.LIVE,
            log_index=i,
        )
        messages.append(
            OutboxMessage(event.event_id, event_topic(edge_id, EventKind.PUNCH, serial), encode(event))
        )
    return messages


@dataclass
class Run:
    name: str
    servers: int
    seconds: float
    raw_per_second: float
    latencies: list[float]
    cpu: dict[str, float]
    batches: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return EVENTS / self.seconds


def _edges_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def deliver(
    broker_url: str, workdir: Path, batches: dict[str, list[OutboxMessage]]
) -> tuple[float, list[float]]:
    """Start the edges on planted outboxes; wait until every outbox is empty. Returns the seconds from
    the first publish to the last acknowledgement and every event's publish → ack latency."""
    stop = threading.Event()
    edges: list[tuple[TimedOutbox, MqttLink]] = []
    for edge_id, messages in batches.items():
        outbox = TimedOutbox(workdir / f"outbox-{edge_id}.sqlite3")
        outbox.add(messages)
        settings = EdgeSettings(
            edge_id=edge_id, mqtt_url=broker_url, outbox_path=outbox.path, status_interval_seconds=3600
        )
        edges.append(
            (outbox, MqttLink(settings, outbox, SystemClock(), devices=[], on_command=lambda _c: None))
        )
    threads = []
    for _outbox, link in edges:
        link.start()
        threads.append(threading.Thread(target=link.run_publisher, args=(stop,), daemon=True))
        threads[-1].start()
    try:
        wait_for(lambda: all(outbox.depth() == 0 for outbox, _ in edges), 1200, "every outbox to drain", 0.02)
    finally:
        stop.set()
        for (outbox, link), thread in zip(edges, threads, strict=True):
            link.wake()
            thread.join(timeout=10)
            link.stop()
            outbox.close()
    first = min(min(outbox.first_sent.values()) for outbox, _ in edges)
    last = max(max(outbox.acked_at.values()) for outbox, _ in edges)
    latencies = [outbox.acked_at[i] - sent for outbox, _ in edges for i, sent in outbox.first_sent.items()]
    return last - first, latencies


def stored_count(database_url: str) -> int:
    from sqlalchemy import func, select

    from server.adapters.db import create_db_engine
    from server.adapters.tables import punches as punch_table

    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(punch_table)).scalar_one())
    finally:
        engine.dispose()


def _batches_from_metrics(servers: list[ServerProcess]) -> int:
    total = 0
    for server in servers:
        for line in server.get("/metrics").splitlines():
            if line.startswith("kaoqin_server_ingest_batches_total "):
                total += int(float(line.split()[1]))
    return total


def run_chain(
    name: str,
    workdir: Path,
    *,
    database_url: str,
    broker_url: str,
    servers: int,
    broker_pid: int,
    database: PostgresDatabase,
) -> Run:
    """One measured run on a fresh database, beside the raw throughput of the same broker."""
    batches = {f"edge{n + 1}": punches(f"edge{n + 1}", EVENTS // EDGES) for n in range(EDGES)}
    raw = raw_broker_throughput(
        broker_url, [[(m.topic, m.payload) for m in b] for b in batches.values()], EDGE_INFLIGHT
    )
    settings: dict[str, object] = {"database_url": database_url, "mqtt_url": broker_url, **SERVER_SETTINGS}
    if servers > 1:  # one MQTT 5 shared subscription group: the servers split the events
        settings["mqtt_shared_group"] = "bench"
    processes: list[ServerProcess] = []
    try:
        # One after the other, so each one's start-up is out of the way before timing starts.
        for n in range(servers):
            processes.append(ServerProcess(workdir, f"server{n + 1}", settings))
            wait_for(processes[-1].healthy, 120, f"{name}: server {n + 1} to be healthy", 0.2)
        pids = {"edges (this process)": os.getpid(), "broker": broker_pid}
        pids |= {f"server {n + 1}": p.pid for n, p in enumerate(processes)}
        before = {what: cpu_seconds(pid) for what, pid in pids.items()}
        before["edges (this process)"] = _edges_cpu()
        pg_before = {pid: cpu_seconds(pid) for pid in database.backend_pids()}
        seconds, latencies = deliver(broker_url, workdir / f"pg-{servers}", batches)
        cpu = {what: cpu_seconds(pid) - before[what] for what, pid in pids.items()}
        cpu["edges (this process)"] = _edges_cpu() - before["edges (this process)"]
        cpu["PostgreSQL backends"] = sum(
            cpu_seconds(pid) - pg_before.get(pid, 0.0) for pid in database.backend_pids()
        )
        batches_done = _batches_from_metrics(processes)
    finally:
        for process in processes:
            process.stop()
    stored = stored_count(database_url)
    if stored != EVENTS:
        raise RuntimeError(f"{name}: {stored} events stored, expected exactly {EVENTS}")
    return Run(name, servers, seconds, raw, latencies, cpu, batches_done)


def run() -> str:
    admin_url = os.environ.get("KAOQIN_TEST_DATABASE_URL", DEFAULT_POSTGRES)
    load_before = os.getloadavg()
    runs: list[Run] = []
    broker_source = ""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        runs.append(_embedded_run(workdir))
        for servers in (1, 2):
            database = PostgresDatabase(admin_url)
            broker = Mosquitto()
            try:
                runs.append(
                    run_chain(
                        f"PostgreSQL + Mosquitto, {servers} server process{'es' if servers > 1 else ''}",
                        workdir,
                        database_url=database.url,
                        broker_url=broker.url,
                        servers=servers,
                        broker_pid=broker.pid,
                        database=database,
                    )
                )
                broker_source = broker.source
            finally:
                broker.stop()
                database.drop()
    return report(runs, broker_source, (load_before, os.getloadavg()))


def _embedded_run(workdir: Path) -> Run:
    """SQLite + amqtt: the broker lives in the server process. Its raw ceiling is measured first on
    an amqtt of its own; the server then starts its embedded broker on the same port."""
    name = "SQLite + embedded amqtt, 1 server process"
    batches = {f"edge{n + 1}": punches(f"edge{n + 1}", EVENTS // EDGES) for n in range(EDGES)}
    amqtt = AmqttBroker()
    port = amqtt.port
    try:
        raw = raw_broker_throughput(
            amqtt.url, [[(m.topic, m.payload) for m in b] for b in batches.values()], EDGE_INFLIGHT
        )
    finally:
        amqtt.stop()
    database_url = f"sqlite:///{workdir / 'embedded-server.sqlite3'}"
    process = ServerProcess(
        workdir,
        "server-embedded",
        {"database_url": database_url, "embedded_broker_port": port, **SERVER_SETTINGS},
    )
    try:
        wait_for(process.healthy, 120, f"{name}: the server to be healthy", 0.2)
        before_server, before_edges = cpu_seconds(process.pid), _edges_cpu()
        seconds, latencies = deliver(f"mqtt://127.0.0.1:{port}", workdir / "embedded", batches)
        cpu = {
            "edges (this process)": _edges_cpu() - before_edges,
            "server 1 (with the broker)": cpu_seconds(process.pid) - before_server,
        }
        batches_done = _batches_from_metrics([process])
    finally:
        process.stop()
    stored = stored_count(database_url)
    if stored != EVENTS:
        raise RuntimeError(f"{name}: {stored} events stored, expected exactly {EVENTS}")
    return Run(name, 1, seconds, raw, latencies, cpu, batches_done)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(runs: list[Run], broker_source: str, loads: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    lines = [
        f"{EVENTS:,} punch events per run, planted in the outboxes of {EDGES} edges ({EVENTS // EDGES:,} each; "
        f"the edges' own Outbox and MqttLink, all in the bench process); every run on a fresh database, "
        "checked afterwards to hold each event exactly once. Server settings: "
        + ", ".join(f"`{k}: {v}`" for k, v in SERVER_SETTINGS.items())
        + f"; edge defaults (`max_unacked` 2000, paho window {EDGE_INFLIGHT}). Mosquitto: a private one on a free "
        f"port with the {broker_source}.",
        "",
        "| run | events/s end to end | raw broker events/s, same messages (ceiling) | vs raw | seconds | "
        "p50 ms | p99 ms | ingest batches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {r.per_second:,.0f} | {r.raw_per_second:,.0f} | {r.per_second / r.raw_per_second:.2f}x | "
            f"{r.seconds:.2f} | {_pct(r.latencies, 50) * 1000:.0f} | {_pct(r.latencies, 99) * 1000:.0f} | {r.batches:,} |"
        )
    pg = [r for r in runs if r.name.startswith("PostgreSQL")]
    best = max(pg, key=lambda r: r.per_second)
    goal_rate = "met" if best.per_second >= 5000 else "missed"
    goal_half = "met" if best.per_second >= best.raw_per_second / 2 else "missed"
    lines += [
        "",
        f"Goal ≥ 5,000 events/s end to end on Mosquitto + PostgreSQL: **{goal_rate}** "
        f"(best {best.per_second:,.0f}/s, {best.name}). Goal ≥ half the raw broker throughput: **{goal_half}** "
        f"({best.per_second / best.raw_per_second:.2f}x).",
        "",
        "Latency: an event's first publish (handed to paho by the edge) to the server's acknowledgement "
        "arriving at the edge. With the whole backlog planted at once it is mostly queueing in the edge's "
        "window of `max_unacked` events in flight, not the path of one event.",
        "",
        "## Where the time goes: CPU seconds per process during each run",
        "",
        "| run | wall s | " + " | ".join(_cpu_columns(runs)) + " |",
        "|---|---:|" + "---:|" * len(_cpu_columns(runs)),
    ]
    for r in runs:
        cells = [f"{r.cpu[c]:.1f}" if c in r.cpu else "–" for c in _cpu_columns(runs)]
        lines.append(f"| {r.name} | {r.seconds:.1f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"The machine has {os.cpu_count()} cores shared with other work, so at most "
        f"{os.cpu_count()} CPU seconds per wall second are available to all processes together. "
        "PostgreSQL backends are those serving the bench database (its WAL writer and checkpointer are "
        "not counted). Load average (1, 5, 15 min) when the bench started: "
        + ", ".join(f"{v:.2f}" for v in loads[0])
        + "; when it ended: "
        + ", ".join(f"{v:.2f}" for v in loads[1])
        + " (other work on the machine competes for the same cores).",
    ]
    return "\n".join(lines)


def _cpu_columns(runs: list[Run]) -> list[str]:
    columns: list[str] = []
    for r in runs:
        columns += [c for c in r.cpu if c not in columns]
    return columns
