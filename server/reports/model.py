"""What a report holds, independent of its file format: the monthly sheet of a department (a row per
person, a mark per day, totals) and the department summary. Pure: built from plain rows, so the
layout tests and the writers need no database."""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from server.domain.working_time import DayKind, WorkCalendar

# The marks a Chinese office's sheet uses, by decided status.
MARKS: dict[str, str] = {
    "normal": "√",
    "late": "迟",
    "left_early": "早",
    "missing_punch": "缺",
    "absent": "旷",
    "leave": "假",
    "trip": "差",
    "duty": "公",
    "holiday": "休",
    "rest_day": "休",
}
# The legend row, in the order the sheet prints it.
LEGEND: tuple[tuple[str, str], ...] = (
    ("√", "出勤"),
    ("迟", "迟到"),
    ("早", "早退"),
    ("缺", "缺卡"),
    ("旷", "旷工"),
    ("假", "请假"),
    ("差", "出差"),
    ("公", "公务外出"),
    ("休", "休息日/节假日"),
)
PRESENT = frozenset({"normal", "late", "left_early", "missing_punch"})
AWAY_ON_DUTY = frozenset({"trip", "duty"})  # at work, officially elsewhere
OFF = frozenset({"holiday", "rest_day"})
WEEKDAYS_ZH = "一二三四五六日"

Progress = Callable[[int, int], None]  # (done, total)


class EmptyReport(ValueError):
    """Nothing to report; the message says what is missing and what to do."""


def month_bounds(month: str) -> tuple[date, date]:
    """``YYYY-MM`` -> first and last day; a bad month names the field."""
    try:
        year_text, number_text = month.split("-")
        year, number = int(year_text), int(number_text)
        if len(year_text) != 4 or len(number_text) != 2 or not 1 <= number <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"month: {month!r} is not a month; use YYYY-MM, e.g. 2026-11") from None
    return date(year, number, 1), date(year, number, month_calendar.monthrange(year, number)[1])


def month_title(month: str) -> str:
    start, _ = month_bounds(month)
    return f"{start.year}年{start.month}月"


@dataclass(frozen=True)
class SheetDay:
    day: date
    kind: DayKind
    holiday_name: str = ""

    @property
    def shaded(self) -> bool:
        return self.kind is not DayKind.WORKDAY

    @property
    def weekday_zh(self) -> str:
        return WEEKDAYS_ZH[self.day.weekday()]


@dataclass
class Totals:
    present_days: int = 0
    late_count: int = 0
    late_minutes: int = 0
    early_count: int = 0
    early_minutes: int = 0
    missing_punches: int = 0
    absent_days: int = 0
    leave_days: int = 0
    trip_days: int = 0
    duty_days: int = 0
    working_days: int = 0  # decided days that were not holidays or rest days

    def add(self, row: Mapping[str, Any]) -> None:
        status = row["status"]
        if status in OFF:
            return
        self.working_days += 1
        self.present_days += status in PRESENT
        # Late and early minutes are kept when the status names something more serious.
        self.late_count += row["late_minutes"] > 0
        self.late_minutes += row["late_minutes"]
        self.early_count += row["early_minutes"] > 0
        self.early_minutes += row["early_minutes"]
        self.missing_punches += row["missing_punches"]
        self.absent_days += status == "absent"
        self.leave_days += status == "leave"
        self.trip_days += status == "trip"
        self.duty_days += status == "duty"


# (header, attribute) of the totals columns, in sheet order.
TOTAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("出勤天数", "present_days"),
    ("迟到次数", "late_count"),
    ("迟到分钟", "late_minutes"),
    ("早退次数", "early_count"),
    ("早退分钟", "early_minutes"),
    ("缺卡次数", "missing_punches"),
    ("旷工天数", "absent_days"),
    ("请假天数", "leave_days"),
    ("出差天数", "trip_days"),
    ("公出天数", "duty_days"),
)


@dataclass
class PersonRow:
    staff_id: str
    name: str
    marks: dict[date, str] = field(default_factory=dict)  # a day without a mark is not decided yet
    totals: Totals = field(default_factory=Totals)


@dataclass
class MonthSheet:
    office_name: str
    department_id: str
    department_name: str
    month: str
    days: list[SheetDay]
    people: list[PersonRow]
    decided_days: int  # person-days decided; 0 means there is nothing to file

    @property
    def title(self) -> str:
        return f"{self.office_name} {month_title(self.month)} 考勤表"


def calendar_days(start: date, end: date, calendar: WorkCalendar) -> list[SheetDay]:
    days = []
    current = start
    while current <= end:
        known = calendar.day(current)
        days.append(SheetDay(current, known.kind, known.name))
        current += timedelta(days=1)
    return days


def build_month_sheet(
    office_name: str,
    department: Mapping[str, Any],
    month: str,
    calendar: WorkCalendar,
    staff: Iterable[Mapping[str, Any]],
    decided: Iterable[Mapping[str, Any]],
    progress: Progress | None = None,
) -> MonthSheet:
    """The sheet of ``department`` for ``month`` from its staff rows and decided-day rows
    (``staff_id``, ``day``, ``status``, ``late_minutes``, ``early_minutes``, ``missing_punches``).
    Active staff get a row; someone no longer active only if they have a decided day in the month."""
    start, end = month_bounds(month)
    by_person: dict[str, list[Mapping[str, Any]]] = {}
    for row in decided:
        if start <= row["day"] <= end:
            by_person.setdefault(row["staff_id"], []).append(row)
    people_rows = [s for s in staff if s.get("active", True) or s["staff_id"] in by_person]
    people = []
    for done, person in enumerate(people_rows, start=1):
        line = PersonRow(person["staff_id"], person["name"])
        for row in by_person.get(person["staff_id"], []):
            line.marks[row["day"]] = MARKS[row["status"]]
            line.totals.add(row)
        people.append(line)
        if progress:
            progress(done, len(people_rows))
    return MonthSheet(
        office_name=office_name,
        department_id=str(department["department_id"]),
        department_name=str(department["name"]),
        month=month,
        days=calendar_days(start, end, calendar),
        people=people,
        decided_days=sum(len(v) for k, v in by_person.items() if k in {p.staff_id for p in people}),
    )


@dataclass(frozen=True)
class DepartmentSummaryRow:
    department_id: str
    name: str
    headcount: int
    totals: Totals

    @property
    def present_rate(self) -> float | None:
        """Attended days (present, on a trip or on duty) over decided working days; None without any."""
        if not self.totals.working_days:
            return None
        attended = self.totals.present_days + self.totals.trip_days + self.totals.duty_days
        return attended / self.totals.working_days


def summarise(sheets: Iterable[MonthSheet]) -> list[DepartmentSummaryRow]:
    rows = []
    for sheet in sheets:
        totals = Totals()
        for person in sheet.people:
            for name in vars(totals):
                setattr(totals, name, getattr(totals, name) + getattr(person.totals, name))
        rows.append(
            DepartmentSummaryRow(sheet.department_id, sheet.department_name, len(sheet.people), totals)
        )
    return rows
