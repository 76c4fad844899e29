"""SQL of face enrolment: consent, encrypted encodings, the gallery's versions, evidence retention."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from contracts.faces import gallery_bucket
from contracts.topics import EventKind, TopicError, parse_topic
from server.adapters import tables
from server.adapters.tables_faces import face_consents, face_encodings, face_gallery, face_gallery_version


@dataclass(frozen=True)
class Consent:
    staff_id: str
    given_at: datetime
    recorded_by: str
    evidence: str | None
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True)
class NewEncoding:
    encoding_id: str
    encrypted: bytes
    photo_sha256: str
    photo_name: str


class FaceStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ consent
    def consent(self, staff_id: str) -> Consent | None:
        with self._engine.connect() as c:
            row = c.execute(select(face_consents).where(face_consents.c.staff_id == staff_id)).first()
        return Consent(**row._mapping) if row else None

    def record_consent(self, staff_id: str, at: datetime, recorded_by: str, evidence: str | None) -> None:
        values = {"given_at": at, "recorded_by": recorded_by, "evidence": evidence, "withdrawn_at": None}
        with self._engine.begin() as c:
            done = c.execute(
                update(face_consents).where(face_consents.c.staff_id == staff_id).values(**values)
            )
            if done.rowcount == 0:
                c.execute(insert(face_consents).values(staff_id=staff_id, **values))

    def withdraw_consent(self, staff_id: str, at: datetime) -> bool:
        with self._engine.begin() as c:
            done = c.execute(
                update(face_consents)
                .where(face_consents.c.staff_id == staff_id, face_consents.c.withdrawn_at.is_(None))
                .values(withdrawn_at=at)
            )
        return bool(done.rowcount)

    # ------------------------------------------------------------------ encodings
    def photo_hashes(self, staff_id: str) -> set[str]:
        with self._engine.connect() as c:
            rows = c.execute(
                select(face_encodings.c.photo_sha256).where(face_encodings.c.staff_id == staff_id)
            )
            return {r[0] for r in rows}

    def encodings_of(self, staff_id: str) -> list[bytes]:
        with self._engine.connect() as c:
            rows = c.execute(
                select(face_encodings.c.encrypted)
                .where(face_encodings.c.staff_id == staff_id)
                .order_by(face_encodings.c.created_at, face_encodings.c.encoding_id)
            )
            return [bytes(r[0]) for r in rows]

    def _bump(self, c: Connection, staff_id: str, at: datetime, *, deleted: bool) -> int:
        # The UPDATE takes the row lock on PostgreSQL: concurrent changes get distinct versions.
        if (
            c.execute(
                update(face_gallery_version).values(version=face_gallery_version.c.version + 1)
            ).rowcount
            == 0
        ):
            c.execute(insert(face_gallery_version).values(id=1, version=1))
        version = int(c.execute(select(face_gallery_version.c.version)).scalar_one())
        values = {
            "bucket": gallery_bucket(staff_id),
            "version": version,
            "deleted": deleted,
            "changed_at": at,
        }
        if (
            c.execute(
                update(face_gallery).where(face_gallery.c.staff_id == staff_id).values(**values)
            ).rowcount
            == 0
        ):
            c.execute(insert(face_gallery).values(staff_id=staff_id, **values))
        return version

    def add_encodings(self, staff_id: str, rows: list[NewEncoding], at: datetime) -> int:
        """Store the encodings and bump the gallery version, in one transaction; returns the version."""
        with self._engine.begin() as c:
            c.execute(
                insert(face_encodings),
                [dict(r.__dict__, staff_id=staff_id, created_at=at) for r in rows],
            )
            return self._bump(c, staff_id, at, deleted=False)

    def delete_person(self, staff_id: str, at: datetime) -> tuple[int | None, int]:
        """Delete every encoding of ``staff_id`` and the face snapshots of their check-ins, in one
        transaction: the new gallery version (None if no encoding was stored) and the snapshots
        dropped. The observations stay (attendance records), without the picture of the face."""
        f = tables.face_observations
        with self._engine.begin() as c:
            snapshots = c.execute(
                update(f)
                .where(f.c.staff_id == staff_id, f.c.snapshot_jpeg.is_not(None))
                .values(snapshot_jpeg=None)
            ).rowcount
            removed = c.execute(delete(face_encodings).where(face_encodings.c.staff_id == staff_id)).rowcount
            version = self._bump(c, staff_id, at, deleted=True) if removed else None
        return version, int(snapshots)

    def delete_older_than(self, before: datetime, at: datetime) -> list[str]:
        """Delete encodings created before ``before``; the people who changed."""
        with self._engine.begin() as c:
            old = face_encodings.c.created_at < before
            people = sorted({r[0] for r in c.execute(select(face_encodings.c.staff_id).where(old))})
            c.execute(delete(face_encodings).where(old))
            for staff_id in people:
                left = c.execute(
                    select(func.count())
                    .select_from(face_encodings)
                    .where(face_encodings.c.staff_id == staff_id)
                ).scalar_one()
                self._bump(c, staff_id, at, deleted=left == 0)
        return people

    # ------------------------------------------------------------------ gallery
    def bucket(self, bucket: int) -> tuple[int, dict[str, list[bytes]]]:
        """The bucket's version (0 if never used) and the encrypted encodings of its people."""
        with self._engine.connect() as c:
            version = c.execute(
                select(func.max(face_gallery.c.version)).where(face_gallery.c.bucket == bucket)
            ).scalar_one()
            rows = c.execute(
                select(face_encodings.c.staff_id, face_encodings.c.encrypted)
                .join(face_gallery, face_gallery.c.staff_id == face_encodings.c.staff_id)
                .where(face_gallery.c.bucket == bucket)
                .order_by(
                    face_encodings.c.staff_id, face_encodings.c.created_at, face_encodings.c.encoding_id
                )
            )
            people: dict[str, list[bytes]] = defaultdict(list)
            for staff_id, encrypted in rows:
                people[staff_id].append(bytes(encrypted))
        return int(version or 0), dict(people)

    def head(self) -> tuple[int, dict[int, int]]:
        """The gallery version and the version of every bucket that has someone enrolled."""
        with self._engine.connect() as c:
            version = c.execute(select(face_gallery_version.c.version)).scalar_one_or_none() or 0
            live = (
                select(face_gallery.c.bucket)
                .where(face_gallery.c.deleted.is_(False))
                .distinct()
                .scalar_subquery()
            )
            rows = c.execute(
                select(face_gallery.c.bucket, func.max(face_gallery.c.version))
                .where(face_gallery.c.bucket.in_(live))
                .group_by(face_gallery.c.bucket)
            )
            return int(version), {int(b): int(v) for b, v in rows}

    def enrolled(self) -> dict[str, int]:
        """Staff id -> number of encodings, for everyone enrolled."""
        with self._engine.connect() as c:
            rows = c.execute(
                select(face_encodings.c.staff_id, func.count()).group_by(face_encodings.c.staff_id)
            )
            return {r[0]: int(r[1]) for r in rows}

    # ------------------------------------------------------------------ evidence retention
    def purge_snapshots(self, *, unknown_before: datetime, known_before: datetime) -> tuple[int, int]:
        """Drop evidence snapshots past their retention; (unknown, known) counts."""
        f = tables.face_observations
        with self._engine.begin() as c:
            unknown = c.execute(
                update(f)
                .where(
                    f.c.snapshot_jpeg.is_not(None), f.c.staff_id.is_(None), f.c.occurred_at < unknown_before
                )
                .values(snapshot_jpeg=None)
            ).rowcount
            known = c.execute(
                update(f)
                .where(
                    f.c.snapshot_jpeg.is_not(None), f.c.staff_id.is_not(None), f.c.occurred_at < known_before
                )
                .values(snapshot_jpeg=None)
            ).rowcount
        return int(unknown), int(known)

    def purge_face_dead_letters(self, before: datetime) -> int:
        """Delete dead letters received before ``before`` that are, or may be, face observations:
        their topic names the face kind, or their payload carries a snapshot field. A refused
        message is still biometric data, and the dead-letter store has no retention of its own."""
        d = tables.dead_letters
        doomed: list[int] = []
        with self._engine.connect() as c:
            rows = c.execution_options(yield_per=500).execute(
                select(d.c.id, d.c.topic, d.c.payload).where(d.c.received_at < before)
            )
            doomed = [row.id for row in rows if _may_hold_a_face(row.topic, bytes(row.payload))]
        with self._engine.begin() as c:
            for start in range(0, len(doomed), 500):
                c.execute(delete(d).where(d.c.id.in_(doomed[start : start + 500])))
        return len(doomed)

    def snapshot(self, event_id: str) -> bytes | None:
        f = tables.face_observations
        with self._engine.connect() as c:
            value = c.execute(select(f.c.snapshot_jpeg).where(f.c.event_id == event_id)).scalar_one_or_none()
        return bytes(value) if value is not None else None


def _may_hold_a_face(topic: str, payload: bytes) -> bool:
    try:
        if parse_topic(topic).kind is EventKind.FACE:
            return True
    except TopicError:
        pass  # a topic outside the tree says nothing: look at the payload
    return b"snapshot" in payload
