"""Attendance pages: the day view of a department, the monthly sheet (people x days with the marks,
totals, exports and charts) and a person's month with every punch, face check-in and snapshot.
Times are the office's wall clock. Staff are confined by the access policy: ``/attendance`` sends
them to their own month, and another person's month is a 403 page (OWN.STAFF_PATH)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from server.adapters import tables
from server.api.attendance_deps import AttendanceServices
from server.reports import charts
from server.reports.jobs import ReportServices
from server.reports.model import MARKS, TOTAL_COLUMNS, EmptyReport, month_bounds
from server.services.auth import Principal, Role
from server.web import session
from server.web.rendering import local_time, office_zone, page_router, render, today_in_office
from server.web.today import day_bounds

attendance_pages_router = page_router()


def _services(request: Request) -> tuple[AttendanceServices, ReportServices]:
    return request.app.state.attendance, request.app.state.reports


def _this_month(request: Request) -> str:
    services, _ = _services(request)
    return today_in_office(request, services.engine.clock()).isoformat()[:7]


def _month_or_422(request: Request, value: str | None) -> tuple[str, date, date] | None:
    month = value or _this_month(request)
    try:
        start, end = month_bounds(month)
    except ValueError:
        return None
    return month, start, end


def _department(services: AttendanceServices, department_id: str | None) -> tuple[list[dict[str, Any]], Any]:
    departments = services.store.departments()
    if not departments:
        return departments, None
    wanted = department_id or departments[0]["department_id"]
    return departments, next((d for d in departments if d["department_id"] == wanted), None)


@attendance_pages_router.get("/attendance")
def day_view(request: Request, department: str | None = None, day: str | None = None) -> Response:
    principal: Principal = request.state.principal
    if principal.role is Role.STAFF:  # staff have their own month only
        target = f"/attendance/staff/{principal.staff_id}" if principal.staff_id else "/me"
        return session.redirect(request, target)
    services, _ = _services(request)
    departments, chosen = _department(services, department)
    context: dict[str, Any] = {"departments": departments, "chosen": chosen, "rows": [], "error": None}
    try:
        the_day = date.fromisoformat(day) if day else today_in_office(request, services.engine.clock())
    except ValueError:
        context.update(error=("attendance.bad_day", {}), day=day or "")
        return render(request, "attendance_day.html", context, status_code=422)
    context["day"] = the_day.isoformat()
    if department and chosen is None:
        context["error"] = ("attendance.unknown_department", {"department": department})
        return render(request, "attendance_day.html", context, status_code=404)
    if chosen is None:
        return render(request, "attendance_day.html", context)
    decided = {
        r["staff_id"]: r
        for r in services.decisions.days(the_day, the_day, department_id=chosen["department_id"])
    }
    since, until = day_bounds(the_day, services.settings.zone)
    people = [p for p in services.store.staff(department_id=chosen["department_id"]) if p["active"]]
    marks = _check_ins(request, people, since, until)
    for person in people:
        row = decided.get(person["staff_id"])
        context["rows"].append(
            {
                "person": person,
                "status": row["status"] if row else "pending",
                "late": row["late_minutes"] if row else None,
                "early": row["early_minutes"] if row else None,
                "marks": marks.get(person["staff_id"], []),
            }
        )
    context["undecided"] = any(r["status"] == "pending" for r in context["rows"])
    return render(request, "attendance_day.html", context)


def _check_ins(
    request: Request, people: list[dict[str, Any]], since: datetime, until: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Each person's punches (by their terminal user ids) and face check-ins in [since, until), in
    time order, with the face's liveness and whether it has a snapshot. Two queries for all of them."""
    engine = request.app.state.kaoqin.engine
    by_pin = {pin: p["staff_id"] for p in people for pin in p["terminal_user_ids"]}
    ids = {p["staff_id"] for p in people}
    p, f = tables.punches, tables.face_observations
    found: dict[str, list[dict[str, Any]]] = {s: [] for s in ids}
    with engine.connect() as c:
        for r in c.execute(
            select(p.c.event_id, p.c.user_id, p.c.occurred_at, p.c.device_serial, p.c.verify_method).where(
                p.c.user_id.in_(list(by_pin)), p.c.occurred_at >= since, p.c.occurred_at < until
            )
        ):
            found[by_pin[r.user_id]].append(
                {"kind": "punch", "event_id": r.event_id, "at": r.occurred_at, "device": r.device_serial,
                 "how": r.verify_method, "liveness": None, "snapshot": False}
            )  # fmt: skip
        for r in c.execute(
            select(
                f.c.event_id, f.c.staff_id, f.c.occurred_at, f.c.camera_id, f.c.outcome, f.c.liveness,
                f.c.snapshot_jpeg.is_not(None).label("has_snapshot"),
            ).where(f.c.staff_id.in_(list(ids)), f.c.occurred_at >= since, f.c.occurred_at < until)
        ):  # fmt: skip
            found[r.staff_id].append(
                {"kind": "face", "event_id": r.event_id, "at": r.occurred_at, "device": r.camera_id,
                 "how": r.outcome, "liveness": r.liveness, "snapshot": bool(r.has_snapshot)}
            )  # fmt: skip
    for items in found.values():
        items.sort(key=lambda m: m["at"])
    return found


@attendance_pages_router.get("/attendance/month")
def month_view(request: Request, department: str | None = None, month: str | None = None) -> Response:
    services, reports = _services(request)
    departments, chosen = _department(services, department)
    picked = _month_or_422(request, month)
    context: dict[str, Any] = {"departments": departments, "chosen": chosen, "sheet": None, "error": None,
                               "empty": None, "month": month or _this_month(request), "totals": TOTAL_COLUMNS,
                               "year": None}  # fmt: skip
    if picked is None:
        context["error"] = ("attendance.bad_month", {})
        return render(request, "attendance_month.html", context, status_code=422)
    context["month"] = picked[0]
    context["year"] = picked[1].year
    if department and chosen is None:
        context["error"] = ("attendance.unknown_department", {"department": department})
        return render(request, "attendance_month.html", context, status_code=404)
    if chosen is None:
        return render(request, "attendance_month.html", context)
    try:
        context["sheet"] = reports.service.month_sheet(chosen["department_id"], picked[0])
        context["charts_in_english"] = charts.cjk_family() is None
    except EmptyReport:
        context["empty"] = {"department": chosen["name"], "month": picked[0]}
    return render(request, "attendance_month.html", context)


@attendance_pages_router.get("/attendance/charts/trend.png")
def trend_png(request: Request, month: str, department: str | None = None) -> Response:
    _, reports = _services(request)
    try:
        month_bounds(month)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    trend = reports.service.daily_trend(month, department)
    what = None
    if department:
        names = {d["department_id"]: d["name"] for d in request.app.state.attendance.store.departments()}
        what = names.get(department, department)
    png = charts.trend_chart(trend, what, month)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@attendance_pages_router.get("/attendance/charts/uptime.png")
def uptime_png(request: Request, month: str) -> Response:
    _, reports = _services(request)
    try:
        month_bounds(month)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    png = charts.uptime_chart(reports.service.uptime(month), month)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@attendance_pages_router.get("/attendance/staff/{staff_id}")
def person_month(request: Request, staff_id: str, month: str | None = None) -> Response:
    services, _ = _services(request)
    people = services.store.staff(staff_id=staff_id)
    if not people:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"staff_id: no such staff member {staff_id!r}")
    person = people[0]
    picked = _month_or_422(request, month)
    context: dict[str, Any] = {"person": person, "days": [], "error": None, "month": month}
    if picked is None:
        context["error"] = ("attendance.bad_month", {})
        return render(request, "attendance_person.html", context, status_code=422)
    chosen, start, end = picked
    zone = office_zone(request)
    decided = {r["day"]: r for r in services.decisions.days(start, end, staff_id=staff_id)}
    since, _ = day_bounds(start, zone)
    _, until = day_bounds(end, zone)
    marks = _check_ins(request, [person], since, until)[staff_id]
    by_day: dict[date, list[dict[str, Any]]] = {}
    for mark in marks:
        by_day.setdefault(mark["at"].astimezone(zone).date(), []).append(mark)
    day = start
    while day <= end:
        row = decided.get(day)
        context["days"].append(
            {"day": day, "weekday": "一二三四五六日"[day.weekday()], "row": row,
             "status": row["status"] if row else "pending", "mark": MARKS.get(row["status"], "") if row else "",
             "marks": by_day.get(day, [])}
        )  # fmt: skip
        day += timedelta(days=1)
    context.update(
        month=chosen,
        previous=(start - timedelta(days=1)).isoformat()[:7],
        following=(end + timedelta(days=1)).isoformat()[:7],
        clock=lambda value: local_time(value, zone, "%H:%M:%S"),
    )
    return render(request, "attendance_person.html", context)


@attendance_pages_router.get("/attendance/staff/{staff_id}/snapshots/{event_id}")
def person_snapshot(request: Request, staff_id: str, event_id: str) -> Response:
    """A face check-in's snapshot, only one of this person's (biometric_view: the view is audited)."""
    f = tables.face_observations
    with request.app.state.kaoqin.engine.connect() as c:
        row = c.execute(select(f.c.staff_id, f.c.snapshot_jpeg).where(f.c.event_id == event_id)).first()
    if row is None or row.staff_id != staff_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"event_id: no face check-in {event_id!r} of {staff_id!r}"
        )
    if row.snapshot_jpeg is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"event_id: no snapshot of {event_id} (never sent, or purged)"
        )
    return Response(bytes(row.snapshot_jpeg), media_type="image/jpeg", headers={"Cache-Control": "no-store"})
