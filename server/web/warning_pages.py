"""/warnings: the register of efficiency warnings by year, person and department, each head's
escalation linked to the staff warnings that caused it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.web.forms import FormErrors
from server.web.rendering import page_router, render, today_in_office

warning_router = page_router()


@warning_router.get("/warnings")
async def warning_register(request: Request) -> Response:
    services = request.app.state.attendance
    query = dict(request.query_params)
    errors = FormErrors()
    year = today_in_office(request, services.engine.clock()).year
    if query.get("year", "").strip():
        try:
            year = int(query["year"])
            if not 2000 <= year <= 2200:
                raise ValueError
        except ValueError:
            errors.add("year", "warnings.bad_year")
    query["year"] = query.get("year") or str(year)
    rows: list[dict[str, Any]] = []
    if not errors:
        rows = await run_in_threadpool(
            services.incidents.store.warnings,
            year,
            query.get("staff") or None,  # forced to their own id for a staff user
            query.get("department") or None,
        )
    store = services.store
    people = {p["staff_id"]: p["name"] for p in await run_in_threadpool(store.staff)}
    departments = {d["department_id"]: d["name"] for d in await run_in_threadpool(store.departments)}
    # An escalation lists the warnings that caused it; each staff warning names the escalation it fed.
    escalated_by: dict[str, str] = {}
    for row in rows:
        for cause in row["caused_by"] or []:
            escalated_by[cause] = row["warning_id"]
    return render(
        request,
        "warnings.html",
        {
            "rows": rows,
            "people": people,
            "departments": departments,
            "escalated_by": escalated_by,
            "form": query,
            "errors": errors.as_context(),
        },
        status_code=422 if errors else 200,
    )
