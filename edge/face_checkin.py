"""One check-in loop per camera: frames -> face engine -> cooldown -> FaceObservation in the outbox.

Frames never leave this process; only a decided face's small JPEG snapshot goes into the event.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from contracts import (
    DeviceKind,
    DeviceStatus,
    EventKind,
    FaceLiveness,
    FaceObservation,
    FaceOutcome,
    encode,
    event_topic,
)
from contracts.faces import decode_gallery_message
from devices.cameras.reconnecting import Camera
from devices.face.engine import FaceEngine, FaceSighting
from devices.face.liveness import Liveness
from edge.camera_settings import CameraSettings, FaceCheckInSettings
from edge.gallery_store import EdgeGallery
from edge.outbox import Outbox, OutboxMessage
from edge.ports import Clock

logger = logging.getLogger(__name__)

_LIVENESS = {
    Liveness.PASSED: FaceLiveness.PASSED,
    Liveness.FAILED_STILL: FaceLiveness.FAILED_STILL,
    Liveness.FAILED_NO_BLINK: FaceLiveness.FAILED_NO_BLINK,
}


class CheckInCooldown:
    """At most one check-in per person per camera per ``seconds``. A failed liveness check does not use
    up a person's cooldown (the real person may follow the photo); unknown faces are one per track."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last: dict[tuple[str, bool], datetime] = {}

    def allow(self, sighting: FaceSighting) -> bool:
        if sighting.staff_id is None:
            return True
        key = (sighting.staff_id, sighting.liveness is Liveness.PASSED)
        last = self._last.get(key)
        if last is not None and (sighting.decided_at - last).total_seconds() < self._seconds:
            return False
        self._last[key] = sighting.decided_at
        return True


def observation(edge_id: str, camera: CameraSettings, sighting: FaceSighting) -> FaceObservation:
    """The FaceObservation event of a decided face."""
    return FaceObservation.create(
        edge_id=edge_id,
        camera_id=camera.camera_id,
        track_id=sighting.track_id,
        occurred_at=sighting.decided_at,
        outcome=FaceOutcome.KNOWN if sighting.staff_id else FaceOutcome.UNKNOWN,
        staff_id=sighting.staff_id,
        distance=sighting.distance,
        linked_terminal=camera.linked_terminal,
        liveness=_LIVENESS.get(sighting.liveness, FaceLiveness.FAILED_NO_BLINK),
        blink_required=camera.require_blink,
        quality=sighting.quality,
        tolerance=camera.tolerance,
        frames=max(sighting.frames, 1),
        first_seen_at=sighting.first_seen_at,
        snapshot_jpeg_b64=base64.b64encode(sighting.snapshot_jpeg).decode()
        if sighting.snapshot_jpeg
        else None,
    )


class FaceCheckInLoop:
    """Runs one camera until stopped; every decision that passes the cooldown becomes an outbox event."""

    def __init__(
        self,
        *,
        edge_id: str,
        settings: CameraSettings,
        camera: Camera,
        engine: FaceEngine,
        outbox: Outbox,
        clock: Clock,
        status_interval: float,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.edge_id = edge_id
        self.settings = settings
        self.camera = camera
        self.engine = engine
        self._outbox = outbox
        self._clock = clock
        self._status_interval = status_interval
        self._on_queued = on_queued
        self._cooldown = CheckInCooldown(settings.cooldown_seconds)
        self.published = 0
        self.frames_processed = 0

    @property
    def camera_id(self) -> str:
        return self.settings.camera_id

    def run(self, stop: threading.Event) -> None:
        # Status goes out on a timer of its own: while the camera is down or reconnecting no frame
        # arrives, and that is exactly when the server must hear that it is unreachable, and why.
        done = threading.Event()
        reporter = threading.Thread(
            target=self._report_every_interval,
            args=(stop, done),
            name=f"kaoqin-camera-status-{self.camera_id}",
            daemon=True,
        )
        reporter.start()
        try:
            self._run_frames(stop)
        finally:
            done.set()
            reporter.join(timeout=10)
            self._report_status()
        logger.info("camera %s stopped after %d frames", self.camera_id, self.frames_processed)

    def _run_frames(self, stop: threading.Event) -> None:
        min_gap = 1.0 / self.settings.max_fps if self.settings.max_fps else 0.0
        next_at = time.monotonic()
        for frame in self.camera.frames(stop):
            try:
                report = self.engine.process(frame.image, frame.captured_at)
            except ValueError as exc:
                logger.warning("camera %s: frame %d skipped: %s", self.camera_id, frame.index, exc)
                continue
            self.frames_processed += 1
            self.handle(report.sightings)
            if min_gap:
                next_at += min_gap
                delay = next_at - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
                next_at = max(next_at, time.monotonic())

    def _report_every_interval(self, stop: threading.Event, done: threading.Event) -> None:
        while not done.wait(self._status_interval) and not stop.is_set():
            try:
                self._report_status()
            except Exception:  # the outbox may be closing; the next tick tries again
                logger.exception("camera %s: status report failed", self.camera_id)

    def handle(self, sightings: list[FaceSighting]) -> int:
        """Queue the events of ``sightings`` that pass the cooldown; returns how many were queued."""
        messages = []
        for sighting in sightings:
            if not self._cooldown.allow(sighting):
                logger.debug("camera %s: %s within cooldown", self.camera_id, sighting.staff_id)
                continue
            event = observation(self.edge_id, self.settings, sighting)
            topic = event_topic(self.edge_id, EventKind.FACE, self.camera_id)
            messages.append(OutboxMessage(event.event_id, topic, encode(event)))
            logger.info(
                "camera %s: %s (distance %s, liveness %s)",
                self.camera_id,
                sighting.staff_id or "unknown person",
                sighting.distance,
                sighting.liveness.value,
            )
        if messages:
            self.published += self._outbox.add(messages)
            self._on_queued()
        return len(messages)

    def _report_status(self) -> None:
        health = self.camera.health()
        status = DeviceStatus.create(
            edge_id=self.edge_id,
            device_id=self.camera_id,
            device_kind=DeviceKind.CAMERA,
            occurred_at=self._clock.now(),
            reachable=health.connected,
            error=health.last_error,
            address=self.settings.source,
            last_read_at=health.last_frame_at,
            frames_per_second=health.frames_per_second,
            bad_frames=health.bad_frames,
            reconnects=health.reconnects,
        )
        topic = event_topic(self.edge_id, EventKind.DEVICE_STATUS, self.camera_id)
        self._outbox.add([OutboxMessage(status.event_id, topic, encode(status))])
        self._on_queued()


def open_camera(settings: CameraSettings) -> Camera:
    """The camera of ``settings``: an OpenCV source (or an image folder) that reconnects."""
    from devices.cameras.image_folder import ImageFolderSource
    from devices.cameras.opencv_source import OpenCvSource

    source: ImageFolderSource | OpenCvSource
    if settings.source == "folder":
        source = ImageFolderSource(settings.camera_id, Path(settings.location))
    elif settings.source == "usb":
        if not settings.location.isdigit():
            raise ValueError(f"camera {settings.camera_id}: a USB location is an index (0, 1, ...)")
        source = OpenCvSource(settings.camera_id, int(settings.location))
    elif settings.source == "file":
        source = OpenCvSource(settings.camera_id, Path(settings.location))
    else:
        source = OpenCvSource(settings.camera_id, settings.location)
    return Camera(settings.camera_id, source, loop_finite=settings.loop_file)


class FaceCheckIn:
    """Face check-in of one edge: the gallery from the server and one loop per camera."""

    def __init__(
        self,
        settings: FaceCheckInSettings,
        *,
        edge_id: str,
        outbox: Outbox,
        clock: Clock,
        status_interval: float,
        on_queued: Callable[[], None],
    ) -> None:
        from devices.face.backend import load_backend

        self._backend = load_backend()  # a missing model stops the agent here, with a clear message
        self._edge_id = edge_id
        self._outbox = outbox
        self._clock = clock
        self._status_interval = status_interval
        self._on_queued = on_queued
        self.store = EdgeGallery(settings.gallery_path)
        self.loops = [self.new_loop(camera) for camera in settings.cameras]

    def new_loop(self, camera: CameraSettings) -> FaceCheckInLoop:
        """A check-in loop for ``camera`` on this edge's gallery (the YAML's cameras and registered
        ones alike); ValueError if its source cannot be opened as given."""
        return FaceCheckInLoop(
            edge_id=self._edge_id,
            settings=camera,
            camera=open_camera(camera),
            engine=FaceEngine(camera.engine_config(), self.store.gallery, self._backend),
            outbox=self._outbox,
            clock=self._clock,
            status_interval=self._status_interval,
            on_queued=self._on_queued,
        )

    def on_gallery(self, topic: str, payload: bytes) -> None:
        """A retained gallery message from the server (paho's thread)."""
        message = decode_gallery_message(topic, payload)
        if message is not None:
            self.store.apply(message)

    def close(self) -> None:
        self.store.close()
