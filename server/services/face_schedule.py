"""The face gallery's background duty: publish it once the broker is there, then purge on schedule.

The whole gallery is published once, at start-up (an embedded broker starts empty). After that the
broker keeps it (retained messages); every change publishes its own bucket, the purge's expiries
included, and a run of the schedule publishes only buckets whose publication failed meanwhile.
An external broker must therefore persist retained messages (Mosquitto: ``persistence true``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from server.services.face_enrolment import FaceEnrolment

logger = logging.getLogger(__name__)


class FaceSchedule:
    def __init__(self, faces: FaceEnrolment, broker_connected: Callable[[], bool], interval: float) -> None:
        self._faces = faces
        self._connected = broker_connected
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kaoqin-face-schedule", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        published_all = False
        while not self._stop.is_set():
            try:
                self._faces.purge()
                while not self._connected() and not self._stop.wait(0.2):
                    pass
                if not self._stop.is_set():
                    if published_all:
                        self._faces.publish_pending()
                    else:
                        self._faces.publish_all()
                        published_all = True
            except ConnectionError as exc:
                logger.warning("face gallery not published: %s", exc)
            except Exception:
                logger.exception(
                    "face purge or gallery publication failed; next try in %.0f s", self._interval
                )
            self.runs += 1
            self._stop.wait(self._interval)
