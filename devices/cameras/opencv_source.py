"""Frame sources over OpenCV's VideoCapture: an RTSP (or HTTP) URL, a USB camera index, a video file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.camera import BadFrameError, Frame, StreamEnded
from devices.errors import DeviceUnreachable

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpenCvSource:
    """Frames from ``cv2.VideoCapture``. ``location`` is a URL, a file path, or an int (USB index)."""

    def __init__(
        self, name: str, location: str | int | Path, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._name = name
        self._location = str(location) if isinstance(location, Path) else location
        self._clock = clock
        self._capture: Any = None
        self._index = 0
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
        capture = cv2.VideoCapture(location)
        if not capture.isOpened():
            capture.release()
            raise DeviceUnreachable(
                self._describe(), "OpenCV cannot open the stream (wrong URL, index or codec?)"
            )
        self._capture = capture

    def read(self) -> Frame:
        if self._capture is None:
            raise DeviceUnreachable(self._describe(), "the stream is not open")
        ok, image = self._capture.read()
        if not ok or image is None:
            if self.is_file:
                raise StreamEnded(self._describe(), "end of the video file")
            raise DeviceUnreachable(self._describe(), "the stream dropped (no frame)")
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
