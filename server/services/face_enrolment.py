"""Face enrolment: consent first, then photos with exactly one face each, encodings encrypted at rest,
and the gallery published to every edge as retained, versioned buckets (contracts/faces.py).

The photo's face is found and encoded by a :class:`PhotoEncoder` that the composition root provides
(the server package must not import the device library; ``kaoqin server`` passes the same engine the
cameras use). Enrolment keys on a staff id string until staff records land (issue #6).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contracts import encode
from contracts.faces import (
    GalleryBucket,
    GalleryHead,
    GalleryPerson,
    gallery_bucket,
    pack_encoding,
)
from contracts.topics import gallery_bucket_topic, gallery_head_topic
from server.adapters.face_crypto import EncodingCipher
from server.adapters.face_store import FaceStore, NewEncoding
from server.services.face_settings import FaceSettings

logger = logging.getLogger(__name__)


class PhotoEncoder(Protocol):
    def faces_in_photo(self, data: bytes, name: str) -> list[Sequence[float]]:
        """One 128-d encoding per face in the photo; ValueError naming ``name`` if it cannot be read."""
        ...


class GalleryPublisher(Protocol):
    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 with the retain flag (an empty payload clears the retained message)."""
        ...


class ConsentMissing(Exception):
    """No consent (or a withdrawn one) on record for this staff member."""


class EnrolmentRejected(ValueError):
    """One or more photos cannot be used; nothing was stored. ``problems`` name each photo."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes


@dataclass(frozen=True)
class EnrolmentResult:
    staff_id: str
    added: int
    encodings: int
    gallery_version: int


@dataclass(frozen=True)
class PurgeResult:
    unknown_snapshots: int
    known_snapshots: int
    people_expired: list[str]
    face_dead_letters: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class FaceEnrolment:
    def __init__(
        self,
        store: FaceStore,
        cipher: EncodingCipher,
        settings: FaceSettings,
        *,
        encoder: PhotoEncoder | None,
        publisher: GalleryPublisher | None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._cipher = cipher
        self.settings = settings
        self._encoder = encoder
        self._publisher = publisher
        self._clock = clock
        self._pending: set[int] = set()  # buckets changed while the broker could not take them
        self._pending_lock = threading.Lock()

    # ------------------------------------------------------------------ consent
    def record_consent(self, staff_id: str, recorded_by: str, evidence: str | None) -> None:
        self.store.record_consent(staff_id, self._clock(), recorded_by, evidence)
        logger.info("face consent of %s recorded by %s", staff_id, recorded_by)

    def withdraw_consent(self, staff_id: str) -> bool:
        """Withdraw consent and delete the person's face data everywhere."""
        withdrawn = self.store.withdraw_consent(staff_id, self._clock())
        self.delete(staff_id)
        return withdrawn

    # ------------------------------------------------------------------ enrolment
    def enrol(self, staff_id: str, photos: list[Photo]) -> EnrolmentResult:
        consent = self.store.consent(staff_id)
        if consent is None or not consent.active:
            raise ConsentMissing(
                f"no face consent on record for {staff_id}: record it first (PUT /api/v1/faces/{staff_id}/consent)"
            )
        if self._encoder is None:
            raise RuntimeError("this server has no face engine: start it with `kaoqin server`")
        if not photos:
            raise EnrolmentRejected(["send at least one photo"])
        if len(photos) > self.settings.max_photos_per_request:
            raise EnrolmentRejected([f"at most {self.settings.max_photos_per_request} photos per request"])
        known = self.store.photo_hashes(staff_id)
        problems: list[str] = []
        rows: list[NewEncoding] = []
        for photo in photos:
            digest = hashlib.sha256(photo.data).hexdigest()
            if len(photo.data) > self.settings.max_photo_bytes:
                problems.append(
                    f"{photo.name}: {len(photo.data)} bytes is over {self.settings.max_photo_bytes}"
                )
                continue
            if digest in known:
                problems.append(f"{photo.name}: this photo is already enrolled for {staff_id}")
                continue
            try:
                faces = self._encoder.faces_in_photo(photo.data, photo.name)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if not faces:
                problems.append(f"{photo.name}: no face found; use a sharp, front-facing photo")
            elif len(faces) > 1:
                problems.append(f"{photo.name}: {len(faces)} faces found; use a photo of {staff_id} alone")
            else:
                known.add(digest)
                rows.append(
                    NewEncoding(str(uuid.uuid4()), self._cipher.encrypt(faces[0]), digest, photo.name[:256])
                )
        total = len(self.store.encodings_of(staff_id)) + len(rows)
        if total > self.settings.max_encodings_per_person:
            problems.append(
                f"{staff_id} would have {total} photos (at most {self.settings.max_encodings_per_person})"
            )
        if problems:
            raise EnrolmentRejected(problems)
        version = self.store.add_encodings(staff_id, rows, self._clock())
        logger.info("enrolled %d photo(s) of %s (gallery version %d)", len(rows), staff_id, version)
        self.publish_bucket(gallery_bucket(staff_id))
        return EnrolmentResult(staff_id, len(rows), total, version)

    def delete(self, staff_id: str) -> bool:
        """Delete every encoding of ``staff_id`` here and, through the gallery, on every edge, and the
        evidence snapshots of their check-ins; False if there was nothing to delete."""
        version, snapshots = self.store.delete_person(staff_id, self._clock())
        if snapshots:
            logger.info("deleted %d check-in snapshot(s) of %s", snapshots, staff_id)
        if version is not None:
            logger.info("deleted the face data of %s (gallery version %d)", staff_id, version)
            self.publish_bucket(gallery_bucket(staff_id))
        return version is not None or snapshots > 0

    # ------------------------------------------------------------------ gallery to edges
    def bucket_message(self, bucket: int) -> GalleryBucket | None:
        version, people = self.store.bucket(bucket)
        if not people:
            return None
        return GalleryBucket(
            bucket=bucket,
            version=version,
            people=[
                GalleryPerson(
                    staff_id=staff_id, encodings=[pack_encoding(self._cipher.decrypt(t)) for t in tokens]
                )
                for staff_id, tokens in sorted(people.items())
            ],
            published_at=self._clock(),
        )

    def head_message(self) -> GalleryHead:
        version, buckets = self.store.head()
        return GalleryHead(version=version, buckets=buckets, published_at=self._clock())

    def publish_bucket(self, bucket: int) -> bool:
        """Republish one bucket (cleared when empty), then the head. If the broker cannot take it,
        the bucket is remembered for :meth:`publish_pending` (the schedule retries); False then."""
        if self._publisher is None:
            return False
        message = self.bucket_message(bucket)
        try:
            self._publisher.publish_retained(
                gallery_bucket_topic(bucket), encode(message) if message else b""
            )
            self._publisher.publish_retained(gallery_head_topic(), encode(self.head_message()))
        except ConnectionError as exc:
            # Stored already; the schedule publishes it once the broker is back.
            with self._pending_lock:
                self._pending.add(bucket)
            logger.warning("gallery bucket %d not published yet: %s", bucket, exc)
            return False
        with self._pending_lock:
            self._pending.discard(bucket)
        return True

    def publish_pending(self) -> int:
        """Publish the buckets whose publication failed; how many went out."""
        with self._pending_lock:
            pending = sorted(self._pending)
        return sum(self.publish_bucket(bucket) for bucket in pending)

    def publish_all(self) -> int:
        """Republish every non-empty bucket and the head: once at start-up (an embedded broker starts
        empty), not on every schedule run (the broker keeps retained messages; changes publish their
        own bucket)."""
        if self._publisher is None:
            return 0
        head = self.head_message()
        for bucket in head.buckets:
            message = self.bucket_message(bucket)
            if message is not None:
                self._publisher.publish_retained(gallery_bucket_topic(bucket), encode(message))
        self._publisher.publish_retained(gallery_head_topic(), encode(head))
        with self._pending_lock:
            self._pending.clear()
        return len(head.buckets)

    # ------------------------------------------------------------------ retention
    def purge(self) -> PurgeResult:
        """Enforce the retention settings: evidence snapshots, and encodings past their maximum age."""
        now = self._clock()
        s = self.settings
        unknown, known = self.store.purge_snapshots(
            unknown_before=now - timedelta(hours=s.unknown_snapshot_hours),
            known_before=now - timedelta(days=s.known_snapshot_days),
        )
        dead_letters = self.store.purge_face_dead_letters(now - timedelta(hours=s.dead_letter_face_hours))
        expired: list[str] = []
        if s.encoding_max_age_days is not None:
            expired = self.store.delete_older_than(now - timedelta(days=s.encoding_max_age_days), now)
            for bucket in sorted({gallery_bucket(staff_id) for staff_id in expired}):
                self.publish_bucket(bucket)
        if unknown or known or expired or dead_letters:
            logger.info(
                "face purge: %d unknown and %d known snapshots, %d people expired, %d face dead letters",
                unknown,
                known,
                len(expired),
                dead_letters,
            )
        return PurgeResult(unknown, known, expired, dead_letters)
