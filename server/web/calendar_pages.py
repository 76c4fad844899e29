"""/calendar: timetables (sessions, seasonal versions, grace, punch policy) to view and edit, the
year's holidays (the national calendar with the office's overrides), and leave, trips and duty
away. Every form is checked by the API's own models (TimetableIn, AbsenceIn, OverrideIn)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from server.adapters.attendance_store import NotFoundError
from server.api.attendance_routes import OverrideIn
from server.domain.working_time import AbsenceKind, DayKind, PunchPolicy
from server.services.auth import Principal
from server.services.working_time_models import AbsenceIn, Id, TimetableIn, calendar_exceptions
from server.web import session
from server.web.form_checks import (
    REFUSED,
    add_service_refusal,
    add_validation_errors,
    day_range,
    parse_day,
    parse_local_datetime,
)
from server.web.forms import FormErrors, read_form
from server.web.rendering import office_zone, page_router, render, today_in_office, translator
from server.web.timetable_text import TimetableTextError, format_versions, parse_versions

calendar_router = page_router()

_ID = TypeAdapter(Id)


# ---------------------------------------------------------------------------- overview and holidays
@calendar_router.get("/calendar")
async def calendar_overview(request: Request) -> Response:
    return await _overview(request, {}, FormErrors())


async def _overview(request: Request, form: dict[str, str], errors: FormErrors, code: int = 200) -> Response:
    services = request.app.state.attendance
    year = today_in_office(request, services.engine.clock()).year
    asked = request.query_params.get("year", "")
    year_error = FormErrors()
    if asked:
        if asked.isdigit() and 2000 <= int(asked) <= 2200:
            year = int(asked)
        else:
            year_error.add("year", "warnings.bad_year")
    start, end = date(year, 1, 1), date(year, 12, 31)
    overrides = await run_in_threadpool(services.store.overrides, start, end)
    timetables = await run_in_threadpool(services.store.timetables)
    t = translator(request)
    return render(
        request,
        "calendar.html",
        {
            "year": year,
            "year_errors": year_error.as_context(),
            "days": calendar_exceptions(start, end, overrides),
            "timetables": timetables,
            "kind_options": [
                (k.value, t(f"calendar.day.{k.value}")) for k in DayKind if k is not DayKind.REST_DAY
            ],
            "form": form,
            "errors": errors.as_context(),
            "may_edit": _may_edit(request),
        },
        status_code=422 if year_error else code,
    )


def _may_edit(request: Request) -> bool:
    principal: Principal = request.state.principal
    rule = request.app.state.access.policy.get(("POST", "/calendar/holidays"))
    return rule is not None and principal.role in rule.roles


@calendar_router.post("/calendar/holidays")
async def save_override(request: Request) -> Response:
    form = await read_form(request)
    errors = FormErrors()
    errors.required(form, "day", "kind", "name")
    day = parse_day(errors, form, "day")
    body = None
    if not errors:
        try:
            body = OverrideIn.model_validate({"kind": form["kind"], "name": form["name"].strip()})
        except ValidationError as exc:
            add_validation_errors(errors, exc)
    if errors or body is None or day is None:
        return await _overview(request, form, errors, 422)
    await run_in_threadpool(request.app.state.attendance.store.put_override, day, body.kind, body.name)
    session.flash(request, "form.saved", "success")
    return session.redirect(request, f"/calendar?year={day.year}#holidays")


@calendar_router.post("/calendar/holidays/{day}/delete")
async def delete_override(request: Request, day: date) -> Response:
    if not await run_in_threadpool(request.app.state.attendance.store.delete_override, day):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"day: no local override on {day.isoformat()}")
    session.flash(request, "calendar.override_deleted", "success")
    return session.redirect(request, f"/calendar?year={day.year}#holidays")


# ---------------------------------------------------------------------------- timetables
@calendar_router.get("/calendar/timetables/new")
async def new_timetable(request: Request) -> Response:
    return _timetable_page(request, None, {"policy": PunchPolicy.FOUR_PUNCHES.value}, FormErrors())


@calendar_router.get("/calendar/timetables/{timetable_id}")
async def edit_timetable(request: Request, timetable_id: str) -> Response:
    found = [
        t
        for t in await run_in_threadpool(request.app.state.attendance.store.timetables)
        if t["timetable_id"] == timetable_id
    ]
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"timetable_id: no such timetable {timetable_id!r}")
    timetable = found[0]
    form = {
        "name": timetable["name"],
        "policy": timetable["policy"],
        "require_biometric": "on" if timetable["require_biometric"] else "",
        "versions": format_versions(timetable["versions"]),
    }
    return _timetable_page(request, timetable_id, form, FormErrors())


def _timetable_page(
    request: Request, timetable_id: str | None, form: dict[str, str], errors: FormErrors, code: int = 200
) -> Response:
    context = {
        "timetable_id": timetable_id,
        "form": form,
        "errors": errors.as_context(),
        "policy_options": [(p.value, translator(request)(f"calendar.policy.{p.value}")) for p in PunchPolicy],
        "may_edit": _may_edit(request),
    }
    return render(request, "calendar_timetable.html", context, status_code=code)


@calendar_router.post("/calendar/timetables")
async def save_timetable(request: Request) -> Response:
    form = await read_form(request)
    editing = form.get("editing", "")
    errors = FormErrors()
    timetable_id = editing or form.get("timetable_id", "").strip()
    if not editing:
        if not timetable_id:
            errors.add("timetable_id", "form.required")
        else:
            try:
                _ID.validate_python(timetable_id)
            except ValidationError:
                errors.add("timetable_id", "staff.bad_id")
    errors.required(form, "name", "versions")
    versions: list[dict[str, Any]] = []
    if form.get("versions", "").strip():
        try:
            versions = parse_versions(form["versions"])
        except TimetableTextError as exc:
            errors.add("versions", REFUSED, detail=str(exc))
    body = None
    if not errors:
        try:
            body = TimetableIn.model_validate(
                {
                    "name": form["name"].strip(),
                    "policy": form.get("policy", ""),
                    "require_biometric": form.get("require_biometric") == "on",
                    "versions": versions,
                }
            )
        except ValidationError as exc:
            # a version's own problem (or the whole timetable's, e.g. the year not covered) is the text's
            add_validation_errors(errors, exc, {"versions": "versions", "": "versions"})
    store = request.app.state.attendance.store
    if body is not None and not errors:
        existing = {t["timetable_id"] for t in await run_in_threadpool(store.timetables)}
        if not editing and timetable_id in existing:
            errors.add("timetable_id", "calendar.timetable_exists")
        else:
            await run_in_threadpool(store.put_timetable, timetable_id, body, datetime.now(UTC))
    if errors:
        return _timetable_page(request, editing or None, form, errors, 422)
    session.flash(request, "form.saved", "success")
    return session.redirect(request, f"/calendar/timetables/{timetable_id}")


# ---------------------------------------------------------------------------- leave, trips, duty
@calendar_router.get("/calendar/leave")
async def leave_list(request: Request) -> Response:
    return await _leave_page(request, {}, FormErrors())


async def _leave_page(
    request: Request, form: dict[str, str], errors: FormErrors, code: int = 200
) -> Response:
    services = request.app.state.attendance
    query = dict(request.query_params)
    filter_errors = FormErrors()
    since, until = parse_day(filter_errors, query, "since"), parse_day(filter_errors, query, "until")
    start, end = day_range(since, until, office_zone(request))
    rows = (
        []
        if filter_errors
        else await run_in_threadpool(services.store.absences, query.get("staff") or None, start, end)
    )
    people = {p["staff_id"]: p["name"] for p in await run_in_threadpool(services.store.staff)}
    principal: Principal = request.state.principal
    rule = request.app.state.access.policy.get(("POST", "/calendar/leave"))
    return render(
        request,
        "calendar_leave.html",
        {
            "rows": rows,
            "people": people,
            "staff_options": sorted(people.items()),
            "kind_options": [
                (k.value, translator(request)(f"calendar.absence.{k.value}")) for k in AbsenceKind
            ],
            "filters": query,
            "filter_errors": filter_errors.as_context(),
            "form": form or {"approved_by": principal.username},
            "errors": errors.as_context(),
            "may_edit": rule is not None and principal.role in rule.roles,
        },
        status_code=422 if filter_errors else code,
    )


@calendar_router.post("/calendar/leave")
async def add_leave(request: Request) -> Response:
    form = await read_form(request)
    errors = FormErrors()
    errors.required(form, "staff_id", "kind", "starts_at", "ends_at", "reason", "approved_by")
    zone = office_zone(request)
    starts_at = parse_local_datetime(errors, form, "starts_at", zone)
    ends_at = parse_local_datetime(errors, form, "ends_at", zone)
    body = None
    if not errors:
        try:
            body = AbsenceIn.model_validate(
                {
                    "staff_id": form["staff_id"],
                    "kind": form["kind"],
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "reason": form["reason"].strip(),
                    "approved_by": form["approved_by"].strip(),
                }
            )
        except ValidationError as exc:
            add_validation_errors(errors, exc, {"": "ends_at"})  # the one model-level check: the order
    if body is not None and not errors:
        try:
            await run_in_threadpool(
                request.app.state.attendance.store.add_absence, str(uuid.uuid4()), body, datetime.now(UTC)
            )
        except (NotFoundError, ValueError) as exc:
            add_service_refusal(errors, exc, {"staff_id", "starts_at", "ends_at"})
    if errors:
        return await _leave_page(request, form, errors, 422)
    session.flash(request, "calendar.leave_added", "success")
    return session.redirect(request, "/calendar/leave")


@calendar_router.post("/calendar/leave/{absence_id}/delete")
async def delete_leave(request: Request, absence_id: str) -> Response:
    if not await run_in_threadpool(request.app.state.attendance.store.delete_absence, absence_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"absence_id: no such absence {absence_id!r}")
    session.flash(request, "calendar.leave_deleted", "success")
    return session.redirect(request, "/calendar/leave")
