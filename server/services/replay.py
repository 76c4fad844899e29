"""``kaoqin rules replay``: recompute days and detections over history, writing nothing, and report
what would change. The safe way to try new thresholds before putting them in the settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from server.adapters.db import create_db_engine
from server.adapters.decision_store import DecisionStore
from server.adapters.incident_store import IncidentStore
from server.services.attendance import AttendanceEngine, RunReport
from server.services.attendance_settings import AttendanceSettings
from server.services.incidents import IncidentService


def parse_thresholds(pairs: list[str], base: AttendanceSettings) -> AttendanceSettings:
    """``name=value`` pairs on top of ``base``; an unknown name or bad value names the threshold."""
    values = base.model_dump()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--threshold {pair!r}: use name=value, e.g. burst_min_people=4")
        if name not in AttendanceSettings.model_fields:
            known = ", ".join(sorted(AttendanceSettings.model_fields))
            raise ValueError(f"--threshold {name!r}: unknown (known: {known})")
        values[name] = value
    return AttendanceSettings.model_validate(values)


def replay(
    database_url: str,
    settings: AttendanceSettings,
    start: date,
    end: date,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """A dry run of the engine over ``start``..``end`` against the stored history; ``progress(done,
    total)`` follows the people decided."""
    engine = create_db_engine(database_url)
    try:
        incidents = IncidentService(IncidentStore(engine), settings.zone)
        return AttendanceEngine(DecisionStore(engine), incidents, settings).run(
            start, end, dry_run=True, progress=progress
        )
    finally:
        engine.dispose()
