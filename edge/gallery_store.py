"""The face gallery at the edge: kept in SQLite so a restart needs no network, fed by the server's
retained gallery messages (contracts/faces.py), applied to the in-memory matrix the cameras match on."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from contracts.faces import GalleryBucket, GalleryHead, GalleryPerson, unpack_encoding
from devices.face.gallery import Gallery

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gallery_buckets (
    bucket INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    people TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gallery_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
"""


def _person_encodings(person: GalleryPerson) -> list[np.ndarray]:
    return [np.asarray(unpack_encoding(text), dtype=np.float32) for text in person.encodings]


class EdgeGallery:
    """Buckets of enrolled people as last published; :attr:`gallery` is what the cameras match against."""

    def __init__(self, path: Path, gallery: Gallery | None = None) -> None:
        self.gallery = gallery if gallery is not None else Gallery()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._members: dict[int, list[str]] = {}
        self._versions: dict[int, int] = {}
        held: dict[str, list[np.ndarray] | None] = {}
        for bucket, version, people in self._db.execute(
            "SELECT bucket, version, people FROM gallery_buckets"
        ):
            members = [GalleryPerson.model_validate(p) for p in json.loads(people)]
            for person in members:
                held[person.staff_id] = _person_encodings(person)
            self._members[bucket] = [p.staff_id for p in members]
            self._versions[bucket] = version
        self.gallery.update(held)  # one snapshot for the whole stored gallery
        row = self._db.execute("SELECT version FROM gallery_head WHERE id = 1").fetchone()
        self.version = int(row[0]) if row else 0
        logger.info("edge gallery: %d people at version %d", len(self.gallery), self.version)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def bucket_version(self, bucket: int) -> int | None:
        return self._versions.get(bucket)

    def apply(self, message: GalleryHead | GalleryBucket) -> None:
        """Apply a bucket (if newer than ours) or a head (dropping buckets it no longer lists)."""
        with self._lock:
            if isinstance(message, GalleryBucket):
                self._apply_bucket(message)
            else:
                self._apply_head(message)

    def _apply_bucket(self, bucket: GalleryBucket) -> None:
        held = self._versions.get(bucket.bucket)
        if held is not None and held >= bucket.version:
            return
        encodings: dict[str, list[np.ndarray] | None] = {
            p.staff_id: _person_encodings(p) for p in bucket.people
        }
        changes = dict.fromkeys(s for s in self._members.get(bucket.bucket, []) if s not in encodings)
        changes.update(encodings)
        # One swap of the cameras' snapshot: they see the bucket's old people or its new ones.
        self.gallery.update(changes)
        self._members[bucket.bucket] = list(encodings)
        self._versions[bucket.bucket] = bucket.version
        people = json.dumps([p.model_dump() for p in bucket.people])
        self._db.execute(
            "INSERT INTO gallery_buckets (bucket, version, people) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket) DO UPDATE SET version = excluded.version, people = excluded.people",
            (bucket.bucket, bucket.version, people),
        )
        logger.info(
            "gallery bucket %d now version %d (%d people)", bucket.bucket, bucket.version, len(encodings)
        )

    def _apply_head(self, head: GalleryHead) -> None:
        # A bucket newer than the head was published after it: the next head will list it.
        stale = [b for b, v in self._versions.items() if b not in head.buckets and v <= head.version]
        for bucket in stale:
            # Emptied on the server (everyone in it deleted) while we may have been away.
            self.gallery.update(dict.fromkeys(self._members.pop(bucket, [])))
            del self._versions[bucket]
            self._db.execute("DELETE FROM gallery_buckets WHERE bucket = ?", (bucket,))
            logger.info("gallery bucket %d emptied on the server: its people are forgotten here", bucket)
        self.version = head.version
        self._db.execute(
            "INSERT INTO gallery_head (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = ?",
            (head.version, head.version),
        )
