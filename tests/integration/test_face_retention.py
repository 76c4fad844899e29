"""Retention of face data on SQLite and PostgreSQL: deleting a person (or withdrawing consent) drops
their check-in snapshots too, encodings past their maximum age are purged and leave the edges, and the
schedule publishes the whole gallery once, then only what changed."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from contracts import FaceLiveness, FaceObservation, FaceOutcome
from contracts.faces import decode_gallery_message, gallery_bucket
from contracts.topics import EventKind, event_topic, gallery_bucket_topic, gallery_head_topic
from edge.gallery_store import EdgeGallery
from server.adapters import tables
from server.adapters.db import create_db_engine
from server.adapters.face_crypto import EncodingCipher
from server.adapters.face_store import FaceStore, NewEncoding
from server.adapters.ingest_store import SqlIngestStore
from server.adapters.migrate import migrate
from server.services.face_enrolment import FaceEnrolment
from server.services.face_schedule import FaceSchedule
from server.services.face_settings import FaceSettings
from server.services.ingest import DeadLetter, IngestBatch
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration

KEY = "test-face-key-0123456789-abcdefghij"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class RecordingPublisher:
    """Implements GalleryPublisher: keeps what was published; ``down`` plays a broker that is away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.down = False
        self._lock = threading.Lock()

    def publish_retained(self, topic: str, payload: bytes) -> None:
        if self.down:
            raise ConnectionError("not connected to the MQTT broker")
        with self._lock:
            self.sent.append((topic, payload))

    def count(self, topic: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self.sent if t == topic)


@dataclass
class World:
    engine: Engine
    store: FaceStore
    faces: FaceEnrolment
    publisher: RecordingPublisher


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    store = FaceStore(engine)
    publisher = RecordingPublisher()
    faces = FaceEnrolment(
        store,
        EncodingCipher(KEY),
        FaceSettings(encoding_max_age_days=30),
        encoder=None,
        publisher=publisher,
        clock=lambda: NOW,
    )
    yield World(engine, store, faces, publisher)
    engine.dispose()


def _enrol(world: World, staff_id: str, at: datetime, seed: int) -> None:
    """Store one encoding of ``staff_id`` as enrolment does (consent, encrypted, gallery version)."""
    world.store.record_consent(staff_id, at, "hr", None)
    encoding = np.random.default_rng(seed).normal(0, 0.09, 128).tolist()
    row = NewEncoding(str(uuid.uuid4()), EncodingCipher(KEY).encrypt(encoding), f"{seed:064x}", "p.jpg")
    world.store.add_encodings(staff_id, [row], at)


def _observe(world: World, staff_id: str | None, track: int) -> FaceObservation:
    event = FaceObservation.create(
        edge_id="edge-r",
        camera_id="cam-r",
        track_id=track,
        occurred_at=NOW - timedelta(minutes=track),
        outcome=FaceOutcome.KNOWN if staff_id else FaceOutcome.UNKNOWN,
        staff_id=staff_id,
        distance=0.4,
        liveness=FaceLiveness.PASSED,
        snapshot_jpeg_b64=base64.b64encode(b"\xff\xd8\xff\xe0 face").decode(),
    )
    SqlIngestStore(world.engine).store_batch(IngestBatch(events=[event]), NOW)
    return event


def test_deleting_a_person_or_withdrawing_consent_drops_their_check_in_snapshots(world: World) -> None:
    _enrol(world, "S-1", NOW, 1)
    _enrol(world, "S-2", NOW, 2)
    s1 = [_observe(world, "S-1", 1), _observe(world, "S-1", 2)]
    s2 = _observe(world, "S-2", 3)
    s3 = _observe(world, "S-3", 4)  # checked in, never enrolled here (deleted before, say)
    stranger = _observe(world, None, 5)

    assert world.faces.delete("S-1")
    assert [world.store.snapshot(e.event_id) for e in s1] == [None, None]
    assert world.store.snapshot(s2.event_id) is not None
    assert world.store.snapshot(stranger.event_id) is not None

    assert world.faces.withdraw_consent("S-2")
    assert world.store.snapshot(s2.event_id) is None
    assert world.store.encodings_of("S-2") == []

    assert world.faces.delete("S-3")  # only a snapshot to delete: still face data
    assert world.store.snapshot(s3.event_id) is None
    assert not world.faces.delete("S-3")  # nothing left
    assert world.store.snapshot(stranger.event_id) is not None
    # The check-ins themselves are attendance records: they stay, without the face.
    with world.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(tables.face_observations)).scalar_one() == 5


def test_encodings_past_their_maximum_age_are_purged_and_leave_the_edges(
    world: World, tmp_path: Path
) -> None:
    _enrol(world, "S-old", NOW - timedelta(days=40), 1)
    _enrol(world, "S-mixed", NOW - timedelta(days=40), 2)
    _enrol(world, "S-mixed", NOW - timedelta(days=1), 3)  # re-enrolled recently: keeps this one
    _enrol(world, "S-new", NOW - timedelta(days=1), 4)
    edge = EdgeGallery(tmp_path / "gallery.sqlite3")
    world.faces.publish_all()
    for topic, payload in world.publisher.sent:
        message = decode_gallery_message(topic, payload)
        if message is not None:
            edge.apply(message)
    assert edge.gallery.people == ["S-mixed", "S-new", "S-old"]
    world.publisher.sent.clear()

    result = world.faces.purge()

    assert result.people_expired == ["S-mixed", "S-old"]
    assert [len(world.store.encodings_of(s)) for s in ("S-old", "S-mixed", "S-new")] == [0, 1, 1]
    changed = {gallery_bucket_topic(gallery_bucket(s)) for s in ("S-old", "S-mixed")}
    assert {t for t, _ in world.publisher.sent} == changed | {gallery_head_topic()}
    for topic, payload in world.publisher.sent:
        message = decode_gallery_message(topic, payload)
        if message is not None:
            edge.apply(message)
    assert edge.gallery.people == ["S-mixed", "S-new"]  # S-old is gone from the edge too
    edge.close()

    world.publisher.sent.clear()
    assert world.faces.purge().people_expired == []
    assert world.publisher.sent == []  # nothing changed, nothing published


def test_the_schedule_publishes_the_gallery_once_then_only_what_changed(world: World) -> None:
    _enrol(world, "S-a", NOW, 1)
    _enrol(world, "S-b", NOW, 2)
    bucket_a = gallery_bucket_topic(gallery_bucket("S-a"))
    bucket_b = gallery_bucket_topic(gallery_bucket("S-b"))
    assert bucket_a != bucket_b
    publisher = world.publisher
    schedule = FaceSchedule(world.faces, lambda: not publisher.down, interval=0.05)
    schedule.start()
    try:
        wait_until(lambda: schedule.runs >= 5, 15, "five runs of the schedule")
        assert (
            publisher.count(bucket_a),
            publisher.count(bucket_b),
            publisher.count(gallery_head_topic()),
        ) == (
            1,
            1,
            1,
        )
        # A deletion while the broker is away is published once it is back: that bucket only.
        publisher.down = True
        assert world.faces.delete("S-a")
        publisher.down = False
        wait_until(lambda: publisher.count(bucket_a) == 2, 15, "the pending bucket to be published")
        runs = schedule.runs
        wait_until(lambda: schedule.runs >= runs + 3, 15, "three more runs")
        assert (
            publisher.count(bucket_a),
            publisher.count(bucket_b),
            publisher.count(gallery_head_topic()),
        ) == (
            2,
            1,
            2,
        )
        assert publisher.sent[-2] == (bucket_a, b"")  # emptied: cleared on the broker
    finally:
        schedule.stop()


def test_refused_face_observations_leave_the_dead_letter_store_with_the_snapshot_retention(
    world: World,
) -> None:
    """A dead letter may hold a snapshot (a face observation the contract refused): biometric data,
    so the purge removes it after ``dead_letter_face_hours``; other dead letters stay for diagnosis."""
    face_topic = event_topic("edge-r", EventKind.FACE, "cam-r")
    punch_topic = event_topic("edge-r", EventKind.PUNCH, "SN1")
    old, recent = NOW - timedelta(hours=73), NOW - timedelta(hours=71)
    letters = [
        DeadLetter(old, face_topic, b'{"kind": "face", "broken', "not JSON"),
        DeadLetter(old, "no/such/topic", b'{"snapshot_jpeg_b64": "/9j/4AAQ"}', "topic outside the tree"),
        DeadLetter(old, punch_topic, b'{"kind": "punch"}', "missing fields"),
        DeadLetter(recent, face_topic, b"{}", "missing fields"),
    ]
    SqlIngestStore(world.engine).store_batch(IngestBatch(dead_letters=letters), NOW)

    assert world.faces.purge().face_dead_letters == 2

    with world.engine.connect() as c:
        left = c.execute(select(tables.dead_letters.c.topic, tables.dead_letters.c.received_at)).all()
    assert sorted((topic, at.astimezone(UTC)) for topic, at in left) == sorted(
        [(punch_topic, old), (face_topic, recent)]
    )
    assert world.faces.purge().face_dead_letters == 0
