"""Database side of the decision runs: a range's inputs loaded in a few set-based queries, decided
days written back in bulk, and read for the API."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, case, delete, func, select, tuple_, type_coerce

from server.adapters import tables
from server.adapters import tables_attendance as t
from server.domain.day_decision import DayResult, Mark
from server.domain.detectors import FaceFact, PunchFact
from server.domain.working_time import Absence, AbsenceKind, CalendarDay, DayKind, Timetable
from server.services.working_time_models import TimetableIn


@dataclass(frozen=True)
class StaffFacts:
    staff_id: str
    department_id: str
    site_id: str
    timetable_id: str
    substitute_staff_id: str | None


@dataclass
class EngineInputs:
    """Everything one decision run over a range reads, loaded set-based."""

    staff: list[StaffFacts]
    timetables: dict[str, Timetable]
    overrides: dict[date, CalendarDay]
    absences: dict[str, list[Absence]]
    marks: dict[str, list[Mark]]
    punches: list[PunchFact]  # those occurring in [since, until)
    faces: list[FaceFact]
    site_devices: dict[str, list[str]]
    device_sites: dict[str, str]
    cameras_of_terminal: dict[str, tuple[str, ...]]
    travel_minutes: dict[tuple[str, str], int]
    reported_until: dict[str, datetime]
    heads: dict[str, str | None] = field(default_factory=dict)
    # From pair_since on, for recurring_pair; before since only who, where and when are filled in.
    pair_punches: list[PunchFact] = field(default_factory=list)


class DecisionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load_inputs(
        self, since: datetime, until: datetime, pair_since: datetime | None = None
    ) -> EngineInputs:
        """Everything a run needs for marks occurring in [since, until); and who punched where
        and when from the earlier ``pair_since`` on (the recurring-pair rule's look-back)."""
        with self.engine.connect() as c:
            staff = [
                StaffFacts(r.staff_id, r.department_id, r.site_id, r.timetable_id, r.substitute_staff_id)
                for r in c.execute(select(t.staff).where(t.staff.c.active).order_by(t.staff.c.staff_id))
            ]
            timetables = {
                r.timetable_id: TimetableIn.model_validate(
                    {
                        "name": r.name,
                        "policy": r.policy,
                        "require_biometric": r.require_biometric,
                        "versions": r.versions,
                    }
                ).to_domain(r.timetable_id)
                for r in c.execute(select(t.timetables))
            }
            overrides = {
                r.day: CalendarDay(DayKind(r.kind), r.name) for r in c.execute(select(t.calendar_overrides))
            }
            absences: dict[str, list[Absence]] = defaultdict(list)
            query = select(t.absences).where(t.absences.c.ends_at > since, t.absences.c.starts_at < until)
            for r in c.execute(query):
                absences[r.staff_id].append(
                    Absence(r.absence_id, r.staff_id, AbsenceKind(r.kind), r.starts_at, r.ends_at)
                )
            devices = c.execute(select(t.site_devices)).all()
            p = tables.punches
            punch_rows = c.execute(
                select(
                    p.c.event_id,
                    t.staff_terminal_ids.c.staff_id,
                    p.c.device_serial,
                    _raw(p.c.occurred_at),
                    _raw(p.c.observed_at),
                    p.c.verify_method,
                    _raw(p.c.flags),
                )
                .join(t.staff_terminal_ids, t.staff_terminal_ids.c.user_id == p.c.user_id)
                .where(p.c.occurred_at >= since, p.c.occurred_at < until)
            ).all()
            earlier_rows: Sequence[Any] = ()
            if pair_since is not None and pair_since < since:
                # Only what the pair rule reads: a look-back of weeks stays a small part of a run.
                earlier_rows = c.execute(
                    select(
                        p.c.event_id,
                        t.staff_terminal_ids.c.staff_id,
                        p.c.device_serial,
                        _raw(p.c.occurred_at),
                    )
                    .join(t.staff_terminal_ids, t.staff_terminal_ids.c.user_id == p.c.user_id)
                    .where(p.c.occurred_at >= pair_since, p.c.occurred_at < since)
                ).all()
            f = tables.face_observations
            face_rows = c.execute(
                select(
                    f.c.event_id,
                    f.c.camera_id,
                    _raw(f.c.occurred_at),
                    f.c.staff_id,
                    f.c.outcome,
                    f.c.linked_terminal,
                    f.c.liveness,
                ).where(f.c.occurred_at >= since, f.c.occurred_at < until)
            ).all()
            reports = tables.device_status_reports
            watermark_rows = c.execute(
                select(
                    reports.c.device_id,
                    func.max(reports.c.last_read_at),
                    func.max(case((reports.c.reachable, reports.c.occurred_at), else_=None)),
                ).group_by(reports.c.device_id)
            ).all()
            travel = {(x.from_site, x.to_site): x.minutes for x in c.execute(select(t.site_travel_times))}
            heads = {x.department_id: x.head_staff_id for x in c.execute(select(t.departments))}
        return self._assemble(
            staff,
            timetables,
            overrides,
            absences,
            devices,
            punch_rows,
            face_rows,
            watermark_rows,
            travel,
            heads,
            earlier_rows,
        )

    @staticmethod
    def _assemble(
        staff: list[StaffFacts],
        timetables: dict[str, Timetable],
        overrides: dict[date, CalendarDay],
        absences: dict[str, list[Absence]],
        devices: Iterable[Any],
        punch_rows: Iterable[Any],
        face_rows: Iterable[Any],
        watermark_rows: Iterable[Any],
        travel: dict[tuple[str, str], int],
        heads: dict[str, str | None],
        earlier_punch_rows: Iterable[Any] = (),
    ) -> EngineInputs:
        site_devices: dict[str, list[str]] = defaultdict(list)
        device_sites: dict[str, str] = {}
        cameras: dict[str, set[str]] = defaultdict(set)
        for d in devices:
            site_devices[d.site_id].append(d.device_id)
            device_sites[d.device_id] = d.site_id
            if d.kind == "camera" and d.linked_terminal:
                cameras[d.linked_terminal].add(d.device_id)
        known_staff = {s.staff_id for s in staff}
        marks: dict[str, list[Mark]] = defaultdict(list)
        # Before the run's range only who punched at which terminal when matters (observed_at
        # and the method are not read there).
        pair_punches = []
        for event_id, staff_id, serial, occurred in earlier_punch_rows:
            occurred_at = _aware(occurred)
            pair_punches.append(
                PunchFact(event_id, staff_id, serial, device_sites.get(serial), occurred_at, occurred_at, "")
            )
        punches = []
        for event_id, staff_id, serial, occurred, observed, method, flags in punch_rows:
            occurred_at = _aware(occurred)
            marks[staff_id].append(Mark(occurred_at, event_id, "punch", serial))
            punches.append(
                PunchFact(
                    event_id,
                    staff_id,
                    serial,
                    device_sites.get(serial),
                    occurred_at,
                    _aware(observed),
                    method,
                    _flags(flags),
                )
            )
        pair_punches += punches
        faces = []
        for event_id, camera_id, occurred, seen_staff, outcome, linked_terminal, liveness in face_rows:
            staff_id = seen_staff if outcome == "known" else None
            occurred_at = _aware(occurred)
            liveness_ok = None if liveness is None else liveness == "passed"
            faces.append(FaceFact(event_id, camera_id, occurred_at, staff_id, liveness_ok, liveness))
            if linked_terminal:
                cameras[linked_terminal].add(camera_id)
            # A face that failed liveness (a photo held up?) is a P6 suspicion, not presence.
            if staff_id in known_staff and liveness_ok is not False:
                marks[staff_id].append(Mark(occurred_at, event_id, "face", camera_id))
        reported_until = {}
        for device_id, last_read, last_reachable in watermark_rows:
            # A terminal has delivered everything up to its last successful read; a camera (no
            # log to read) everything up to its last report while reachable.
            seen = last_read if last_read is not None else last_reachable
            if seen is not None:
                reported_until[device_id] = _aware(seen)
        return EngineInputs(
            staff,
            timetables,
            overrides,
            dict(absences),
            dict(marks),
            punches,
            faces,
            dict(site_devices),
            device_sites,
            {k: tuple(sorted(v)) for k, v in cameras.items()},
            travel,
            reported_until,
            heads,
            pair_punches,
        )

    def days_touched(self, stored_since: datetime, zone: Any) -> set[date]:
        """Local days of the punches, faces and absences stored at or after ``stored_since``: the
        days a late record may change."""
        p, f, a = tables.punches, tables.face_observations, t.absences
        days: set[date] = set()
        with self.engine.connect() as c:
            for table in (p, f):
                query = select(_raw(table.c.occurred_at)).where(table.c.stored_at >= stored_since).distinct()
                days |= {_aware(v).astimezone(zone).date() for (v,) in c.execute(query)}
            query = select(_raw(a.c.starts_at), _raw(a.c.ends_at)).where(a.c.created_at >= stored_since)
            for starts, ends in c.execute(query):
                day, last = _aware(starts).astimezone(zone).date(), _aware(ends).astimezone(zone).date()
                while day <= last:
                    days.add(day)
                    day = date.fromordinal(day.toordinal() + 1)
        return days

    # ------------------------------------------------------------------ decided days
    def stored_days(self, start: date, end: date) -> dict[tuple[str, date], tuple[object, ...]]:
        d = t.attendance_days
        query = select(
            d.c.staff_id,
            d.c.day,
            d.c.status,
            d.c.late_minutes,
            d.c.early_minutes,
            d.c.missing_punches,
            d.c.absent_sessions,
        ).where(d.c.day.between(start, end))
        with self.engine.connect() as c:
            return {(r[0], r[1]): tuple(r[2:]) for r in c.execute(query)}

    def write_days(
        self, results: Sequence[DayResult], decided_at: datetime, stored: Collection[tuple[str, date]]
    ) -> None:
        """Replace the given days in one transaction; ``stored`` holds the keys that already have
        a row (only those need deleting)."""
        if not results:
            return
        d = t.attendance_days
        replaced = [(r.staff_id, r.day) for r in results if (r.staff_id, r.day) in stored]
        with self.engine.begin() as c:
            for chunk in range(0, len(replaced), 500):
                c.execute(delete(d).where(tuple_(d.c.staff_id, d.c.day).in_(replaced[chunk : chunk + 500])))
            insert_days(c, results, decided_at)

    def days(
        self, start: date, end: date, staff_id: str | None = None, department_id: str | None = None
    ) -> list[dict[str, Any]]:
        d = t.attendance_days
        query = select(d).where(d.c.day.between(start, end)).order_by(d.c.staff_id, d.c.day)
        if staff_id is not None:
            query = query.where(d.c.staff_id == staff_id)
        if department_id is not None:
            query = query.where(
                d.c.staff_id.in_(select(t.staff.c.staff_id).where(t.staff.c.department_id == department_id))
            )
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query).mappings()]


_DAY_COLUMNS = (
    "staff_id",
    "day",
    "status",
    "late_minutes",
    "early_minutes",
    "missing_punches",
    "absent_sessions",
    "detail",
    "decided_at",
)


def day_detail(result: DayResult) -> dict[str, Any]:
    """What decided the day, as stored beside it: each session's in and out, every mark, the absences."""
    return {
        "sessions": [
            {
                "session": s.session,
                "in_mark": s.in_mark,
                "out_mark": s.out_mark,
                "late_minutes": s.late_minutes,
                "early_minutes": s.early_minutes,
                "excused_by": s.excused_by,
            }
            for s in result.sessions
        ],
        "marks": list(result.marks),
        "absences": list(result.absences),
    }


def insert_days(c: Connection, results: Iterable[DayResult], decided_at: datetime) -> None:
    """Insert decided days through the driver's executemany: a month is 30 000 rows, and the
    per-row bind processing of a Core insert costs more than the insert itself. The values are
    written exactly as the column types would write them (tables.UTCDateTime stores naive UTC text
    on SQLite; psycopg takes aware datetimes and casts the JSON text)."""
    sqlite = c.dialect.name == "sqlite"
    marker = "?" if c.dialect.paramstyle == "qmark" else "%s"
    utc = decided_at.astimezone(UTC)
    stamp: Any = utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else utc
    encode = json.JSONEncoder(separators=(",", ":")).encode
    values = [
        (
            r.staff_id,
            r.day.isoformat() if sqlite else r.day,
            r.status.value,
            r.late_minutes,
            r.early_minutes,
            r.missing_punches,
            r.absent_sessions,
            encode(day_detail(r)),
            stamp,
        )
        for r in results
    ]
    statement = (
        f"INSERT INTO {t.attendance_days.name} ({', '.join(_DAY_COLUMNS)}) "
        f"VALUES ({', '.join(marker for _ in _DAY_COLUMNS)})"
    )
    c.exec_driver_sql(statement, values)


def _raw(column: Any) -> Any:
    """The column without the type's per-row processing: a month is hundreds of thousands of
    rows, and :func:`_aware` / :func:`_flags` below convert them faster."""
    return type_coerce(column, String)


def _aware(value: Any) -> datetime:
    """An aware UTC datetime from what the driver returns: SQLite's text (stored as naive UTC by
    tables.UTCDateTime), or PostgreSQL's aware datetime."""
    if isinstance(value, str):
        # Parsing with the offset is several times faster than parsing and then replace(tzinfo=...).
        return datetime.fromisoformat(value + "+00:00")
    moment: datetime = value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _flags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return () if value == "[]" else tuple(json.loads(value))
    return tuple(value or ())
