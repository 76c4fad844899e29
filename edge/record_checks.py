"""Pure judgements the edge makes about a terminal: punch flags, clock drift, fill level, log changes.

No I/O: the poller feeds in what it read and the edge clock, and puts the results on the events.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import CapacityAlert, PunchFlag, VerifyMethod
from devices.terminal import Punch, TerminalInfo

WARNING_FILL = 0.80
CRITICAL_FILL = 0.95


@dataclass(frozen=True)
class FlagRules:
    """When a record's device time is suspicious (the terminal's settings choose the numbers)."""

    future_tolerance: timedelta
    backfill_tolerance: timedelta


def punch_flags(
    punch: Punch,
    *,
    edge_now: datetime,
    known_absent_at: datetime | None,
    rules: FlagRules,
    clock_unreliable: bool,
    verify_codes: Container[int],
    punch_states: Container[int],
    user_enrolled: bool | None,
    uid_reused: bool = False,
) -> list[PunchFlag]:
    """The doubts about one record.

    ``known_absent_at`` is the latest moment the edge knows the record was not yet in the log
    (its previous full read, or now for a punch pushed live); a record dated well before that
    was added later or stamped by a clock that had been set back: 补签 the directive forbids.
    None means the edge has never read this log before (an initial import: nothing to compare).
    """
    flags: list[PunchFlag] = []
    if punch.occurred_at > edge_now + rules.future_tolerance:
        flags.append(PunchFlag.DEVICE_TIME_IN_FUTURE)
    if known_absent_at is not None and punch.occurred_at < known_absent_at - rules.backfill_tolerance:
        flags.append(PunchFlag.DEVICE_TIME_FAR_BEFORE_OBSERVED)
    if clock_unreliable:
        flags.append(PunchFlag.CLOCK_UNRELIABLE)
    if punch.verify_mode not in verify_codes:
        flags.append(PunchFlag.UNKNOWN_VERIFY_CODE)
    if punch.punch_state not in punch_states:
        flags.append(PunchFlag.UNKNOWN_PUNCH_STATE)
    if user_enrolled is False:
        flags.append(PunchFlag.USER_NOT_ENROLLED)
    if uid_reused:
        flags.append(PunchFlag.UID_REUSED)
    return flags


def verify_method(code: int, verify_map: dict[int, VerifyMethod]) -> VerifyMethod:
    """The verify method a raw code means on this terminal's firmware (UNKNOWN if not mapped)."""
    return verify_map.get(code, VerifyMethod.UNKNOWN)


@dataclass(frozen=True)
class ClockReading:
    """Device clock against edge clock at one poll."""

    offset_seconds: float
    threshold_seconds: float

    @property
    def drifted(self) -> bool:
        return abs(self.offset_seconds) > self.threshold_seconds

    def alert(self, corrected: bool) -> str | None:
        if not self.drifted:
            return None
        ahead = "ahead of" if self.offset_seconds > 0 else "behind"
        outcome = "set to the edge clock" if corrected else "not corrected: the terminal's policy forbids it"
        return (
            f"clock {abs(self.offset_seconds):.0f} s {ahead} the edge "
            f"(threshold {self.threshold_seconds:.0f} s); {outcome}"
        )


def capacity_alert(info: TerminalInfo) -> tuple[CapacityAlert, list[str]]:
    """The worst fill level of records, users and fingerprints, and a message for every one of them
    at 80 % or more: each resource is judged on its own, so a critical one hides no warning."""
    level = CapacityAlert.OK
    messages: list[str] = []
    for what, used, capacity in (
        ("records", info.records, info.record_capacity),
        ("users", info.users, info.user_capacity),
        ("fingerprints", info.fingers, info.finger_capacity),
    ):
        if capacity <= 0:
            continue
        fill = used / capacity
        if fill >= CRITICAL_FILL:
            level = CapacityAlert.CRITICAL
        elif fill >= WARNING_FILL:
            level = CapacityAlert.WARNING if level is CapacityAlert.OK else level
        else:
            continue
        messages.append(f"{what} {used} of {capacity} ({fill:.0%}) used")
    return level, messages


def expected_records(known: int, live_since_read: int, info: TerminalInfo) -> int:
    """How many records the log should hold: those known at the last full read (decoded or not)
    plus the punches live capture brought since. A full log overwrites its oldest record with
    each new one, so it never holds more than its capacity."""
    expected = known + live_since_read
    if info.record_capacity > 0 and info.records == info.record_capacity:
        return min(expected, info.record_capacity)
    return expected


def log_change(previous_count: int, previous_last_id: str | None, punch_ids: Sequence[str]) -> str | None:
    """Whether the log changed other than by appending since the previous full read, and how.

    A log that shrank was cleared or reset on the device; one whose previous last record moved
    or vanished while the count held was rewritten, typically a full log overwriting its oldest.
    """
    if previous_last_id is None or previous_count == 0:
        return None
    count = len(punch_ids)
    if count < previous_count:
        return (
            f"device log shrank from {previous_count} to {count} records: it was cleared or reset "
            "on the device; records not yet read from it may be lost"
        )
    if punch_ids[previous_count - 1] == previous_last_id:
        return None
    if previous_last_id in punch_ids:
        return "device log rewritten: its oldest records were overwritten (the log is full)"
    return "device log no longer holds the last record read: it was replaced on the device"
