"""/audit: the audit log (an admin's), filtered by actor, action and days in the office's zone, and
the result of verifying its hash chain (/audit/verify), the same check as ``kaoqin audit verify``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.adapters.audit_log import AuditLog
from server.web.form_checks import day_range, parse_day
from server.web.forms import FormErrors
from server.web.rendering import office_zone, page_router, render

audit_router = page_router()

LIMIT = 500


@audit_router.get("/audit")
async def audit_log_page(request: Request) -> Response:
    log: AuditLog = request.app.state.audit_log
    query = dict(request.query_params)
    errors = FormErrors()
    since, until = parse_day(errors, query, "since"), parse_day(errors, query, "until")
    if since and until and until < since:
        errors.add("until", "incidents.filter.until_before_since")
    start, end = day_range(since, until, office_zone(request))
    entries = []
    if not errors:
        entries = await run_in_threadpool(
            log.search, query.get("actor", "").strip() or None, query.get("action") or None, start, end, LIMIT
        )
    actions = await run_in_threadpool(log.actions)
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "limit": LIMIT,
            "action_options": [(a, a) for a in actions],
            "form": query,
            "errors": errors.as_context(),
            "report": None,
        },
        status_code=422 if errors else 200,
    )


@audit_router.get("/audit/verify")
async def verify_page(request: Request) -> Response:
    log: AuditLog = request.app.state.audit_log
    report = await run_in_threadpool(log.verify)
    return render(request, "audit_verify.html", {"report": report})
