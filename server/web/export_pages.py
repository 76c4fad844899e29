"""Exports from the pages as background jobs (server/reports/jobs.py): POST /exports starts one and
sends the browser to its page, which shows done/total (polled by export_job.js, or reloaded every
2 s by a meta refresh without JavaScript) and, when it is done, the download; or the message saying
why nothing was exported (an empty month, an unknown department). A job is its starter's alone."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse, Response

from server.reports.exports import ExportFormat, ExportKind, ExportSpec
from server.reports.jobs import ExportJob, ReportServices, TooManyJobs
from server.services.auth import Principal
from server.web import session
from server.web.forms import read_form
from server.web.rendering import page_router, render

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
        context = {"job": None, "problem": ("export.bad_field", {"message": str(exc)})}
        return render(request, "export_job.html", context, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    except TooManyJobs:
        context = {"job": None, "problem": ("export.busy", {})}
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


@export_router.get("/exports/{job_id}")
def export_page(request: Request, job_id: str) -> Response:
    job = _job(request, job_id)
    return render(request, "export_job.html", {"job": job, "status": job.as_status(), "problem": None})


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
