"""Reads what the reports show from the database: a department's month, every department's month,
the year's incidents and warnings, the daily late/absent counts behind the trend charts, and the
devices' uptime from their status reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from server.adapters import tables
from server.adapters import tables_attendance as t
from server.adapters.attendance_store import AttendanceStore, NotFoundError
from server.adapters.decision_store import DecisionStore
from server.reports.model import (
    DepartmentSummaryRow,
    EmptyReport,
    MonthSheet,
    Progress,
    build_month_sheet,
    month_bounds,
    summarise,
)
from server.reports.settings import ReportSettings
from server.services.working_time_models import national_calendar


@dataclass(frozen=True)
class Trend:
    """Per department (by id; ``names`` for a chart that can draw Chinese): how many people were late, and absent, on each point (a day or a month)."""

    labels: list[str]
    late: dict[str, list[int]]
    absent: dict[str, list[int]]
    names: dict[str, str] = field(default_factory=dict)  # department id -> name


@dataclass(frozen=True)
class Uptime:
    device_id: str
    kind: str
    fraction: float  # reachable time over the time its reports cover in the period
    reports: int


@dataclass
class Register:
    year: int
    incidents: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # staff id -> name
    departments: dict[str, str] = field(default_factory=dict)  # department id -> name


def _steps(progress: Progress | None, total: int) -> Callable[[int], None]:
    def step(done: int) -> None:
        if progress:
            progress(done, total)

    return step


class ReportService:
    def __init__(self, engine: Engine, settings: ReportSettings, zone: ZoneInfo) -> None:
        self.engine = engine
        self.settings = settings
        self.zone = zone
        self.store = AttendanceStore(engine)
        self.decisions = DecisionStore(engine)

    # ------------------------------------------------------------------ monthly sheets
    def department(self, department_id: str) -> dict[str, Any]:
        for department in self.store.departments():
            if department["department_id"] == department_id:
                return department
        known = ", ".join(d["department_id"] for d in self.store.departments()) or "none yet"
        raise NotFoundError(f"department: no such department {department_id!r} (known: {known})")

    def _sheet(self, department: dict[str, Any], month: str, progress: Progress | None = None) -> MonthSheet:
        start, end = month_bounds(month)
        calendar = national_calendar(start, end, self.store.overrides(start, end))
        department_id = department["department_id"]
        staff = self.store.staff(department_id=department_id)
        decided = self.decisions.days(start, end, department_id=department_id)
        return build_month_sheet(
            self.settings.office_name, department, month, calendar, staff, decided, progress
        )

    def month_sheet(self, department_id: str, month: str, progress: Progress | None = None) -> MonthSheet:
        """The department's sheet; EmptyReport when no day of the month is decided for anyone in it."""
        month_bounds(month)  # a bad month is named before anything is read
        department = self.department(department_id)
        sheet = self._sheet(department, month, progress)
        if not sheet.decided_days:
            raise EmptyReport(
                f"no attendance data for department {department_id!r} ({department['name']}) in {month}: "
                "no day of that month is decided for anyone in it (days are decided once every device "
                "of the site has reported past them; POST /api/v1/attendance/decide runs a range)"
            )
        return sheet

    def all_month_sheets(self, month: str, progress: Progress | None = None) -> list[MonthSheet]:
        """Every department's sheet (departments without data too, so the summary lists them)."""
        month_bounds(month)
        departments = self.store.departments()
        step = _steps(progress, len(departments))
        sheets = []
        for done, department in enumerate(departments, start=1):
            sheets.append(self._sheet(department, month))
            step(done)
        if not any(s.decided_days for s in sheets):
            raise EmptyReport(
                f"no attendance data in {month}: no day of that month is decided for anyone "
                "(POST /api/v1/attendance/decide runs a range)"
            )
        return sheets

    def summary(self, month: str, progress: Progress | None = None) -> list[DepartmentSummaryRow]:
        return summarise(self.all_month_sheets(month, progress))

    # ------------------------------------------------------------------ trends
    def daily_trend(self, month: str, department_id: str | None = None) -> Trend:
        start, end = month_bounds(month)
        points = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        return self._trend(
            start, end, department_id, [p.isoformat() for p in points], lambda d: d.isoformat()
        )

    def monthly_trend(self, year: int, department_id: str | None = None) -> Trend:
        labels = [f"{year}-{m:02d}" for m in range(1, 13)]
        return self._trend(
            date(year, 1, 1), date(year, 12, 31), department_id, labels, lambda d: d.isoformat()[:7]
        )

    def _trend(
        self,
        start: date,
        end: date,
        department_id: str | None,
        labels: list[str],
        point_of: Callable[[date], str],
    ) -> Trend:
        names = {d["department_id"]: d["name"] for d in self.store.departments()}
        department_of = {s["staff_id"]: s["department_id"] for s in self.store.staff()}
        wanted = [department_id] if department_id else list(names)
        index = {label: n for n, label in enumerate(labels)}
        late = {d: [0] * len(labels) for d in wanted if d in names}
        absent = {d: [0] * len(labels) for d in wanted if d in names}
        for row in self.decisions.days(start, end, department_id=department_id):
            name = department_of.get(row["staff_id"], "")
            if name not in late:
                continue
            n = index[point_of(row["day"])]
            late[name][n] += row["late_minutes"] > 0
            absent[name][n] += row["status"] == "absent"
        return Trend(labels, late, absent, {d: names[d] for d in late})

    # ------------------------------------------------------------------ devices
    def uptime(self, month: str) -> list[Uptime]:
        """Each device's reachable share of the month, weighting each status report by the time until
        the next one (the last report counts up to the month's end or now, whichever is first)."""
        start, end = month_bounds(month)
        since = datetime.combine(start, time(0), self.zone)
        until = min(datetime.combine(end + timedelta(days=1), time(0), self.zone), datetime.now(UTC))
        r = tables.device_status_reports
        query = (
            select(r.c.device_id, r.c.device_kind, r.c.occurred_at, r.c.reachable)
            .where(r.c.occurred_at >= since, r.c.occurred_at < until)
            .order_by(r.c.device_id, r.c.occurred_at)
        )
        by_device: dict[str, list[Any]] = defaultdict(list)
        with self.engine.connect() as c:
            for row in c.execute(query):
                by_device[row.device_id].append(row)
        result = []
        for device_id, rows in sorted(by_device.items()):
            up = covered = 0.0
            for row, following in zip(rows, [*rows[1:], None], strict=True):
                ends = following.occurred_at if following is not None else until
                span = max((ends - row.occurred_at).total_seconds(), 0.0)
                covered += span
                up += span if row.reachable else 0.0
            fraction = up / covered if covered else (1.0 if rows[-1].reachable else 0.0)
            result.append(Uptime(device_id, rows[0].device_kind, fraction, len(rows)))
        return result

    # ------------------------------------------------------------------ the year's register
    def register(self, year: int, progress: Progress | None = None) -> Register:
        """Incidents that occurred in ``year`` (office zone) and warnings of that year, heads'
        escalations included; EmptyReport when there are neither."""
        if not 2000 <= year <= 2200:
            raise ValueError(f"year: {year} is outside 2000..2200")
        since = datetime.combine(date(year, 1, 1), time(0), self.zone)
        until = datetime.combine(date(year + 1, 1, 1), time(0), self.zone)
        i, w = t.incidents, t.efficiency_warnings
        with self.engine.connect() as c:
            incidents = [
                dict(row)
                for row in c.execute(
                    select(i)
                    .where(i.c.occurred_at >= since, i.c.occurred_at < until)
                    .order_by(i.c.occurred_at, i.c.incident_id)
                ).mappings()
            ]
            warnings = [
                dict(row)
                for row in c.execute(
                    select(w).where(w.c.year == year).order_by(w.c.issued_at, w.c.warning_id)
                ).mappings()
            ]
        if progress:
            progress(1, 2)
        if not incidents and not warnings:
            raise EmptyReport(f"no incidents and no warnings in {year}: the register would be empty")
        register = Register(
            year,
            incidents,
            warnings,
            names={s["staff_id"]: s["name"] for s in self.store.staff()},
            departments={d["department_id"]: d["name"] for d in self.store.departments()},
        )
        if progress:
            progress(2, 2)
        return register
