from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from contracts import (
    AckStatus,
    EdgeState,
    EdgeStatus,
    EventKind,
    PunchEvent,
    PunchSource,
    VerifyMethod,
    edge_status_topic,
    encode,
    event_topic,
)
from server.services.ingest import InboundMessage, IngestBatch, IngestService, classify

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def punch(edge: str = "edge-1", user: str = "1001") -> PunchEvent:
    at = datetime(2024, 5, 1, 8, 58, 12)
    return PunchEvent.create(
        edge_id=edge,
        device_serial="SN1",
        user_id=user,
        device_time=at,
        occurred_at=at.replace(tzinfo=CST),
        observed_at=NOW,
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=0,
        source=PunchSource.PULL,
    )


def message(event: PunchEvent) -> InboundMessage:
    return InboundMessage(event_topic(event.edge_id, EventKind.PUNCH, "SN1"), encode(event))


class FakeStore:
    """Remembers event ids like the real store's unique key does."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.batches: list[IngestBatch] = []

    def store_batch(self, batch: IngestBatch, stored_at: datetime) -> set[str]:
        self.batches.append(batch)
        new = {e.event_id for e in batch.events} - self.seen
        self.seen |= new
        return new


def test_new_events_are_stored_and_redeliveries_are_duplicates() -> None:
    service = IngestService(FakeStore(), clock=lambda: NOW)
    first = service.ingest([message(punch())])
    assert [(i.event_id, i.status) for i in first.acks[0].items] == [(punch().event_id, AckStatus.STORED)]
    again = service.ingest([message(punch()), message(punch())])
    assert [i.status for i in again.acks[0].items] == [AckStatus.DUPLICATE]
    assert (again.stored, again.duplicates) == (0, 2)
    stats = service.stats.snapshot()
    assert (stats.events_stored, stats.duplicates_ignored, stats.batches) == (1, 2, 2)
    assert stats.last_batch_at == NOW


def test_one_ack_per_edge() -> None:
    service = IngestService(FakeStore(), clock=lambda: NOW)
    result = service.ingest([message(punch("edge-a")), message(punch("edge-b", "2"))])
    assert sorted(ack.edge_id for ack in result.acks) == ["edge-a", "edge-b"]
    assert all(ack.acked_at == NOW for ack in result.acks)


def test_undecodable_event_is_dead_lettered_and_acked_when_it_claims_an_id() -> None:
    topic = event_topic("edge-1", EventKind.PUNCH, "SN1")
    tampered = dict(json.loads(encode(punch())), event_id="forged")
    service = IngestService(FakeStore(), clock=lambda: NOW)
    result = service.ingest(
        [InboundMessage(topic, json.dumps(tampered).encode()), InboundMessage(topic, b"\x00")]
    )
    assert result.dead_lettered == 2
    assert [(i.event_id, i.status) for i in result.acks[0].items] == [("forged", AckStatus.DEAD_LETTERED)]
    assert service.stats.snapshot().dead_letters == 2


def test_classify_routes_every_channel() -> None:
    status = EdgeStatus.create(
        edge_id="edge-1",
        state=EdgeState.ONLINE,
        occurred_at=NOW,
        software_version="0.1.0",
        devices=[],
    )
    batch = classify(
        [
            InboundMessage(edge_status_topic("edge-1"), encode(status)),
            InboundMessage(edge_status_topic("edge-1"), b""),  # a cleared retained status
            InboundMessage(edge_status_topic("edge-2"), encode(status)),  # wrong edge
            InboundMessage("somewhere/else", b"{}"),
            message(punch()),
        ],
        NOW,
    )
    assert batch.edge_statuses == [status]
    assert len(batch.events) == 1
    reasons = [letter.reason for letter in batch.dead_letters]
    assert len(reasons) == 2
    assert "differs from the topic" in reasons[0]
    assert batch.dead_letters[0].edge_id == "edge-2"
    assert "is not under" in reasons[1]
    assert batch.dead_letters[1].edge_id is None


def test_dead_letter_on_status_topic_is_not_acked() -> None:
    status = EdgeStatus.create(
        edge_id="edge-1",
        state=EdgeState.ONLINE,
        occurred_at=NOW,
        software_version="0.1.0",
        devices=[],
    )
    service = IngestService(FakeStore(), clock=lambda: NOW)
    result = service.ingest([InboundMessage(edge_status_topic("edge-2"), encode(status))])
    assert result.dead_lettered == 1
    assert result.acks == []


def test_oversized_payload_is_dead_lettered() -> None:
    from contracts import MAX_PAYLOAD_BYTES

    topic = event_topic("edge-1", EventKind.PUNCH, "SN1")
    batch = classify([InboundMessage(topic, b" " * (MAX_PAYLOAD_BYTES + 1))], NOW)
    assert batch.events == []
    assert "exceeds the limit" in batch.dead_letters[0].reason


def test_stats_count_messages_acks_and_the_lag_of_the_freshest_event() -> None:
    service = IngestService(FakeStore(), clock=lambda: NOW)
    older = punch(user="1001")
    later = datetime(2024, 5, 1, 11, 0)
    newer = PunchEvent.create(
        **(older.model_dump(include=set(PUNCH_FIELDS)) | {"user_id": "1002", "device_time": later}),
        occurred_at=later.replace(tzinfo=CST),
    )
    service.ingest([message(older), message(newer), InboundMessage("not/a/topic", b"x")])
    stats = service.stats.snapshot()
    assert stats.last_batch_lag_seconds == (NOW - newer.occurred_at).total_seconds()
    service.ingest([message(older)])  # a redelivery is acknowledged again
    stats = service.stats.snapshot()
    assert (stats.received, stats.acknowledged, stats.dead_letters) == (4, 3, 1)
    assert stats.newest_occurred_at == newer.occurred_at  # an older event does not move it back
    assert stats.last_batch_lag_seconds == (NOW - older.occurred_at).total_seconds()


PUNCH_FIELDS = (
    "edge_id",
    "device_serial",
    "observed_at",
    "verify_mode",
    "verify_method",
    "punch_state",
    "source",
)
