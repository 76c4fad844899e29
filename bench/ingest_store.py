"""The server's per-batch ingest work, measured in one process without broker or edges.

1. The PostgreSQL insert of punch rows: the multi-row ``INSERT ... VALUES`` that SQLAlchemy's
   "insertmanyvalues" sends (``ingest_store.insert_values``, SQLite's path and PostgreSQL's before)
   beside the ``INSERT ... SELECT FROM unnest(...)`` of one array per column
   (``pg_bulk_insert``) that PostgreSQL uses now, on the same rows in the same run, alternating,
   each on an emptied table; then the same batches again (every row a duplicate).
2. Decoding: the contract's ``decode_event`` of the same punch messages, and its parts.

Wall time and this process's CPU time (the server's Python: psycopg and SQLAlchemy client work;
PostgreSQL's own work runs in its backend) are both shown, per row.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from bench._ingest_rig import PostgresDatabase
from bench.ingest import DEFAULT_POSTGRES, punches
from contracts import decode_event, parse_topic
from contracts.codec import _event_adapter
from server.adapters import tables
from server.adapters.db import create_db_engine
from server.adapters.ingest_store import _punch_row, insert_values
from server.adapters.migrate import migrate
from server.adapters.pg_bulk_insert import unnest_insert

ROWS = int(os.environ.get("KAOQIN_BENCH_STORE_ROWS", "20000"))
BATCH = 500
ROUNDS = 3

Insert = Callable[[Connection, Sequence[dict[str, Any]]], set[str]]


def _timed_batches(
    engine: Engine, insert: Insert, batches: list[list[dict[str, Any]]]
) -> tuple[float, float, int]:
    """(wall s, this process's CPU s, ids returned as new) for every batch, one transaction each."""
    new = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        with engine.begin() as connection:
            new += len(insert(connection, batch))
    return time.perf_counter() - wall, time.process_time() - cpu, new


def _store_figures(engine: Engine, batches: list[list[dict[str, Any]]]) -> list[tuple[str, float, float]]:
    methods: dict[str, Insert] = {
        "multi-row VALUES (before)": lambda c, rows: insert_values(c, tables.punches, rows),
        "unnest of column arrays (now)": lambda c, rows: unnest_insert(tables.punches).execute(c, rows),
    }
    fresh: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    duplicate: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    for _round in range(ROUNDS):
        for name, insert in methods.items():
            with engine.begin() as connection:
                connection.execute(text("TRUNCATE punches"))
            wall, cpu, new = _timed_batches(engine, insert, batches)
            if new != ROWS:
                raise RuntimeError(f"{name}: {new} rows reported new, expected {ROWS}")
            fresh[name].append((wall, cpu))
            wall, cpu, new = _timed_batches(engine, insert, batches)
            if new != 0:
                raise RuntimeError(f"{name}: {new} duplicates reported new")
            duplicate[name].append((wall, cpu))
    figures = []
    for label, results in (("new rows", fresh), ("all duplicates", duplicate)):
        for name, runs in results.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            figures.append((f"{name}, {label}", wall / ROWS * 1e6, cpu / ROWS * 1e6))
    return figures


def _per_message(action: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _round in range(ROUNDS):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return best / count * 1e6


def _decode_figures(messages: list[tuple[str, bytes]]) -> list[tuple[str, float]]:
    count = len(messages)
    loaded = [json.loads(payload) for _, payload in messages]
    return [
        ("decode_event (topic, JSON, validation, id check)", _per_message(
            lambda: [decode_event(t, p) for t, p in messages], count)),
        ("· parse_topic", _per_message(lambda: [parse_topic(t) for t, _ in messages], count)),
        ("· json.loads", _per_message(lambda: [json.loads(p) for _, p in messages], count)),
        ("· validate_python of the loaded dict (with the id check)", _per_message(
            lambda: [_event_adapter.validate_python(d) for d in loaded], count)),
        ("· validate_json of the bytes instead (with the id check)", _per_message(
            lambda: [_event_adapter.validate_json(p) for _, p in messages], count)),
    ]  # fmt: skip


def run() -> str:
    admin_url = os.environ.get("KAOQIN_TEST_DATABASE_URL", DEFAULT_POSTGRES)
    outbox = [m for edge in ("edge1", "edge2") for m in punches(edge, ROWS // 2)]
    messages = [(m.topic, m.payload) for m in outbox]
    stored_at = datetime.now(UTC)
    rows = [_punch_row(decode_event(topic, payload), stored_at) for topic, payload in messages]  # type: ignore[arg-type]
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    load = os.getloadavg()
    database = PostgresDatabase(admin_url)
    try:
        migrate(database.url)
        engine = create_db_engine(database.url)
        try:
            store = _store_figures(engine, batches)
        finally:
            engine.dispose()
    finally:
        database.drop()
    decode = _decode_figures(messages)
    lines = [
        f"{ROWS:,} distinct punch rows (the bench/ingest.py events), in batches of {BATCH}, one transaction "
        f"per batch, on a fresh PostgreSQL database; each method {ROUNDS} times, alternating, each time "
        "on an emptied table and then the same batches again (every row a duplicate); medians.",
        "",
        "| PostgreSQL insert of punches | wall µs per row | bench process CPU µs per row |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {wall:.0f} | {cpu:.0f} |" for name, wall, cpu in store]
    lines += [
        "",
        f"Decoding the same {len(messages):,} messages in this process (CPU µs per message, best of {ROUNDS}):",
        "",
        "| step | CPU µs per message |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {us:.1f} |" for name, us in decode]
    lines += [
        "",
        "Load average (1, 5, 15 min) when the bench started: " + ", ".join(f"{v:.2f}" for v in load)
        + "; when it ended: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        + " (2 cores shared with other work).",
    ]  # fmt: skip
    return "\n".join(lines)
