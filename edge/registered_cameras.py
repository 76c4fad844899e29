"""The face check-in loops of cameras registered on the server (part of edge/device_registry.py).

A registered camera gets a loop like a YAML camera's (edge/face_checkin.py): the edge's face engine
and gallery, :class:`CameraSettings`' defaults for recognition and liveness, its linked terminal in
every check-in. Its ``source`` is mapped to what the loop opens: a device index is a USB camera, a
``file:///path`` a video file on this edge replayed in a loop (a stand-in for a stream that does not
end), any other URL a stream. The YAML wins: a camera id that ``face.cameras`` lists is left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from contracts import ConfiguredCamera
from edge.camera_settings import CameraSettings
from edge.face_checkin import FaceCheckInLoop

logger = logging.getLogger(__name__)

_STOP_WAIT_SECONDS = 30.0

NotConfigured = Callable[[str, str], None]  # (camera id, why)


def camera_settings(camera: ConfiguredCamera) -> CameraSettings:
    """The loop settings of a registered camera (the defaults for all that the registry does not say)."""
    source = camera.source
    if source.isdigit():
        return CameraSettings(
            camera_id=camera.camera_id, source="usb", location=source, linked_terminal=camera.linked_terminal
        )
    if source.startswith("file://"):
        return CameraSettings(
            camera_id=camera.camera_id,
            source="file",
            location=unquote(urlsplit(source).path),
            linked_terminal=camera.linked_terminal,
            loop_file=True,
        )
    return CameraSettings(
        camera_id=camera.camera_id, source="rtsp", location=source, linked_terminal=camera.linked_terminal
    )


@dataclass
class _Running:
    loop: FaceCheckInLoop
    source: ConfiguredCamera
    stop: threading.Event
    thread: threading.Thread


class RegisteredCameras:
    """Starts, stops and restarts the loops of registered cameras. ``make_loop`` is None on an edge
    without a ``face:`` section (no face engine, no gallery): its registered cameras are reported."""

    def __init__(
        self,
        make_loop: Callable[[CameraSettings], FaceCheckInLoop] | None,
        yaml_camera_ids: set[str],
        not_configured: NotConfigured,
    ) -> None:
        self._make_loop = make_loop
        self._yaml = yaml_camera_ids
        self._not_configured = not_configured
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    @property
    def loops(self) -> list[FaceCheckInLoop]:
        with self._lock:
            return [running.loop for running in self._running.values()]

    def apply(self, cameras: list[ConfiguredCamera]) -> None:
        """Make the running loops match ``cameras``: start new ones, stop gone ones, restart changed ones."""
        pinned = [c.camera_id for c in cameras if c.camera_id in self._yaml]
        if pinned:
            logger.warning(
                "registered cameras %s are in this edge's face.cameras too: the YAML settings are used",
                ", ".join(pinned),
            )
        wanted = {c.camera_id: c for c in cameras if c.camera_id not in self._yaml}
        with self._lock:
            running = dict(self._running)
        for camera_id, current in running.items():
            if wanted.get(camera_id) != current.source:
                self._stop(camera_id)
        for camera_id, camera in wanted.items():
            if camera_id not in self._running:
                self._start(camera)

    def stop_all(self) -> None:
        with self._lock:
            camera_ids = list(self._running)
        for camera_id in camera_ids:
            self._stop(camera_id)

    def _start(self, camera: ConfiguredCamera) -> None:
        if self._make_loop is None:
            self._not_configured(
                camera.camera_id,
                "but this edge has no face: section (face engine and gallery): add one to its YAML",
            )
            return
        try:
            loop = self._make_loop(camera_settings(camera))
        except ValueError as exc:
            self._not_configured(camera.camera_id, f"cannot be opened by this edge: {exc}")
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=loop.run, args=(stop,), name=f"camera-{camera.camera_id}", daemon=True
        )
        with self._lock:
            self._running[camera.camera_id] = _Running(loop, camera, stop, thread)
        thread.start()
        logger.info(
            "registered camera %s: checking in faces from %s for terminal %s",
            camera.camera_id,
            camera.source,
            camera.linked_terminal,
        )

    def _stop(self, camera_id: str) -> None:
        with self._lock:
            running = self._running.pop(camera_id, None)
        if running is None:
            return
        running.stop.set()
        running.thread.join(timeout=_STOP_WAIT_SECONDS)
        if running.thread.is_alive():
            logger.warning("registered camera %s: still closing after %.0f s", camera_id, _STOP_WAIT_SECONDS)
        logger.info("registered camera %s: no longer registered as it was, check-in stopped", camera_id)
