"""One entry point for every export, used by the CLI and by the pages' background jobs: what to
export in, a file (name, type, bytes) out, with progress as (done, total) steps along the way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.reports import charts
from server.reports.csv_export import month_sheet_csv, register_csv, summary_csv
from server.reports.model import EmptyReport, Progress, month_bounds
from server.reports.service import ReportService
from server.reports.xlsx import month_sheet_workbook, register_workbook, summary_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


class ExportKind(StrEnum):
    MONTHLY = "monthly"  # a department's monthly sheet
    SUMMARY = "summary"  # one row per department for a month
    REGISTER = "register"  # the year's incidents and warnings


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


@dataclass(frozen=True)
class ExportSpec:
    kind: ExportKind
    format: ExportFormat
    month: str | None = None  # monthly, summary
    department_id: str | None = None  # monthly
    year: int | None = None  # register

    def check(self) -> None:
        """Name the missing or malformed field before any work starts."""
        if self.kind in (ExportKind.MONTHLY, ExportKind.SUMMARY):
            if not self.month:
                raise ValueError("month: required, e.g. 2026-11")
            month_bounds(self.month)
        if self.kind is ExportKind.MONTHLY and not self.department_id:
            raise ValueError("department: required for the monthly sheet")
        if self.kind is ExportKind.REGISTER and self.year is None:
            raise ValueError("year: required for the register, e.g. 2026")

    @property
    def filename(self) -> str:
        if self.kind is ExportKind.MONTHLY:
            stem = f"attendance-{self.department_id}-{self.month}"
        elif self.kind is ExportKind.SUMMARY:
            stem = f"attendance-summary-{self.month}"
        else:
            stem = f"register-{self.year}"
        return f"{stem}.{self.format.value}"


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content_type: str
    content: bytes


def produce(service: ReportService, spec: ExportSpec, progress: Progress | None = None) -> ExportFile:
    """Build the file. Raises ValueError (a bad field), NotFoundError (an unknown department) or
    EmptyReport (nothing to report), each naming what to fix."""
    spec.check()

    def report(done: int, total: int) -> None:
        if progress:
            progress(done, total)

    xlsx = spec.format is ExportFormat.XLSX
    if spec.kind is ExportKind.MONTHLY:
        assert spec.month
        assert spec.department_id
        extra = 2 if xlsx else 0  # the charts
        # Steps: read each person's days, write each person's row, then draw the charts.
        sheet = service.month_sheet(spec.department_id, spec.month, lambda d, t: report(d, 2 * t + extra))
        people = len(sheet.people)
        total = 2 * people + extra
        if not xlsx:
            content = month_sheet_csv(sheet, lambda d, _: report(people + d, total))
            return ExportFile(spec.filename, CSV, content)
        images = [
            charts.trend_chart(
                service.daily_trend(spec.month, spec.department_id), sheet.department_name, spec.month
            )
        ]
        report(people + 1, total)
        images.append(charts.uptime_chart(service.uptime(spec.month), spec.month))
        report(people + 2, total)
        content = month_sheet_workbook(sheet, images, lambda d, _: report(people + 2 + d, total))
        return ExportFile(spec.filename, XLSX, content)
    if spec.kind is ExportKind.SUMMARY:
        assert spec.month
        extra = 1 if xlsx else 0
        rows = service.summary(spec.month, lambda d, t: report(d, t + extra))
        office = service.settings.office_name
        if not xlsx:
            return ExportFile(spec.filename, CSV, summary_csv(office, spec.month, rows))
        image = charts.trend_chart(service.daily_trend(spec.month), None, spec.month)
        report(len(rows) + 1, len(rows) + 1)
        return ExportFile(spec.filename, XLSX, summary_workbook(office, spec.month, rows, [image]))
    assert spec.year is not None
    register = service.register(spec.year, lambda d, t: report(d, t + (1 if xlsx else 0)))
    office = service.settings.office_name
    if not xlsx:
        return ExportFile(spec.filename, CSV, register_csv(office, register, service.zone))
    image = charts.trend_chart(service.monthly_trend(spec.year), None, str(spec.year))
    report(3, 3)
    return ExportFile(spec.filename, XLSX, register_workbook(office, register, service.zone, [image]))


__all__ = ["EmptyReport", "ExportFile", "ExportFormat", "ExportKind", "ExportSpec", "produce"]
