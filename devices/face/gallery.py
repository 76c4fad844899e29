"""The enrolled faces as one float32 matrix, matched by a matrix product.

``face_recognition.face_distance`` loops ``numpy.linalg.norm`` over a float64 array: ~45 ms against
100,000 faces. With ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` and the squared norms kept beside a float32
matrix, one match is one matrix-vector product (~2 ms, ../shared/testdata/faces/SOURCES.md).
A person may have several encodings (several enrolment photos); the best one counts.
"""

from __future__ import annotations

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


class Gallery:
    """Encodings of enrolled people; replace a person's set with :meth:`put`, drop it with :meth:`remove`."""

    def __init__(self, people: Mapping[str, Sequence[Encoding]] | None = None) -> None:
        self._by_person: dict[str, npt.NDArray[np.float32]] = {}
        self._matrix = np.empty((0, ENCODING_SIZE), dtype=np.float32)
        self._norms = np.empty(0, dtype=np.float32)
        self._owners: list[str] = []
        self._dirty = False
        for staff_id, encodings in (people or {}).items():
            self.put(staff_id, encodings)

    def __len__(self) -> int:
        """Number of people enrolled."""
        return len(self._by_person)

    def __contains__(self, staff_id: object) -> bool:
        return staff_id in self._by_person

    @property
    def people(self) -> list[str]:
        return sorted(self._by_person)

    def put(self, staff_id: str, encodings: Iterable[Encoding]) -> None:
        """Set ``staff_id``'s encodings (replacing any before); an empty set removes the person."""
        rows = [np.asarray(e, dtype=np.float32).reshape(-1) for e in encodings]
        for row in rows:
            if row.shape != (ENCODING_SIZE,) or not np.isfinite(row).all():
                raise ValueError(f"encoding of {staff_id!r} must be {ENCODING_SIZE} finite numbers")
        if rows:
            self._by_person[staff_id] = np.stack(rows)
        else:
            self._by_person.pop(staff_id, None)
        self._dirty = True

    def remove(self, staff_id: str) -> bool:
        """Forget a person; True if they were enrolled."""
        found = self._by_person.pop(staff_id, None) is not None
        self._dirty = self._dirty or found
        return found

    def _rebuild(self) -> None:
        owners: list[str] = []
        blocks = []
        for staff_id, block in self._by_person.items():
            owners += [staff_id] * len(block)
            blocks.append(block)
        self._matrix = (
            np.ascontiguousarray(np.concatenate(blocks))
            if blocks
            else np.empty((0, ENCODING_SIZE), np.float32)
        )
        self._norms = np.einsum("ij,ij->i", self._matrix, self._matrix)
        self._owners = owners
        self._dirty = False

    def nearest(self, encoding: Encoding) -> Match | None:
        """The closest enrolled face to ``encoding``, or None when nobody is enrolled."""
        if self._dirty:
            self._rebuild()
        if not self._owners:
            return None
        probe = np.asarray(encoding, dtype=np.float32).reshape(-1)
        squared = self._norms - 2.0 * (self._matrix @ probe) + float(probe @ probe)
        best = int(np.argmin(squared))
        return Match(self._owners[best], float(np.sqrt(max(float(squared[best]), 0.0))))

    def identify(self, encoding: Encoding, tolerance: float) -> Match | None:
        """The nearest enrolled person if within ``tolerance``, else None (an unknown person)."""
        match = self.nearest(encoding)
        return match if match is not None and match.distance <= tolerance else None
