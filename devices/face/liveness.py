"""Liveness from the 68-point landmarks of one track: a blink against the person's own baseline, and
a refusal of faces that do not move at all.

Eye aspect ratio (Soukupová & Čech, "Real-Time Eye Blink Detection using Facial Landmarks", CVWW 2016):
``EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` per eye, averaged over both. Open-eye EAR differs between
people (and with glasses, pose and camera height), so a blink is judged against this track's own
open-eye baseline (a high percentile of its EAR so far), not the paper's fixed 0.2.

What this stops: a printed photo or a still image on a screen (no blink, and no landmark motion when
held still). What it does not stop: a video replayed on a screen, a mask, a photo with the eyes cut
out. See docs/face.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

# iBUG 300-W indices: 36-41 the eye on the image's left, 42-47 the other.
_EYES = (slice(36, 42), slice(42, 48))


class Liveness(StrEnum):
    PASSED = "passed"  # moved, and blinked if a blink is required
    FAILED_STILL = "failed_still"  # the landmarks did not move at all: a photo held in a stand
    FAILED_NO_BLINK = "failed_no_blink"  # a blink was required and none came within the window
    PENDING = "pending"  # not decided yet


@dataclass(frozen=True)
class LivenessConfig:
    require_blink: bool = False
    # A blink: EAR below this fraction of the person's open-eye baseline, then open again.
    blink_ratio: float = 0.75
    reopen_ratio: float = 0.9
    baseline_percentile: float = 80.0
    min_baseline_frames: int = 3
    # How long a track may wait for a blink (frames processed) before it fails.
    blink_window_frames: int = 90
    # Largest landmark movement, as a fraction of the face width, below which a face counts as still.
    still_tolerance: float = 0.004
    still_frames: int = 5


def eye_aspect_ratio(landmarks: npt.NDArray[np.float32]) -> float:
    """Mean EAR of both eyes from 68 (x, y) points."""
    ratios: list[float] = []
    for eye in _EYES:
        p = landmarks[eye].astype(np.float64)
        vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        horizontal = 2.0 * np.linalg.norm(p[0] - p[3])
        ratios.append(float(vertical / horizontal) if horizontal > 0 else 0.0)
    return float(np.mean(ratios))


@dataclass
class LivenessTracker:
    """Follows one track's landmarks frame by frame; :attr:`result` says what is known so far."""

    config: LivenessConfig
    ears: list[float] = field(default_factory=list)
    frames: int = 0
    moved: bool = False
    blinked: bool = False
    _first: npt.NDArray[np.float32] | None = None
    _closed: bool = False

    def add(self, landmarks: npt.NDArray[np.float32] | None, *, changed: bool = True) -> None:
        """One processed frame: the track's landmarks (None when not computed). ``changed`` is False
        for a frame the motion gate found unchanged: its landmarks count for a blink, not for motion,
        because sensor noise alone moves landmarks by ~2 % of the face width (measured at sigma 1 on
        the test photos), five times ``still_tolerance``, while the frame stays below the gate."""
        self.frames += 1
        if landmarks is None:
            return
        if self._first is None:
            self._first = landmarks
        elif changed and not self.moved:
            width = float(np.ptp(landmarks[:, 0])) or 1.0
            shift = float(np.max(np.abs(landmarks - self._first))) / width
            self.moved = shift > self.config.still_tolerance
        self.add_ear(eye_aspect_ratio(landmarks))

    def add_ear(self, ear: float) -> None:
        """Blink logic on one EAR value (separate so that it can be tested on EAR sequences)."""
        self.ears.append(ear)
        if self.blinked or len(self.ears) < self.config.min_baseline_frames:
            return
        baseline = float(np.percentile(self.ears, self.config.baseline_percentile))
        if baseline <= 0:
            return
        if ear < self.config.blink_ratio * baseline:
            self._closed = True
        elif self._closed and ear >= self.config.reopen_ratio * baseline:
            self.blinked = True

    def final(self) -> Liveness:
        """The verdict when the track ends: whatever is still pending has failed."""
        result = self.result
        if result is not Liveness.PENDING:
            return result
        if not self.moved:
            return Liveness.FAILED_STILL
        return Liveness.FAILED_NO_BLINK

    @property
    def result(self) -> Liveness:
        if not self.config.require_blink:
            if self.moved:
                return Liveness.PASSED
            return Liveness.FAILED_STILL if self.frames >= self.config.still_frames else Liveness.PENDING
        # A blink is the proof asked for, and a person may stand still while giving it: the
        # verdict waits for the blink window, whether the face moved or not.
        if self.blinked:
            return Liveness.PASSED
        if self.frames >= self.config.blink_window_frames:
            return Liveness.FAILED_NO_BLINK if self.moved else Liveness.FAILED_STILL
        return Liveness.PENDING
