"""Working time as values: timetables with seasonal versions, sessions, punch policies, the calendar.

Everything here is data an office changes without a release (the adapters load it from the
database); the rules only read it. Times of day are local wall-clock times in the office's zone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class WorkingTimeError(ValueError):
    """A timetable, calendar entry or absence that cannot be used; the message names the field."""


class PunchPolicy(StrEnum):
    """Which punches a working day asks for."""

    FOUR_PUNCHES = "four_punches"  # in and out for each session (morning and afternoon)
    FIRST_LAST = "first_last"  # the first punch of the day is the in, the last the out


class DayKind(StrEnum):
    WORKDAY = "workday"
    HOLIDAY = "holiday"  # a public holiday (法定节假日) or an office's own day off
    REST_DAY = "rest_day"  # a weekend that is not a make-up working day (调休)


@dataclass(frozen=True)
class Session:
    """One block of work, e.g. the morning 08:30-12:00. ``ends_next_day`` marks an overnight shift."""

    name: str
    start: time
    end: time
    ends_next_day: bool = False

    def bounds(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.start, zone)
        end_day = day + timedelta(days=1) if self.ends_next_day else day
        return start, datetime.combine(end_day, self.end, zone)


@dataclass(frozen=True)
class TimetableVersion:
    """Sessions that apply every year from ``valid_from`` to ``valid_to`` (month and day, inclusive).

    A winter version may wrap the new year (10-01 to 04-30). Punch windows: an in-punch counts from
    ``in_window_minutes`` before a session starts, an out-punch until ``out_window_minutes`` after
    it ends; a punch within ``grace_minutes`` after the start is not late.
    """

    name: str
    valid_from: tuple[int, int]
    valid_to: tuple[int, int]
    sessions: tuple[Session, ...]
    grace_minutes: int = 0
    in_window_minutes: int = 60
    out_window_minutes: int = 240

    def covers(self, day: date) -> bool:
        key = (day.month, day.day)
        if self.valid_from <= self.valid_to:
            return self.valid_from <= key <= self.valid_to
        return key >= self.valid_from or key <= self.valid_to


@dataclass(frozen=True)
class Timetable:
    timetable_id: str
    name: str
    policy: PunchPolicy
    versions: tuple[TimetableVersion, ...]
    require_biometric: bool = False  # a card or password punch is then a suspicion (P6)

    def version_for(self, day: date) -> TimetableVersion:
        for version in self.versions:
            if version.covers(day):
                return version
        raise WorkingTimeError(f"timetable {self.timetable_id!r} has no version covering {day.isoformat()}")


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def validate_timetable(timetable: Timetable) -> None:
    """Refuse sessions that overlap, end before they start, or seasons that leave days uncovered."""
    if not timetable.versions:
        raise WorkingTimeError("versions: a timetable needs at least one version")
    for v_index, version in enumerate(timetable.versions):
        where = f"versions[{v_index}]"
        for name, (month, day) in (("valid_from", version.valid_from), ("valid_to", version.valid_to)):
            try:
                date(2024, month, day)  # a leap year, so 02-29 is allowed
            except ValueError:
                raise WorkingTimeError(
                    f"{where}.{name}: {month:02d}-{day:02d} is not a day of the year"
                ) from None
        if not version.sessions:
            raise WorkingTimeError(f"{where}.sessions: a version needs at least one session")
        if min(version.grace_minutes, version.in_window_minutes, version.out_window_minutes) < 0:
            raise WorkingTimeError(f"{where}: grace and window minutes must not be negative")
        spans = []
        for s_index, session in enumerate(version.sessions):
            start = _minutes(session.start)
            end = _minutes(session.end) + (24 * 60 if session.ends_next_day else 0)
            if end <= start:
                raise WorkingTimeError(
                    f"{where}.sessions[{s_index}].end: {session.end.isoformat('minutes')} is not after its "
                    f"start {session.start.isoformat('minutes')} (set ends_next_day for an overnight shift)"
                )
            spans.append((start, end, s_index))
        spans.sort()
        for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
            if start_b < end_a:
                raise WorkingTimeError(
                    f"{where}.sessions[{b}]: overlaps sessions[{a}]; sessions must not overlap"
                )
    probe = date(2024, 1, 1)
    for offset in range(366):
        probed = probe + timedelta(days=offset)
        if not any(version.covers(probed) for version in timetable.versions):
            raise WorkingTimeError(f"versions: no version covers {probed.month:02d}-{probed.day:02d}")


@dataclass(frozen=True)
class CalendarDay:
    kind: DayKind
    name: str = ""  # the holiday's name, or why an override was made


@dataclass(frozen=True)
class WorkCalendar:
    """What each day is. ``days`` holds the national calendar and local overrides already merged;
    a day not in it is a workday on Monday to Friday and a rest day at the weekend."""

    days: dict[date, CalendarDay] = field(default_factory=dict)

    def day(self, day: date) -> CalendarDay:
        known = self.days.get(day)
        if known is not None:
            return known
        return CalendarDay(DayKind.REST_DAY if day.weekday() >= 5 else DayKind.WORKDAY)


class AbsenceKind(StrEnum):
    LEAVE = "leave"  # 请假
    TRIP = "trip"  # 出差
    DUTY = "duty"  # 公务外出


@dataclass(frozen=True)
class Absence:
    """An approved absence from ``starts_at`` (inclusive) to ``ends_at`` (exclusive)."""

    absence_id: str
    staff_id: str
    kind: AbsenceKind
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise WorkingTimeError(
                f"ends_at: {self.ends_at.isoformat()} is not after starts_at {self.starts_at.isoformat()}"
            )

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.starts_at <= start and end <= self.ends_at
