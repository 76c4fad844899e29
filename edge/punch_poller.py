"""One poller per terminal: read the log, turn records not yet sent into punch events, queue them.

The poller keeps one connection to its terminal, reports the terminal's health as device status
events, and backs off after failures without ever crashing the agent.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts import (
    DeviceKind,
    DeviceStatus,
    EventKind,
    PunchEvent,
    PunchSource,
    VerifyMethod,
    encode,
    event_topic,
    punch_event_id,
)
from devices.errors import DeviceError, DeviceProtocolError
from devices.terminal import FingerprintTerminal, Punch
from edge.outbox import Outbox, OutboxMessage, ReadCursor
from edge.ports import Clock, TerminalFactory
from edge.settings import TerminalSettings

logger = logging.getLogger(__name__)

# A device status names at most this many corrupt records (the log has them all).
MAX_REPORTED_PROBLEMS = 20


def record_id(serial: str, punch: Punch) -> str:
    return punch_event_id(serial, punch.user_id, punch.device_time, punch.punch_state, punch.verify_mode)


def first_new_index(
    punches: Sequence[Punch], cursor: ReadCursor, id_of: Callable[[Punch], str]
) -> tuple[int, str | None]:
    """Where the records not yet turned into events start, and a note if the log changed under us.

    Normally the cursor's last record sits just before ``cursor.next_index``. If it is elsewhere
    the log was rewritten; if it is gone the log was cleared or overwritten: then every record is
    read again (their ids are stable, so the server stores none of them twice) and we say so.
    """
    n = cursor.next_index
    if n == 0 or cursor.last_event_id is None:
        return 0, None
    if n <= len(punches) and id_of(punches[n - 1]) == cursor.last_event_id:
        return n, None
    for i in range(len(punches) - 1, -1, -1):
        if id_of(punches[i]) == cursor.last_event_id:
            return i + 1, f"device log moved: last record read is now at index {i}, was {n - 1}"
    return 0, (
        f"device log no longer holds the last record read (had {n} records, now {len(punches)}): "
        "it was cleared or overwritten; reading it from the start"
    )


@dataclass(frozen=True)
class PollResult:
    records: int
    new_events: int
    note: str | None


class PunchPoller:
    """Polls one terminal; run :meth:`run` in its own thread."""

    def __init__(
        self,
        *,
        edge_id: str,
        terminal: TerminalSettings,
        open_terminal: TerminalFactory,
        outbox: Outbox,
        clock: Clock,
        poll_interval: float,
        retry_max: float,
        status_interval: float,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.edge_id = edge_id
        self.settings = terminal
        self._open_terminal = open_terminal
        self._outbox = outbox
        self._clock = clock
        self._poll_interval = poll_interval
        self._retry_max = retry_max
        self._status_interval = status_interval
        self._on_queued = on_queued
        self._device: FingerprintTerminal | None = None
        self._wake = threading.Event()
        self._tasks: queue.Queue[Callable[[FingerprintTerminal], None]] = queue.Queue()
        self._last_status: tuple[bool, str | None] | None = None
        self._last_status_at: datetime | None = None
        self._last_read_at: datetime | None = None

    @property
    def serial(self) -> str:
        return self.settings.serial

    def wake(self) -> None:
        """Poll now instead of at the next interval."""
        self._wake.set()

    def submit(self, task: Callable[[FingerprintTerminal], None]) -> None:
        """Run ``task`` with the open terminal before the next poll (the connection is ours alone)."""
        self._tasks.put(task)
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        delay = self._poll_interval
        while not stop.is_set():
            try:
                self._run_tasks()
                result = self.poll_once()
                if result.note:
                    logger.warning("terminal %s: %s", self.serial, result.note)
                delay = self._poll_interval
            except DeviceError as exc:
                self._fail(str(exc))
                delay = min(max(delay * 2, self._poll_interval), self._retry_max)
            except Exception as exc:  # a bug or an unexpected library error must not kill the agent
                logger.exception("terminal %s: unexpected error while polling", self.serial)
                self._fail(f"unexpected error: {exc!r}")
                delay = min(max(delay * 2, self._poll_interval), self._retry_max)
            self._wake.wait(delay)
            self._wake.clear()
        self._close()

    def poll_once(self) -> PollResult:
        """Read the terminal once and queue what is new. Raises DeviceError on device failures."""
        device = self._connect()
        info = device.read_info()
        if info.serial != self.serial:
            raise DeviceProtocolError(
                device.address,
                f"answers with serial {info.serial!r}, but is registered as {self.serial!r}",
            )
        device_clock = device.read_clock()
        edge_now = self._clock.now()
        punches, problems = device.read_log()
        for problem in problems:
            logger.warning("terminal %s: skipped a corrupt record: %s", self.serial, problem)
        observed_at = self._clock.now()

        cursor = self._outbox.cursor(self.serial)
        start, note = first_new_index(punches, cursor, lambda p: record_id(self.serial, p))
        events = [self._punch_event(p, observed_at) for p in punches[start:]]
        messages = [
            OutboxMessage(e.event_id, event_topic(self.edge_id, EventKind.PUNCH, self.serial), encode(e))
            for e in events
        ]
        last_id = record_id(self.serial, punches[-1]) if punches else None
        added = self._outbox.add(messages, cursor=(self.serial, ReadCursor(len(punches), last_id)))
        self._last_read_at = observed_at
        self._report(
            reachable=True,
            error=None,
            firmware=info.firmware,
            platform=info.platform,
            users=info.users,
            records=info.records,
            record_capacity=info.record_capacity,
            clock_offset_seconds=round((device_clock - edge_now).total_seconds(), 3),
            record_problems=[str(p) for p in problems[:MAX_REPORTED_PROBLEMS]],
        )
        if added:
            logger.info("terminal %s: %d new punches queued", self.serial, added)
            self._on_queued()
        return PollResult(records=len(punches), new_events=added, note=note)

    def _punch_event(self, punch: Punch, observed_at: datetime) -> PunchEvent:
        return PunchEvent.create(
            edge_id=self.edge_id,
            device_serial=self.serial,
            user_id=punch.user_id,
            device_uid=punch.device_uid,
            device_time=punch.device_time,
            occurred_at=punch.occurred_at,
            observed_at=observed_at,
            verify_mode=punch.verify_mode,
            verify_method=self.settings.verify_map.get(punch.verify_mode, VerifyMethod.UNKNOWN),
            punch_state=punch.punch_state,
            source=PunchSource.PULL,
            log_index=punch.log_index,
        )

    def _connect(self) -> FingerprintTerminal:
        if self._device is None:
            self._device = self._open_terminal(self.settings)
        return self._device

    def _close(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except DeviceError as exc:
                logger.debug("terminal %s: close failed: %s", self.serial, exc)
            self._device = None

    def _run_tasks(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            task(self._connect())

    def _fail(self, error: str) -> None:
        logger.warning("terminal %s at %s:%s: %s", self.serial, self.settings.host, self.settings.port, error)
        self._close()
        self._report(reachable=False, error=error)

    def _report(self, *, reachable: bool, error: str | None, **fields: object) -> None:
        """Queue a device status when the state changed or the status interval has passed."""
        now = self._clock.now()
        state = (reachable, error)
        interval_passed = (
            self._last_status_at is None
            or (now - self._last_status_at).total_seconds() >= self._status_interval
        )
        if state == self._last_status and not interval_passed:
            return
        status = DeviceStatus.create(
            edge_id=self.edge_id,
            device_id=self.serial,
            occurred_at=now,
            device_kind=DeviceKind.TERMINAL,
            reachable=reachable,
            error=error,
            address=f"{self.settings.host}:{self.settings.port}",
            last_read_at=self._last_read_at,
            **fields,
        )
        topic = event_topic(self.edge_id, EventKind.DEVICE_STATUS, self.serial)
        self._outbox.add([OutboxMessage(status.event_id, topic, encode(status))])
        self._last_status, self._last_status_at = state, now
        self._on_queued()
