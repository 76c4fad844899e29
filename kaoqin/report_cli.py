"""``kaoqin report monthly|summary|register``: the exports of docs/reports.md from the command line,
with a progress bar on stderr. The file goes to --output, or to its default name in the current
directory; a bad month, an unknown department or an empty month is one line naming it (exit 2 or 1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from kaoqin.progress import TextProgress
    from server.adapters.attendance_store import NotFoundError
    from server.adapters.db import create_db_engine
    from server.reports.exports import EmptyReport, ExportFormat, ExportKind, ExportSpec, produce
    from server.reports.service import ReportService
    from server.settings import SettingsError, load_server_settings

    try:
        settings = load_server_settings(args.config)
    except SettingsError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    spec = ExportSpec(
        ExportKind(args.kind),
        ExportFormat(args.format),
        month=getattr(args, "month", None),
        department_id=getattr(args, "department", None),
        year=getattr(args, "year", None),
    )
    try:
        spec.check()
    except ValueError as exc:
        print(f"report refused: {exc}", file=sys.stderr)
        return 2
    engine = create_db_engine(settings.database_url)
    progress = TextProgress(f"{spec.kind.value} {spec.month or spec.year}")
    try:
        service = ReportService(engine, settings.reports, settings.attendance.zone)
        export = produce(service, spec, progress)
    except (NotFoundError, ValueError) as exc:  # EmptyReport is a ValueError
        progress.finish()
        print(f"report refused: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, EmptyReport) else 2
    finally:
        engine.dispose()
    output: Path = args.output or Path(export.filename)
    output.write_bytes(export.content)
    print(f"wrote {output} ({len(export.content)} bytes)")
    return 0


def add_report_parser(sub: Any) -> None:
    """Add ``kaoqin report ...`` to the CLI's sub-parsers."""
    report = sub.add_parser("report", help="attendance sheets, summaries and registers (XLSX or CSV)")
    kinds = report.add_subparsers(dest="kind", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
        parser.add_argument(
            "--output", type=Path, help="where to write (default: its name in this directory)"
        )
        parser.add_argument("--config", type=Path, help="server YAML settings (database, office name)")
        parser.set_defaults(func=_run)

    monthly = kinds.add_parser("monthly", help="a department's monthly attendance sheet")
    monthly.add_argument("--month", required=True, metavar="YYYY-MM")
    monthly.add_argument("--department", required=True, metavar="ID")
    common(monthly)
    summary = kinds.add_parser("summary", help="one row per department for a month")
    summary.add_argument("--month", required=True, metavar="YYYY-MM")
    common(summary)
    register = kinds.add_parser("register", help="the year's incidents and efficiency warnings")
    register.add_argument("--year", required=True, type=int)
    common(register)
