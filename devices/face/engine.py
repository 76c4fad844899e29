"""The face engine: detect on a reduced frame, track, encode once per track, match, judge liveness.

Costs on a 640x480 frame (../shared/testdata/faces/SOURCES.md): HOG detection ~96 ms at full size
and ~6 ms at 1/4; an encoding ~77 ms per face whatever the frame size. So detection runs on every
changed frame at ``detect_scale``, and the encoding runs once when a track is first big enough (a
few more times only while it stays unknown), on the full-resolution frame. A frame that barely
differs from the one before skips detection altogether: tracks carry over unchanged, and only a track
whose liveness is still undecided has its landmarks computed (a blink is too small to pass the gate).
Landmarks (~2-3 ms a face) serve liveness only, so a track that has passed or been reported gets none;
the motion gate's reduced frame is the one the detector runs on (one resize per frame).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from devices.face.backend import Box, Detection, FaceBackend, RgbImage, load_backend
from devices.face.gallery import Encoding, Gallery, Match
from devices.face.liveness import Liveness, LivenessConfig, LivenessTracker
from devices.face.quality import face_quality, snapshot_jpeg
from devices.face.tracking import associate


@dataclass(frozen=True)
class FaceEngineConfig:
    """Settings shared by cameras, enrolment and ``kaoqin face eval`` (one per camera)."""

    # face_recognition's default; same-person distances on our photos were 0.31-0.53, others 0.66+.
    tolerance: float = 0.6
    detect_scale: float = 0.25
    upsample: int = 1
    # HOG margin below which a detection is dropped: the astronaut's mission patch scores ~0.12,
    # the weakest real face in our photos (a child, partly turned) ~0.25.
    min_detection_score: float = 0.2
    min_face_pixels: int = 50  # full-resolution face width needed before encoding
    photo_detect_side: int = 640  # photos are detected at this longest side, encoded at full size
    confirm_frames: int = 5
    min_iou: float = 0.3
    max_missed_frames: int = 8
    # Mean absolute grey-level change (0-255) of the reduced frame below which nothing moved.
    motion_threshold: float = 1.0
    max_encodings_per_track: int = 3
    reencode_every_frames: int = 10
    snapshot_side: int = 128
    liveness: LivenessConfig = field(default_factory=LivenessConfig)


@dataclass(frozen=True)
class PhotoFace:
    """One face found in a photo."""

    box: Box
    score: float
    encoding: Encoding
    match: Match | None  # within tolerance; None for an unknown person or an empty gallery
    nearest: Match | None  # the nearest enrolled face whatever the distance


@dataclass(frozen=True)
class FaceSighting:
    """A tracked face the engine has decided on: identified (or not), with evidence."""

    track_id: int
    staff_id: str | None  # None: an unknown person
    distance: float | None  # to the nearest enrolled face
    quality: float
    liveness: Liveness
    snapshot_jpeg: bytes
    frames: int  # processed frames the track lasted until the decision
    first_seen_at: datetime
    decided_at: datetime


@dataclass(frozen=True)
class FrameReport:
    """What one frame did: whether detection was skipped, faces in view, decisions made."""

    skipped: bool
    faces: int
    sightings: list[FaceSighting]


@dataclass
class _Track:
    track_id: int
    box: Box
    score: float
    first_seen_at: datetime
    liveness: LivenessTracker
    hits: int = 1
    missed: int = 0
    frames: int = 1
    encodings: int = 0
    last_encoded_frame: int = 0
    nearest: Match | None = None
    match: Match | None = None
    quality: float = 0.0
    snapshot: bytes = b""
    reported: bool = False


def check_frame(frame: object) -> RgbImage:
    """``frame`` as an HxWx3 uint8 array, or ValueError saying what it is instead."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"a frame must be an HxWx3 uint8 RGB array, got shape {shape} of {dtype}")
    if frame.shape[0] < 8 or frame.shape[1] < 8:
        raise ValueError(
            f"frame of {frame.shape[1]}x{frame.shape[0]} pixels is too small (a face needs about 80 px)"
        )
    return frame


def _reduced(image: RgbImage, scale: float) -> RgbImage:
    """``image`` at ``scale`` (itself at 1 or more)."""
    if scale >= 1:
        return image
    return np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)


class FaceEngine:
    """One camera's engine (tracks are per camera). The gallery may be shared and updated meanwhile."""

    def __init__(
        self, config: FaceEngineConfig, gallery: Gallery | None = None, backend: FaceBackend | None = None
    ) -> None:
        self.config = config
        self.gallery = gallery if gallery is not None else Gallery()
        self._backend = backend or load_backend()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._previous: npt.NDArray[np.uint8] | None = None
        self._lock = threading.Lock()
        self._blink_required = config.liveness.require_blink
        self.encodings_computed = 0

    # ---------------------------------------------------------------- photos
    def analyse_photo(self, image: RgbImage) -> list[PhotoFace]:
        """Every face in a photo, left to right, encoded at full size and matched against the gallery."""
        image = check_frame(image)
        scale = min(1.0, self.config.photo_detect_side / max(image.shape[:2]))
        faces = []
        for det in self._detect(image, scale):
            encoding = self._backend.encode(image, det.box)
            nearest = self.gallery.nearest(encoding)
            match = nearest if nearest is not None and nearest.distance <= self.config.tolerance else None
            faces.append(PhotoFace(det.box, det.score, encoding, match, nearest))
        return sorted(faces, key=lambda f: f.box[3])

    def _detect(self, image: RgbImage, scale: float, small: RgbImage | None = None) -> list[Detection]:
        """Faces in ``image`` detected at ``scale``; ``small`` is the image already reduced to it."""
        if small is None:
            small = _reduced(image, scale)
        found = self._backend.detect(
            np.ascontiguousarray(small),
            upsample=self.config.upsample,
            min_score=self.config.min_detection_score,
        )
        if scale >= 1:
            return found
        height, width = image.shape[:2]
        return [
            Detection(
                (
                    int(d.box[0] / scale),
                    min(int(d.box[1] / scale), width),
                    min(int(d.box[2] / scale), height),
                    int(d.box[3] / scale),
                ),
                d.score,
            )
            for d in found
        ]

    # ---------------------------------------------------------------- video
    @property
    def faces_in_view(self) -> int:
        return sum(1 for t in self._tracks if t.missed == 0)

    def process(self, frame: RgbImage, at: datetime) -> FrameReport:
        """Advance every track by one frame and return the decisions this frame made."""
        frame = check_frame(frame)
        with self._lock:
            return self._process(frame, at)

    def _changed(self, small: RgbImage) -> bool:
        grey = np.asarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return True
        return float(cv2.absdiff(previous, grey).mean()) >= self.config.motion_threshold

    @staticmethod
    def _needs_landmarks(track: _Track) -> bool:
        """Landmarks serve liveness only: none once the track is reported or has passed (a verdict
        that cannot change: motion and a blink, once seen, stay seen). A failed or pending verdict may
        still turn to passed before the decision, so those tracks keep theirs."""
        return not track.reported and track.liveness.result is not Liveness.PASSED

    def _process(self, frame: RgbImage, at: datetime) -> FrameReport:
        sightings: list[FaceSighting] = []
        small = _reduced(frame, self.config.detect_scale)  # the motion gate's and the detector's
        if not self._changed(small):
            for track in self._tracks:
                track.frames += 1
                if track.missed:  # nothing changed: a face that was gone is still gone
                    track.missed += 1
                    continue
                track.hits += 1
                # A blink barely changes the frame (two eyes out of 640x480): a track still waiting
                # for one gets its landmarks on an unchanged frame too (~2 ms), for the blink only.
                waiting = (
                    self._blink_required and not track.reported and track.liveness.result is Liveness.PENDING
                )
                landmarks = self._backend.landmarks(frame, track.box) if waiting else None
                track.liveness.add(landmarks, changed=False)
                self._decide(track, at, sightings)
            self._drop_lost(at, sightings)
            return FrameReport(True, self.faces_in_view, sightings)
        detections = self._detect(frame, self.config.detect_scale, small)
        pairs, lost, new = associate(
            [t.box for t in self._tracks], [d.box for d in detections], self.config.min_iou
        )
        for t, d in pairs:
            track = self._tracks[t]
            track.box, track.score = detections[d].box, detections[d].score
            track.hits += 1
            track.missed = 0
        for t in lost:
            self._tracks[t].missed += 1
        for d in new:
            self._tracks.append(
                _Track(
                    self._next_id,
                    detections[d].box,
                    detections[d].score,
                    at,
                    LivenessTracker(self.config.liveness),
                )
            )
            self._next_id += 1
        for track in self._tracks:
            if track.missed:
                continue
            if track.hits > 1:
                track.frames += 1
            needed = self._needs_landmarks(track)
            track.liveness.add(self._backend.landmarks(frame, track.box) if needed else None)
            self._maybe_encode(frame, track)
            self._decide(track, at, sightings)
        self._drop_lost(at, sightings)
        return FrameReport(False, self.faces_in_view, sightings)

    def _drop_lost(self, at: datetime, sightings: list[FaceSighting]) -> None:
        for track in [t for t in self._tracks if t.missed > self.config.max_missed_frames]:
            self._tracks.remove(track)
            self._decide(track, at, sightings, ended=True)

    def _maybe_encode(self, frame: RgbImage, track: _Track) -> None:
        cfg = self.config
        if track.match is not None or track.encodings >= cfg.max_encodings_per_track:
            return
        if track.encodings and track.frames - track.last_encoded_frame < cfg.reencode_every_frames:
            return
        if track.box[1] - track.box[3] < cfg.min_face_pixels:
            return
        encoding = self._backend.encode(frame, track.box)
        self.encodings_computed += 1
        track.encodings += 1
        track.last_encoded_frame = track.frames
        nearest = self.gallery.nearest(encoding)
        better = track.nearest is None or (nearest is not None and nearest.distance < track.nearest.distance)
        if better or not track.snapshot:
            track.nearest = nearest
            track.quality = face_quality(frame, track.box, track.score)
            track.snapshot = snapshot_jpeg(frame, track.box, side=cfg.snapshot_side)
        if nearest is not None and nearest.distance <= cfg.tolerance:
            track.match = nearest

    def _decide(self, track: _Track, at: datetime, out: list[FaceSighting], *, ended: bool = False) -> None:
        if track.reported or track.encodings == 0 or track.hits < self.config.confirm_frames:
            return
        identified = track.match is not None or track.encodings >= self.config.max_encodings_per_track
        liveness = track.liveness.final() if ended else track.liveness.result
        if not ended and (not identified or liveness is Liveness.PENDING):
            return
        track.reported = True
        nearest = track.match or track.nearest
        out.append(
            FaceSighting(
                track_id=track.track_id,
                staff_id=track.match.staff_id if track.match else None,
                distance=round(nearest.distance, 4) if nearest else None,
                quality=track.quality,
                liveness=liveness,
                snapshot_jpeg=track.snapshot,
                frames=track.frames,
                first_seen_at=track.first_seen_at,
                decided_at=at,
            )
        )
