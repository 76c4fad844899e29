"""Each person's day: which punches and face check-ins count, and what the day was.

Pure and deterministic: the same marks, timetable, calendar and absences give the same result,
whatever order the marks arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from server.domain.working_time import (
    Absence,
    AbsenceKind,
    CalendarDay,
    DayKind,
    PunchPolicy,
    Session,
    Timetable,
    TimetableVersion,
)


class DayStatus(StrEnum):
    NORMAL = "normal"
    LATE = "late"
    LEFT_EARLY = "left_early"
    MISSING_PUNCH = "missing_punch"
    ABSENT = "absent"  # 旷工: a session with no mark and no approved absence
    LEAVE = "leave"
    TRIP = "trip"
    DUTY = "duty"
    HOLIDAY = "holiday"
    REST_DAY = "rest_day"


_EXCUSED = {
    AbsenceKind.LEAVE: DayStatus.LEAVE,
    AbsenceKind.TRIP: DayStatus.TRIP,
    AbsenceKind.DUTY: DayStatus.DUTY,
}


# Enum members bound once: in Python 3.11 each ``DayStatus.X`` lookup goes through a descriptor,
# and a month for a thousand people makes hundreds of thousands of them.
_WORKDAY, _HOLIDAY, _FIRST_LAST = DayKind.WORKDAY, DayKind.HOLIDAY, PunchPolicy.FIRST_LAST
_HOLIDAY_STATUS, _REST_STATUS = DayStatus.HOLIDAY, DayStatus.REST_DAY
_ABSENT, _MISSING_PUNCH, _LEFT_EARLY = DayStatus.ABSENT, DayStatus.MISSING_PUNCH, DayStatus.LEFT_EARLY
_LATE, _NORMAL = DayStatus.LATE, DayStatus.NORMAL


class Mark(NamedTuple):
    """Evidence of presence: a terminal punch, or a face check-in of a known person.
    A named tuple, ordered by time then id: a month for a thousand people builds a few hundred
    thousand of them, and they sort as plain tuples."""

    at: datetime
    event_id: str
    source: str  # "punch" or "face"
    device_id: str


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    session: str
    in_mark: str | None = None
    out_mark: str | None = None
    late_minutes: int = 0
    early_minutes: int = 0
    excused_by: str | None = None  # absence id


@dataclass(frozen=True, slots=True)
class DayResult:
    staff_id: str
    day: date
    status: DayStatus
    late_minutes: int = 0
    early_minutes: int = 0
    missing_punches: int = 0
    absent_sessions: int = 0
    sessions: tuple[SessionOutcome, ...] = ()
    marks: tuple[str, ...] = ()  # every mark of the day, the evidence shown beside the result
    absences: tuple[str, ...] = ()

    def summary(self) -> tuple[object, ...]:
        """What a re-decision compares: a change here is a change of the day."""
        return (
            self.status,
            self.late_minutes,
            self.early_minutes,
            self.missing_punches,
            self.absent_sessions,
        )


@dataclass(frozen=True)
class DayWindow:
    """The span of time whose marks belong to one working day, and each session's share of it."""

    start: datetime
    end: datetime
    territories: tuple[tuple[Session, datetime, datetime, datetime, datetime], ...] = field(default=())
    # per session: (session, territory start, session start, session end, territory end)


def day_window(version: TimetableVersion, day: date, zone: ZoneInfo) -> DayWindow:
    """Split the day between sessions: the gap between two sessions is shared at its midpoint."""
    bounds = sorted((session.bounds(day, zone), index) for index, session in enumerate(version.sessions))
    ordered = [(version.sessions[index], start, end) for (start, end), index in bounds]
    in_window = timedelta(minutes=version.in_window_minutes)
    out_window = timedelta(minutes=version.out_window_minutes)
    territories = []
    for i, (session, start, end) in enumerate(ordered):
        lower = start - in_window
        if i > 0:
            previous_end = ordered[i - 1][2]
            lower = max(previous_end + (start - previous_end) / 2, lower)
        upper = end + out_window
        if i + 1 < len(ordered):
            next_start = ordered[i + 1][1]
            upper = min(end + (next_start - end) / 2, upper)
        territories.append(
            (
                session,
                lower.astimezone(UTC),
                start.astimezone(UTC),
                end.astimezone(UTC),
                upper.astimezone(UTC),
            )
        )
    # In UTC, like the stored marks: comparing datetimes of one zone skips a utcoffset() per comparison.
    return DayWindow(territories[0][1], territories[-1][4], tuple(territories))


def _minutes_between(later: datetime, earlier: datetime) -> int:
    return max(0, int((later - earlier).total_seconds() // 60))


def _pair(marks: list[Mark], start: datetime, end: datetime) -> tuple[Mark | None, Mark | None]:
    """The in and the out among ``marks`` (sorted) of one span: first and last; a lone mark is an
    in when it lies in the span's first half, an out otherwise."""
    if not marks:
        return None, None
    if len(marks) == 1:
        return (marks[0], None) if marks[0].at < start + (end - start) / 2 else (None, marks[0])
    return marks[0], marks[-1]


def _outcome(
    name: str, in_mark: Mark | None, out_mark: Mark | None, start: datetime, end: datetime, grace: int
) -> SessionOutcome:
    late = _minutes_between(in_mark.at, start) if in_mark else 0
    early = _minutes_between(end, out_mark.at) if out_mark else 0
    return SessionOutcome(
        session=name,
        in_mark=in_mark.event_id if in_mark else None,
        out_mark=out_mark.event_id if out_mark else None,
        late_minutes=late if late > grace else 0,
        early_minutes=early,
    )


def _excuse(absences: list[Absence], start: datetime, end: datetime) -> Absence | None:
    if not absences:
        return None
    covering = sorted((a for a in absences if a.covers(start, end)), key=lambda a: a.absence_id)
    return covering[0] if covering else None


def decide_day(
    staff_id: str,
    day: date,
    timetable: Timetable,
    calendar_day: CalendarDay,
    marks: Iterable[Mark],
    absences: Iterable[Absence],
    zone: ZoneInfo,
    window: DayWindow | None = None,
) -> DayResult:
    """Decide one person's day from the marks that fall in its window (``window``: the timetable's
    :func:`day_window` for the day, when the caller already has it)."""
    version = timetable.version_for(day)
    window = window or day_window(version, day, zone)
    ordered = sorted(m for m in marks if window.start <= m.at < window.end)
    mark_ids = tuple(m.event_id for m in ordered)
    absence_list = sorted(absences, key=lambda a: a.absence_id)
    if calendar_day.kind is not _WORKDAY:
        status = _HOLIDAY_STATUS if calendar_day.kind is _HOLIDAY else _REST_STATUS
        return DayResult(staff_id, day, status, marks=mark_ids)

    outcomes: list[SessionOutcome] = []
    if timetable.policy is _FIRST_LAST:
        first, last = window.territories[0], window.territories[-1]
        excused = _excuse(absence_list, first[2], last[3])
        if excused:
            outcomes.append(SessionOutcome("day", excused_by=excused.absence_id))
        else:
            in_mark, out_mark = _pair(ordered, first[2], last[3])
            outcomes.append(_outcome("day", in_mark, out_mark, first[2], last[3], version.grace_minutes))
    else:
        for session, lower, start, end, upper in window.territories:
            excused = _excuse(absence_list, start, end)
            if excused:
                outcomes.append(SessionOutcome(session.name, excused_by=excused.absence_id))
                continue
            inside = [m for m in ordered if lower <= m.at < upper]
            in_mark, out_mark = _pair(inside, start, end)
            outcomes.append(_outcome(session.name, in_mark, out_mark, start, end, version.grace_minutes))
    return _summarise(staff_id, day, outcomes, mark_ids, absence_list)


def _summarise(
    staff_id: str,
    day: date,
    outcomes: list[SessionOutcome],
    mark_ids: tuple[str, ...],
    absences: list[Absence],
) -> DayResult:
    worked = [o for o in outcomes if o.excused_by is None]
    used = tuple(sorted({o.excused_by for o in outcomes if o.excused_by}))
    absent = sum(1 for o in worked if o.in_mark is None and o.out_mark is None)
    missing = sum((o.in_mark is None) + (o.out_mark is None) for o in worked if o.in_mark or o.out_mark)
    late = sum(o.late_minutes for o in worked)
    early = sum(o.early_minutes for o in worked)
    if not worked:
        kinds = {a.absence_id: a.kind for a in absences}
        status = _EXCUSED[kinds[used[0]]]
    elif absent:
        status = _ABSENT
    elif missing:
        status = _MISSING_PUNCH
    elif early:
        status = _LEFT_EARLY
    elif late:
        status = _LATE
    else:
        status = _NORMAL
    return DayResult(staff_id, day, status, late, early, missing, absent, tuple(outcomes), mark_ids, used)


def days_of_mark(at: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The working days a mark may belong to: its local date, and the day before (overnight shifts)."""
    local = at.astimezone(zone).date()
    return local, local - timedelta(days=1)


def is_day_complete(
    horizon: datetime, devices: Iterable[str], reported_until: Mapping[str, datetime]
) -> bool:
    """A day is decided only when every device of the person's site has reported past its window:
    a device that has not may still hold a punch that changes the day."""
    return all((seen := reported_until.get(device)) is not None and seen >= horizon for device in devices)
