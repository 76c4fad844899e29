"""A replay (a dry run of the attendance engine over a range, writing nothing) as a background job of
the pages: the same engine and progress callback as ``kaoqin rules replay``, the report as a text file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from server.reports.exports import ExportFile
from server.services.attendance import AttendanceEngine

MAX_REPLAY_DAYS = 366  # as POST /api/v1/attendance/decide: one run must not tie up the engine for long


@dataclass(frozen=True)
class ReplaySpec:
    start: date
    end: date

    def check(self) -> None:
        if self.end < self.start:
            raise ValueError(f"to: {self.end.isoformat()} is before from: {self.start.isoformat()}")
        if (self.end - self.start).days > MAX_REPLAY_DAYS:
            raise ValueError(f"to: at most {MAX_REPLAY_DAYS} days after from; replay a longer span in parts")
        if self.start.year < 2000 or self.end.year > 2200:
            raise ValueError("from, to: within 2000-01-01..2200-12-31")

    @property
    def filename(self) -> str:
        return f"replay-{self.start.isoformat()}-{self.end.isoformat()}.txt"


def run_replay(
    engine: AttendanceEngine, spec: ReplaySpec, progress: Callable[[int, int], None]
) -> ExportFile:
    """The engine's dry run with the server's current rules; ``progress`` follows the people decided."""
    spec.check()
    report = engine.run(spec.start, spec.end, dry_run=True, progress=progress)
    return ExportFile(spec.filename, "text/plain; charset=utf-8", report.as_text().encode())
