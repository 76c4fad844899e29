"""Runs the attendance engine in the server process at an interval, so days are decided as their
devices report and late records re-decide their days without anyone asking."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from server.services.attendance import AttendanceEngine

logger = logging.getLogger(__name__)

# A row stored just before a tick but committed after its query would be missed by a cursor set
# to the tick's start; looking this far back again costs a re-check, never a wrong day.
_CURSOR_OVERLAP = timedelta(minutes=2)


class AttendanceScheduler:
    def __init__(
        self,
        engine: AttendanceEngine,
        interval_seconds: float,
        lookback_days: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._interval = interval_seconds
        self._lookback = lookback_days
        self._clock = clock
        self._cursor = clock() - timedelta(days=lookback_days)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="attendance-scheduler", daemon=True)
        self.ticks = 0

    def tick(self) -> None:
        """One pass: decide the recent days and every older day touched since the last pass."""
        started = self._clock()
        self._engine.run_new(self._cursor, self._lookback)
        self._cursor = started - _CURSOR_OVERLAP
        self.ticks += 1

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # the next tick retries; a failure must not end the loop
                logger.exception("attendance decision run failed; retrying in %.0f s", self._interval)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
