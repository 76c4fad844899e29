"""Exports (and replays) run as background jobs so a page never waits on a long one: a job has an id, an owner,
progress (done/total) the page polls, and, once done, the file to download or the message saying
why there is none. Jobs live in this server process (one worker thread, so two big exports never
compete for the machine) and are forgotten an hour after they finish."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from server.adapters.attendance_store import NotFoundError
from server.reports.exports import ExportFile, ExportSpec, produce
from server.reports.replay_job import ReplaySpec, run_replay
from server.reports.service import ReportService
from server.reports.settings import ReportSettings
from server.services.attendance import AttendanceEngine

logger = logging.getLogger(__name__)
KEEP_FINISHED = timedelta(hours=1)
MAX_JOBS = 100  # queued, running and kept; a new job beyond it is refused


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    REFUSED = "refused"  # nothing to export, or a field to fix: ``message`` says which
    FAILED = "failed"  # an unexpected error (logged); ``message`` is its one line


@dataclass
class ExportJob:
    job_id: str
    owner: str
    spec: ExportSpec | ReplaySpec
    created_at: datetime
    state: JobState = JobState.QUEUED
    done: int = 0
    total: int = 0
    message: str = ""
    file: ExportFile | None = None
    finished_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.REFUSED, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.state is JobState.DONE:
            return 100
        return 100 * self.done // self.total if self.total else 0

    def as_status(self) -> dict[str, object]:
        """What the page polls."""
        with self._lock:
            return {
                "job_id": self.job_id,
                "state": self.state.value,
                "done": self.done,
                "total": self.total,
                "percent": self.percent,
                "message": self.message,
                "filename": self.file.filename if self.file else None,
            }


class TooManyJobs(RuntimeError):
    pass


Producer = Callable[[ExportSpec | ReplaySpec, Callable[[int, int], None]], ExportFile]


class ExportJobs:
    def __init__(self, produce: Producer, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._produce = produce
        self._clock = clock
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")

    def start(self, owner: str, spec: ExportSpec | ReplaySpec) -> ExportJob:
        """Queue the export; ``spec`` is checked first (a ValueError names the field)."""
        spec.check()
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            if len(self._jobs) >= MAX_JOBS:
                raise TooManyJobs(f"{MAX_JOBS} exports are queued or kept; try again in a few minutes")
            job = ExportJob(secrets.token_urlsafe(12), owner, spec, now)
            self._jobs[job.job_id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str, owner: str) -> ExportJob | None:
        """The job, if it exists and ``owner`` started it (someone else's export is not theirs to see)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: ExportJob) -> None:
        def progress(done: int, total: int) -> None:
            with job._lock:
                job.done, job.total = done, total

        with job._lock:
            job.state = JobState.RUNNING
        try:
            result = self._produce(job.spec, progress)
        except (NotFoundError, ValueError) as exc:  # EmptyReport is a ValueError
            self._finish(job, JobState.REFUSED, str(exc))
        except Exception as exc:
            logger.exception("export %s (%s) failed", job.job_id, job.spec)
            self._finish(job, JobState.FAILED, " ".join(str(exc).split()) or type(exc).__name__)
        else:
            self._finish(job, JobState.DONE, "", result)

    def _finish(self, job: ExportJob, state: JobState, message: str, file: ExportFile | None = None) -> None:
        with job._lock:
            job.state, job.message, job.file = state, message, file
            job.finished_at = self._clock()

    def _forget_old(self, now: datetime) -> None:
        for job_id, job in list(self._jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEEP_FINISHED:
                del self._jobs[job_id]


@dataclass
class ReportServices:
    """What the pages use (``app.state.reports``): the report queries and the export jobs."""

    service: ReportService
    jobs: ExportJobs

    @classmethod
    def build(
        cls, engine: Engine, settings: ReportSettings, zone: ZoneInfo, attendance: AttendanceEngine
    ) -> ReportServices:
        """``attendance`` is the server's engine: a replay job is its dry run."""
        service = ReportService(engine, settings, zone)

        def run(spec: ExportSpec | ReplaySpec, progress: Callable[[int, int], None]) -> ExportFile:
            if isinstance(spec, ReplaySpec):
                return run_replay(attendance, spec, progress)
            return produce(service, spec, progress)

        return cls(service, ExportJobs(run))
