"""Versioned payloads of the events edges publish (schema version 1); server-to-edge commands are in
``contracts.commands`` and acknowledgements in ``contracts.acks``.

Every event an edge publishes carries a stable ``event_id`` derived from its content, so the same
terminal record read twice, or delivered twice by QoS 1, always has the same id and the server can
store it once. Times are timezone-aware; a terminal's naive wall-clock time is kept beside them as
``device_time`` because the id is derived from exactly what the device said.
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, NaiveDatetime, model_validator

from contracts.commands import UserTemplates
from contracts.payload import ID_MAX, INT32_MAX, INT64_MAX, TEXT_MAX, Id
from contracts.payload import Payload as _Payload
from contracts.payload import check_event_id as _check_id
from contracts.payload import uuid5_id as _uuid5


class VerifyMethod(StrEnum):
    """How a punch was verified, mapped from the terminal's raw code by its firmware profile."""

    FINGERPRINT = "fingerprint"
    FACE = "face"
    CARD = "card"
    PASSWORD = "password"
    PALM = "palm"
    OTHER = "other"
    UNKNOWN = "unknown"


class PunchSource(StrEnum):
    """Which path brought a terminal record to the edge."""

    PULL = "pull"  # read from the device log with the ZK binary protocol
    LIVE = "live"  # pushed by the device as a live-capture event
    ADMS = "adms"  # uploaded by the device over ADMS HTTP push


class PunchFlag(StrEnum):
    """Why the edge doubts a terminal record; the server's rules decide what a flag means."""

    DEVICE_TIME_IN_FUTURE = "device_time_in_future"  # later than the edge clock when first seen
    # Far earlier than when the edge first saw it: a clock set back, or a record added after the fact.
    DEVICE_TIME_FAR_BEFORE_OBSERVED = "device_time_far_before_observed"
    CLOCK_UNRELIABLE = "clock_unreliable"  # the terminal's clock drifted past the threshold when read
    UNKNOWN_VERIFY_CODE = "unknown_verify_code"  # not in the firmware profile's verify map
    UNKNOWN_PUNCH_STATE = "unknown_punch_state"  # not in the firmware profile's punch-state map
    USER_NOT_ENROLLED = "user_not_enrolled"  # the PIN is not (or no longer) a user on the terminal
    # The record names only a slot (8-byte layout) that changed owners since the edge last read it:
    # the PIN is the edge's best judgement (by the record's time against when it saw the old owner).
    UID_REUSED = "uid_reused"


def punch_event_id(
    device_serial: str, user_id: str, device_time: datetime, punch_state: int, verify_mode: int
) -> str:
    """Stable id of a terminal record: serial + user id + device time + punch state + verify mode."""
    stamp = device_time.replace(tzinfo=None, microsecond=0).isoformat()
    return _uuid5("punch", device_serial, user_id, stamp, punch_state, verify_mode)


def face_observation_id(camera_id: str, occurred_at: datetime, track_id: int) -> str:
    """Stable id of a face observation: camera id + when + track id."""
    return _uuid5("face", camera_id, occurred_at.isoformat(), track_id)


def device_status_id(edge_id: str, device_id: str, occurred_at: datetime) -> str:
    """Stable id of a device status report: edge + device + report time."""
    return _uuid5("device_status", edge_id, device_id, occurred_at.isoformat())


def edge_status_id(edge_id: str, state: str, occurred_at: datetime) -> str:
    """Stable id of an edge status: edge + state + time."""
    return _uuid5("edge_status", edge_id, state, occurred_at.isoformat())


class PunchEvent(_Payload):
    """One attendance record read from a fingerprint terminal."""

    kind: Literal["punch"] = "punch"
    schema_version: Literal[1] = 1
    event_id: str = Field(
        max_length=ID_MAX, description="uuid5 of serial, user id, device time, punch state, verify mode"
    )
    edge_id: Id
    device_serial: Id
    user_id: str = Field(min_length=1, max_length=24, description="the PIN enrolled on the terminal")
    device_uid: int | None = Field(
        default=None, ge=-INT32_MAX - 1, le=INT32_MAX, description="the terminal's internal user slot"
    )
    device_time: NaiveDatetime = Field(description="the terminal's own wall-clock time, as read")
    occurred_at: AwareDatetime = Field(description="device_time in the terminal's configured zone")
    observed_at: AwareDatetime = Field(description="when the edge first read the record")
    verify_mode: int = Field(ge=0, le=255, description="raw verify code from the device")
    verify_method: VerifyMethod
    punch_state: int = Field(ge=0, le=255, description="raw punch state (0 in, 1 out, ...)")
    source: PunchSource
    log_index: int | None = Field(default=None, ge=0, le=INT64_MAX, description="position in the device log")
    flags: list[PunchFlag] = Field(default_factory=list, description="the edge's doubts about the record")

    @model_validator(mode="after")
    def _id_matches_content(self) -> Self:
        expected = punch_event_id(
            self.device_serial, self.user_id, self.device_time, self.punch_state, self.verify_mode
        )
        if self.event_id != expected:
            raise ValueError(f"event_id {self.event_id!r} does not match the record (expected {expected})")
        return self

    @classmethod
    def create(
        cls,
        *,
        edge_id: str,
        device_serial: str,
        user_id: str,
        device_time: datetime,
        occurred_at: datetime,
        observed_at: datetime,
        verify_mode: int,
        verify_method: VerifyMethod,
        punch_state: int,
        source: PunchSource,
        device_uid: int | None = None,
        log_index: int | None = None,
        flags: list[PunchFlag] | None = None,
    ) -> PunchEvent:
        """Build a punch event with its derived id."""
        device_time = device_time.replace(microsecond=0)
        return cls(
            event_id=punch_event_id(device_serial, user_id, device_time, punch_state, verify_mode),
            edge_id=edge_id,
            device_serial=device_serial,
            user_id=user_id,
            device_uid=device_uid,
            device_time=device_time,
            occurred_at=occurred_at,
            observed_at=observed_at,
            verify_mode=verify_mode,
            verify_method=verify_method,
            punch_state=punch_state,
            source=source,
            log_index=log_index,
            flags=sorted(set(flags or [])),
        )


class FaceOutcome(StrEnum):
    """What a camera saw for one tracked face."""

    KNOWN = "known"
    UNKNOWN = "unknown"


class FaceLiveness(StrEnum):
    """The camera's liveness verdict on one tracked face (docs/face.md says what it can and cannot stop)."""

    PASSED = "passed"
    FAILED_STILL = "failed_still"  # the face did not move at all: a photo held in front of the camera
    FAILED_NO_BLINK = "failed_no_blink"  # a blink was required and none came


class FaceObservation(_Payload):
    """A face check-in: a tracked face identified consistently over several frames (or not
    identified: ``outcome`` "unknown", ``staff_id`` null), with its evidence snapshot. Frames never
    leave the edge; only this small JPEG of the face does."""

    kind: Literal["face"] = "face"
    schema_version: Literal[1] = 1
    event_id: str = Field(max_length=ID_MAX, description="uuid5 of camera id, time and track id")
    edge_id: Id
    camera_id: Id
    track_id: int = Field(ge=0, le=INT64_MAX)
    occurred_at: AwareDatetime
    outcome: FaceOutcome
    staff_id: str | None = Field(default=None, max_length=ID_MAX)
    distance: float | None = Field(default=None, ge=0)
    linked_terminal: str | None = Field(
        default=None, max_length=ID_MAX, description="serial of the terminal beside it"
    )
    liveness: FaceLiveness | None = Field(default=None, description="null: the camera checks no liveness")
    blink_required: bool = False
    quality: float | None = Field(
        default=None, ge=0, le=1, description="heuristic: size, sharpness, detector"
    )
    tolerance: float | None = Field(default=None, gt=0, description="the camera's match tolerance")
    frames: int | None = Field(default=None, ge=1, description="frames the face was tracked before deciding")
    first_seen_at: AwareDatetime | None = Field(default=None, description="when the face entered the view")
    snapshot_jpeg_b64: str | None = Field(
        default=None, max_length=96_000, description="a small JPEG of the face, base64: the evidence"
    )

    @model_validator(mode="after")
    def _outcome_matches_staff(self) -> Self:
        if (self.outcome is FaceOutcome.KNOWN) != (self.staff_id is not None):
            raise ValueError("a known face needs its staff_id; an unknown face has none")
        if self.snapshot_jpeg_b64 is not None:
            try:
                jpeg = base64.b64decode(self.snapshot_jpeg_b64, validate=True)
            except ValueError:
                raise ValueError("snapshot_jpeg_b64 is not base64") from None
            if not jpeg.startswith(b"\xff\xd8"):
                raise ValueError("snapshot_jpeg_b64 is not a JPEG")
        return self

    @model_validator(mode="after")
    def _id_matches_content(self) -> Self:
        _check_id("face", self.event_id, face_observation_id(self.camera_id, self.occurred_at, self.track_id))
        return self

    @property
    def liveness_ok(self) -> bool | None:
        return None if self.liveness is None else self.liveness is FaceLiveness.PASSED

    @classmethod
    def create(
        cls, *, edge_id: str, camera_id: str, track_id: int, occurred_at: datetime, **fields: object
    ) -> FaceObservation:
        """Build a face observation with its derived id."""
        event_id = face_observation_id(camera_id, occurred_at, track_id)
        return cls.model_validate(
            dict(
                fields,
                event_id=event_id,
                edge_id=edge_id,
                camera_id=camera_id,
                track_id=track_id,
                occurred_at=occurred_at,
            )
        )


class DeviceKind(StrEnum):
    """Kinds of device an edge looks after."""

    TERMINAL = "terminal"
    CAMERA = "camera"


class CapacityAlert(StrEnum):
    """How full a terminal is: the highest of records, users and fingerprints against capacity."""

    OK = "ok"
    WARNING = "warning"  # at least 80 %
    CRITICAL = "critical"  # at least 95 %: a full log overwrites its oldest records


class DeviceStatus(_Payload):
    """Health of one device as its edge sees it."""

    kind: Literal["device_status"] = "device_status"
    schema_version: Literal[1] = 1
    event_id: str = Field(max_length=ID_MAX, description="uuid5 of edge, device and report time")
    edge_id: Id
    device_id: Id = Field(description="terminal serial number or camera id")
    device_kind: DeviceKind
    occurred_at: AwareDatetime = Field(description="when the edge made this report")
    reachable: bool
    error: str | None = Field(default=None, description="why the last attempt failed, if it did")
    address: str | None = Field(default=None, max_length=TEXT_MAX)
    last_read_at: AwareDatetime | None = None
    firmware: str | None = Field(default=None, max_length=TEXT_MAX)
    platform: str | None = Field(default=None, max_length=TEXT_MAX)
    users: int | None = Field(default=None, ge=0, le=INT32_MAX)
    records: int | None = Field(default=None, ge=0, le=INT32_MAX)
    record_capacity: int | None = Field(default=None, ge=0, le=INT32_MAX)
    clock_offset_seconds: float | None = Field(default=None, description="device clock minus edge clock")
    record_problems: list[str] = Field(
        default_factory=list, max_length=20, description="corrupt log records skipped, each with its offset"
    )
    user_capacity: int | None = Field(default=None, ge=0, le=INT32_MAX)
    fingers: int | None = Field(
        default=None, ge=0, le=INT32_MAX, description="fingerprint templates enrolled"
    )
    finger_capacity: int | None = Field(default=None, ge=0, le=INT32_MAX)
    capacity_alert: CapacityAlert | None = None
    previous_address: str | None = Field(
        default=None, max_length=TEXT_MAX, description="set when found at a new address"
    )
    alerts: list[str] = Field(
        default_factory=list, max_length=20, description="clock drift, log shrink, capacity, address change"
    )
    frames_per_second: float | None = Field(default=None, ge=0, description="a camera's measured frame rate")
    bad_frames: int | None = Field(
        default=None, ge=0, le=INT32_MAX, description="a camera's undecodable frames so far"
    )
    reconnects: int | None = Field(
        default=None, ge=0, le=INT32_MAX, description="a camera's stream reopened after dropping, so far"
    )

    @model_validator(mode="after")
    def _id_matches_content(self) -> Self:
        _check_id(
            "device_status", self.event_id, device_status_id(self.edge_id, self.device_id, self.occurred_at)
        )
        return self

    @classmethod
    def create(cls, *, edge_id: str, device_id: str, occurred_at: datetime, **fields: object) -> DeviceStatus:
        """Build a device status with its derived id."""
        event_id = device_status_id(edge_id, device_id, occurred_at)
        return cls.model_validate(
            dict(
                fields,
                event_id=event_id,
                edge_id=edge_id,
                device_id=device_id,
                occurred_at=occurred_at,
            )
        )


class EdgeState(StrEnum):
    """Whether an edge is connected; "offline" is also its MQTT last will."""

    ONLINE = "online"
    OFFLINE = "offline"


class EdgeStatus(_Payload):
    """Retained status of an edge agent. The broker publishes the "offline" form as its last will."""

    kind: Literal["edge_status"] = "edge_status"
    schema_version: Literal[1] = 1
    event_id: str = Field(max_length=ID_MAX)
    edge_id: Id
    state: EdgeState
    occurred_at: AwareDatetime
    software_version: str = Field(max_length=ID_MAX)
    devices: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _id_matches_content(self) -> Self:
        _check_id(
            "edge_status", self.event_id, edge_status_id(self.edge_id, self.state.value, self.occurred_at)
        )
        return self

    @classmethod
    def create(
        cls,
        *,
        edge_id: str,
        state: EdgeState,
        occurred_at: datetime,
        software_version: str,
        devices: list[str],
    ) -> EdgeStatus:
        """Build an edge status with its derived id."""
        return cls(
            event_id=edge_status_id(edge_id, state.value, occurred_at),
            edge_id=edge_id,
            state=state,
            occurred_at=occurred_at,
            software_version=software_version,
            devices=devices,
        )


def templates_event_id(edge_id: str, device_serial: str, occurred_at: datetime, part: int) -> str:
    """Stable id of a templates event: edge + terminal + when read + part number."""
    return _uuid5("templates", edge_id, device_serial, occurred_at.isoformat(), part)


class TemplatesEvent(_Payload):
    """Fingerprints read from a terminal, for the server to copy to the other terminals of its site
    that stand behind other edges. A large set comes in several parts (the payload size limit)."""

    kind: Literal["templates"] = "templates"
    schema_version: Literal[1] = 1
    event_id: str = Field(max_length=ID_MAX, description="uuid5 of edge, terminal, read time and part")
    edge_id: Id
    device_serial: Id
    occurred_at: AwareDatetime = Field(description="when the edge read them from the terminal")
    part: int = Field(default=1, ge=1, le=INT32_MAX)
    users: list[UserTemplates] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _id_matches_content(self) -> Self:
        expected = templates_event_id(self.edge_id, self.device_serial, self.occurred_at, self.part)
        _check_id("templates", self.event_id, expected)
        return self

    @classmethod
    def create(
        cls, *, edge_id: str, device_serial: str, occurred_at: datetime, part: int, users: list[UserTemplates]
    ) -> TemplatesEvent:
        """Build a templates event with its derived id."""
        return cls(
            event_id=templates_event_id(edge_id, device_serial, occurred_at, part),
            edge_id=edge_id,
            device_serial=device_serial,
            occurred_at=occurred_at,
            part=part,
            users=users,
        )


EdgeEvent = Annotated[
    PunchEvent | FaceObservation | DeviceStatus | TemplatesEvent, Field(discriminator="kind")
]
