"""Ingest: decode what edges published, store it idempotently, and say what to acknowledge.

The service knows the contract and the delivery rules but neither MQTT nor SQL: the consumer hands
it raw messages and the store (a port, implemented in server.adapters.ingest_store) writes a
batch in one transaction. Every message ends in exactly one of three states, and an edge may
forget an event in all three: stored, duplicate (stored before), or dead-lettered with a reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from contracts import (
    AckItem,
    AckStatus,
    ContractError,
    DeviceStatus,
    EdgeStatus,
    EventAck,
    FaceObservation,
    PunchEvent,
    TemplatesEvent,
    TopicError,
    decode_edge_status,
    decode_event,
    parse_topic,
)

logger = logging.getLogger(__name__)

# Templates events are not stored: they are relayed (as commands) to the other edges of a site.
StoredEvent = PunchEvent | FaceObservation | DeviceStatus | TemplatesEvent
_REASON_MAX = 1000  # characters of a database error kept as a dead letter's reason


def utc_now() -> datetime:
    """The server's clock, aware and in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class InboundMessage:
    """One MQTT message as received: the topic and the raw payload bytes."""

    topic: str
    payload: bytes


@dataclass(frozen=True)
class DeadLetter:
    """A message that does not fit the contract, kept with the reason and what it claimed to be."""

    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    edge_id: str | None = None
    claimed_event_id: str | None = None


@dataclass(frozen=True)
class IngestBatch:
    """What one batch of messages decoded to, ready for the store."""

    events: list[StoredEvent] = field(default_factory=list)
    edge_statuses: list[EdgeStatus] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class StoreUnavailable(Exception):
    """The store cannot be reached now (connection lost, database restarting or locked): nothing in
    the batch is at fault, so the whole batch is retried later."""


class StoreRefused(Exception):
    """The store refuses the batch: something in it is a value the database cannot hold."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IngestStore(Protocol):
    """Writes a batch in one transaction and reports which event ids were new."""

    def store_batch(self, batch: IngestBatch, stored_at: datetime) -> set[str]:
        """Store everything in ``batch``; return the ids of events inserted now (not seen before).

        Raises :class:`StoreUnavailable` when the store cannot be reached and :class:`StoreRefused`
        when the database refuses something in the batch; either way nothing of it is stored."""
        ...


@dataclass(frozen=True)
class IngestResult:
    """The outcome of one batch: one acknowledgement per edge, and counts."""

    acks: list[EventAck]
    stored: int
    duplicates: int
    dead_lettered: int
    received: int = 0  # messages in the batch (events, statuses and dead letters)
    newest_occurred_at: datetime | None = None  # of the freshest event in the batch

    @property
    def acknowledged(self) -> int:
        """Event ids the acks of this batch confirm to the edges."""
        return sum(len(ack.items) for ack in self.acks)


@dataclass(frozen=True)
class IngestStatsSnapshot:
    """Counters since the server started."""

    events_stored: int
    duplicates_ignored: int
    dead_letters: int
    batches: int
    last_batch_at: datetime | None
    received: int = 0
    acknowledged: int = 0
    # The freshest event's occurred_at seen so far, and how old it was when its batch was stored:
    # the consumer's lag behind the terminals (large while a backlog drains).
    newest_occurred_at: datetime | None = None
    last_batch_lag_seconds: float | None = None


class IngestStats:
    """Thread-safe counters: the consumer's worker writes them, the API reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored = self._duplicates = self._dead = self._batches = 0
        self._received = self._acknowledged = 0
        self._last_batch_at: datetime | None = None
        self._newest: datetime | None = None
        self._lag: float | None = None

    def record(self, result: IngestResult, at: datetime) -> None:
        with self._lock:
            self._stored += result.stored
            self._duplicates += result.duplicates
            self._dead += result.dead_lettered
            self._received += result.received
            self._acknowledged += result.acknowledged
            self._batches += 1
            self._last_batch_at = at
            if result.newest_occurred_at is not None:
                self._lag = max(0.0, (at - result.newest_occurred_at).total_seconds())
                if self._newest is None or result.newest_occurred_at > self._newest:
                    self._newest = result.newest_occurred_at

    def snapshot(self) -> IngestStatsSnapshot:
        with self._lock:
            return IngestStatsSnapshot(
                self._stored,
                self._duplicates,
                self._dead,
                self._batches,
                self._last_batch_at,
                received=self._received,
                acknowledged=self._acknowledged,
                newest_occurred_at=self._newest,
                last_batch_lag_seconds=self._lag,
            )


def classify(messages: Sequence[InboundMessage], received_at: datetime) -> IngestBatch:
    """Decode each message with the contract; whatever does not decode becomes a dead letter."""
    batch = IngestBatch()
    for message in messages:
        try:
            parsed = parse_topic(message.topic)
        except TopicError as exc:
            batch.dead_letters.append(DeadLetter(received_at, message.topic, message.payload, str(exc)))
            continue
        try:
            if parsed.channel == "events":
                batch.events.append(decode_event(message.topic, message.payload))
            elif parsed.channel == "status":
                if not message.payload:
                    continue  # an empty retained message only clears the retained status
                status = decode_edge_status(message.payload)
                if status.edge_id != parsed.edge_id:
                    raise ContractError(
                        f"payload edge_id {status.edge_id!r} differs from the topic's {parsed.edge_id!r}",
                        event_id=status.event_id,
                    )
                batch.edge_statuses.append(status)
            else:
                raise ContractError(f"the server does not consume {parsed.channel!r} topics")
        except ContractError as exc:
            batch.dead_letters.append(
                DeadLetter(
                    received_at,
                    message.topic,
                    message.payload,
                    exc.reason,
                    edge_id=parsed.edge_id,
                    # Only events are acknowledged: a claimed id on another channel is kept for
                    # the record but never acked.
                    claimed_event_id=exc.event_id,
                )
            )
        except Exception as exc:  # a decoder that fails otherwise must not block ingest
            logger.exception("decoding a message on %s failed unexpectedly", message.topic)
            reason = f"could not be decoded: {type(exc).__name__}: {exc}"
            batch.dead_letters.append(
                DeadLetter(received_at, message.topic, message.payload, reason, edge_id=parsed.edge_id)
            )
    return batch


def _is_event_topic(topic: str) -> bool:
    try:
        return parse_topic(topic).channel == "events"
    except TopicError:
        return False


class IngestService:
    """Turns batches of raw messages into stored rows and per-edge acknowledgements."""

    def __init__(
        self,
        store: IngestStore,
        stats: IngestStats | None = None,
        clock: Callable[[], datetime] = utc_now,
        relay_templates: Callable[[TemplatesEvent], object] | None = None,
    ) -> None:
        self._store = store
        self.stats = stats or IngestStats()
        self._clock = clock
        self._relay_templates = relay_templates

    def ingest(self, messages: Sequence[InboundMessage]) -> IngestResult:
        """Decode, store in one transaction, and build the acks; raises if the store fails."""
        now = self._clock()
        batch = classify(messages, now)
        new_ids = self._store.store_batch(batch, stored_at=now)
        new_ids |= self._relay(batch.events)

        items: dict[str, dict[str, AckStatus]] = {}  # edge -> event id -> status (first wins)
        stored = duplicates = 0
        for event in batch.events:
            per_edge = items.setdefault(event.edge_id, {})
            if event.event_id in per_edge:
                duplicates += 1  # the same event twice in one batch: a redelivery
                continue
            is_new = event.event_id in new_ids
            stored += is_new
            duplicates += not is_new
            per_edge[event.event_id] = AckStatus.STORED if is_new else AckStatus.DUPLICATE
        for letter in batch.dead_letters:
            if letter.edge_id and letter.claimed_event_id and _is_event_topic(letter.topic):
                items.setdefault(letter.edge_id, {}).setdefault(
                    letter.claimed_event_id, AckStatus.DEAD_LETTERED
                )
        acks = [
            EventAck(
                edge_id=edge_id,
                acked_at=now,
                items=[AckItem(event_id=eid, status=status) for eid, status in per_edge.items()],
            )
            for edge_id, per_edge in items.items()
            if per_edge
        ]
        result = IngestResult(
            acks,
            stored,
            duplicates,
            len(batch.dead_letters),
            received=len(messages),
            newest_occurred_at=max((event.occurred_at for event in batch.events), default=None),
        )
        self.stats.record(result, now)
        for letter in batch.dead_letters:
            logger.warning("dead-lettered a message on %s: %s", letter.topic, letter.reason)
        return result

    def _relay(self, events: Sequence[StoredEvent]) -> set[str]:
        """Hand each templates event to the relay (once per batch); their ids count as stored. A relay
        that cannot send raises, and the whole batch is tried again (its stored events are duplicates
        then), so the edge keeps the templates until they went on."""
        relayed: set[str] = set()
        for event in events:
            if isinstance(event, TemplatesEvent) and event.event_id not in relayed:
                if self._relay_templates is None:
                    logger.warning(
                        "templates event %s dropped: this server relays no templates", event.event_id
                    )
                    continue
                try:
                    self._relay_templates(event)
                except ConnectionError as exc:
                    raise StoreUnavailable(f"templates not relayed: {exc}") from exc
                relayed.add(event.event_id)
        return relayed

    def ingest_each(self, messages: Sequence[InboundMessage]) -> list[IngestResult]:
        """Store ``messages`` one at a time, after the store refused them as one batch: a message the
        store refuses on its own is dead-lettered with the store's reason, the others are stored as
        usual. Raises :class:`StoreUnavailable` (retry everything later) if the store goes away."""
        results = []
        for message in messages:
            try:
                results.append(self.ingest([message]))
            except StoreUnavailable:
                raise
            except Exception as exc:  # StoreRefused, or a value the driver cannot even bind
                reason = exc.reason if isinstance(exc, StoreRefused) else f"{type(exc).__name__}: {exc}"
                results.append(self._dead_letter_refused(message, reason))
        return results

    def _dead_letter_refused(self, message: InboundMessage, reason: str) -> IngestResult:
        """Keep a message the database refused as a dead letter, and acknowledge its event id as
        dead-lettered so the edge stops resending it (it is kept here, with its payload)."""
        now = self._clock()
        decoded = classify([message], now)
        claimed = next((item.event_id for item in [*decoded.events, *decoded.edge_statuses]), None)
        try:
            edge_id: str | None = parse_topic(message.topic).edge_id
        except TopicError:
            edge_id = None
        # PostgreSQL text holds no NUL; the driver's message may quote the refused value.
        reason = f"the database refused it: {reason}".replace("\x00", "")[:_REASON_MAX]
        letter = DeadLetter(now, message.topic, message.payload, reason, edge_id, claimed)
        self._store.store_batch(IngestBatch(dead_letters=[letter]), stored_at=now)
        acks = []
        if edge_id and claimed and _is_event_topic(message.topic):
            acks.append(
                EventAck(
                    edge_id=edge_id,
                    acked_at=now,
                    items=[AckItem(event_id=claimed, status=AckStatus.DEAD_LETTERED)],
                )
            )
        result = IngestResult(acks, stored=0, duplicates=0, dead_lettered=1)
        self.stats.record(result, now)
        logger.warning("dead-lettered a message on %s: %s", message.topic, reason)
        return result
