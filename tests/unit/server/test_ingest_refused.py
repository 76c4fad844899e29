"""A batch the database refuses is stored one message at a time; the refused one is dead-lettered.

Pure logic behind the IngestStore port: the fake store refuses any batch holding a chosen event id,
the way PostgreSQL refuses a whole transaction for one value it cannot hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts import AckStatus, EventKind, PunchEvent, PunchSource, VerifyMethod, encode, event_topic
from server.services.ingest import (
    InboundMessage,
    IngestBatch,
    IngestService,
    StoreRefused,
    StoreUnavailable,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def punch(user: str) -> PunchEvent:
    at = datetime(2026, 5, 1, 8, 58, 12)
    return PunchEvent.create(
        edge_id="edge-1",
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


class RefusingStore:
    """Refuses (or is unavailable for) every batch that holds one of ``poison`` ids."""

    def __init__(self, poison: set[str], *, unavailable: bool = False) -> None:
        self.poison = poison
        self.unavailable = unavailable
        self.stored: list[str] = []
        self.dead_letters: list[str] = []

    def store_batch(self, batch: IngestBatch, stored_at: datetime) -> set[str]:
        ids = {event.event_id for event in batch.events}
        if ids & self.poison:
            if self.unavailable:
                raise StoreUnavailable("connection refused")
            raise StoreRefused("DataError: value too long for type character varying(64)")
        self.stored += sorted(ids)
        self.dead_letters += [letter.reason for letter in batch.dead_letters]
        return ids


def test_refused_message_is_dead_lettered_with_the_reason_and_the_others_are_stored() -> None:
    good, bad = punch("1"), punch("2")
    store = RefusingStore({bad.event_id})
    service = IngestService(store, clock=lambda: NOW)
    with pytest.raises(StoreRefused):
        service.ingest([message(good), message(bad)])

    results = service.ingest_each([message(good), message(bad)])

    assert store.stored == [good.event_id]
    assert store.dead_letters == [
        "the database refused it: DataError: value too long for type character varying(64)"
    ]
    statuses = {item.event_id: item.status for r in results for ack in r.acks for item in ack.items}
    # The edge may forget both: one is stored, the other is kept here as a dead letter.
    assert statuses == {good.event_id: AckStatus.STORED, bad.event_id: AckStatus.DEAD_LETTERED}
    assert sum(r.dead_lettered for r in results) == 1


def test_an_unavailable_store_is_never_mistaken_for_a_refusal() -> None:
    bad = punch("2")
    store = RefusingStore({bad.event_id}, unavailable=True)
    service = IngestService(store, clock=lambda: NOW)
    with pytest.raises(StoreUnavailable):
        service.ingest_each([message(punch("1")), message(bad)])
    assert store.dead_letters == []
