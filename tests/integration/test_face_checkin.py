"""The camera path at the edge: a video written from the test photos -> OpenCV source -> engine ->
check-in events in the real SQLite outbox, with cooldown, liveness and evidence snapshots."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from contracts import DeviceStatus, FaceLiveness, FaceObservation, FaceOutcome, decode_event
from devices.camera import Frame, StreamEnded
from devices.cameras.opencv_source import OpenCvSource
from devices.cameras.reconnecting import Camera
from devices.errors import DeviceUnreachable
from devices.face.engine import FaceEngine
from devices.face.gallery import Gallery
from devices.face.images import decode_photo, load_photo
from edge.camera_settings import CameraSettings
from edge.face_checkin import FaceCheckInLoop
from edge.outbox import Outbox
from edge.ports import SystemClock
from tests.support.face_video import Scene, write_video
from tests.support.processes import wait_until


@pytest.fixture(scope="module")
def gallery() -> Gallery:
    from tests.conftest import FACES_DIR

    if not FACES_DIR.is_dir():
        pytest.skip(f"test photos not found at {FACES_DIR}")
    engine = FaceEngine(CameraSettings(camera_id="x", source="file", location="-").engine_config())
    people = {}
    for staff_id, photo in (("S-obama", "obama_1.jpg"), ("S-biden", "biden_2.jpg")):
        (face,) = engine.analyse_photo(load_photo(FACES_DIR / "people" / photo))
        people[staff_id] = [face.encoding]
    return Gallery(people)


def run_camera(video: Path, tmp_path: Path, gallery: Gallery, **overrides: object) -> list[FaceObservation]:
    settings = CameraSettings.model_validate(
        {"camera_id": "cam-1", "source": "file", "location": str(video), "linked_terminal": "T-1"} | overrides
    )
    tmp_path.mkdir(exist_ok=True)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    loop = FaceCheckInLoop(
        edge_id="edge-face",
        settings=settings,
        camera=Camera("cam-1", OpenCvSource("cam-1", video)),
        engine=FaceEngine(settings.engine_config(), gallery),
        outbox=outbox,
        clock=SystemClock(),
        status_interval=3600,
    )
    loop.run(threading.Event())  # a file ends by itself
    events = [
        decode_event(m.topic, m.payload) for m in outbox.due(resend_after=0, limit=1000, max_unacked=1000)
    ]
    outbox.close()
    return [e for e in events if isinstance(e, FaceObservation)]


def test_people_walking_past_are_checked_in_once_each_with_evidence(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    people = faces_dir / "people"
    video = write_video(
        tmp_path / "door.avi",
        [
            Scene(None, 10),
            Scene(people / "obama_4.jpg", 40),  # a different photo from the enrolled obama_1
            Scene(None, 15),
            Scene(people / "biden_1.jpg", 40),
            Scene(None, 15),
            Scene(people / "harington_2.jpg", 40),  # not enrolled
            Scene(None, 15),
            Scene(people / "obama_2.jpg", 40),  # Obama again, within the cooldown
            Scene(None, 10),
        ],
    )
    events = run_camera(video, tmp_path, gallery)
    assert [(e.outcome, e.staff_id) for e in events] == [
        (FaceOutcome.KNOWN, "S-obama"),
        (FaceOutcome.KNOWN, "S-biden"),
        (FaceOutcome.UNKNOWN, None),
    ]
    for event in events:
        assert event.linked_terminal == "T-1"
        assert event.liveness is FaceLiveness.PASSED
        assert event.quality is not None
        assert 0 < event.quality <= 1
        assert event.frames is not None
        assert event.frames >= 5
        assert event.snapshot_jpeg_b64 is not None
        snapshot = decode_photo(base64.b64decode(event.snapshot_jpeg_b64), "snapshot")
        assert max(snapshot.shape[:2]) <= 128
    assert events[0].distance is not None
    assert events[0].distance <= 0.6
    assert events[2].distance is not None
    assert events[2].distance > 0.6


def test_without_cooldown_the_returning_person_checks_in_again(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    people = faces_dir / "people"
    video = write_video(
        tmp_path / "twice.avi",
        [Scene(people / "obama_4.jpg", 30), Scene(None, 15), Scene(people / "obama_2.jpg", 30)],
    )
    events = run_camera(video, tmp_path, gallery, cooldown_seconds=0)
    assert [e.staff_id for e in events] == ["S-obama", "S-obama"]


def test_a_photo_held_perfectly_still_fails_liveness(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    video = write_video(tmp_path / "still.avi", [Scene(faces_dir / "people" / "obama_4.jpg", 30, drift=0)])
    (event,) = run_camera(video, tmp_path, gallery)
    assert event.staff_id == "S-obama"
    assert event.liveness is FaceLiveness.FAILED_STILL
    assert event.liveness_ok is False


def test_a_moving_photo_that_never_blinks_fails_when_a_blink_is_required(
    faces_dir: Path, tmp_path: Path, gallery: Gallery
) -> None:
    video = write_video(tmp_path / "photo.avi", [Scene(faces_dir / "people" / "obama_4.jpg", 60)])
    (event,) = run_camera(video, tmp_path, gallery, require_blink=True, blink_window_frames=45)
    assert event.staff_id == "S-obama"
    assert event.liveness is FaceLiveness.FAILED_NO_BLINK
    assert event.blink_required


def test_an_empty_room_gives_no_check_in(tmp_path: Path, gallery: Gallery, faces_dir: Path) -> None:
    video = write_video(tmp_path / "empty.avi", [Scene(faces_dir / "nofaces" / "coffee.png", 40)])
    assert run_camera(video, tmp_path, gallery) == []


def test_the_clip_checks_its_person_in(faces_dir: Path, tmp_path: Path, gallery: Gallery) -> None:
    engine = FaceEngine(CameraSettings(camera_id="x", source="file", location="-").engine_config())
    (face,) = engine.analyse_photo(load_photo(faces_dir / "people" / "miranda_1.png"))
    with_miranda = Gallery({"S-miranda": [face.encoding], "S-obama": [np.zeros(128, np.float32) + 0.1]})
    # Faces in the clip are 72-104 px wide: too small for 1/4-scale HOG (which needs ~160 px with one
    # upsampling), so this placement needs detect_scale 0.5 (docs/face.md, choosing detect_scale).
    clip = faces_dir / "video" / "miranda_clip.mp4"
    assert run_camera(clip, tmp_path / "quarter", with_miranda) == []
    events = run_camera(clip, tmp_path, with_miranda, detect_scale=0.5)
    assert "S-miranda" in [e.staff_id for e in events]
    assert all(e.staff_id in ("S-miranda", None) for e in events)


def _statuses(outbox: Outbox) -> list[DeviceStatus]:
    events = [
        decode_event(m.topic, m.payload) for m in outbox.due(resend_after=0, limit=10_000, max_unacked=10_000)
    ]
    return [e for e in events if isinstance(e, DeviceStatus)]


def test_a_camera_that_is_down_reports_unreachable_on_a_timer_and_clears_the_error_when_back(
    tmp_path: Path, gallery: Gallery
) -> None:
    video = tmp_path / "later.avi"  # not there yet: the camera cannot open
    settings = CameraSettings(camera_id="cam-down", source="file", location=str(video), loop_file=True)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    loop = FaceCheckInLoop(
        edge_id="edge-face",
        settings=settings,
        camera=Camera("cam-down", OpenCvSource("cam-down", video), backoff=(0.05,), loop_finite=True),
        engine=FaceEngine(settings.engine_config(), gallery),
        outbox=outbox,
        clock=SystemClock(),
        status_interval=0.1,
    )
    stop = threading.Event()
    worker = threading.Thread(target=loop.run, args=(stop,))
    worker.start()
    try:
        # No frame has been processed, yet the server hears that the camera is down, and why.
        down = wait_until(
            lambda: [s for s in _statuses(outbox) if not s.reachable], 15, "a status while the camera is down"
        )
        assert loop.frames_processed == 0
        assert down[0].device_id == "cam-down"
        assert down[0].error is not None
        assert "camera cam-down" in down[0].error
        assert "does not exist" in down[0].error
        write_video(tmp_path / "writing.avi", [Scene(None, 20)]).rename(video)
        up = wait_until(
            lambda: [s for s in _statuses(outbox) if s.reachable and s.last_read_at is not None],
            15,
            "a status once the camera is back",
        )
        assert up[-1].error is None
        assert up[-1].bad_frames == 0
    finally:
        stop.set()
        worker.join(timeout=30)
        outbox.close()
    assert not worker.is_alive()


class DroppingSource:
    """A camera that gives ``before`` frames, drops once, then gives ``after`` frames and ends."""

    def __init__(self, before: int, after: int) -> None:
        self.script = ["f"] * before + ["drop"] + ["f"] * after
        self.index = 0

    @property
    def name(self) -> str:
        return "dropping"

    def open(self) -> None:
        pass

    def read(self) -> Frame:
        if not self.script:
            raise StreamEnded("camera cam-drop", "end")
        if self.script.pop(0) == "drop":
            raise DeviceUnreachable("camera cam-drop", "the stream dropped")
        self.index += 1
        return Frame(np.full((120, 160, 3), 90, np.uint8), self.index, datetime.now(UTC))

    def close(self) -> None:
        pass


def test_a_camera_reports_how_often_its_stream_was_reopened_and_the_server_keeps_it(
    tmp_path: Path, gallery: Gallery
) -> None:
    from server.adapters.db import create_db_engine
    from server.adapters.ingest_store import SqlIngestStore
    from server.adapters.migrate import migrate
    from server.adapters.read_store import ReadStore
    from server.services.ingest import IngestBatch

    settings = CameraSettings(camera_id="cam-drop", source="rtsp", location="rtsp://10.0.0.9/s")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    loop = FaceCheckInLoop(
        edge_id="edge-face",
        settings=settings,
        camera=Camera("cam-drop", DroppingSource(5, 5), backoff=(0.001,)),
        engine=FaceEngine(settings.engine_config(), gallery),
        outbox=outbox,
        clock=SystemClock(),
        status_interval=3600,  # only the final report
    )
    loop.run(threading.Event())
    (status,) = _statuses(outbox)
    outbox.close()
    assert (status.reconnects, status.error, status.bad_frames) == (1, None, 0)
    database_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        SqlIngestStore(engine).store_batch(IngestBatch(events=[status]), datetime.now(UTC))
        (device,) = ReadStore(engine).devices()
        assert (device["device_id"], device["reconnects"]) == ("cam-drop", 1)
    finally:
        engine.dispose()
