"""The camera port: a source of frames, its value objects, and the health a camera reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from devices.errors import DeviceError


@dataclass(frozen=True)
class Frame:
    """One frame: 8-bit RGB pixels, its number in the stream, and when it was read."""

    image: npt.NDArray[np.uint8]
    index: int
    captured_at: datetime


class BadFrameError(DeviceError):
    """One frame (or image file) could not be decoded; the stream itself may go on."""


class StreamEnded(DeviceError):
    """A finite source (a video file, a folder) has no more frames."""


class FrameSource(Protocol):
    """Anything that yields frames: an RTSP stream, a USB camera, a video file, a folder of images.

    ``read`` returns the next frame, raises :class:`BadFrameError` for one bad frame,
    :class:`StreamEnded` at the end of a finite source, and :class:`devices.errors.DeviceUnreachable`
    when the stream cannot be opened or dropped (the caller reopens it).
    """

    @property
    def name(self) -> str: ...

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CameraHealth:
    """What a camera reports in its device status."""

    camera_id: str
    connected: bool
    frames_read: int
    frames_per_second: float | None  # measured over the recent frames
    bad_frames: int
    reconnects: int
    last_error: str | None
    last_frame_at: datetime | None
