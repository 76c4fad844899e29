"""Blink and stillness judgement of one track (pure logic on EAR values and landmark arrays)."""

from __future__ import annotations

import numpy as np

from devices.face.liveness import Liveness, LivenessConfig, LivenessTracker, eye_aspect_ratio


def _face(ear: float, shift: float = 0.0) -> np.ndarray:
    """68 landmarks whose eyes have the given aspect ratio (eye 30 px wide), moved by ``shift`` px."""
    points = np.zeros((68, 2), np.float32)
    points[:, 0] = np.linspace(0, 150, 68)
    for start, x0 in ((36, 40.0), (42, 90.0)):
        half = ear * 30 / 2
        points[start : start + 6] = [
            (x0, 50),
            (x0 + 10, 50 - half),
            (x0 + 20, 50 - half),
            (x0 + 30, 50),
            (x0 + 20, 50 + half),
            (x0 + 10, 50 + half),
        ]
    return points + shift


def test_eye_aspect_ratio_of_a_known_shape() -> None:
    assert abs(eye_aspect_ratio(_face(0.3)) - 0.3) < 1e-6


def test_a_blink_counts_against_the_persons_own_baseline_not_a_fixed_threshold() -> None:
    # Narrow eyes: open at 0.19, below the paper's fixed 0.2; a blink to 0.12 still shows.
    tracker = LivenessTracker(LivenessConfig(require_blink=True))
    for i, ear in enumerate([0.19, 0.19, 0.2, 0.19, 0.12, 0.11, 0.19, 0.2]):
        tracker.add(_face(ear, shift=i * 0.7))
    assert tracker.blinked
    assert tracker.result is Liveness.PASSED


def test_wide_open_eyes_that_narrow_a_little_are_no_blink() -> None:
    tracker = LivenessTracker(LivenessConfig(require_blink=True, blink_window_frames=20))
    for i in range(20):
        tracker.add(_face(0.34 if i % 2 else 0.3, shift=i * 0.7))
    assert not tracker.blinked
    assert tracker.result is Liveness.FAILED_NO_BLINK


def test_no_blink_is_pending_until_the_window_ends() -> None:
    tracker = LivenessTracker(LivenessConfig(require_blink=True, blink_window_frames=30))
    for i in range(10):
        tracker.add(_face(0.3, shift=i))
    assert tracker.result is Liveness.PENDING
    assert tracker.final() is Liveness.FAILED_NO_BLINK


def test_a_face_that_never_moves_fails_even_without_the_blink_requirement() -> None:
    tracker = LivenessTracker(LivenessConfig(still_frames=5))
    tracker.add(_face(0.3))
    for _ in range(4):
        tracker.add(None)  # unchanged frames: detection skipped
    assert tracker.result is Liveness.FAILED_STILL


def test_a_moving_face_passes_when_no_blink_is_required() -> None:
    tracker = LivenessTracker(LivenessConfig(still_frames=5))
    for i in range(5):
        tracker.add(_face(0.3, shift=i * 1.5))
    assert tracker.result is Liveness.PASSED


def test_a_blink_on_unchanged_frames_passes_a_face_that_stands_still() -> None:
    tracker = LivenessTracker(LivenessConfig(require_blink=True, blink_window_frames=30))
    tracker.add(_face(0.3))
    for ear in [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.12, 0.1, 0.3, 0.3]:
        tracker.add(_face(ear), changed=False)  # below the motion gate: a blink, not motion
    assert not tracker.moved
    assert tracker.result is Liveness.PASSED


def test_landmark_jitter_on_unchanged_frames_is_not_motion() -> None:
    tracker = LivenessTracker(LivenessConfig(still_frames=5))
    tracker.add(_face(0.3))
    for i in range(6):
        tracker.add(_face(0.3, shift=3.0 * (i % 2)), changed=False)  # noise, not a move
    assert tracker.result is Liveness.FAILED_STILL


def test_a_still_face_with_the_blink_requirement_waits_for_the_window_then_fails_still() -> None:
    tracker = LivenessTracker(LivenessConfig(require_blink=True, blink_window_frames=20, still_frames=5))
    tracker.add(_face(0.3))
    for _ in range(10):
        tracker.add(_face(0.3), changed=False)
    assert tracker.result is Liveness.PENDING  # a still person may yet blink
    for _ in range(9):
        tracker.add(_face(0.3), changed=False)
    assert tracker.result is Liveness.FAILED_STILL
