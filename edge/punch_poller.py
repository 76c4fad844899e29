"""One poller per terminal: live capture for new punches, full reads to reconcile, health and clock.

The poller keeps the only connection to its terminal. New punches arrive by live capture when the
terminal's profile supports it; a full read of the log ("reconciliation") runs at start, on
``read_now``, when a health check finds a record count that live capture does not explain, and
every ``reconcile_interval_seconds`` (inside the off-peak window when one is set). Record ids are
derived from content and every id queued is remembered, so no read ever queues a record twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import (
    EventKind,
    PunchSource,
    encode,
    event_topic,
)
from devices.errors import DeviceError
from devices.terminal import FingerprintTerminal, Punch, TerminalInfo
from edge.log_clearing import clear_if_acknowledged, clearing_due
from edge.outbox import Outbox, OutboxMessage, ReadCursor
from edge.ports import Clock, TerminalFactory
from edge.punch_events import PunchContext, build_punch_event, record_id
from edge.reconcile_schedule import in_window
from edge.record_checks import ClockReading, FlagRules, expected_records, log_change
from edge.seen_records import SeenRecords, SlotPins
from edge.settings import TerminalSettings
from edge.terminal_locator import TerminalLocator
from edge.terminal_status import TerminalStatusReporter

logger = logging.getLogger(__name__)

TASK_ATTEMPTS = 3


@dataclass(frozen=True)
class PollResult:
    records: int
    new_events: int
    note: str | None


class PunchPoller:
    """Reads one terminal; run :meth:`run` in its own thread."""

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
        live_capture: bool | None = None,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.settings = terminal
        self._locator = TerminalLocator(terminal, open_terminal, outbox)
        self._outbox = outbox
        self._clock = clock
        self._poll_interval = poll_interval
        self._retry_max = retry_max
        self._status_interval = status_interval
        self._on_queued = on_queued
        self.live_capture = terminal.live_capture if live_capture is None else live_capture
        self._rules = FlagRules(
            timedelta(seconds=terminal.future_tolerance_seconds),
            timedelta(seconds=terminal.backfill_tolerance_seconds),
        )
        self._topic = event_topic(edge_id, EventKind.PUNCH, terminal.serial)
        self._context = PunchContext(
            edge_id, terminal.serial, terminal.verify_map, terminal.punch_states, self._rules
        )
        self._device: FingerprintTerminal | None = None
        self._wake = threading.Event()
        # How the loop pauses between passes (until woken): injectable so back-off is testable.
        self._wait = wait or self._wake.wait
        self._full_read_requested = True  # the first pass reads the whole log
        self._clear_requested = False
        self._tasks: queue.Queue[tuple[Callable[[FingerprintTerminal], str | None], int]] = queue.Queue()
        self._seen = SeenRecords(outbox, terminal.serial, terminal.seen_retention_days)
        self._slots = SlotPins(outbox, terminal.serial, terminal.seen_retention_days)
        self._slot_layout = False  # the log's records name slots only (8-byte layout)
        self._last_read_at: datetime | None = None
        self._last_full_read_at: datetime | None = None
        self._last_check_at: datetime | None = None
        self._live_since_full_read = 0
        self._known_complete_at: datetime | None = None
        self._undecodable = 0
        self._clock_drifted = False
        self._status = TerminalStatusReporter(
            edge_id=edge_id,
            serial=terminal.serial,
            outbox=outbox,
            clock=clock,
            interval=status_interval,
            on_queued=on_queued,
        )

    @property
    def serial(self) -> str:
        return self.settings.serial

    @property
    def reachable(self) -> bool | None:
        """Whether the latest connection attempt or health check reached the terminal (None: not yet)."""
        return self._status.reachable

    def wake(self, *, full_read: bool = True) -> None:
        """Read the whole log now instead of waiting for the next reconciliation."""
        self._full_read_requested = self._full_read_requested or full_read
        self._wake.set()

    def request_clear(self) -> None:
        """Clear the device log after the next full read, if the policy and the acks allow it."""
        self._clear_requested = True
        self.wake()

    def submit(self, task: Callable[[FingerprintTerminal], str | None]) -> None:
        """Run ``task`` with the open terminal before the next read (the connection is ours alone).

        What it returns is reported on the next device status; a task that fails on the device
        is tried again after the reconnect, at most ``TASK_ATTEMPTS`` times.
        """
        self._tasks.put((task, 1))
        self._wake.set()

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        delay = self._poll_interval
        while not stop.is_set():
            self._wake.clear()
            try:
                self._run_tasks()
                if self._full_read_due():
                    result = self.poll_once()
                    if result.note:
                        logger.warning("terminal %s: %s", self.serial, result.note)
                elif self._check_due():
                    self.check_once()
                delay = self._poll_interval
                if self.live_capture:
                    self._capture(stop)
                    continue
            except DeviceError as exc:
                self._full_read_requested = True  # after a reconnect (or a reboot), reconcile
                self._fail(f"{exc.kind}: {exc}")
                delay = min(max(delay * 2, self._poll_interval), self._retry_max)
            except Exception as exc:  # a bug or an unexpected library error must not kill the agent
                logger.exception("terminal %s: unexpected error while polling", self.serial)
                self._fail(f"unexpected error: {exc!r}")
                delay = min(max(delay * 2, self._poll_interval), self._retry_max)
            self._wait(delay)
        self._close()

    def _capture(self, stop: threading.Event) -> None:
        def should_stop() -> bool:
            return stop.is_set() or self._wake.is_set() or self._full_read_due() or self._check_due()

        self._connect().capture_punches(
            self._on_live_punch, idle_timeout=self.settings.live_idle_seconds, should_stop=should_stop
        )

    def _full_read_due(self) -> bool:
        if self._full_read_requested or self._last_full_read_at is None:
            return True
        if not self.live_capture:
            return True  # without live capture every poll reads the log
        elapsed = (self._clock.now() - self._last_full_read_at).total_seconds()
        if elapsed < self.settings.reconcile_interval_seconds:
            return False
        window = self.settings.reconcile_window
        return window is None or in_window(self._clock.now(), window, self.settings.timezone)

    def _check_due(self) -> bool:
        last = self._last_check_at
        return last is None or (self._clock.now() - last).total_seconds() >= self.settings.live_check_seconds

    # ------------------------------------------------------------ reads

    def poll_once(self) -> PollResult:
        """Read the whole log once and queue what is new. Raises DeviceError on device failures."""
        device, info = self._open_and_identify()
        reading = self._check_clock(device)
        punches, problems = device.read_log()
        for problem in problems:
            logger.warning("terminal %s: skipped a corrupt record: %s", self.serial, problem)
        observed_at = self._clock.now()
        self._slot_layout = any(p.user_id_from_slot for p in punches)
        resolved = self._slots.resolve(punches, observed_at)
        punches = resolved.punches
        ids = [record_id(self.serial, p) for p in punches]
        reused = {ids[i] for i in resolved.reused}
        cursor = self._outbox.cursor(self.serial)
        note = log_change(cursor.next_index, cursor.last_event_id, ids)
        known_absent_at = datetime.fromisoformat(cursor.read_at) if cursor.read_at else None
        if known_absent_at is not None and self._known_complete_at is not None:
            # A health check since then found exactly the records already known: anything new in
            # the log now was not there at that check either.
            known_absent_at = max(known_absent_at, self._known_complete_at)
        added = self._queue(punches, ids, observed_at, known_absent_at, PunchSource.PULL, reading, reused)
        self._last_read_at = self._last_full_read_at = self._last_check_at = observed_at
        self._full_read_requested = False
        self._live_since_full_read = 0
        self._undecodable = len(problems)  # counted by the device, never in the cursor
        alerts = [note] if note else []
        if self._should_clear(info):
            cleared, why = clear_if_acknowledged(
                device, self._outbox, self._topic, self._ids_all_seen, self._status.problems_undelivered
            )
            alerts.append(why)
            if cleared:
                punches, ids, problems, self._undecodable = [], [], [], 0
        self._outbox.add(
            [], cursor=(self.serial, ReadCursor(len(ids), ids[-1] if ids else None, observed_at.isoformat()))
        )
        if self._seen.prune(ids, observed_at):
            self._slots.prune(punches, observed_at)
        self._status.health(
            info, reading, alerts, self._locator.address, self._last_read_at, [str(p) for p in problems]
        )
        if added:
            logger.info("terminal %s: %d new punches queued", self.serial, added)
            self._on_queued()
        return PollResult(records=len(punches), new_events=added, note=note)

    def check_once(self) -> None:
        """Health check while live capture runs: info and clock; a count live capture does not
        explain (a missed punch, a cleared or rebooted device) triggers a full read."""
        device, info = self._open_and_identify()
        reading = self._check_clock(device)
        self._last_check_at = self._clock.now()
        known = self._outbox.cursor(self.serial).next_index + self._undecodable
        expected = expected_records(known, self._live_since_full_read, info)
        if info.records == expected:
            self._known_complete_at = self._last_check_at
        else:
            logger.info(
                "terminal %s: log holds %d records, %d expected: reconciling",
                self.serial,
                info.records,
                expected,
            )
            self._full_read_requested = True
        self._status.health(info, reading, [], self._locator.address, self._last_read_at)

    def _on_live_punch(self, punch: Punch) -> None:
        observed_at = self._clock.now()
        self._live_since_full_read += 1
        if self._slot_layout:
            self._slots.remember_live(punch)
        added = self._queue(
            [punch], [record_id(self.serial, punch)], observed_at, observed_at, PunchSource.LIVE, None
        )
        self._last_read_at = observed_at
        if added:
            self._on_queued()

    def _queue(
        self,
        punches: Sequence[Punch],
        ids: Sequence[str],
        observed_at: datetime,
        known_absent_at: datetime | None,
        source: PunchSource,
        reading: ClockReading | None,
        reused: set[str] | None = None,
    ) -> int:
        seen = self._seen.ids()
        fresh: dict[str, Punch] = {}
        for punch, event_id in zip(punches, ids, strict=True):
            if event_id not in seen:
                fresh.setdefault(event_id, punch)  # a double punch in one second is one record
        unreliable = reading.drifted if reading else self._clock_drifted
        events = [
            build_punch_event(
                self._context,
                p,
                observed_at=observed_at,
                known_absent_at=known_absent_at,
                source=source,
                clock_unreliable=unreliable,
                uid_reused=event_id in (reused or ()),
            )
            for event_id, p in fresh.items()
        ]
        messages = [OutboxMessage(e.event_id, self._topic, encode(e)) for e in events]
        added = self._outbox.add(messages, seen=(self.serial, list(fresh)))
        seen.update(fresh)
        return added

    def _ids_all_seen(self, log: list[Punch]) -> bool:
        seen = self._seen.ids()
        settled = self._slots.resolve(log, self._clock.now()).punches  # the PINs the records were sent with
        return all(record_id(self.serial, p) in seen for p in settled)

    def _should_clear(self, info: TerminalInfo) -> bool:
        requested, self._clear_requested = self._clear_requested, False
        clear, refusal = clearing_due(
            self.settings.clear_log, self.settings.clear_log_at_fill, info, requested
        )
        if refusal:
            self._alerts_once(refusal)
        return clear

    def _alerts_once(self, message: str) -> None:
        logger.warning("terminal %s: %s", self.serial, message)
        self._status.alert(message)

    def _check_clock(self, device: FingerprintTerminal) -> ClockReading:
        device_clock = device.read_clock()
        reading = ClockReading(
            round((device_clock - self._clock.now()).total_seconds(), 3),
            self.settings.clock_drift_threshold_seconds,
        )
        corrected = False
        if reading.drifted and self.settings.correct_clock:
            device.set_clock(self._clock.now())
            corrected = True
        self._clock_drifted = reading.drifted and not corrected
        alert = reading.alert(corrected)
        if alert:
            self._alerts_once(f"{alert}")
        return reading

    # ------------------------------------------------------------ connection

    def _open_and_identify(self) -> tuple[FingerprintTerminal, TerminalInfo]:
        if self._device is not None:
            try:
                info = self._device.read_info()
            except DeviceError:
                self._close()
            else:
                if info.serial == self.serial:
                    return self._device, info
                self._close()
        located = self._locator.locate()
        self._device = located.device
        if located.previous_address:
            self._status.previous_address = located.previous_address
            self._alerts_once(
                f"terminal found at a new address {located.address} (was {located.previous_address})"
            )
        return located.device, located.info

    def _connect(self) -> FingerprintTerminal:
        if self._device is None:
            self._open_and_identify()
        assert self._device is not None
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
                task, attempt = self._tasks.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = task(self._connect())
            except DeviceError as exc:
                if attempt < TASK_ATTEMPTS:
                    self._tasks.put((task, attempt + 1))
                else:
                    self._alerts_once(f"command given up after {attempt} attempts: {exc}")
                raise
            if outcome:
                self._alerts_once(outcome)

    # ------------------------------------------------------------ status

    def _fail(self, error: str) -> None:
        logger.warning("terminal %s at %s: %s", self.serial, self._locator.address, error)
        self._close()
        self._status.unreachable(error, self._locator.address, self._last_read_at)
