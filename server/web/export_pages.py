"""Exports (and replays) from the pages as background jobs (server/reports/jobs.py): POST /exports starts one and
sends the browser to its page, which shows done/total (polled by export_job.js, or reloaded every
2 s by a meta refresh without JavaScript) and, when it is done, the download; or the message saying
why nothing was exported (an empty month, an unknown department). A job is its starter's alone."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from server.reports.exports import ExportFormat, ExportKind, ExportSpec
from server.reports.jobs import ExportJob, ReportServices, TooManyJobs
from server.reports.replay_job import ReplaySpec
from server.services.auth import Principal
from server.web import session
from server.web.forms import FormErrors, read_form
from server.web.rendering import page_router, render, today_in_office, translator

export_router = page_router()


def _spec(form: dict[str, str]) -> ExportSpec:
    try:
        kind = ExportKind(form.get("kind", ""))
    except ValueError:
        raise ValueError(f"kind: {form.get('kind')!r}; one of monthly, summary, register") from None
    try:
        file_format = ExportFormat(form.get("format", ""))
    except ValueError:
        raise ValueError(f"format: {form.get('format')!r}; one of xlsx, csv") from None
    year_text = form.get("year", "").strip()
    if kind is ExportKind.REGISTER and not year_text.isdigit():
        raise ValueError(f"year: {year_text!r} is not a year, e.g. 2026")
    return ExportSpec(
        kind,
        file_format,
        month=form.get("month", "").strip() or None,
        department_id=form.get("department", "").strip() or None,
        year=int(year_text) if year_text.isdigit() else None,
    )


@export_router.post("/exports")
async def start_export(request: Request) -> Response:
    form = await read_form(request)
    principal: Principal = request.state.principal
    reports: ReportServices = request.app.state.reports
    try:
        job = reports.jobs.start(principal.username, _spec(form))
    except ValueError as exc:
        context = {"job": None, "problem": ("export.bad_field", {"message": str(exc)}), "heading": "",
                   "back": "/attendance/month"}  # fmt: skip
        return render(request, "export_job.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except TooManyJobs:
        context = {"job": None, "problem": ("export.busy", {}), "heading": "", "back": "/attendance/month"}
        return render(request, "export_job.html", context, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return session.redirect(request, f"/exports/{job.job_id}")


def _job(request: Request, job_id: str) -> ExportJob:
    principal: Principal = request.state.principal
    reports: ReportServices = request.app.state.reports
    job = reports.jobs.get(job_id, principal.username)
    if job is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"job_id: no export {job_id!r} of yours (kept for an hour)"
        )
    return job


def _describe(request: Request, job: ExportJob) -> tuple[str, str]:
    """The job page's heading and where its back link goes."""
    t = translator(request)
    spec = job.spec
    if isinstance(spec, ReplaySpec):
        query = urlencode({"from": spec.start.isoformat(), "to": spec.end.isoformat()})
        return t.text("replay.job_title", start=spec.start.isoformat(), end=spec.end.isoformat()), (
            f"/attendance/replay?{query}"
        )
    what = " ".join(
        str(part)
        for part in (t.text(f"export.kind.{spec.kind.value}"), spec.department_id, spec.month or spec.year)
        if part
    )
    back = {"department": spec.department_id or "", "month": spec.month or ""}
    return f"{what} ({spec.format.value.upper()})", "/attendance/month?" + urlencode(
        {k: v for k, v in back.items() if v}
    )


@export_router.get("/exports/{job_id}")
def export_page(request: Request, job_id: str) -> Response:
    job = _job(request, job_id)
    heading, back = _describe(request, job)
    shown_text = None
    if job.file is not None and job.file.content_type.startswith("text/plain"):
        shown_text = job.file.content.decode()  # a replay's report is read on the page
    context = {"job": job, "status": job.as_status(), "problem": None, "heading": heading, "back": back,
               "shown_text": shown_text}  # fmt: skip
    return render(request, "export_job.html", context)


@export_router.get("/attendance/replay")
def replay_form(request: Request) -> Response:
    today = today_in_office(request, request.app.state.attendance.engine.clock())
    form = {
        "from": request.query_params.get("from") or (today - timedelta(days=30)).isoformat(),
        "to": request.query_params.get("to") or (today - timedelta(days=1)).isoformat(),
    }
    return render(request, "attendance_replay.html", {"form": form})


@export_router.post("/attendance/replay")
async def start_replay(request: Request) -> Response:
    form = await read_form(request)
    errors = FormErrors()
    errors.required(form, "from", "to")
    days: dict[str, date] = {}
    for name in ("from", "to"):
        if form.get(name):
            try:
                days[name] = date.fromisoformat(form[name].strip())
            except ValueError:
                errors.add(name, "replay.bad_date")
    if not errors:
        spec = ReplaySpec(days["from"], days["to"])
        try:
            spec.check()
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            errors.add(field if field in ("from", "to") else "", "replay.refused", detail=str(exc))
    if errors:
        context = {"form": form, "errors": errors.as_context()}
        return render(
            request, "attendance_replay.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    principal: Principal = request.state.principal
    reports: ReportServices = request.app.state.reports
    try:
        job = reports.jobs.start(principal.username, spec)
    except TooManyJobs:
        context = {"job": None, "problem": ("export.busy", {}), "heading": "", "back": "/attendance/replay"}
        return render(request, "export_job.html", context, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return session.redirect(request, f"/exports/{job.job_id}")


@export_router.get("/exports/{job_id}/status", response_class=JSONResponse)
def export_status(request: Request, job_id: str) -> JSONResponse:
    return JSONResponse(_job(request, job_id).as_status(), headers={"Cache-Control": "no-store"})


@export_router.get("/exports/{job_id}/file")
def export_file(request: Request, job_id: str) -> Response:
    job = _job(request, job_id)
    if job.file is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"job_id: export {job_id!r} has no file ({job.state.value})"
        )
    return Response(
        job.file.content,
        media_type=job.file.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{job.file.filename}"',
            "Cache-Control": "no-store",
        },
    )
