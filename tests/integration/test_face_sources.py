"""Frame sources over OpenCV and an image folder: bad input named, the loop going on."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import BadFrameError, Frame, StreamEnded
from devices.cameras.image_folder import ImageFolderSource
from devices.cameras.opencv_source import OpenCvSource
from devices.cameras.reconnecting import Camera
from devices.errors import DeviceUnreachable
from devices.face.engine import check_frame
from tests.support.face_video import Scene, write_video


def test_a_missing_file_and_an_unreachable_stream_name_the_camera(tmp_path: Path) -> None:
    with pytest.raises(
        DeviceUnreachable, match=r"camera door \(.*nope\.mp4\): the video file does not exist"
    ):
        OpenCvSource("door", tmp_path / "nope.mp4").open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is no video")
    with pytest.raises(DeviceUnreachable, match="camera door2"):
        OpenCvSource("door2", junk).open()


def test_an_rtsp_password_is_not_in_the_error(tmp_path: Path) -> None:
    source = OpenCvSource("gate", "rtsp://admin:s3cret@127.0.0.1:1/stream")
    with pytest.raises(DeviceUnreachable) as caught:
        source.open()
    assert "s3cret" not in str(caught.value)
    assert "camera gate" in str(caught.value)


def test_a_video_file_gives_rgb_frames_then_ends(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [Scene(None, 12)])
    source = OpenCvSource("v", video)
    source.open()
    frames = []
    for _ in range(12):
        frames.append(source.read())
    with pytest.raises(StreamEnded):
        source.read()
    source.close()
    assert len(frames) == 12
    assert frames[0].image.shape == (480, 640, 3)
    assert check_frame(frames[0].image) is frames[0].image


def test_a_folder_with_a_corrupt_and_odd_images_goes_on(
    faces_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "stills"
    folder.mkdir()
    shutil.copy(faces_dir / "people" / "obama_rgba.png", folder / "a.png")  # tmp only, removed after the test
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff truncated")
    shutil.copy(faces_dir / "nofaces" / "camera.png", folder / "c.png")  # greyscale
    camera = Camera("stills", ImageFolderSource("stills", folder))
    frames = list(camera.frames(threading.Event()))
    assert len(frames) == 2
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in frames)
    health = camera.health()
    assert health.bad_frames == 1
    assert "b.jpg" in caplog.text  # named in the log when skipped
    assert health.last_error is None  # the next image was good: no error now


def test_the_engine_refuses_a_frame_that_is_not_rgb_with_a_reason() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        check_frame(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        check_frame(np.zeros((10, 10, 3), np.float32))


def test_a_bad_frame_error_names_the_camera() -> None:
    assert str(BadFrameError("camera x", "frame 3 is corrupt")) == "camera x: frame 3 is corrupt"


def _numbered_video(path: Path, frames: int) -> Path:
    """An MJPG AVI whose frame k is a flat grey of level 10 + 20 k (so a frame says its number)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15.0, (320, 240))
    for k in range(frames):
        writer.write(np.full((240, 320, 3), 10 + 20 * k, np.uint8))
    writer.release()
    return path


def _corrupt_frame(video: Path, number: int) -> None:
    """Zero the start of the ``number``-th JPEG (0-based) of an MJPG AVI: that frame cannot be decoded."""
    data = bytearray(video.read_bytes())
    starts = [m.start() for m in re.finditer(b"\\xff\\xd8\\xff", bytes(data))]
    start = starts[number]
    data[start : start + 600] = bytes(600)
    video.write_bytes(bytes(data))


def _level(frame: Frame) -> int:
    return round((float(frame.image.mean()) - 10) / 20)


def test_a_corrupt_frame_in_a_video_file_is_skipped_and_counted_and_the_file_goes_on(tmp_path: Path) -> None:
    video = _numbered_video(tmp_path / "one_bad.avi", 12)
    _corrupt_frame(video, 5)
    camera = Camera("door", OpenCvSource("door", video))
    frames = list(camera.frames(threading.Event()))
    # Every frame but the corrupt one, the one after it included, in order.
    assert [_level(f) for f in frames] == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    health = camera.health()
    assert health.bad_frames == 1
    assert health.frames_read == 11
    assert health.reconnects == 0


def test_the_bad_frame_error_names_the_camera_and_the_frame(tmp_path: Path) -> None:
    video = _numbered_video(tmp_path / "bad.avi", 6)
    _corrupt_frame(video, 2)
    source = OpenCvSource("door", video)
    source.open()
    try:
        assert [_level(source.read()) for _ in range(2)] == [0, 1]
        with pytest.raises(
            BadFrameError, match=r"camera door \(.*bad\.avi\): frame 3 of 6 cannot be decoded"
        ):
            source.read()
        assert [_level(source.read()) for _ in range(3)] == [3, 4, 5]
        with pytest.raises(StreamEnded):
            source.read()
    finally:
        source.close()
