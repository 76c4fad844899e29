"""SqlIngestStore on SQLite and PostgreSQL: idempotent inserts of every event kind, and on
PostgreSQL the unnest insert storing exactly what the multi-row VALUES insert stored."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete, select, text

from contracts import (
    CapacityAlert,
    DeviceKind,
    DeviceStatus,
    FaceLiveness,
    FaceObservation,
    FaceOutcome,
    PunchEvent,
    PunchFlag,
    PunchSource,
    VerifyMethod,
)
from server.adapters import tables
from server.adapters.db import create_db_engine
from server.adapters.ingest_store import SqlIngestStore, _face_row, _punch_row, _status_row, insert_values
from server.adapters.migrate import migrate
from server.services.ingest import IngestBatch, StoreRefused

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0 a tiny stand-in for a snapshot \xff\xd9"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def punch(n: int, **overrides: Any) -> PunchEvent:
    fields: dict[str, Any] = {
        "edge_id": "edge-a",
        "device_serial": "SN1",
        "user_id": str(1000 + n),
        "device_time": (AT + timedelta(seconds=n, hours=8)).replace(tzinfo=None),
        "occurred_at": AT + timedelta(seconds=n),
        "observed_at": AT + timedelta(seconds=n, milliseconds=250),
        "verify_mode": 1,
        "verify_method": VerifyMethod.FINGERPRINT,
        "punch_state": n % 2,
        "source": PunchSource.PULL,
        "device_uid": n if n % 3 else None,
        "log_index": n if n % 4 else None,
        "flags": [PunchFlag.CLOCK_UNRELIABLE] if n % 5 == 0 else [],
    }
    return PunchEvent.create(**(fields | overrides))


def face(n: int) -> FaceObservation:
    if n % 2:
        return FaceObservation.create(
            edge_id="edge-a", camera_id="CAM1", track_id=n, occurred_at=AT + timedelta(seconds=n),
            outcome=FaceOutcome.UNKNOWN,
        )  # fmt: skip
    return FaceObservation.create(
        edge_id="edge-a", camera_id="CAM1", track_id=n, occurred_at=AT + timedelta(seconds=n),
        outcome=FaceOutcome.KNOWN, staff_id="1001", distance=0.41, linked_terminal="SN1",
        liveness=FaceLiveness.PASSED, quality=0.8, snapshot_jpeg_b64=base64.b64encode(JPEG).decode(),
    )  # fmt: skip


def status(n: int) -> DeviceStatus:
    if n % 2:
        return DeviceStatus.create(
            edge_id="edge-a", device_id="CAM1", occurred_at=AT + timedelta(minutes=n),
            device_kind=DeviceKind.CAMERA, reachable=False, error="connection refused",
            frames_per_second=12.5, bad_frames=3, reconnects=1,
        )  # fmt: skip
    return DeviceStatus.create(
        edge_id="edge-a", device_id="SN1", occurred_at=AT + timedelta(minutes=n),
        device_kind=DeviceKind.TERMINAL, reachable=True, address="10.0.0.5:4370",
        last_read_at=AT, firmware="Ver 6.60", platform="ZMM220", users=120, records=4000,
        record_capacity=100000, clock_offset_seconds=-1.5, record_problems=["offset 40: bad"],
        user_capacity=3000, fingers=200, finger_capacity=3000, capacity_alert=CapacityAlert.OK,
        alerts=["clock drift 1.5 s"],
    )  # fmt: skip


def rows(engine: Engine, table: Table) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(select(table).order_by(table.c.event_id))
        return [dict(row._mapping) for row in result]


def test_each_kind_is_stored_once_and_new_ids_are_reported(engine: Engine) -> None:
    store = SqlIngestStore(engine)
    first = [punch(n) for n in range(6)] + [face(n) for n in range(4)] + [status(n) for n in range(4)]
    redelivered = first[0]
    new = store.store_batch(IngestBatch(events=[*first, redelivered]), stored_at=AT)
    assert new == {event.event_id for event in first}

    again = [*first[3:], punch(6), face(4), status(4)]
    new = store.store_batch(IngestBatch(events=again), stored_at=AT + timedelta(hours=1))
    assert new == {punch(6).event_id, face(4).event_id, status(4).event_id}

    stored_punches = rows(engine, tables.punches)
    assert len(stored_punches) == 7
    by_id = {row["event_id"]: row for row in stored_punches}
    for n in range(7):
        event, row = punch(n), by_id[punch(n).event_id]
        assert row["device_time"] == event.device_time  # naive, as the terminal read it
        assert row["occurred_at"] == event.occurred_at
        assert row["occurred_at"].tzinfo is not None
        assert row["observed_at"] == event.observed_at
        assert row["device_uid"] == event.device_uid
        assert row["log_index"] == event.log_index
        assert row["flags"] == [flag.value for flag in event.flags]
        assert row["stored_at"] == (AT if n < 6 else AT + timedelta(hours=1))
    faces = {row["event_id"]: row for row in rows(engine, tables.face_observations)}
    assert len(faces) == 5
    assert faces[face(0).event_id]["snapshot_jpeg"] == JPEG
    assert faces[face(0).event_id]["liveness"] == "passed"
    assert faces[face(0).event_id]["distance"] == 0.41
    assert faces[face(1).event_id]["snapshot_jpeg"] is None
    assert faces[face(1).event_id]["staff_id"] is None
    reports = {row["event_id"]: row for row in rows(engine, tables.device_status_reports)}
    assert len(reports) == 5
    terminal = reports[status(0).event_id]
    assert terminal["record_problems"] == ["offset 40: bad"]
    assert terminal["alerts"] == ["clock drift 1.5 s"]
    assert terminal["capacity_alert"] == "ok"
    assert terminal["reachable"] is True
    camera = reports[status(1).event_id]
    assert camera["reachable"] is False
    assert camera["users"] is None
    assert camera["record_problems"] == []
    assert camera["frames_per_second"] == 12.5
    assert camera["reconnects"] == 1


def test_a_value_too_long_for_its_column_refuses_the_whole_batch_on_postgresql(postgres_url: str) -> None:
    migrate(postgres_url)  # (SQLite does not enforce VARCHAR lengths)
    engine = create_db_engine(postgres_url)
    try:
        too_long = punch(1).model_copy(update={"user_id": "9" * 30})  # the column holds 24
        with pytest.raises(StoreRefused, match="too long"):
            SqlIngestStore(engine).store_batch(IngestBatch(events=[punch(0), too_long]), stored_at=AT)
        assert rows(engine, tables.punches) == []
    finally:
        engine.dispose()


def test_unnest_stores_exactly_what_multi_row_values_stored(postgres_url: str) -> None:
    migrate(postgres_url)
    engine = create_db_engine(postgres_url)
    batches = [
        (tables.punches, [_punch_row(punch(n), AT) for n in range(12)]),
        (tables.face_observations, [_face_row(face(n), AT) for n in range(6)]),
        (tables.device_status_reports, [_status_row(status(n), AT) for n in range(6)]),
    ]
    try:
        store = SqlIngestStore(engine)
        store.store_batch(IngestBatch(events=[punch(n) for n in range(12)]), stored_at=AT)
        store.store_batch(IngestBatch(events=[face(n) for n in range(6)]), stored_at=AT)
        store.store_batch(IngestBatch(events=[status(n) for n in range(6)]), stored_at=AT)
        by_unnest = {table.name: rows(engine, table) for table, _ in batches}
        with engine.begin() as connection:
            for table, table_rows in batches:
                connection.execute(delete(table))
                assert insert_values(connection, table, table_rows) == {r["event_id"] for r in table_rows}
        assert {table.name: rows(engine, table) for table, _ in batches} == by_unnest
    finally:
        engine.dispose()


def test_the_postgresql_insert_is_one_prepared_statement_whatever_the_batch_size(postgres_url: str) -> None:
    migrate(postgres_url)
    engine = create_db_engine(postgres_url)
    sizes = [50 + 37 * n for n in range(8)]  # psycopg prepares a statement from its 5th execution
    try:
        store = SqlIngestStore(engine)
        for n, size in enumerate(sizes):
            events = [punch(1000 * n + i) for i in range(size)]
            assert len(store.store_batch(IngestBatch(events=events), stored_at=AT)) == size
        # begin(), not connect(): a connection returned with a transaction open is rolled back,
        # and psycopg forgets its prepared statements on every rollback. (One thread, so the pool
        # hands out the connection the batches ran on.)
        with engine.begin() as connection:
            statements = list(
                connection.execute(
                    text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT%'")
                ).scalars()
            )
        assert len(statements) == 1
        assert "unnest" in statements[0]
        assert len(rows(engine, tables.punches)) == sum(sizes)
    finally:
        engine.dispose()
