"""The edge's gallery store: buckets applied by version, emptied buckets dropped by the head, kept on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from contracts.faces import GalleryBucket, GalleryHead, GalleryPerson, pack_encoding
from edge.gallery_store import EdgeGallery

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _person(staff_id: str, value: float) -> GalleryPerson:
    return GalleryPerson(staff_id=staff_id, encodings=[pack_encoding([value] * 128)])


def _bucket(bucket: int, version: int, *people: GalleryPerson) -> GalleryBucket:
    return GalleryBucket(bucket=bucket, version=version, people=list(people), published_at=NOW)


def test_newer_buckets_replace_older_ones_and_older_ones_are_ignored(tmp_path: Path) -> None:
    store = EdgeGallery(tmp_path / "g.sqlite3")
    store.apply(_bucket(3, 2, _person("a", 0.1), _person("b", 0.2)))
    store.apply(_bucket(3, 1, _person("z", 0.9)))  # a stale retained copy
    assert store.gallery.people == ["a", "b"]
    store.apply(_bucket(3, 5, _person("b", 0.3)))  # a deleted, b re-enrolled
    assert store.gallery.people == ["b"]
    match = store.gallery.nearest(np.full(128, 0.3, np.float32))
    assert match is not None
    assert match.distance < 1e-3
    store.close()


def test_a_head_without_a_bucket_empties_it_unless_the_bucket_is_newer(tmp_path: Path) -> None:
    store = EdgeGallery(tmp_path / "g.sqlite3")
    store.apply(_bucket(1, 4, _person("a", 0.1)))
    store.apply(_bucket(2, 6, _person("b", 0.2)))
    store.apply(GalleryHead(version=5, buckets={}, published_at=NOW))  # older than bucket 2
    assert store.gallery.people == ["b"]
    assert store.version == 5
    store.close()


def test_the_gallery_survives_a_restart(tmp_path: Path) -> None:
    store = EdgeGallery(tmp_path / "g.sqlite3")
    store.apply(_bucket(7, 3, _person("a", 0.1)))
    store.apply(GalleryHead(version=3, buckets={7: 3}, published_at=NOW))
    store.close()
    again = EdgeGallery(tmp_path / "g.sqlite3")
    assert again.gallery.people == ["a"]
    assert again.version == 3
    assert again.bucket_version(7) == 3
    again.close()
