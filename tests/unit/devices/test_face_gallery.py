"""Gallery matching as a float32 matrix agrees with face_recognition's face_distance."""

from __future__ import annotations

import numpy as np
import pytest

from devices.face.gallery import Gallery


def _random(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0, 0.09, size=(n, 128)).astype(np.float32)


def test_nearest_agrees_with_the_plain_euclidean_distance() -> None:
    rng = np.random.default_rng(7)
    enrolled = _random(rng, 500)
    gallery = Gallery({f"p{i}": [row] for i, row in enumerate(enrolled)})
    for probe in _random(rng, 20):
        distances = np.linalg.norm(enrolled.astype(np.float64) - probe, axis=1)
        match = gallery.nearest(probe)
        assert match is not None
        assert match.staff_id == f"p{int(np.argmin(distances))}"
        assert match.distance == pytest.approx(float(distances.min()), abs=1e-4)


def test_a_person_with_several_photos_matches_on_the_best_one() -> None:
    a, b, probe = np.zeros(128, np.float32), np.ones(128, np.float32), np.full(128, 0.9, np.float32)
    gallery = Gallery({"x": [a, b], "y": [np.full(128, 0.5, np.float32)]})
    match = gallery.nearest(probe)
    assert match is not None
    assert match.staff_id == "x"
    assert match.distance == pytest.approx(float(np.linalg.norm(b - probe)), rel=1e-3)


def test_identify_applies_the_tolerance_and_an_empty_gallery_knows_nobody() -> None:
    gallery = Gallery()
    probe = np.zeros(128, np.float32)
    assert gallery.nearest(probe) is None
    gallery.put("x", [np.full(128, 0.05, np.float32)])  # distance 0.05 * sqrt(128) = 0.566
    assert gallery.identify(probe, 0.6) is not None
    assert gallery.identify(probe, 0.5) is None


def test_put_replaces_and_remove_forgets() -> None:
    gallery = Gallery({"x": [np.zeros(128, np.float32)]})
    gallery.put("x", [np.ones(128, np.float32)])
    match = gallery.nearest(np.ones(128, np.float32))
    assert match is not None
    assert match.distance == pytest.approx(0.0, abs=1e-4)
    assert gallery.remove("x")
    assert not gallery.remove("x")
    assert gallery.nearest(np.ones(128, np.float32)) is None
    assert len(gallery) == 0


def test_a_malformed_encoding_is_refused_with_the_person_named() -> None:
    with pytest.raises(ValueError, match="'x'"):
        Gallery({"x": [np.zeros(64, np.float32)]})
    with pytest.raises(ValueError, match="finite"):
        Gallery({"y": [np.full(128, np.nan, np.float32)]})


def test_matching_while_another_thread_changes_the_gallery_always_sees_one_consistent_state() -> None:
    import sys
    import threading

    rng = np.random.default_rng(3)
    a = _random(rng, 1)[0]
    others = _random(rng, 40) + 1.0  # far from a
    gallery = Gallery({"A": [a]})
    stop = threading.Event()
    problems: list[str] = []

    def change() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            # People come and go with different numbers of encodings, so rows shift in the matrix.
            gallery.put(f"B{i % 7}", list(others[: 1 + i % 5]))
            gallery.remove(f"B{(i + 3) % 7}")
            gallery.put(f"C{i % 5}", list(others[i % 30 : i % 30 + 1 + i % 3]))
            gallery.put(f"C{(i + 2) % 5}", [])

    def match() -> None:
        for _ in range(20_000):
            try:
                found = gallery.nearest(a)
                people = gallery.people
            except Exception as exc:  # an inconsistent state shows as an error or a wrong owner
                problems.append(repr(exc))
                return
            if found is None or found.staff_id != "A" or found.distance > 1e-3 or "A" not in people:
                problems.append(f"matched {found}")
                return

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        writer = threading.Thread(target=change)
        readers = [threading.Thread(target=match) for _ in range(3)]
        writer.start()
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        stop.set()
        writer.join()
    finally:
        sys.setswitchinterval(previous)
    assert problems == []


def test_update_checks_every_encoding_before_changing_anything() -> None:
    gallery = Gallery({"A": [np.zeros(128, np.float32)]})
    with pytest.raises(ValueError, match="'B'"):
        gallery.update({"A": None, "B": [np.zeros(3, np.float32)]})
    assert gallery.people == ["A"]
