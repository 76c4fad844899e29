"""The face engine over videos written from the test photos: the motion gate skips unchanged frames,
a track is encoded once, and a blink of a person standing still is seen although it barely changes
the frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from devices.camera import StreamEnded
from devices.cameras.opencv_source import OpenCvSource
from devices.face.backend import Box, FaceBackend, RgbImage
from devices.face.engine import FaceEngine, FaceEngineConfig, FaceSighting, FrameReport
from devices.face.gallery import Gallery
from devices.face.images import load_photo
from devices.face.liveness import Liveness, LivenessConfig
from tests.support.face_video import Scene, write_video

BLINK = (15, 16, 17, 18)  # four frames at 15 fps: a 270 ms blink


@pytest.fixture(scope="module")
def gallery() -> Gallery:
    from tests.conftest import FACES_DIR

    if not FACES_DIR.is_dir():
        pytest.skip(f"test photos not found at {FACES_DIR}")
    (face,) = FaceEngine(FaceEngineConfig()).analyse_photo(load_photo(FACES_DIR / "people" / "biden_2.jpg"))
    return Gallery({"S-biden": [face.encoding]})


def run(video: Path, engine: FaceEngine) -> tuple[list[FrameReport], list[FaceSighting]]:
    source = OpenCvSource("test", video)
    source.open()
    reports = []
    try:
        while True:
            try:
                frame = source.read()
            except StreamEnded:
                break
            reports.append(engine.process(frame.image, frame.captured_at))
    finally:
        source.close()
    return reports, [s for r in reports for s in r.sightings]


def blink_engine(gallery: Gallery) -> FaceEngine:
    liveness = LivenessConfig(require_blink=True, blink_window_frames=45)
    return FaceEngine(FaceEngineConfig(liveness=liveness), gallery)


def test_a_person_standing_still_who_blinks_passes_the_blink_requirement(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    # Camera noise and a blink: neither changes the reduced frame enough to pass the motion gate.
    video = write_video(
        tmp_path / "blink.avi",
        [
            Scene(None, 5),
            Scene(faces_dir / "people" / "biden_1.jpg", 60, drift=0, noise=1.0, eyes_closed=BLINK),
        ],
    )
    engine = blink_engine(gallery)
    reports, sightings = run(video, engine)
    assert sum(r.skipped for r in reports[6:]) >= 55  # the gate did skip these frames
    (sighting,) = sightings
    assert sighting.staff_id == "S-biden"
    assert sighting.liveness is Liveness.PASSED


def test_the_same_person_without_the_blink_fails_and_a_still_photo_fails(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    photo = faces_dir / "people" / "biden_1.jpg"
    noisy = write_video(tmp_path / "noisy.avi", [Scene(None, 5), Scene(photo, 60, drift=0, noise=1.0)])
    (sighting,) = run(noisy, blink_engine(gallery))[1]
    # Sensor noise jitters the landmarks, but neither passes for a blink nor for a movement.
    assert (sighting.staff_id, sighting.liveness) == ("S-biden", Liveness.FAILED_STILL)
    assert sighting.frames >= 45  # the verdict waited for the whole blink window
    still = write_video(tmp_path / "still.avi", [Scene(None, 5), Scene(photo, 60, drift=0)])
    (sighting,) = run(still, blink_engine(gallery))[1]
    assert (sighting.staff_id, sighting.liveness) == ("S-biden", Liveness.FAILED_STILL)


def test_unchanged_frames_skip_detection_and_a_known_face_is_encoded_once(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    photo = faces_dir / "people" / "biden_1.jpg"
    still = write_video(tmp_path / "still.avi", [Scene(None, 5), Scene(photo, 30, drift=0)])
    engine = FaceEngine(FaceEngineConfig(), gallery)
    reports, sightings = run(still, engine)
    # The first frame, and the one the face appears on, are changes; the rest of each scene is not.
    assert [r.skipped for r in reports] == [False] + [True] * 4 + [False] + [True] * 29
    assert all(r.faces == 1 for r in reports[5:])
    assert engine.encodings_computed == 1
    assert [s.staff_id for s in sightings] == ["S-biden"]

    swaying = write_video(tmp_path / "sway.avi", [Scene(photo, 40, drift=1.5)])
    engine = FaceEngine(FaceEngineConfig(), gallery)
    reports, sightings = run(swaying, engine)
    assert sum(r.skipped for r in reports) < 10  # it moves: detection runs on most frames
    assert engine.encodings_computed == 1  # but the tracked face is encoded once
    assert [s.staff_id for s in sightings] == ["S-biden"]


class LandmarkCountingBackend(FaceBackend):
    """The real dlib backend, counting the frames it computed landmarks on."""

    def __init__(self) -> None:
        super().__init__()
        self.landmark_calls = 0

    def landmarks(self, image: RgbImage, box: Box) -> npt.NDArray[np.float32]:
        self.landmark_calls += 1
        return super().landmarks(image, box)


def test_landmarks_stop_once_the_liveness_verdict_has_passed_and_the_face_is_reported(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    swaying = write_video(tmp_path / "sway.avi", [Scene(faces_dir / "people" / "biden_1.jpg", 60, drift=1.5)])
    backend = LandmarkCountingBackend()
    reports, sightings = run(swaying, FaceEngine(FaceEngineConfig(), gallery, backend))
    (sighting,) = sightings
    assert (sighting.staff_id, sighting.liveness) == ("S-biden", Liveness.PASSED)
    assert sum(not r.skipped for r in reports) > 50  # detection ran on nearly every frame
    # Liveness passed on the first movement; no landmarks after that, none once the face is reported.
    assert 2 <= backend.landmark_calls <= sighting.frames < 20


def test_an_unknown_face_is_encoded_a_few_times_then_reported_once(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    video = write_video(tmp_path / "stranger.avi", [Scene(faces_dir / "people" / "leslie_1.jpg", 45)])
    engine = FaceEngine(FaceEngineConfig(), gallery)
    _, sightings = run(video, engine)
    assert engine.encodings_computed == engine.config.max_encodings_per_track
    assert [s.staff_id for s in sightings] == [None]


@pytest.mark.parametrize("variation", ["brighter", "darker", "greyscale", "half_size", "jpeg_q15"])
def test_the_clip_checks_its_person_in_under_brightness_scale_and_jpeg_changes(
    faces_dir: Path, variation: str
) -> None:
    from tests.integration.test_face_engine_photos import VARIATIONS

    (face,) = FaceEngine(FaceEngineConfig()).analyse_photo(load_photo(faces_dir / "people" / "miranda_1.png"))
    gallery = Gallery({"S-miranda": [face.encoding], "S-obama": [np.zeros(128, np.float32) + 0.1]})
    # The clip's faces are 72-104 px: detect_scale 0.5 finds them; at half size (36-52 px) they need
    # 1.0 (the smallest face found is ~80 / (2 * detect_scale) px, docs/face.md).
    scale = 1.0 if variation == "half_size" else 0.5
    engine = FaceEngine(FaceEngineConfig(detect_scale=scale), gallery)
    source = OpenCvSource("clip", faces_dir / "video" / "miranda_clip.mp4")
    source.open()
    found = []
    try:
        while True:
            try:
                frame = source.read()
            except StreamEnded:
                break
            image = np.ascontiguousarray(VARIATIONS[variation](frame.image))
            found += [s.staff_id for s in engine.process(image, frame.captured_at).sightings]
    finally:
        source.close()
    assert "S-miranda" in found, variation
    assert all(s in ("S-miranda", None) for s in found), found
