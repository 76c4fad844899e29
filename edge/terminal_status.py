"""Device status events of one terminal: health, capacity, clock, alerts; sent when something changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts import DeviceKind, DeviceStatus, EventKind, encode, event_topic
from devices.terminal import TerminalInfo
from edge.outbox import Outbox, OutboxMessage
from edge.ports import Clock
from edge.record_checks import ClockReading, capacity_alert

# A device status names at most this many corrupt records or alerts (the log has them all).
MAX_REPORTED_PROBLEMS = 20


class TerminalStatusReporter:
    """Queues a terminal's status when it changed or ``interval`` seconds passed since the last."""

    def __init__(
        self,
        *,
        edge_id: str,
        serial: str,
        outbox: Outbox,
        clock: Clock,
        interval: float,
        on_queued: Callable[[], None],
    ) -> None:
        self._edge_id = edge_id
        self._serial = serial
        self._outbox = outbox
        self._clock = clock
        self._interval = interval
        self._on_queued = on_queued
        self._health: dict[str, object] = {}
        self._alerts: list[str] = []
        self._last_state: tuple[object, ...] | None = None
        self._last_at: datetime | None = None
        self.previous_address: str | None = None  # set once the terminal was found somewhere new
        self.reachable: bool | None = None  # as of the latest check (None before the first)
        self._reported_problems: set[str] = set()  # carried, raw, by a status already queued
        self._topic = event_topic(edge_id, EventKind.DEVICE_STATUS, serial)

    def problems_undelivered(self, problems: list[str]) -> str | None:
        """Why these undecodable records are not yet safe with the server (None when they are):
        each must have gone out, raw, in a device status the server has acknowledged."""
        unsent = [p for p in problems if p not in self._reported_problems]
        if unsent:
            return f"{len(unsent)} undecodable record(s) not yet sent raw to the server"
        if self._outbox.pending_on(self._topic):
            return "the device status carrying its undecodable records awaits the server's acknowledgement"
        return None

    def alert(self, message: str) -> None:
        """Carry ``message`` on the next status."""
        self._alerts.append(message)

    def health(
        self,
        info: TerminalInfo,
        reading: ClockReading,
        alerts: list[str],
        address: str,
        last_read_at: datetime | None,
        problems: list[str] | None = None,
    ) -> None:
        level, capacity_messages = capacity_alert(info)
        if problems is not None:
            # Those not reported yet go first: a log with more than fit in one status gets them
            # all out over successive reads.
            problems = sorted(problems, key=lambda p: p in self._reported_problems)[:MAX_REPORTED_PROBLEMS]
        self._health = {
            "firmware": info.firmware,
            "platform": info.platform,
            "users": info.users,
            "records": info.records,
            "record_capacity": info.record_capacity,
            "user_capacity": info.user_capacity,
            "fingers": info.fingers,
            "finger_capacity": info.finger_capacity,
            "capacity_alert": level,
        } | ({"record_problems": problems} if problems is not None else {})
        pending, self._alerts = self._alerts, []
        sent = self._send(
            reachable=True,
            error=None,
            address=address,
            last_read_at=last_read_at,
            alerts=(pending + alerts + capacity_messages)[:MAX_REPORTED_PROBLEMS],
            clock_offset_seconds=reading.offset_seconds,
        )
        if sent and problems:
            self._reported_problems.update(problems)

    def unreachable(self, error: str, address: str, last_read_at: datetime | None) -> None:
        self._send(reachable=False, error=error, address=address, last_read_at=last_read_at, alerts=[])

    def _send(self, *, reachable: bool, error: str | None, alerts: list[str], **fields: object) -> bool:
        self.reachable = reachable
        now = self._clock.now()
        problems = self._health.get("record_problems")
        state = (reachable, error, tuple(alerts), self._health.get("capacity_alert"), str(problems))
        due = self._last_at is None or (now - self._last_at).total_seconds() >= self._interval
        if state == self._last_state and not due:
            return False
        health = self._health if reachable else {}
        status = DeviceStatus.create(
            edge_id=self._edge_id,
            device_id=self._serial,
            occurred_at=now,
            device_kind=DeviceKind.TERMINAL,
            reachable=reachable,
            error=error,
            previous_address=self.previous_address,
            alerts=alerts,
            **(health | fields),
        )
        self._outbox.add([OutboxMessage(status.event_id, self._topic, encode(status))])
        self._last_state, self._last_at = state, now
        self._on_queued()
        return True
