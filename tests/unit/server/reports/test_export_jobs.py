"""Export jobs (server/reports/jobs.py) with a producer that the test steps through: progress is
visible while the job runs, the file once it is done, the reason when there is nothing to export;
a job is its starter's alone, and finished jobs are forgotten after an hour."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from server.reports import jobs as jobs_module
from server.reports.exports import ExportFile, ExportFormat, ExportKind, ExportSpec
from server.reports.jobs import ExportJob, ExportJobs, JobState, TooManyJobs
from server.reports.model import EmptyReport
from tests.support.processes import wait_until

SPEC = ExportSpec(ExportKind.MONTHLY, ExportFormat.XLSX, month="2026-11", department_id="social")


class SteppedProducer:
    """Reports step n of 3 each time the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Semaphore(0)

    def __call__(self, spec: ExportSpec, progress: Callable[[int, int], None]) -> ExportFile:
        for done in range(1, 4):
            assert self.release.acquire(timeout=10)
            progress(done, 3)
        return ExportFile(spec.filename, "application/x-test", b"sheet")


def finished(job: ExportJob) -> bool:
    return job.finished


def test_progress_is_visible_while_the_job_runs_and_the_file_once_done() -> None:
    producer = SteppedProducer()
    jobs = ExportJobs(producer)
    try:
        job = jobs.start("hr-li", SPEC)
        assert job.as_status()["state"] in ("queued", "running")
        producer.release.release()
        wait_until(lambda: job.as_status()["done"] == 1, 10, "the first step")
        status = job.as_status()
        assert (status["state"], status["done"], status["total"], status["percent"]) == ("running", 1, 3, 33)
        assert status["filename"] is None
        producer.release.release(2)
        wait_until(lambda: finished(job), 10, "the job")
        status = job.as_status()
        assert (status["state"], status["percent"], status["filename"]) == (
            "done",
            100,
            "attendance-social-2026-11.xlsx",
        )
        assert job.file is not None
        assert job.file.content == b"sheet"
    finally:
        jobs.shutdown()


def test_nothing_to_export_is_refused_with_its_reason_and_a_crash_is_failed() -> None:
    def empty(spec: ExportSpec, progress: Callable[[int, int], None]) -> ExportFile:
        raise EmptyReport("no attendance data for department 'social' in 2026-10")

    def crash(spec: ExportSpec, progress: Callable[[int, int], None]) -> ExportFile:
        raise RuntimeError("disk\nfull")

    for producer, state, message in ((empty, JobState.REFUSED, "no attendance data for department 'social' in 2026-10"),
                                     (crash, JobState.FAILED, "disk full")):  # fmt: skip
        jobs = ExportJobs(producer)
        try:
            job = jobs.start("hr-li", SPEC)
            wait_until(lambda job=job: finished(job), 10, "the job")
            assert (job.state, job.message, job.file) == (state, message, None)
        finally:
            jobs.shutdown()


def test_a_bad_request_is_refused_before_a_job_exists() -> None:
    jobs = ExportJobs(SteppedProducer())
    try:
        with pytest.raises(ValueError, match="department: required"):
            jobs.start("hr-li", ExportSpec(ExportKind.MONTHLY, ExportFormat.CSV, month="2026-11"))
        with pytest.raises(ValueError, match="month: '2026-1' is not a month"):
            jobs.start("hr-li", ExportSpec(ExportKind.SUMMARY, ExportFormat.CSV, month="2026-1"))
    finally:
        jobs.shutdown()


def test_a_job_is_its_starters_and_finished_jobs_are_forgotten_after_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    producer = SteppedProducer()
    jobs = ExportJobs(producer, clock=lambda: now[0])
    try:
        job = jobs.start("hr-li", SPEC)
        assert jobs.get(job.job_id, "hr-li") is job
        assert jobs.get(job.job_id, "hr-wang") is None
        producer.release.release(3)
        wait_until(lambda: finished(job), 10, "the job")
        now[0] += timedelta(minutes=59)
        producer.release.release(3)
        jobs.start("hr-li", SPEC)
        assert jobs.get(job.job_id, "hr-li") is job  # kept within the hour
        now[0] += timedelta(minutes=2)
        monkeypatch.setattr(jobs_module, "MAX_JOBS", 2)
        jobs.start("hr-li", SPEC)  # forgetting the first makes room
        assert jobs.get(job.job_id, "hr-li") is None
        with pytest.raises(TooManyJobs):
            jobs.start("hr-li", SPEC)
    finally:
        producer.release.release(10)
        jobs.shutdown()
