"""decode_event validates the bytes in one pydantic pass, and falls back to ``json.loads`` for
whatever that refuses: a payload Python's parser accepts must decode exactly as it always did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts import ContractError, DeviceKind, DeviceStatus, EventKind, decode_event, encode, event_topic

TOPIC = event_topic("edge-1", EventKind.DEVICE_STATUS, "SN1")


def _status(error: str) -> DeviceStatus:
    return DeviceStatus.create(
        edge_id="edge-1",
        device_id="SN1",
        occurred_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        device_kind=DeviceKind.TERMINAL,
        reachable=False,
        error=error,
    )


def test_a_lone_surrogate_escape_still_decodes_as_json_loads_reads_it() -> None:
    # pydantic's JSON parser refuses "\ud800"; json.loads keeps it (the database refuses it later,
    # and that refusal is what the dead letter must say).
    report = _status("x")
    payload = encode(report).replace(b'"error":"x"', b'"error":"bad \\ud800"')
    event = decode_event(TOPIC, payload)
    assert isinstance(event, DeviceStatus)
    assert event.error == "bad \ud800"
    assert event.event_id == report.event_id


def test_utf16_json_still_decodes_as_before() -> None:
    report = _status("x")
    payload = json.dumps(json.loads(encode(report))).encode("utf-16")
    assert decode_event(TOPIC, payload) == report


def test_a_refused_payload_keeps_its_reason_and_claimed_id() -> None:
    data = json.loads(encode(_status("x")))
    data["reachable"] = "perhaps"
    with pytest.raises(ContractError) as err:
        decode_event(TOPIC, json.dumps(data).encode())
    assert err.value.reason.startswith("device_status.reachable: Input should be a valid boolean")
    assert err.value.event_id == data["event_id"]
