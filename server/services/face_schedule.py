"""The face gallery's background duty: publish it once the broker is there, then purge on schedule.

Every run of the purge also republishes the whole gallery (retained): a broker that restarted
without persistence has forgotten it, and edges that reconnect to it must still catch up.
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
        while not self._stop.is_set():
            try:
                self._faces.purge()
                while not self._connected() and not self._stop.wait(0.2):
                    pass
                if not self._stop.is_set():
                    self._faces.publish_all()
            except ConnectionError as exc:
                logger.warning("face gallery not published: %s", exc)
            except Exception:
                logger.exception(
                    "face purge or gallery publication failed; next try in %.0f s", self._interval
                )
            self.runs += 1
            self._stop.wait(self._interval)
