"""Push terminals are never polled, so the edge cannot see them go away: it watches for silence.

An ADMS terminal sends ``/iclock/getrequest`` every ``Delay`` seconds (the handshake's value,
``zk-protocol.md`` §4.1, §4.4). A registered terminal silent for ``missed_polls`` of those
intervals (counted from the edge's start when it never came) is reported unreachable, once; its
next request reports it reachable again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from edge.ports import Clock

logger = logging.getLogger(__name__)

# (serial, reachable, error, last contact) -> a device status on the outbox.
Report = Callable[[str, bool, str | None, datetime | None], None]


class AdmsWatchdog:
    def __init__(
        self,
        serials: Iterable[str],
        *,
        poll_seconds: float,
        missed_polls: int,
        clock: Clock,
        report: Report,
        tick_seconds: float = 1.0,
    ) -> None:
        self._clock = clock
        self._report = report
        self._poll_seconds = poll_seconds
        self._missed_polls = missed_polls
        self._tick = tick_seconds
        started = clock.now()
        self._last: dict[str, datetime] = dict.fromkeys(serials, started)
        self._contacted: set[str] = set()
        self._silent: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def window_seconds(self) -> float:
        return self._poll_seconds * self._missed_polls

    def seen(self, serial: str) -> None:
        """A request came from ``serial``: it is there; if it had been reported gone, say so."""
        with self._lock:
            if serial not in self._last:
                return
            self._last[serial] = self._clock.now()
            self._contacted.add(serial)
            back = serial in self._silent
            self._silent.discard(serial)
        if back:
            logger.info("ADMS %s: requests again after being reported unreachable", serial)
            self._report(serial, True, None, self._clock.now())

    def watch(self, serials: Iterable[str]) -> None:
        """Watch exactly ``serials`` from now on (registered push terminals come and go); a new one
        has the full window from now before it counts as silent."""
        wanted = set(serials)
        with self._lock:
            for serial in [s for s in self._last if s not in wanted]:
                del self._last[serial]
                self._contacted.discard(serial)
                self._silent.discard(serial)
            now = self._clock.now()
            for serial in wanted - self._last.keys():
                self._last[serial] = now

    def check(self) -> list[str]:
        """Report every terminal silent for longer than the window (once each); returns them."""
        now = self._clock.now()
        gone: list[tuple[str, float, datetime | None]] = []
        with self._lock:
            for serial, last in self._last.items():
                silence = (now - last).total_seconds()
                if serial not in self._silent and silence > self.window_seconds:
                    self._silent.add(serial)
                    gone.append((serial, silence, last if serial in self._contacted else None))
        for serial, silence, last_contact in gone:
            what = "no ADMS request" if last_contact else "no ADMS request since the edge started"
            error = (
                f"{what} for {silence:.0f} s: {self._missed_polls} poll intervals of "
                f"{self._poll_seconds:.0f} s missed"
            )
            logger.warning("ADMS %s: %s", serial, error)
            self._report(serial, False, error, last_contact)
        return [serial for serial, _, _ in gone]

    def start(self) -> AdmsWatchdog:
        self._thread = threading.Thread(target=self._run, name="adms-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.check()
            except Exception:  # a failed report must not end the watch
                logger.exception("ADMS watchdog check failed")
