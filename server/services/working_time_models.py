"""Working time as the API and the database hold it (pydantic), and its conversion to domain values.

The same models validate a request body and the JSON stored in ``timetables.versions``, so what
the API accepted is what the engine reads.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated

import chinese_calendar
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from server.domain.working_time import (
    Absence,
    AbsenceKind,
    CalendarDay,
    DayKind,
    PunchPolicy,
    Session,
    Timetable,
    TimetableVersion,
    WorkCalendar,
    WorkingTimeError,
    validate_timetable,
)

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _month_day(value: str) -> str:
    match = _MONTH_DAY.match(value)
    if not match:
        raise ValueError(f"use MM-DD, e.g. 05-01 (got {value!r})")
    try:
        date(2024, int(match[1]), int(match[2]))
    except ValueError:
        raise ValueError(f"{value!r} is not a day of the year") from None
    return value


MonthDay = Annotated[str, AfterValidator(_month_day)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionIn(_Model):
    name: str = Field(min_length=1, max_length=32, examples=["morning"])
    start: time = Field(examples=["08:30"])
    end: time = Field(examples=["12:00"])
    ends_next_day: bool = Field(default=False, description="an overnight shift ends the next day")


class TimetableVersionIn(_Model):
    name: str = Field(min_length=1, max_length=32, examples=["summer"])
    valid_from: MonthDay = Field(description="first day of each year it applies, MM-DD", examples=["05-01"])
    valid_to: MonthDay = Field(
        description="last day (inclusive), MM-DD; may wrap the new year", examples=["09-30"]
    )
    sessions: list[SessionIn] = Field(min_length=1)
    grace_minutes: int = Field(default=0, ge=0, le=240)
    in_window_minutes: int = Field(default=60, ge=0, le=720, description="an in-punch counts this early")
    out_window_minutes: int = Field(default=240, ge=0, le=720, description="an out-punch counts this late")


class TimetableIn(_Model):
    """A timetable: seasonal versions of the sessions, and which punches a day asks for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Bureau standard",
                    "policy": "four_punches",
                    "require_biometric": True,
                    "versions": [
                        {
                            "name": "summer",
                            "valid_from": "05-01",
                            "valid_to": "09-30",
                            "grace_minutes": 5,
                            "sessions": [
                                {"name": "morning", "start": "08:00", "end": "12:00"},
                                {"name": "afternoon", "start": "15:00", "end": "18:00"},
                            ],
                        },
                        {
                            "name": "winter",
                            "valid_from": "10-01",
                            "valid_to": "04-30",
                            "grace_minutes": 5,
                            "sessions": [
                                {"name": "morning", "start": "08:30", "end": "12:00"},
                                {"name": "afternoon", "start": "14:30", "end": "17:30"},
                            ],
                        },
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255)
    policy: PunchPolicy = PunchPolicy.FOUR_PUNCHES
    require_biometric: bool = False
    versions: list[TimetableVersionIn] = Field(min_length=1)

    def to_domain(self, timetable_id: str) -> Timetable:
        def md(value: str) -> tuple[int, int]:
            month, day = value.split("-")
            return int(month), int(day)

        return Timetable(
            timetable_id=timetable_id,
            name=self.name,
            policy=self.policy,
            require_biometric=self.require_biometric,
            versions=tuple(
                TimetableVersion(
                    name=v.name,
                    valid_from=md(v.valid_from),
                    valid_to=md(v.valid_to),
                    sessions=tuple(Session(s.name, s.start, s.end, s.ends_next_day) for s in v.sessions),
                    grace_minutes=v.grace_minutes,
                    in_window_minutes=v.in_window_minutes,
                    out_window_minutes=v.out_window_minutes,
                )
                for v in self.versions
            ),
        )

    @model_validator(mode="after")
    def _consistent(self) -> TimetableIn:
        try:
            validate_timetable(self.to_domain("new"))
        except WorkingTimeError as exc:
            raise ValueError(str(exc)) from None
        return self


class AbsenceIn(_Model):
    """Approved leave (请假), a business trip (出差) or official duty away (公务外出)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "staff_id": "s-0001",
                    "kind": "leave",
                    "starts_at": "2025-03-03T00:00:00+08:00",
                    "ends_at": "2025-03-04T00:00:00+08:00",
                    "reason": "sick leave",
                    "approved_by": "hr-li",
                }
            ]
        },
    )

    staff_id: Id
    kind: AbsenceKind
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)
    approved_by: str = Field(min_length=1, max_length=255, description="who approved it")

    @model_validator(mode="after")
    def _ordered(self) -> AbsenceIn:
        if self.ends_at <= self.starts_at:
            raise ValueError(
                f"ends_at ({self.ends_at.isoformat()}) must be after starts_at ({self.starts_at.isoformat()})"
            )
        return self

    def to_domain(self, absence_id: str) -> Absence:
        return Absence(absence_id, self.staff_id, self.kind, self.starts_at, self.ends_at)


def national_calendar(start: date, end: date, overrides: dict[date, CalendarDay]) -> WorkCalendar:
    """The national holidays and make-up working days (调休) from ``chinese-calendar`` for
    ``start``..``end`` inclusive, with the office's overrides on top."""
    days: dict[date, CalendarDay] = {}
    current = start
    while current <= end:
        weekend = current.weekday() >= 5
        try:
            holiday, name = chinese_calendar.get_holiday_detail(current)
        except NotImplementedError:  # a year the package does not know yet: weekdays and overrides
            holiday, name = weekend, None
        if holiday and name:
            days[current] = CalendarDay(DayKind.HOLIDAY, str(name))
        elif not holiday and weekend:
            days[current] = CalendarDay(DayKind.WORKDAY, "make-up working day (调休)")
        current = date.fromordinal(current.toordinal() + 1)
    days.update({d: v for d, v in overrides.items() if start <= d <= end})
    return WorkCalendar(days)


def calendar_exceptions(
    start: date, end: date, overrides: dict[date, CalendarDay]
) -> list[dict[str, object]]:
    """Days of ``start``..``end`` that differ from Monday-Friday work, in order: national holidays,
    make-up working days and the office's overrides, each with where it comes from."""
    days = national_calendar(start, end, overrides).days
    return [
        {
            "day": d,
            "kind": v.kind.value,
            "name": v.name,
            "source": "override" if d in overrides else "national",
        }
        for d, v in sorted(days.items())
    ]
