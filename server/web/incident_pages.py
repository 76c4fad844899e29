"""/incidents: the list with its filters, an inspector's report with attachments, and one incident
with its evidence, history and the actions the signed-in role may take in its state (review,
confirm or dismiss, explain, appeal, attach a file, issue a warning). Every step goes through the
incident and warning services, exactly as the API's."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from server.adapters.attendance_store import NotFoundError
from server.adapters.incident_store import IncidentQuery
from server.api.access_policy import Rule
from server.api.incident_routes import IncidentIn
from server.domain.incidents import (
    PROHIBITION_TEXT,
    IncidentAction,
    IncidentState,
    IncidentStateError,
    Prohibition,
    next_state,
)
from server.services.auth import Principal
from server.services.incidents import MAX_ATTACHMENT_BYTES, NewAttachment
from server.web import session
from server.web.form_checks import (
    add_service_refusal,
    add_validation_errors,
    day_range,
    parse_day,
    parse_local_datetime,
)
from server.web.forms import FormErrors
from server.web.rendering import office_zone, page_router, render, translator
from server.web.snapshots import attachment_response, snapshot_response

incident_router = page_router()

PAGE_SIZE = 200
REASON_LIMIT = 5000
# The action forms of the detail page and the route each posts to (its POLICY entry says who may).
_ACTION_ROUTES = {
    "review": "/incidents/{incident_id}/decision",
    "confirm": "/incidents/{incident_id}/decision",
    "dismiss": "/incidents/{incident_id}/decision",
    "explain": "/incidents/{incident_id}/explanation",
    "appeal": "/incidents/{incident_id}/appeal",
}


def _directory(request: Request) -> tuple[dict[str, str], dict[str, str]]:
    """Staff id -> name and department id -> name, to show people and departments by name."""
    store = request.app.state.attendance.store
    people = {p["staff_id"]: p["name"] for p in store.staff()}
    departments = {d["department_id"]: d["name"] for d in store.departments()}
    return people, departments


def prohibition_options() -> list[tuple[str, str]]:
    return [(p.value, f"{p.value} {PROHIBITION_TEXT[p]}") for p in Prohibition]


def _no_such(incident_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"incident_id: no such incident {incident_id!r}")


def _may(request: Request, method: str, path: str) -> bool:
    principal: Principal = request.state.principal
    rule: Rule | None = request.app.state.access.policy.get((method, path))
    return rule is not None and principal.role in rule.roles


# ---------------------------------------------------------------------------- the list
@incident_router.get("/incidents")
async def incident_list(request: Request) -> Response:
    """Server-side filters are query parameters (a filtered list is a link); a wrong value is named
    next to its filter."""
    query = dict(request.query_params)
    errors = FormErrors()
    for name, allowed in (("prohibition", {p.value for p in Prohibition}), ("state", set(IncidentState))):
        if query.get(name) and query[name] not in allowed:
            errors.add(name, "incidents.filter.bad_choice")
    since_day, until_day = parse_day(errors, query, "since"), parse_day(errors, query, "until")
    if since_day and until_day and until_day < since_day:
        errors.add("until", "incidents.filter.until_before_since")
    rows: list[dict[str, Any]] = []
    total = 0
    if not errors:
        since, until = day_range(since_day, until_day, office_zone(request))
        store = request.app.state.attendance.incidents.store
        rows, total = await run_in_threadpool(
            store.incidents,
            IncidentQuery(
                prohibition=query.get("prohibition") or None,
                state=query.get("state") or None,
                department_id=query.get("department") or None,
                staff_id=query.get("staff") or None,  # forced to their own id for a staff user
                since=since,
                until=until,
                limit=PAGE_SIZE,
            ),
        )
    people, departments = await run_in_threadpool(_directory, request)
    t = translator(request)
    return render(
        request,
        "incidents.html",
        {
            "rows": rows,
            "total": total,
            "shown": len(rows),
            "people": people,
            "departments": departments,
            "prohibition_options": prohibition_options(),
            "state_options": [(s.value, t(f"incidents.state.{s.value}")) for s in IncidentState],
            "department_options": sorted(departments.items()),
            "form": query,
            "errors": errors.as_context(),
            "may_report": _may(request, "POST", "/incidents"),
        },
        status_code=422 if errors else 200,
    )


# ---------------------------------------------------------------------------- reporting
@incident_router.get("/incidents/new")
async def report_form(request: Request) -> Response:
    return await _report_page(request, {"prohibition": "P2"}, FormErrors())


async def _report_page(
    request: Request, form: dict[str, str], errors: FormErrors, status_code: int = 200
) -> Response:
    people, _ = await run_in_threadpool(_directory, request)
    return render(
        request,
        "incident_report.html",
        {
            "form": form,
            "errors": errors.as_context(),
            "people": sorted(people.items()),
            "prohibition_options": prohibition_options(),
        },
        status_code=status_code,
    )


async def read_attachments(request: Request, errors: FormErrors) -> list[NewAttachment]:
    """The files posted in ``file`` (none is fine); each refusal is named next to the field."""
    posted = await request.form()
    files = []
    for item in posted.getlist("file"):
        if not isinstance(item, UploadFile) or not item.filename:
            continue  # the browser sends an empty part when no file was chosen
        content = await item.read(MAX_ATTACHMENT_BYTES + 1)
        attachment = NewAttachment(item.filename, item.content_type or "application/octet-stream", content)
        try:
            attachment.check()
        except ValueError as exc:
            add_service_refusal(errors, exc, {"file"})
        files.append(attachment)
    return files


@incident_router.post("/incidents")
async def report_incident(request: Request) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str) and k != session.CSRF_FIELD}
    principal: Principal = request.state.principal
    errors = FormErrors()
    errors.required(form, "staff_id", "prohibition", "summary", "occurred_at")
    errors.max_length(form, "summary", REASON_LIMIT)
    occurred_at = parse_local_datetime(errors, form, "occurred_at", office_zone(request))
    files = await read_attachments(request, errors)
    incident_id = None
    if not errors:
        place = form.get("place", "").strip()
        try:
            body = IncidentIn.model_validate(
                {
                    "staff_id": form["staff_id"].strip(),
                    "prohibition": form["prohibition"],
                    "summary": form["summary"].strip(),
                    "occurred_at": occurred_at,
                    "reported_by": principal.username,
                    "evidence": {"place": place} if place else {},
                }
            )
        except ValidationError as exc:
            add_validation_errors(errors, exc)
        else:
            try:
                incident_id = await run_in_threadpool(
                    request.app.state.attendance.incidents.report, body.model_dump(), files
                )
            except (NotFoundError, ValueError) as exc:
                add_service_refusal(errors, exc, {"staff_id", "file", "prohibition", "summary"})
    if errors or incident_id is None:
        return await _report_page(request, form, errors, status_code=422)
    session.flash(request, "incidents.reported", "success")
    return session.redirect(request, f"/incidents/{incident_id}")


# ---------------------------------------------------------------------------- one incident
def _actions(request: Request, incident: dict[str, Any], has_warning: bool) -> list[str]:
    """The actions open to this role in this state."""
    state = IncidentState(incident["state"])
    open_actions = []
    for name, path in _ACTION_ROUTES.items():
        try:
            next_state(state, IncidentAction(name))
        except IncidentStateError:
            continue
        if _may(request, "POST", path):
            open_actions.append(name)
    if (
        state is IncidentState.CONFIRMED
        and not has_warning
        and _may(request, "POST", "/incidents/{incident_id}/warning")
    ):
        open_actions.append("warn")
    return open_actions


@incident_router.get("/incidents/{incident_id}")
async def incident_detail(request: Request, incident_id: str) -> Response:
    return await _detail_page(request, incident_id, None, {}, FormErrors())


async def _detail_page(
    request: Request, incident_id: str, open_form: str | None, form: dict[str, str], errors: FormErrors
) -> Response:
    services = request.app.state.attendance
    try:
        incident = await run_in_threadpool(services.incidents.store.incident, incident_id)
    except NotFoundError:
        raise _no_such(incident_id) from None
    warnings = await run_in_threadpool(services.incidents.store.warnings, None, incident["staff_id"], None)
    own_warnings = [w for w in warnings if w["incident_id"] == incident_id]
    standing = any(w["withdrawn_at"] is None for w in own_warnings)
    people, departments = await run_in_threadpool(_directory, request)
    evidence = dict(incident["evidence"] or {})
    faces = [str(f) for f in evidence.pop("faces", [])]
    evidence.pop("snapshots", None)  # API paths: the page links its own audited snapshot route
    thresholds = evidence.pop("thresholds", {})
    return render(
        request,
        "incident_detail.html",
        {
            "incident": incident,
            "evidence": evidence,
            "thresholds": thresholds,
            "faces": faces,
            "people": people,
            "departments": departments,
            "warnings": own_warnings,
            "actions": _actions(request, incident, standing),
            "may_attach": _may(request, "POST", "/incidents/{incident_id}/attachments"),
            "open_form": open_form,
            "form": form,
            "errors": errors.as_context(),
        },
        status_code=422 if errors else 200,
    )


async def _statement(request: Request, incident_id: str, actions: set[str], form_name: str) -> Response:
    """A decision, explanation or appeal: a reason is required; the service checks the state."""
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str) and k != session.CSRF_FIELD}
    action = form.get("action", form_name)
    errors = FormErrors()
    if action not in actions:
        errors.add("", "incidents.action.unknown")
    errors.required(form, "reason")
    errors.max_length(form, "reason", REASON_LIMIT)
    if not errors:
        principal: Principal = request.state.principal
        act = request.app.state.attendance.incidents.act
        try:
            await run_in_threadpool(
                act, incident_id, IncidentAction(action), principal.username, form["reason"].strip()
            )
        except NotFoundError:
            raise _no_such(incident_id) from None
        except ValueError as exc:  # IncidentStateError: the incident moved on meanwhile
            add_service_refusal(errors, exc, set())
    if errors:
        return await _detail_page(request, incident_id, action, form, errors)
    session.flash(request, f"incidents.done.{action}", "success")
    return session.redirect(request, f"/incidents/{incident_id}")


@incident_router.post("/incidents/{incident_id}/decision")
async def decide(request: Request, incident_id: str) -> Response:
    return await _statement(request, incident_id, {"review", "confirm", "dismiss"}, "review")


@incident_router.post("/incidents/{incident_id}/explanation")
async def explain(request: Request, incident_id: str) -> Response:
    return await _statement(request, incident_id, {"explain"}, "explain")


@incident_router.post("/incidents/{incident_id}/appeal")
async def appeal(request: Request, incident_id: str) -> Response:
    return await _statement(request, incident_id, {"appeal"}, "appeal")


@incident_router.post("/incidents/{incident_id}/attachments")
async def attach(request: Request, incident_id: str) -> Response:
    errors = FormErrors()
    files = await read_attachments(request, errors)
    if not files and not errors:
        errors.add("file", "incidents.attach.choose")
    if not errors:
        principal: Principal = request.state.principal
        attach_file = request.app.state.attendance.incidents.attach
        for file in files:  # each checked already; the incident exists (the detail page was drawn)
            try:
                await run_in_threadpool(attach_file, incident_id, file, principal.username)
            except NotFoundError:
                raise _no_such(incident_id) from None
    if errors:
        return await _detail_page(request, incident_id, "attach", {}, errors)
    session.flash(request, "incidents.done.attach", "success", n=len(files))
    return session.redirect(request, f"/incidents/{incident_id}")


@incident_router.post("/incidents/{incident_id}/warning")
async def issue_warning(request: Request, incident_id: str) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str) and k != session.CSRF_FIELD}
    errors = FormErrors()
    errors.required(form, "reason")
    errors.max_length(form, "reason", REASON_LIMIT)
    if not errors:
        principal: Principal = request.state.principal
        issue = request.app.state.attendance.warnings.issue
        try:
            await run_in_threadpool(issue, incident_id, principal.username, form["reason"].strip())
        except NotFoundError:
            raise _no_such(incident_id) from None
        except ValueError as exc:
            add_service_refusal(errors, exc, set())
    if errors:
        return await _detail_page(request, incident_id, "warn", form, errors)
    session.flash(request, "incidents.done.warn", "success")
    return session.redirect(request, f"/incidents/{incident_id}")


@incident_router.get("/incidents/{incident_id}/attachments/{attachment_id}")
async def attachment(request: Request, incident_id: str, attachment_id: str) -> Response:
    """The file as uploaded (the policy audits every view, as on the API)."""
    return await run_in_threadpool(attachment_response, request, incident_id, attachment_id)


@incident_router.get("/incidents/{incident_id}/snapshots/{event_id}")
async def snapshot(request: Request, incident_id: str, event_id: str) -> Response:
    """A face check-in snapshot named in this incident's evidence (audited like the API's)."""
    return await run_in_threadpool(snapshot_response, request, incident_id, event_id)
