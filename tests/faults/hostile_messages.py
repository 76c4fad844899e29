"""Hostile MQTT messages for the fuzz test: every one is something the server must refuse.

Random bytes, broken JSON, oversized payloads, arbitrary JSON, and real events mutated so that
they can no longer be valid (a required field removed, an unknown field added, a value of a type
nothing coerces, a value beyond what the database column holds, an id that does not match).
Lax coercion (``"5"`` for 5) is deliberately never used: it would make a valid event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from contracts import (
    DeviceKind,
    DeviceStatus,
    EventKind,
    FaceObservation,
    FaceOutcome,
    PunchEvent,
    PunchSource,
    VerifyMethod,
    encode,
    event_topic,
)
from contracts.codec import MAX_PAYLOAD_BYTES

EDGE = "edge-hostile"
_AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
_LEVEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.:", min_size=1, max_size=16)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


def valid_events(n: int) -> dict[EventKind, tuple[str, dict[str, Any]]]:
    """One valid event of each kind (topic and JSON object), distinct for each ``n``."""
    punch = PunchEvent.create(
        edge_id=EDGE,
        device_serial="SN1",
        user_id=str(n % 10_000 + 1),
        device_time=(_AT + timedelta(seconds=n)).replace(tzinfo=None),
        occurred_at=_AT + timedelta(seconds=n),
        observed_at=_AT,
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=0,
        source=PunchSource.PULL,
        log_index=n,
    )
    face = FaceObservation.create(
        edge_id=EDGE,
        camera_id="CAM1",
        track_id=n,
        occurred_at=_AT + timedelta(seconds=n),
        outcome=FaceOutcome.KNOWN,
        staff_id="1001",
        distance=0.4,
    )
    status = DeviceStatus.create(
        edge_id=EDGE,
        device_id="SN1",
        occurred_at=_AT + timedelta(seconds=n),
        device_kind=DeviceKind.TERMINAL,
        reachable=True,
        users=10,
    )
    return {
        EventKind.PUNCH: (event_topic(EDGE, EventKind.PUNCH, "SN1"), json.loads(encode(punch))),
        EventKind.FACE: (event_topic(EDGE, EventKind.FACE, "CAM1"), json.loads(encode(face))),
        EventKind.DEVICE_STATUS: (
            event_topic(EDGE, EventKind.DEVICE_STATUS, "SN1"),
            json.loads(encode(status)),
        ),
    }


# Values beyond a column of server/adapters/tables.py, by kind and field.
_BEYOND_COLUMNS: dict[EventKind, dict[str, st.SearchStrategy[object]]] = {
    EventKind.PUNCH: {
        "log_index": st.integers(min_value=2**63, max_value=2**80),
        "device_uid": st.integers(min_value=2**31, max_value=2**70),
        "user_id": st.text(min_size=25, max_size=60),
        "verify_mode": st.integers(min_value=256),
    },
    EventKind.FACE: {
        "track_id": st.integers(min_value=2**63, max_value=2**80),
        "staff_id": st.text(min_size=65, max_size=100),
        "linked_terminal": st.text(min_size=65, max_size=100),
    },
    EventKind.DEVICE_STATUS: {
        "address": st.text(min_size=256, max_size=300),
        "firmware": st.text(min_size=256, max_size=300),
        "users": st.integers(min_value=2**31, max_value=2**70),
        "records": st.integers(min_value=2**31, max_value=2**70),
    },
}


@st.composite
def _mutated_event(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(_BEYOND_COLUMNS)))
    topic, data = valid_events(draw(st.integers(min_value=0, max_value=10**6)))[kind]
    how = draw(st.sampled_from(["drop", "extra", "uncoercible", "beyond_column", "wrong_id", "wrong_topic"]))
    if how == "drop":
        del data[draw(st.sampled_from(["event_id", "edge_id", "occurred_at", "kind"]))]
    elif how == "extra":
        data[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in data))] = draw(_JSON)
    elif how == "uncoercible":  # a list or an object where a scalar belongs: nothing coerces it
        field = draw(st.sampled_from(["edge_id", "occurred_at", "kind", "event_id"]))
        data[field] = draw(
            st.lists(_JSON, max_size=3) | st.dictionaries(st.text(max_size=5), _JSON, max_size=3)
        )
    elif how == "beyond_column":
        field, values = draw(st.sampled_from(sorted(_BEYOND_COLUMNS[kind].items())))
        data[field] = draw(values)
    elif how == "wrong_id":
        data["event_id"] = draw(st.uuids()).hex
    else:  # a valid payload on another edge's or device's topic
        topic = topic.replace(EDGE, "edge-other") if draw(st.booleans()) else topic.rsplit("/", 1)[0] + "/SN9"
    return topic, json.dumps(data).encode()


def _event_topics() -> st.SearchStrategy[str]:
    valid = st.builds(
        lambda kind, device: event_topic(EDGE, kind, device),
        st.sampled_from(list(EventKind)),
        st.sampled_from(["SN1", "CAM1", "SN2"]),
    )
    malformed = st.builds(
        lambda a, b, c: (
            f"kaoqin/v1/edges/{EDGE}/events/{a}" + (f"/{b}" if b else "") + (f"/{c}" if c else "")
        ),
        _LEVEL,
        st.none() | _LEVEL,
        st.none() | _LEVEL,
    )
    return valid | malformed


def hostile_messages() -> st.SearchStrategy[tuple[str, bytes]]:
    """(topic, payload) pairs on the event topics, none of which the contract may accept."""
    topics = _event_topics()
    random_bytes = st.tuples(topics, st.binary(max_size=2048))
    broken_json = st.tuples(topics, st.text(max_size=200).map(lambda t: ("{" + t).encode()))
    any_json = st.tuples(topics, _JSON.map(lambda v: json.dumps(v).encode()))
    return st.one_of(
        random_bytes, broken_json, any_json, _mutated_event(), _mutated_event(), _mutated_event()
    )


@st.composite
def database_refused_messages(draw: st.DrawFn) -> tuple[str, bytes]:
    """Messages that fit the contract and that the database refuses: a device status whose text no
    driver can encode (a lone surrogate) or, for PostgreSQL, holds a NUL; a punch whose time, valid
    ISO 8601 with its offset, falls before the year 1 in UTC."""
    n = draw(st.integers(min_value=0, max_value=10**6))
    how = draw(st.sampled_from(["surrogate", "nul", "before_year_one"]))
    if how == "before_year_one":
        offset = timedelta(hours=draw(st.integers(min_value=1, max_value=14)))
        punch = PunchEvent.create(
            edge_id=EDGE,
            device_serial="SN1",
            user_id=str(n + 1),
            device_time=datetime(1, 1, 1),
            occurred_at=datetime(1, 1, 1, tzinfo=timezone(offset)),
            observed_at=_AT,
            verify_mode=1,
            verify_method=VerifyMethod.FINGERPRINT,
            punch_state=0,
            source=PunchSource.PULL,
        )
        return event_topic(EDGE, EventKind.PUNCH, "SN1"), encode(punch)
    topic, data = valid_events(n)[EventKind.DEVICE_STATUS]
    poison = "\\ud800" if how == "surrogate" else "\\u0000"
    text = draw(st.text(alphabet="abcdef ", max_size=20))
    payload = json.dumps({**data, "error": "@"}).replace('"@"', f'"{text}{poison}{text}"')
    return topic, payload.encode()


def deeply_nested_messages() -> st.SearchStrategy[tuple[str, bytes]]:
    """JSON nested deeper than any parser's stack, still far below the size limit."""
    depth = st.integers(min_value=2_000, max_value=120_000)
    arrays = depth.map(lambda n: b"[" * n + b"]" * n)
    objects = depth.map(lambda n: b'{"event_id": ' * n)
    return st.tuples(_event_topics(), arrays | objects)


def oversized_messages() -> st.SearchStrategy[tuple[str, bytes]]:
    """Payloads just beyond the contract's size limit: JSON, or random bytes around a real event."""
    sizes = st.integers(min_value=MAX_PAYLOAD_BYTES + 1, max_value=MAX_PAYLOAD_BYTES + 4096)
    json_blob = sizes.map(lambda size: b'{"kind": "punch", "user_id": "' + b"9" * size + b'"}')
    padded = st.tuples(st.binary(min_size=1, max_size=64), sizes).map(
        lambda p: p[0] * (p[1] // len(p[0]) + 1)
    )
    return st.tuples(_event_topics(), json_blob | padded)
