"""The enrolled faces as one float32 matrix, matched by a matrix product.

``face_recognition.face_distance`` loops ``numpy.linalg.norm`` over a float64 array: ~45 ms against
100,000 faces. With ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` and the squared norms kept beside a float32
matrix, one match is one matrix-vector product (~2 ms, ../shared/testdata/faces/SOURCES.md).
A person may have several encodings (several enrolment photos); the best one counts.

At an edge the MQTT thread changes the gallery while every camera thread matches against it. The
matrix, its norms and their owners are therefore one immutable :class:`GallerySnapshot`, replaced as a
whole (one reference assignment, atomic in Python): a reader takes the current snapshot and never
sees a matrix of one version with owners of another. Writers take a lock; the snapshot is rebuilt
once after a batch of changes (:meth:`Gallery.update`), or by the first reader after a change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ENCODING_SIZE = 128
Encoding = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Match:
    """The nearest enrolled face: whose it is and how far (Euclidean, face_recognition's scale)."""

    staff_id: str
    distance: float


@dataclass(frozen=True)
class GallerySnapshot:
    """One consistent state of the gallery; its arrays are read-only."""

    matrix: npt.NDArray[np.float32]  # one row per encoding
    norms: npt.NDArray[np.float32]  # squared norm of each row
    owners: tuple[str, ...]  # staff id of each row
    people: frozenset[str]

    @classmethod
    def build(cls, by_person: Mapping[str, npt.NDArray[np.float32]]) -> GallerySnapshot:
        owners: list[str] = []
        for staff_id, block in by_person.items():
            owners += [staff_id] * len(block)
        matrix = (
            np.ascontiguousarray(np.concatenate(list(by_person.values())))
            if by_person
            else np.empty((0, ENCODING_SIZE), np.float32)
        )
        norms = np.einsum("ij,ij->i", matrix, matrix)
        matrix.flags.writeable = False
        norms.flags.writeable = False
        return cls(matrix, norms, tuple(owners), frozenset(by_person))

    def nearest(self, encoding: Encoding) -> Match | None:
        if not self.owners:
            return None
        probe = np.asarray(encoding, dtype=np.float32).reshape(-1)
        squared = self.norms - 2.0 * (self.matrix @ probe) + float(probe @ probe)
        best = int(np.argmin(squared))
        return Match(self.owners[best], float(np.sqrt(max(float(squared[best]), 0.0))))


_EMPTY = GallerySnapshot.build({})


def _rows(staff_id: str, encodings: Iterable[Encoding]) -> npt.NDArray[np.float32] | None:
    rows = [np.asarray(e, dtype=np.float32).reshape(-1) for e in encodings]
    for row in rows:
        if row.shape != (ENCODING_SIZE,) or not np.isfinite(row).all():
            raise ValueError(f"encoding of {staff_id!r} must be {ENCODING_SIZE} finite numbers")
    return np.stack(rows) if rows else None


class Gallery:
    """Encodings of enrolled people; replace a person's set with :meth:`put`, drop it with :meth:`remove`,
    or change many at once with :meth:`update`. Safe to change from one thread while others match."""

    def __init__(self, people: Mapping[str, Sequence[Encoding]] | None = None) -> None:
        self._lock = threading.Lock()
        self._by_person: dict[str, npt.NDArray[np.float32]] = {}
        self._snapshot = _EMPTY
        self._stale = False
        if people:
            self.update(people)

    def __len__(self) -> int:
        """Number of people enrolled."""
        return len(self.snapshot().people)

    def __contains__(self, staff_id: object) -> bool:
        return staff_id in self.snapshot().people

    @property
    def people(self) -> list[str]:
        return sorted(self.snapshot().people)

    def update(self, changes: Mapping[str, Iterable[Encoding] | None]) -> None:
        """Set each person's encodings (None or an empty set removes them); one rebuild for all.
        Every encoding is checked before anything changes."""
        checked = {staff_id: _rows(staff_id, rows or ()) for staff_id, rows in changes.items()}
        with self._lock:
            for staff_id, block in checked.items():
                if block is None:
                    self._by_person.pop(staff_id, None)
                else:
                    self._by_person[staff_id] = block
            self._snapshot = GallerySnapshot.build(self._by_person)
            self._stale = False

    def put(self, staff_id: str, encodings: Iterable[Encoding]) -> None:
        """Set ``staff_id``'s encodings (replacing any before); an empty set removes the person.
        Cheap: the snapshot is rebuilt by the next reader (many puts in a row cost one rebuild)."""
        block = _rows(staff_id, encodings)
        with self._lock:
            if block is None:
                self._by_person.pop(staff_id, None)
            else:
                self._by_person[staff_id] = block
            self._stale = True

    def remove(self, staff_id: str) -> bool:
        """Forget a person; True if they were enrolled."""
        with self._lock:
            found = self._by_person.pop(staff_id, None) is not None
            self._stale = self._stale or found
        return found

    def snapshot(self) -> GallerySnapshot:
        """The current consistent state (rebuilt here if it changed since the last one)."""
        if self._stale:
            with self._lock:
                if self._stale:
                    self._snapshot = GallerySnapshot.build(self._by_person)
                    self._stale = False
        return self._snapshot

    def nearest(self, encoding: Encoding) -> Match | None:
        """The closest enrolled face to ``encoding``, or None when nobody is enrolled."""
        return self.snapshot().nearest(encoding)

    def identify(self, encoding: Encoding, tolerance: float) -> Match | None:
        """The nearest enrolled person if within ``tolerance``, else None (an unknown person)."""
        match = self.nearest(encoding)
        return match if match is not None and match.distance <= tolerance else None
