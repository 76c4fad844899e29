from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from contracts import (
    AckItem,
    AckStatus,
    ContractError,
    DeviceKind,
    DeviceStatus,
    EdgeCommand,
    EdgeState,
    EdgeStatus,
    EventAck,
    EventKind,
    PunchEvent,
    PunchSource,
    SetTimeCommand,
    TopicError,
    VerifyMethod,
    ack_topic,
    command_topic,
    decode_ack,
    decode_command,
    decode_edge_status,
    decode_event,
    edge_status_topic,
    encode,
    event_topic,
    parse_topic,
    punch_event_id,
    server_event_filter,
)
from contracts.asyncapi import render_asyncapi
from contracts.broker_url import parse_broker_url

CST = timezone(timedelta(hours=8))
DEVICE_TIME = datetime(2026, 11, 2, 8, 29, 41)


def make_punch(**overrides: object) -> PunchEvent:
    fields: dict[str, object] = {
        "edge_id": "edge-1",
        "device_serial": "AIOR192960031",
        "user_id": "0042",
        "device_time": DEVICE_TIME,
        "occurred_at": DEVICE_TIME.replace(tzinfo=CST),
        "observed_at": datetime(2026, 11, 2, 0, 30, tzinfo=UTC),
        "verify_mode": 1,
        "verify_method": VerifyMethod.FINGERPRINT,
        "punch_state": 0,
        "source": PunchSource.PULL,
        "log_index": 7,
    }
    fields.update(overrides)
    return PunchEvent.create(**fields)  # type: ignore[arg-type]


def test_punch_id_is_derived_from_the_record_and_nothing_else() -> None:
    a = make_punch()
    b = make_punch(observed_at=datetime(2026, 11, 3, tzinfo=UTC), log_index=9, source=PunchSource.LIVE)
    assert a.event_id == b.event_id
    assert a.event_id == punch_event_id("AIOR192960031", "0042", DEVICE_TIME, 0, 1)
    # Each part of the record changes the id; leading zeros in a PIN are significant.
    assert make_punch(user_id="42").event_id != a.event_id
    assert make_punch(punch_state=1).event_id != a.event_id
    assert make_punch(verify_mode=15).event_id != a.event_id
    assert make_punch(device_serial="OTHER").event_id != a.event_id
    assert make_punch(device_time=DEVICE_TIME + timedelta(seconds=1)).event_id != a.event_id


def test_golden_punch_id_never_changes() -> None:
    # Changing the namespace or the derivation would re-issue every id ever stored: duplicates.
    assert (
        punch_event_id("AIOR192960031", "0042", DEVICE_TIME, 0, 1) == "43ac0297-5702-5e10-b47c-b9438086b8c5"
    )


def test_occurred_at_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_punch(occurred_at=DEVICE_TIME)


def test_round_trip_through_the_wire() -> None:
    punch = make_punch()
    topic = event_topic("edge-1", EventKind.PUNCH, "AIOR192960031")
    assert topic == "kaoqin/v1/edges/edge-1/events/punch/AIOR192960031"
    decoded = decode_event(topic, encode(punch))
    assert decoded == punch
    assert decoded.occurred_at.utcoffset() == timedelta(hours=8)


def test_forged_event_id_is_refused() -> None:
    data = json.loads(encode(make_punch()))
    data["event_id"] = "00000000-0000-0000-0000-000000000000"
    topic = event_topic("edge-1", EventKind.PUNCH, "AIOR192960031")
    with pytest.raises(ContractError, match="does not match the record") as err:
        decode_event(topic, json.dumps(data).encode())
    assert err.value.event_id == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("kaoqin/v1/edges/edge-1/events/punch/AIOR192960031", b"\xff\xfe", "not UTF-8 JSON"),
        ("kaoqin/v1/edges/edge-1/events/punch/AIOR192960031", b"{}", "kind"),
        ("kaoqin/v1/edges/edge-1/events/punch/AIOR192960031", b"x" * 300_000, "exceeds the limit"),
        ("kaoqin/v1/edges/edge-2/events/punch/AIOR192960031", None, "differs from the topic"),
        ("kaoqin/v1/edges/edge-1/events/punch/OTHER", None, "differs from the topic"),
        ("kaoqin/v1/edges/edge-1/events/face/AIOR192960031", None, "published on a 'face' topic"),
        ("kaoqin/v1/edges/edge-1/events/bogus/AIOR192960031", None, "unknown event kind"),
        ("kaoqin/v2/edges/edge-1/events/punch/AIOR192960031", None, "not under"),
    ],
)
def test_malformed_events_say_what_is_wrong(topic: str, payload: bytes | None, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        decode_event(topic, payload if payload is not None else encode(make_punch()))


def test_unknown_fields_and_versions_are_refused() -> None:
    topic = event_topic("edge-1", EventKind.PUNCH, "AIOR192960031")
    data = json.loads(encode(make_punch()))
    with pytest.raises(ContractError, match="schema_version"):
        decode_event(topic, json.dumps({**data, "schema_version": 2}).encode())
    with pytest.raises(ContractError, match="surprise"):
        decode_event(topic, json.dumps({**data, "surprise": 1}).encode())


def test_topics_parse_back_and_ids_are_checked() -> None:
    parsed = parse_topic(event_topic("edge-1", EventKind.DEVICE_STATUS, "SN1"))
    assert (parsed.edge_id, parsed.channel, parsed.kind, parsed.device_id) == (
        "edge-1",
        "events",
        EventKind.DEVICE_STATUS,
        "SN1",
    )
    assert parse_topic(ack_topic("edge-1")).channel == "acks"
    assert parse_topic(command_topic("edge-1")).channel == "commands"
    assert parse_topic(edge_status_topic("edge-1")).channel == "status"
    assert server_event_filter(share_group="g") == "$share/g/kaoqin/v1/edges/+/events/#"
    for bad in ("a/b", "+", "#", "", "$SYS", "x" * 65):
        with pytest.raises(TopicError):
            ack_topic(bad)


def test_other_payloads_round_trip() -> None:
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    status = DeviceStatus.create(
        edge_id="edge-1",
        device_id="SN1",
        occurred_at=now,
        device_kind=DeviceKind.TERMINAL,
        reachable=False,
        error="timed out",
    )
    assert decode_event(event_topic("edge-1", EventKind.DEVICE_STATUS, "SN1"), encode(status)) == status
    edge = EdgeStatus.create(
        edge_id="edge-1", state=EdgeState.OFFLINE, occurred_at=now, software_version="0.1.0", devices=["SN1"]
    )
    assert decode_edge_status(encode(edge)) == edge
    command = EdgeCommand(
        command_id="c1", edge_id="edge-1", issued_at=now, command=SetTimeCommand(device_serial="SN1")
    )
    assert decode_command(encode(command)) == command
    ack = EventAck(edge_id="edge-1", acked_at=now, items=[AckItem(event_id="e", status=AckStatus.DUPLICATE)])
    assert decode_ack(encode(ack)) == ack
    with pytest.raises(ContractError, match="items"):
        decode_ack(encode(ack).replace(b'"items":[{"event_id":"e","status":"duplicate"}]', b'"items":[]'))


def test_broker_urls() -> None:
    assert parse_broker_url("mqtt://127.0.0.1:1883").port == 1883
    assert parse_broker_url("mqtts://broker.example").port == 8883
    for bad in ("http://x", "mqtt://", "mqtt://u:p@host"):
        with pytest.raises(ValueError, match="broker URL"):
            parse_broker_url(bad)


def test_asyncapi_document_is_current() -> None:
    path = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
    assert path.read_text() == render_asyncapi(), "docs/asyncapi.json is stale: run `make asyncapi`"


def test_asyncapi_document_names_every_channel_and_payload() -> None:
    doc = json.loads(render_asyncapi())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert "kaoqin/v1/edges/{edgeId}/events/{kind}/{deviceId}" in addresses
    for name in ("PunchEvent", "FaceObservation", "DeviceStatus", "EdgeStatus", "EdgeCommand", "EventAck"):
        assert name in doc["components"]["schemas"]
