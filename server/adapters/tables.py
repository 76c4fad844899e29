"""The database schema (SQLAlchemy Core). Alembic migrations in server/migrations must match it.

Every timestamp is timezone-aware in Python. SQLite has no zone-aware type, so
:class:`UTCDateTime` stores UTC and hands back aware UTC datetimes on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

# Constraint names fixed by convention, so migrations and models agree on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID_LENGTH = 64


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where an aware one is required")
        utc = value.astimezone(UTC)
        # SQLite would store the offset in the text and compare strings: keep one zone, no suffix.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


punches = Table(
    "punches",
    metadata,
    Column("event_id", String(ID_LENGTH), primary_key=True),
    Column("edge_id", String(ID_LENGTH), nullable=False),
    Column("device_serial", String(ID_LENGTH), nullable=False),
    Column("user_id", String(24), nullable=False),
    Column("device_uid", Integer, nullable=True),
    # The terminal's own wall-clock reading, naive exactly as read (the event id derives from it).
    Column("device_time", DateTime(timezone=False), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
    Column("verify_mode", Integer, nullable=False),
    Column("verify_method", String(16), nullable=False),
    Column("punch_state", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("log_index", BigInteger, nullable=True),
    # Edge's doubts about the record (contracts.PunchFlag), for the attendance rules.
    Column("flags", JSON, nullable=False, server_default=text("'[]'")),
    Index(None, "occurred_at"),
    Index(None, "user_id", "occurred_at"),
    Index(None, "device_serial", "occurred_at"),
)

face_observations = Table(
    "face_observations",
    metadata,
    Column("event_id", String(ID_LENGTH), primary_key=True),
    Column("edge_id", String(ID_LENGTH), nullable=False),
    Column("camera_id", String(ID_LENGTH), nullable=False),
    Column("track_id", BigInteger, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("staff_id", String(64), nullable=True),
    Column("distance", Float, nullable=True),
    Column("linked_terminal", String(ID_LENGTH), nullable=True),
    # Face check-in evidence (migration 0003); the snapshot is purged on its retention clock.
    Column("liveness", String(24), nullable=True),
    Column("quality", Float, nullable=True),
    Column("snapshot_jpeg", LargeBinary, nullable=True),
    Index(None, "camera_id", "occurred_at"),
)


def _terminal_health_columns() -> list[Column[Any]]:
    """Capacity, alerts and address changes of a terminal (migration 0004)."""
    return [
        Column("user_capacity", Integer, nullable=True),
        Column("fingers", Integer, nullable=True),
        Column("finger_capacity", Integer, nullable=True),
        Column("capacity_alert", String(16), nullable=True),  # ok / warning (80%) / critical (95%)
        Column("previous_address", String(255), nullable=True),  # set when found at a new address
        Column("alerts", JSON, nullable=False, server_default=text("'[]'")),
    ]


def _camera_health_columns() -> list[Column[Any]]:
    """A camera's measured frame rate and undecodable frames (migration 0006), reopens (0010)."""
    return [
        Column("frames_per_second", Float, nullable=True),
        Column("bad_frames", Integer, nullable=True),
        Column("reconnects", Integer, nullable=True),
    ]


# Every device status report, as history; `devices` below keeps the latest one per device.
device_status_reports = Table(
    "device_status_reports",
    metadata,
    Column("event_id", String(ID_LENGTH), primary_key=True),
    Column("edge_id", String(ID_LENGTH), nullable=False),
    Column("device_id", String(ID_LENGTH), nullable=False),
    Column("device_kind", String(16), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("stored_at", UTCDateTime, nullable=False),
    Column("reachable", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("address", String(255), nullable=True),
    Column("last_read_at", UTCDateTime, nullable=True),
    Column("firmware", String(255), nullable=True),
    Column("platform", String(255), nullable=True),
    Column("users", Integer, nullable=True),
    Column("records", Integer, nullable=True),
    Column("record_capacity", Integer, nullable=True),
    Column("clock_offset_seconds", Float, nullable=True),
    Column("record_problems", JSON, nullable=False),
    *_terminal_health_columns(),
    *_camera_health_columns(),
    Index(None, "device_id", "occurred_at"),
)

# Columns a device status report copies into `devices` (besides the keys and times).
DEVICE_STATUS_FIELDS = (
    "device_kind",
    "reachable",
    "error",
    "address",
    "last_read_at",
    "firmware",
    "platform",
    "users",
    "records",
    "record_capacity",
    "clock_offset_seconds",
    "record_problems",
    "user_capacity",
    "fingers",
    "finger_capacity",
    "capacity_alert",
    "previous_address",
    "alerts",
    "frames_per_second",
    "bad_frames",
    "reconnects",
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(ID_LENGTH), primary_key=True),
    Column("edge_id", String(ID_LENGTH), nullable=False),
    Column("device_kind", String(16), nullable=False),
    Column("reachable", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("address", String(255), nullable=True),
    Column("last_read_at", UTCDateTime, nullable=True),
    Column("firmware", String(255), nullable=True),
    Column("platform", String(255), nullable=True),
    Column("users", Integer, nullable=True),
    Column("records", Integer, nullable=True),
    Column("record_capacity", Integer, nullable=True),
    Column("clock_offset_seconds", Float, nullable=True),
    Column("record_problems", JSON, nullable=False),  # corrupt log records the edge skipped
    *_terminal_health_columns(),
    *_camera_health_columns(),
    Column("last_seen_at", UTCDateTime, nullable=False),  # occurred_at of the latest report
    Column("last_report_id", String(ID_LENGTH), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

edges = Table(
    "edges",
    metadata,
    Column("edge_id", String(ID_LENGTH), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("software_version", String(64), nullable=False),
    Column("devices", JSON, nullable=False),
    Column("status_at", UTCDateTime, nullable=False),  # occurred_at of the latest edge status
    Column("updated_at", UTCDateTime, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("topic", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", Text, nullable=False),
    Column("edge_id", String(ID_LENGTH), nullable=True),
    Column("claimed_event_id", String(ID_LENGTH), nullable=True),
    Index(None, "received_at"),
)

# The attendance engine's tables share this metadata (imported last: they need it defined).
import server.adapters.tables_attendance  # noqa: E402, F401
from server.adapters import tables_auth as _auth  # noqa: E402, F401
from server.adapters import tables_edge_credentials as _edge_credentials  # noqa: E402, F401
from server.adapters import tables_faces as _faces  # noqa: E402, F401
from server.adapters import tables_registry as _registry  # noqa: E402, F401
