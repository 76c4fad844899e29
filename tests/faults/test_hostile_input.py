"""Hostile MQTT input reaches the server's real consumer through a real broker: nothing of it is
stored as an event, every message is kept as a dead letter with a reason, and the server stays up.

Includes contract-valid messages the database refuses (a date that leaves the calendar when turned
into UTC, text the driver cannot encode, a NUL PostgreSQL text cannot hold): the consumer stores
such a batch one message at a time and dead-letters the refused one instead of retrying the whole
batch forever (which used to block all ingest, never PUBACKing).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts import (
    AckStatus,
    DeviceKind,
    DeviceStatus,
    EventKind,
    FaceObservation,
    FaceOutcome,
    PunchEvent,
    PunchSource,
    VerifyMethod,
    ack_topic,
    encode,
    event_topic,
)
from tests.faults.conftest import Stack
from tests.faults.hostile_messages import (
    EDGE,
    database_refused_messages,
    deeply_nested_messages,
    hostile_messages,
    oversized_messages,
)
from tests.faults.mqtt_tap import MqttTap
from tests.faults.rig import (
    ServerRig,
    dead_letter_rows,
    punch_messages,
    stored_event_count,
    stored_punch_ids,
)
from tests.support.processes import wait_until
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.e2e

FUZZED = 10_000
OVERSIZED = 40
DEEPLY_NESTED = 20
DATABASE_REFUSED = 30  # fit the contract, refused by PostgreSQL


def _healthy(server: ServerRig) -> bool:
    return httpx.get(f"http://127.0.0.1:{server.http_port}/healthz", timeout=5).status_code == 200


def test_ten_thousand_hostile_messages_all_dead_lettered_none_stored(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path: Path
) -> None:
    messages: list[tuple[str, bytes]] = []

    # Drawn in lists of 50 (half the generation time of single draws); generated only, not
    # shrunk: the property is checked on all of them at once, through the real server, below.
    @settings(
        max_examples=FUZZED // 50,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(hostile_messages(), min_size=50, max_size=50))
    def collect(drawn: list[tuple[str, bytes]]) -> None:
        messages.extend(drawn)

    @settings(max_examples=OVERSIZED, phases=[Phase.generate], database=None, deadline=None)
    @given(oversized_messages())
    def collect_oversized(message: tuple[str, bytes]) -> None:
        messages.append(message)

    @settings(max_examples=DEEPLY_NESTED, phases=[Phase.generate], database=None, deadline=None)
    @given(deeply_nested_messages())
    def collect_deeply_nested(message: tuple[str, bytes]) -> None:
        messages.append(message)

    refused: list[tuple[str, bytes]] = []

    @settings(max_examples=DATABASE_REFUSED, phases=[Phase.generate], database=None, deadline=None)
    @given(database_refused_messages())
    def collect_refused(message: tuple[str, bytes]) -> None:
        refused.append(message)

    collect()
    collect_oversized()
    collect_deeply_nested()
    collect_refused()
    # Last and together: each batch holding one is stored one message at a time (slower).
    messages += refused
    assert len(messages) >= FUZZED, f"hypothesis generated only {len(messages)} messages"

    server = ServerRig(tmp_path, postgres_url, private_mosquitto.url)
    server.start()
    tap = MqttTap(private_mosquitto.url)
    try:
        tap.publish_all(messages)
        wait_until(
            lambda: len(dead_letter_rows(postgres_url)) >= len(messages),
            120,
            f"{len(messages)} dead letters",
            interval=1,
        )
        assert _healthy(server), "the server is not healthy after the hostile input"
        letters = dead_letter_rows(postgres_url)
        assert stored_event_count(postgres_url) == 0, "a hostile message was stored as an event"
        missing = Counter(messages) - Counter((letter.topic, letter.payload) for letter in letters)
        assert not missing, (
            f"{sum(missing.values())} messages are not dead letters, e.g. {next(iter(missing))!r}"
        )
        assert len(letters) == len(messages), "more dead letters than messages"
        assert all(letter.reason.strip() for letter in letters), "a dead letter without a reason"
        refused_set = set(refused)
        refused_reasons = [
            letter.reason for letter in letters if (letter.topic, letter.payload) in refused_set
        ]
        assert len(refused_reasons) == len(refused)
        assert all(reason.startswith("the database refused it: ") for reason in refused_reasons), (
            refused_reasons
        )
    finally:
        tap.close()
        server.stop()
        print(server.output()[-2000:])


def _poison(database_is_postgres: bool) -> dict[str, tuple[str, bytes, str]]:
    """Messages that must be dead-lettered: event id -> (topic, payload, what the reason must say).

    The first ones fit the contract and fail only in the database; the others are values beyond a
    column that the contract now refuses itself (they used to fail in the database too)."""
    cst = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    punch_topic = event_topic(EDGE, EventKind.PUNCH, "SN1")
    status_topic = event_topic(EDGE, EventKind.DEVICE_STATUS, "SN1")
    face_topic = event_topic(EDGE, EventKind.FACE, "CAM1")
    poison: dict[str, tuple[str, bytes, str]] = {}

    # 0001-01-01T00:00+08:00 is valid ISO 8601, but in UTC it is the year 0, which no datetime holds.
    before_calendar = PunchEvent.create(
        edge_id=EDGE,
        device_serial="SN1",
        user_id="1",
        device_time=datetime(1, 1, 1),
        occurred_at=datetime(1, 1, 1, tzinfo=cst),
        observed_at=at,
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=0,
        source=PunchSource.PULL,
    )
    poison[before_calendar.event_id] = (punch_topic, encode(before_calendar), "the database refused it")

    def status(n: int, **fields: object) -> dict[str, object]:
        report = DeviceStatus.create(
            edge_id=EDGE,
            device_id="SN1",
            occurred_at=at + timedelta(seconds=n),
            device_kind=DeviceKind.TERMINAL,
            reachable=False,
            error="x",
        )
        return {**json.loads(encode(report)), **fields}

    # A lone surrogate is a valid JSON string escape but no database driver can encode it.
    surrogate = status(1)
    poison[str(surrogate["event_id"])] = (
        status_topic,
        json.dumps(surrogate).replace('"error": "x"', '"error": "bad \\ud800"').encode(),
        "the database refused it",
    )
    if database_is_postgres:  # SQLite stores a NUL; PostgreSQL text cannot hold one
        nul = status(2)
        poison[str(nul["event_id"])] = (
            status_topic,
            json.dumps({**nul, "error": "bad \x00 byte"}).encode(),
            "the database refused it",
        )
    for n, (field, value) in enumerate({"log_index": 2**63, "device_uid": 2**31}.items()):
        punch = json.loads(
            encode(before_calendar.model_copy(update={"device_time": datetime(2026, 1, 1, n)}))
        )
        punch["event_id"] = PunchEvent.create(
            **{**_punch_fields(before_calendar), "device_time": datetime(2026, 1, 1, n), "occurred_at": at}
        ).event_id
        punch["occurred_at"] = at.isoformat()
        punch[field] = value
        poison[punch["event_id"]] = (punch_topic, json.dumps(punch).encode(), "less than or equal")
    address = status(3, address="a" * 256)
    poison[str(address["event_id"])] = (status_topic, json.dumps(address).encode(), "at most 255 characters")
    face = json.loads(
        encode(
            FaceObservation.create(
                edge_id=EDGE, camera_id="CAM1", track_id=1, occurred_at=at, outcome=FaceOutcome.UNKNOWN
            )
        )
    )
    face["linked_terminal"] = "T" * 65
    poison[face["event_id"]] = (face_topic, json.dumps(face).encode(), "at most 64 characters")
    return poison


def _punch_fields(punch: PunchEvent) -> dict[str, object]:
    fields = ("edge_id", "device_serial", "user_id", "observed_at", "verify_mode", "verify_method")
    return {name: getattr(punch, name) for name in (*fields, "punch_state", "source")}


def test_messages_the_database_refuses_are_dead_lettered_and_ingest_goes_on(stack: Stack) -> None:
    server = stack.server()
    server.start()
    tap = MqttTap(server.broker_url, ack_topic(EDGE))
    poison = _poison(database_is_postgres=not stack.embedded)
    good = punch_messages(EDGE, "SN1", 600)
    try:
        # The poison in the middle of the first batches, more valid events after it.
        wave = [(m.topic, m.payload) for m in good[:300]]
        for i, (topic, payload, _) in enumerate(poison.values()):
            wave.insert(20 + 40 * i, (topic, payload))
        tap.publish_all(wave)
        tap.publish_all([(m.topic, m.payload) for m in good[300:]])
        expected = {m.event_id for m in good}
        wait_until(lambda: expected <= set(tap.acks()), 60, "every valid event to be acknowledged")
        wait_until(lambda: set(poison) <= set(tap.acks()), 60, "every poison message to be acknowledged")

        ids = stored_punch_ids(stack.database_url)
        assert sorted(ids) == sorted(expected), "the valid events are not stored exactly once"
        acks = tap.acks()
        assert all(acks[event_id] == [AckStatus.STORED] for event_id in expected)
        assert all(acks[event_id] == [AckStatus.DEAD_LETTERED] for event_id in poison), {
            event_id: acks[event_id] for event_id in poison
        }
        letters = {letter.claimed_event_id: letter for letter in dead_letter_rows(stack.database_url)}
        for event_id, (topic, payload, says) in poison.items():
            letter = letters[event_id]
            assert (letter.topic, letter.payload) == (topic, payload)
            assert says in letter.reason, f"dead letter reason {letter.reason!r} does not say {says!r}"
        assert _healthy(server)
    finally:
        tap.close()
        server.stop()
        print(server.output()[-3000:])
