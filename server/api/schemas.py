"""Response models of the HTTP API (``*Public``: what a client may see)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NaiveDatetime

_PREVIEW_CHARS = 500


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PunchPublic(_Public):
    """A stored punch: when it happened, when the server stored it, and the raw terminal fields."""

    event_id: str
    edge_id: str
    device_serial: str
    user_id: str = Field(description="the PIN enrolled on the terminal (the staff member for now)")
    device_uid: int | None
    device_time: NaiveDatetime = Field(description="the terminal's wall clock, as read")
    occurred_at: AwareDatetime
    observed_at: AwareDatetime
    stored_at: AwareDatetime
    verify_mode: int
    verify_method: str
    punch_state: int
    source: str
    log_index: int | None
    flags: list[str] = Field(description="the edge's doubts: clock set back, future time, unknown codes")


class PunchPagePublic(_Public):
    items: list[PunchPublic]
    total: int
    limit: int
    offset: int


class DevicePublic(_Public):
    """The latest status an edge reported for one terminal or camera."""

    device_id: str
    edge_id: str
    device_kind: str
    reachable: bool
    error: str | None
    address: str | None
    last_seen_at: AwareDatetime = Field(description="when the edge made the latest report")
    last_read_at: AwareDatetime | None
    firmware: str | None
    platform: str | None
    users: int | None
    records: int | None
    record_capacity: int | None
    clock_offset_seconds: float | None
    record_problems: list[str] = Field(description="corrupt log records the edge skipped, with offsets")
    user_capacity: int | None = None
    fingers: int | None = None
    finger_capacity: int | None = None
    capacity_alert: str | None = Field(default=None, description="ok, warning (80%) or critical (95%)")
    previous_address: str | None = Field(default=None, description="set when found at a new address")
    alerts: list[str] = Field(default_factory=list)
    frames_per_second: float | None = Field(default=None, description="a camera's measured frame rate")
    bad_frames: int | None = Field(default=None, description="a camera's undecodable frames so far")
    reconnects: int | None = Field(
        default=None, description="a camera's stream reopened after dropping, so far"
    )
    updated_at: AwareDatetime


class EdgeCredentialPublic(_Public):
    """An edge's MQTT credentials as far as they may be shown: never the password or its hash."""

    mqtt_username: str
    generation: int = Field(description="1 when issued, +1 on every rotation")
    issued_at: AwareDatetime
    rotated_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


class EdgePublic(_Public):
    """An edge as the server knows it: its latest reported status (null until it first reports)
    and its MQTT credentials (null when it was never registered, e.g. on a broker without passwords)."""

    edge_id: str
    state: str | None = Field(description="online / offline as last reported")
    software_version: str | None
    devices: list[str] = Field(description="the devices it looks after, as last reported")
    status_at: AwareDatetime | None = Field(description="when the edge reported this state")
    updated_at: AwareDatetime | None
    credential: EdgeCredentialPublic | None


class DeadLetterPublic(_Public):
    """A message that did not fit the contract, with the reason."""

    id: int
    received_at: AwareDatetime
    topic: str
    reason: str
    edge_id: str | None
    claimed_event_id: str | None
    payload_size: int
    payload_preview: str = Field(description="the start of the payload as UTF-8, bad bytes replaced")
    payload_base64: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        payload: bytes = row["payload"]
        return cls(
            **{k: v for k, v in row.items() if k != "payload"},
            payload_size=len(payload),
            payload_preview=payload[: _PREVIEW_CHARS * 4].decode("utf-8", "replace")[:_PREVIEW_CHARS],
            payload_base64=base64.b64encode(payload).decode("ascii"),
        )


class DeadLetterPagePublic(_Public):
    items: list[DeadLetterPublic]
    total: int
    limit: int
    offset: int


class IngestStatsPublic(_Public):
    """Counters since this server process started."""

    events_stored: int
    duplicates_ignored: int
    dead_letters: int
    batches: int
    last_batch_at: datetime | None
    broker_connected: bool


class HealthPublic(_Public):
    status: str = Field(description='"ok" or "degraded"')
    database: bool
    database_error: str | None = None
    broker: bool
    broker_url: str
