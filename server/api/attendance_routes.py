"""Working time and attendance under /api/v1: sites, departments, staff, timetables, holidays,
leave, decided days (a day per person, a month per department) and decision runs."""

from __future__ import annotations

import calendar as month_calendar
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.api.attendance_deps import Services, refusals
from server.api.attendance_schemas import (
    AbsenceCreated,
    AbsenceOut,
    AttendanceDayOut,
    DepartmentMonthOut,
    DepartmentOut,
    HolidayOut,
    RunReportOut,
    SiteOut,
    StaffOut,
    TimetableOut,
)
from server.domain.working_time import DayKind
from server.services.working_time_models import AbsenceIn, Id, TimetableIn, calendar_exceptions

attendance_router = APIRouter(prefix="/api/v1", tags=["attendance"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteDeviceIn(_In):
    device_id: Id = Field(examples=["SN-GATE-1"])
    kind: str = Field(pattern="^(terminal|camera)$", examples=["terminal"])
    linked_terminal: str | None = Field(default=None, description="for a camera: the terminal it watches")


class SiteIn(_In):
    name: str = Field(min_length=1, max_length=255, examples=["Main building"])
    devices: list[SiteDeviceIn] = Field(default_factory=list)


class TravelIn(_In):
    minutes: int = Field(ge=0, le=24 * 60, description="shortest plausible travel time", examples=[40])


class DepartmentIn(_In):
    name: str = Field(min_length=1, max_length=255, examples=["Social assistance division"])
    head_staff_id: Id | None = Field(default=None, description="the head (处室负责人), a staff id")


class StaffIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Zhao Min",
                    "department_id": "d-social",
                    "site_id": "main",
                    "timetable_id": "standard",
                    "terminal_user_ids": ["1001"],
                    "substitute_staff_id": "s-0002",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255)
    department_id: Id
    site_id: Id
    timetable_id: Id
    terminal_user_ids: list[str] = Field(default_factory=list, description="PINs on the terminals")
    substitute_staff_id: Id | None = Field(default=None, description="designated substitute (同岗替代)")
    active: bool = True


class OverrideIn(_In):
    kind: DayKind = Field(examples=["holiday"])
    name: str = Field(min_length=1, max_length=255, examples=["Bureau anniversary (local day off)"])


MAX_DECIDE_DAYS = 366
DECIDABLE = (date(2000, 1, 1), date(2200, 12, 31))


class DecideIn(_In):
    from_day: date = Field(alias="from", examples=["2025-06-01"])
    to_day: date = Field(alias="to", examples=["2025-06-30"])
    dry_run: bool = Field(default=False, description="report what would change, write nothing")


@attendance_router.put("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
def put_site(site_id: Id, body: SiteIn, services: Services) -> Response:
    """Create or replace a site and the terminals and cameras standing there."""
    with refusals():
        services.store.put_site(site_id, body.name, [d.model_dump() for d in body.devices])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.put("/sites/{from_site}/travel/{to_site}", status_code=status.HTTP_204_NO_CONTENT)
def put_travel(from_site: Id, to_site: Id, body: TravelIn, services: Services) -> Response:
    """The travel time between two sites (impossible-travel detector)."""
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        services.store.put_travel_time(from_site, to_site, body.minutes)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.get("/sites")
def list_sites(services: Services) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in services.store.sites()]


@attendance_router.put("/departments/{department_id}", status_code=status.HTTP_204_NO_CONTENT)
def put_department(department_id: Id, body: DepartmentIn, services: Services) -> Response:
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        services.store.put_department(department_id, body.name, body.head_staff_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.get("/departments")
def list_departments(services: Services) -> list[DepartmentOut]:
    return [DepartmentOut.model_validate(d) for d in services.store.departments()]


@attendance_router.put("/staff/{staff_id}", status_code=status.HTTP_204_NO_CONTENT)
def put_staff(staff_id: Id, body: StaffIn, services: Services) -> Response:
    """Create or replace a staff member with their terminal user ids and designated substitute."""
    values = body.model_dump(exclude={"terminal_user_ids"})
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        services.store.put_staff(staff_id, values, body.terminal_user_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.get("/staff")
def list_staff(services: Services, department: str | None = None) -> list[StaffOut]:
    return [StaffOut.model_validate(s) for s in services.store.staff(department_id=department)]


@attendance_router.put("/timetables/{timetable_id}", status_code=status.HTTP_204_NO_CONTENT)
def put_timetable(timetable_id: Id, body: TimetableIn, services: Services) -> Response:
    """Create or replace a timetable; it applies from the next decision run, no release needed."""
    services.store.put_timetable(timetable_id, body, datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.get("/timetables")
def list_timetables(services: Services) -> list[TimetableOut]:
    return [TimetableOut.model_validate(t) for t in services.store.timetables()]


@attendance_router.get("/holidays")
def list_holidays(
    services: Services,
    from_day: Annotated[date, Query(alias="from", examples=["2025-01-01"])],
    to_day: Annotated[date, Query(alias="to", examples=["2025-12-31"])],
) -> list[HolidayOut]:
    """Days that differ from Monday-Friday work: national holidays, make-up working days (调休)
    and the office's overrides."""
    if to_day < from_day or (to_day - from_day).days > 800:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="to: must be after from, within 800 days"
        )
    overrides = services.store.overrides(from_day, to_day)
    return [HolidayOut.model_validate(day) for day in calendar_exceptions(from_day, to_day, overrides)]


@attendance_router.put("/holidays/{day}", status_code=status.HTTP_204_NO_CONTENT)
def put_holiday(day: date, body: OverrideIn, services: Services) -> Response:
    """A local override of the national calendar (an office's own day off or extra working day)."""
    services.store.put_override(day, body.kind, body.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.delete("/holidays/{day}", status_code=status.HTTP_204_NO_CONTENT)
def delete_holiday(day: date, services: Services) -> Response:
    if not services.store.delete_override(day):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"day: no local override on {day.isoformat()}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.post("/leave", status_code=status.HTTP_201_CREATED)
def add_leave(body: AbsenceIn, services: Services) -> AbsenceCreated:
    """Record approved leave, a business trip or official duty; the days it covers are excused."""
    absence_id = str(uuid.uuid4())
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        services.store.add_absence(absence_id, body, datetime.now(UTC))
    return AbsenceCreated(absence_id=absence_id)


@attendance_router.get("/leave")
def list_leave(
    services: Services,
    staff: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> list[AbsenceOut]:
    return [AbsenceOut.model_validate(a) for a in services.store.absences(staff, since, until)]


@attendance_router.delete("/leave/{absence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_leave(absence_id: str, services: Services) -> Response:
    if not services.store.delete_absence(absence_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"absence_id: no such absence {absence_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@attendance_router.get("/attendance/days")
def list_days(
    services: Services,
    from_day: Annotated[date, Query(alias="from", examples=["2025-06-01"])],
    to_day: Annotated[date, Query(alias="to", examples=["2025-06-30"])],
    staff: str | None = None,
    department: str | None = None,
) -> list[AttendanceDayOut]:
    """Decided days, a day per person, with the sessions, marks and absences that decided them.
    A day not listed is pending: a device of the person's site has not reported past it yet."""
    days = services.decisions.days(from_day, to_day, staff_id=staff, department_id=department)
    return [AttendanceDayOut.model_validate(d) for d in days]


@attendance_router.get("/attendance/departments/{department_id}/month")
def department_month(
    department_id: str,
    services: Services,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2025-06"])],
) -> DepartmentMonthOut:
    """A month per department: each person's days and totals (late and early minutes, statuses)."""
    year, number = (int(x) for x in month.split("-"))
    if not 1 <= number <= 12:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"month: {month!r} has no month {number}"
        )
    start = date(year, number, 1)
    end = date(year, number, month_calendar.monthrange(year, number)[1])
    days = services.decisions.days(start, end, department_id=department_id)
    people: dict[str, dict[str, Any]] = {
        s["staff_id"]: {"staff_id": s["staff_id"], "name": s["name"], "days": [], "totals": {}}
        for s in services.store.staff(department_id=department_id)
    }
    for day in days:
        person = people.get(day["staff_id"])
        if person is None:
            continue
        person["days"].append(
            {k: day[k] for k in ("day", "status", "late_minutes", "early_minutes", "missing_punches")}
        )
        totals = person["totals"]
        totals[day["status"]] = totals.get(day["status"], 0) + 1
        totals["late_minutes"] = totals.get("late_minutes", 0) + day["late_minutes"]
        totals["early_minutes"] = totals.get("early_minutes", 0) + day["early_minutes"]
    return DepartmentMonthOut.model_validate(
        {"department_id": department_id, "month": month, "staff": list(people.values())}
    )


@attendance_router.post("/attendance/decide")
def decide(body: DecideIn, services: Services) -> RunReportOut:
    """Decide (or re-decide) the days of a range and bring P1/P6 incidents in step; ``dry_run``
    reports what would change."""
    if (body.to_day - body.from_day).days > MAX_DECIDE_DAYS:  # one request must not tie up the engine
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"to: at most {MAX_DECIDE_DAYS} days after from; decide a longer span in parts",
        )
    if body.from_day < DECIDABLE[0] or body.to_day > DECIDABLE[1]:  # the engine looks around the range
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"from, to: within {DECIDABLE[0].isoformat()}..{DECIDABLE[1].isoformat()}",
        )
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        report = services.engine.run(body.from_day, body.to_day, dry_run=body.dry_run)
    return RunReportOut.model_validate(
        {
            "decided": report.decided,
            "pending": report.pending,
            "changes": [vars(c) for c in report.changes],
            "raised": [f.key for f in report.incidents.raised],
            "withdrawn": [{"key": k, "reason": r} for k, r in report.incidents.withdrawn],
            "reinstated": report.incidents.reinstated,
            "dry_run": report.dry_run,
        }
    )
