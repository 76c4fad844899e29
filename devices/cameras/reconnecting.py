"""A camera: a frame source that is reopened after it drops, with its health measured on the way."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from devices.camera import BadFrameError, CameraHealth, Frame, FrameSource, StreamEnded
from devices.errors import DeviceError

logger = logging.getLogger(__name__)

DEFAULT_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_FPS_WINDOW = 30


class Camera:
    """Yields frames from ``source`` until stopped; a dropped stream is reopened with back-off."""

    def __init__(
        self,
        camera_id: str,
        source: FrameSource,
        *,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        loop_finite: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self._source = source
        self._backoff = tuple(backoff) or (1.0,)
        self._loop_finite = loop_finite
        self._monotonic = monotonic
        self._times: deque[float] = deque(maxlen=_FPS_WINDOW)
        self._lock = threading.Lock()
        self._connected = False
        self._frames = 0
        self._bad = 0
        self._reconnects = 0
        self._failures = 0
        self._last_error: str | None = None
        self._last_frame: Frame | None = None

    def _record_error(self, error: DeviceError) -> None:
        with self._lock:
            self._last_error = str(error)

    def _open(self, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                self._source.open()
            except DeviceError as exc:
                self._record_error(exc)
                delay = self._backoff[min(self._failures, len(self._backoff) - 1)]
                self._failures += 1
                logger.warning("%s; retrying in %.1f s", exc, delay)
                stop.wait(delay)
                continue
            with self._lock:
                self._connected = True
            self._failures = 0
            return True
        return False

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Frames until ``stop`` is set (or a finite source ends, unless ``loop_finite``)."""
        try:
            if not self._open(stop):
                return
            while not stop.is_set():
                try:
                    frame = self._source.read()
                except BadFrameError as exc:
                    with self._lock:
                        self._bad += 1
                    self._record_error(exc)
                    logger.warning("%s (skipped)", exc)
                    continue
                except StreamEnded:
                    if not self._loop_finite:
                        return
                    self._source.open()
                    continue
                except DeviceError as exc:
                    self._record_error(exc)
                    logger.warning("%s; reconnecting", exc)
                    self._source.close()
                    with self._lock:
                        self._connected = False
                        self._reconnects += 1
                    stop.wait(self._backoff[0])
                    if not self._open(stop):
                        return
                    continue
                with self._lock:
                    self._frames += 1
                    self._times.append(self._monotonic())
                    self._last_frame = frame
                    # A good frame: whatever failed before (a drop, a bad frame) is over; the
                    # counters keep the history.
                    self._last_error = None
                yield frame
        finally:
            self._source.close()
            with self._lock:
                self._connected = False

    def health(self) -> CameraHealth:
        with self._lock:
            fps = None
            if len(self._times) >= 2 and self._times[-1] > self._times[0]:
                fps = round((len(self._times) - 1) / (self._times[-1] - self._times[0]), 2)
            return CameraHealth(
                camera_id=self.camera_id,
                connected=self._connected,
                frames_read=self._frames,
                frames_per_second=fps,
                bad_frames=self._bad,
                reconnects=self._reconnects,
                last_error=self._last_error,
                last_frame_at=self._last_frame.captured_at if self._last_frame else None,
            )
