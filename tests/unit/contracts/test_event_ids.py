"""Every event's id is derived from its content and checked on decoding, like a punch's."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from contracts import encode
from contracts.events import (
    DeviceKind,
    DeviceStatus,
    EdgeState,
    EdgeStatus,
    FaceObservation,
    FaceOutcome,
    device_status_id,
    edge_status_id,
    face_observation_id,
)

_Event = FaceObservation | DeviceStatus | EdgeStatus
AT = datetime(2026, 3, 2, 8, 1, 2, 345678, tzinfo=ZoneInfo("Asia/Shanghai"))


def _face() -> FaceObservation:
    return FaceObservation.create(
        edge_id="edge-1", camera_id="cam-1", track_id=7, occurred_at=AT, outcome=FaceOutcome.UNKNOWN
    )


def _device_status() -> DeviceStatus:
    return DeviceStatus.create(
        edge_id="edge-1", device_id="SN1", occurred_at=AT, device_kind=DeviceKind.TERMINAL, reachable=True
    )


def _edge_status() -> EdgeStatus:
    return EdgeStatus.create(
        edge_id="edge-1", state=EdgeState.ONLINE, occurred_at=AT, software_version="1.2.3", devices=["SN1"]
    )


def test_ids_are_the_documented_derivations() -> None:
    assert _face().event_id == face_observation_id("cam-1", AT, 7)
    assert _device_status().event_id == device_status_id("edge-1", "SN1", AT)
    assert _edge_status().event_id == edge_status_id("edge-1", "online", AT)


@pytest.mark.parametrize("build", [_face, _device_status, _edge_status])
def test_id_survives_the_wire(build: Callable[[], _Event]) -> None:
    event = build()
    assert type(event).model_validate_json(encode(event)) == event


@pytest.mark.parametrize(
    ("build", "field", "value"),
    [
        (_face, "track_id", 8),
        (_face, "camera_id", "cam-2"),
        (_device_status, "device_id", "SN2"),
        (_device_status, "edge_id", "edge-2"),
        (_edge_status, "state", "offline"),
        (_edge_status, "occurred_at", "2026-03-02T08:01:03+08:00"),
    ],
)
def test_an_id_that_does_not_match_the_content_is_refused(
    build: Callable[[], _Event], field: str, value: object
) -> None:
    event = build()
    payload = json.loads(encode(event))
    payload[field] = value
    with pytest.raises(ValidationError, match="does not match its content"):
        type(event).model_validate(payload)


@pytest.mark.parametrize("build", [_face, _device_status, _edge_status])
def test_a_made_up_id_is_refused(build: Callable[[], _Event]) -> None:
    event = build()
    payload = json.loads(encode(event))
    payload["event_id"] = "5f0c1d2e-0000-5000-8000-000000000000"
    with pytest.raises(ValidationError, match="does not match its content"):
        type(event).model_validate(payload)
