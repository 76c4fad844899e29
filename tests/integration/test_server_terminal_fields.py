"""Punch flags and terminal health (migration 0004) are stored and shown, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts import (
    CapacityAlert,
    DeviceKind,
    DeviceStatus,
    PunchEvent,
    PunchFlag,
    PunchSource,
    VerifyMethod,
)
from server.adapters.db import create_db_engine
from server.adapters.ingest_store import SqlIngestStore
from server.adapters.migrate import migrate
from server.adapters.read_store import PunchQuery, ReadStore
from server.api.schemas import DevicePublic, PunchPublic
from server.services.ingest import IngestBatch

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))


def test_flags_and_health_are_stored_and_shown(database_url: str) -> None:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        device_time = datetime(2026, 11, 2, 8, 29, 41)
        punch = PunchEvent.create(
            edge_id="edge-1",
            device_serial="SN-0004",
            user_id="0042",
            device_time=device_time,
            occurred_at=device_time.replace(tzinfo=CST),
            observed_at=datetime(2026, 11, 4, 1, 0, tzinfo=UTC),
            verify_mode=1,
            verify_method=VerifyMethod.FINGERPRINT,
            punch_state=0,
            source=PunchSource.PULL,
            flags=[PunchFlag.DEVICE_TIME_FAR_BEFORE_OBSERVED, PunchFlag.CLOCK_UNRELIABLE],
        )
        status = DeviceStatus.create(
            edge_id="edge-1",
            device_id="SN-0004",
            occurred_at=datetime(2026, 11, 4, 1, 0, tzinfo=UTC),
            device_kind=DeviceKind.TERMINAL,
            reachable=True,
            address="192.168.1.77:4370",
            previous_address="192.168.1.20:4370",
            records=96_000,
            record_capacity=100_000,
            user_capacity=3000,
            fingers=10,
            finger_capacity=3000,
            capacity_alert=CapacityAlert.CRITICAL,
            alerts=["records 96000 of 100000 (96%) used"],
        )
        stored = SqlIngestStore(engine).store_batch(IngestBatch(events=[punch, status]), datetime.now(UTC))
        assert stored == {punch.event_id, status.event_id}

        reads = ReadStore(engine)
        (row,) = reads.punches(PunchQuery(user_id="0042")).items
        shown = PunchPublic.model_validate(row)
        assert shown.flags == ["clock_unreliable", "device_time_far_before_observed"]
        assert shown.stored_at > shown.occurred_at
        (device,) = [DevicePublic.model_validate(d) for d in reads.devices() if d["device_id"] == "SN-0004"]
        assert device.capacity_alert == "critical"
        assert device.previous_address == "192.168.1.20:4370"
        assert device.alerts == ["records 96000 of 100000 (96%) used"]
        assert (device.user_capacity, device.fingers, device.finger_capacity) == (3000, 10, 3000)
    finally:
        engine.dispose()
