"""A camera reopens a dropped stream, skips bad frames, and reports both (fake source behind the Protocol)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from devices.camera import BadFrameError, Frame, StreamEnded
from devices.cameras.reconnecting import Camera
from devices.errors import DeviceUnreachable


class ScriptedSource:
    """Plays a script: "f" a frame, "bad" a corrupt frame, "drop" a dropped stream, "end" the end."""

    def __init__(self, script: list[str], open_failures: int = 0) -> None:
        self.script = list(script)
        self.open_failures = open_failures
        self.opens = 0
        self.index = 0

    @property
    def name(self) -> str:
        return "scripted"

    def open(self) -> None:
        self.opens += 1
        if self.open_failures:
            self.open_failures -= 1
            raise DeviceUnreachable("camera scripted", "connection refused")

    def read(self) -> Frame:
        step = self.script.pop(0) if self.script else "end"
        if step == "bad":
            raise BadFrameError("camera scripted", "frame 3 is corrupt")
        if step == "drop":
            raise DeviceUnreachable("camera scripted", "the stream dropped")
        if step == "end":
            raise StreamEnded("camera scripted", "end")
        self.index += 1
        return Frame(np.zeros((8, 8, 3), np.uint8), self.index, datetime.now(UTC))

    def close(self) -> None:
        pass


def test_a_dropped_stream_is_reopened_and_bad_frames_are_skipped_and_counted() -> None:
    source = ScriptedSource(["f", "f", "bad", "f", "drop", "f", "f", "end"], open_failures=2)
    camera = Camera("cam-1", source, backoff=(0.001,))
    frames = list(camera.frames(threading.Event()))
    assert [f.index for f in frames] == [1, 2, 3, 4, 5]
    health = camera.health()
    assert health.frames_read == 5
    assert health.bad_frames == 1
    assert health.reconnects == 1
    assert source.opens == 4  # two refusals, the first open, the reopen after the drop
    assert health.last_error is None  # frames came again after the drop: the error is over
    assert not health.connected
    assert health.frames_per_second is not None


def test_a_camera_that_never_opens_keeps_trying_until_stopped() -> None:
    source = ScriptedSource([], open_failures=10**6)
    camera = Camera("cam-2", source, backoff=(0.001,))
    stop = threading.Event()
    seen: list[Frame] = []
    worker = threading.Thread(target=lambda: seen.extend(camera.frames(stop)))
    worker.start()
    try:
        deadline = 500
        while source.opens < 5 and deadline:
            stop.wait(0.01)
            deadline -= 1
    finally:
        stop.set()
        worker.join(timeout=5)
    assert source.opens >= 5
    assert seen == []
    assert camera.health().last_error == "camera scripted: connection refused"


class FlakyCapture:
    """A cv2.VideoCapture stand-in for a stream: ``script`` of True (a frame) and False (no frame)."""

    def __init__(self, script: list[bool]) -> None:
        self.script = list(script)

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def get(self, _prop: int) -> float:
        return 0.0  # a stream has no frame count

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.script and self.script.pop(0):
            return True, np.zeros((8, 8, 3), np.uint8)
        return False, None

    def release(self) -> None:
        pass


def test_a_stream_counts_as_dropped_only_after_k_failed_reads_in_a_row() -> None:
    from devices.cameras.opencv_source import OpenCvSource

    # Two misses then frames: two bad frames, no drop. Then three misses in a row: dropped.
    capture = FlakyCapture([True, False, False, True, True, False, False, False, True])
    source = OpenCvSource("gate", "rtsp://10.0.0.9/s", max_failed_reads=3, open_capture=lambda _: capture)
    source.open()
    outcomes = []
    for _ in range(8):
        try:
            source.read()
            outcomes.append("frame")
        except BadFrameError:
            outcomes.append("bad")
        except DeviceUnreachable as exc:
            outcomes.append(f"dropped: {exc.cause}")
    assert outcomes == [
        "frame",
        "bad",
        "bad",
        "frame",
        "frame",
        "bad",
        "bad",
        "dropped: the stream dropped (3 reads in a row gave no frame)",
    ]


def test_the_error_is_reported_while_the_camera_is_down_and_cleared_by_the_next_good_frame() -> None:
    source = ScriptedSource(["f", "drop", "f", "bad", "f"])
    camera = Camera("cam-3", source, backoff=(0.001,))
    frames = camera.frames(threading.Event())
    errors = []
    for _ in range(3):
        next(frames)
        errors.append(camera.health().last_error)
    assert errors == [None, None, None]
    assert camera.health().reconnects == 1
    assert camera.health().bad_frames == 1
    source.script[:0] = ["drop"]
    source.open_failures = 1
    # Down again and the reopen refused: while it is down, the health says why.
    seen_while_down = []
    original_open = source.open

    def open_and_look() -> None:
        seen_while_down.append((camera.health().connected, camera.health().last_error))
        original_open()

    source.open = open_and_look  # type: ignore[method-assign]
    assert [f.index for f in frames] == []
    assert seen_while_down[0] == (False, "camera scripted: the stream dropped")
    assert seen_while_down[1] == (False, "camera scripted: connection refused")


def test_a_file_that_claims_more_frames_than_it_holds_ends_after_k_failures_in_a_row(tmp_path: Path) -> None:
    from devices.cameras.opencv_source import OpenCvSource

    class TruncatedFile(FlakyCapture):
        def get(self, _prop: int) -> float:
            return 1_000_000.0  # the container's frame count

    video = tmp_path / "truncated.avi"
    video.write_bytes(b"")  # only its existence is checked; the capture is the stand-in
    capture = TruncatedFile([True, False, True, True])  # then nothing, for ever
    source = OpenCvSource("file", video, max_failed_reads=3, open_capture=lambda _: capture)
    source.open()
    outcomes = []
    for _ in range(8):
        try:
            source.read()
            outcomes.append("frame")
        except BadFrameError:
            outcomes.append("bad")
        except StreamEnded:
            outcomes.append("end")
            break
    assert outcomes == ["frame", "bad", "frame", "frame", "bad", "bad", "end"]
