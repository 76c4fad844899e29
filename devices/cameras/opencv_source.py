"""Frame sources over OpenCV's VideoCapture: an RTSP (or HTTP) URL, a USB camera index, a video file.

``VideoCapture.read`` says only "no frame", whether a frame was corrupt or the stream is over. A video
file knows its frame count: a failed read before the last frame is one bad frame, and FFmpeg's
decoder has already consumed the bad packet (measured on an MJPG AVI with one frame zeroed: the read
after the failure returns the next frame, so grabbing would lose a good one); ``max_failed_reads``
failures in a row end a file whatever its count says (a truncated file). A stream has no end: it
counts as dropped only after ``max_failed_reads`` failed reads in a row; a failure before that is one
bad frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.camera import BadFrameError, Frame, StreamEnded
from devices.errors import DeviceError, DeviceUnreachable

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _video_capture(location: str | int) -> Any:
    if isinstance(location, int):
        return cv2.VideoCapture(location)
    return cv2.VideoCapture(location)


class OpenCvSource:
    """Frames from ``cv2.VideoCapture``. ``location`` is a URL, a file path, or an int (USB index)."""

    def __init__(
        self,
        name: str,
        location: str | int | Path,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_failed_reads: int = 5,
        open_capture: Callable[[str | int], Any] | None = None,
    ) -> None:
        if max_failed_reads < 1:
            raise ValueError("max_failed_reads must be at least 1")
        self._name = name
        self._location = str(location) if isinstance(location, Path) else location
        self._clock = clock
        self._max_failed_reads = max_failed_reads
        self._open_capture = open_capture or _video_capture
        self._capture: Any = None
        self._index = 0  # frames delivered since open
        self._consumed = 0  # frames of a file read so far, good or bad
        self._frame_count = 0  # of a file, as its container says (0: unknown)
        self._failed_in_a_row = 0
        self.is_file = isinstance(location, Path) or (
            isinstance(location, str) and "://" not in location and not location.isdigit()
        )

    @property
    def name(self) -> str:
        return self._name

    def _describe(self) -> str:
        if isinstance(self._location, int):
            return f"camera {self._name} (USB index {self._location})"
        # An RTSP URL may carry a password: name the host, not the credentials.
        location = str(self._location)
        if "@" in location and "://" in location:
            scheme, rest = location.split("://", 1)
            location = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return f"camera {self._name} ({location})"

    def open(self) -> None:
        self.close()
        if self.is_file and not Path(str(self._location)).is_file():
            raise DeviceUnreachable(self._describe(), "the video file does not exist")
        location = self._location
        if isinstance(location, str) and location.isdigit():
            location = int(location)
        capture = self._open_capture(location)
        if not capture.isOpened():
            capture.release()
            raise DeviceUnreachable(
                self._describe(), "OpenCV cannot open the stream (wrong URL, index or codec?)"
            )
        self._capture = capture
        self._index = 0
        self._consumed = 0
        self._failed_in_a_row = 0
        self._frame_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0) if self.is_file else 0

    def _failed_read(self) -> DeviceError:
        """What a read that gave no frame means: a bad frame, the end of a file, or a dropped stream."""
        self._failed_in_a_row += 1
        if self.is_file:
            self._consumed += 1
            # A run of failures is the end too: a container may claim more frames than it holds
            # (a truncated file), and without a count nothing else can tell.
            if self._failed_in_a_row >= self._max_failed_reads:
                return StreamEnded(
                    self._describe(),
                    f"end of the video file ({self._failed_in_a_row} frames in a row unreadable)",
                )
            if self._frame_count and self._consumed <= self._frame_count:
                return BadFrameError(
                    self._describe(),
                    f"frame {self._consumed} of {self._frame_count} cannot be decoded (skipped)",
                )
            if not self._frame_count:
                return BadFrameError(self._describe(), f"frame {self._consumed} cannot be decoded (skipped)")
            return StreamEnded(self._describe(), "end of the video file")
        if self._failed_in_a_row >= self._max_failed_reads:
            return DeviceUnreachable(
                self._describe(), f"the stream dropped ({self._failed_in_a_row} reads in a row gave no frame)"
            )
        return BadFrameError(self._describe(), f"no frame on read {self._failed_in_a_row} in a row")

    def read(self) -> Frame:
        if self._capture is None:
            raise DeviceUnreachable(self._describe(), "the stream is not open")
        ok, image = self._capture.read()
        if not ok or image is None:
            raise self._failed_read()
        self._failed_in_a_row = 0
        self._consumed += 1
        self._index += 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        elif image.ndim == 3 and image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        else:
            raise BadFrameError(self._describe(), f"frame {self._index} has an unusable shape {image.shape}")
        return Frame(np.ascontiguousarray(image, dtype=np.uint8), self._index, self._clock())

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
