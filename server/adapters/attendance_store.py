"""Database side of the attendance engine: working-time data in, a range's inputs out in a few
set-based queries, decided days written back in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, delete, func, insert, select, tuple_, update

from server.adapters import tables
from server.adapters import tables_attendance as t
from server.domain.day_decision import Mark
from server.domain.detectors import FaceFact, PunchFact
from server.domain.working_time import Absence, AbsenceKind, CalendarDay, DayKind, Timetable
from server.services.working_time_models import AbsenceIn, TimetableIn


class NotFoundError(LookupError):
    """A referenced row does not exist; the message names the field and the value."""


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
    punches: list[PunchFact]
    faces: list[FaceFact]
    site_devices: dict[str, list[str]]
    device_sites: dict[str, str]
    cameras_of_terminal: dict[str, tuple[str, ...]]
    travel_minutes: dict[tuple[str, str], int]
    reported_until: dict[str, datetime]
    heads: dict[str, str | None] = field(default_factory=dict)


def _one(connection: Connection, table: Any, column: Any, value: str, what: str) -> None:
    if connection.execute(select(column).where(column == value)).first() is None:
        raise NotFoundError(f"{what}: no such {table.name.rstrip('s')} {value!r}")


class AttendanceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ working-time data
    def put_site(self, site_id: str, name: str, devices: list[dict[str, Any]]) -> None:
        with self.engine.begin() as c:
            c.execute(delete(t.site_devices).where(t.site_devices.c.site_id == site_id))
            self._upsert(c, t.sites, {"site_id": site_id}, {"name": name})
            for device in devices:
                c.execute(delete(t.site_devices).where(t.site_devices.c.device_id == device["device_id"]))
            if devices:
                c.execute(insert(t.site_devices), [dict(d, site_id=site_id) for d in devices])

    def put_travel_time(self, from_site: str, to_site: str, minutes: int) -> None:
        with self.engine.begin() as c:
            _one(c, t.sites, t.sites.c.site_id, from_site, "from_site")
            _one(c, t.sites, t.sites.c.site_id, to_site, "to_site")
            key = {"from_site": from_site, "to_site": to_site}
            self._upsert(c, t.site_travel_times, key, {"minutes": minutes})

    def sites(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            sites = [dict(r) for r in c.execute(select(t.sites).order_by(t.sites.c.site_id)).mappings()]
            devices = c.execute(select(t.site_devices).order_by(t.site_devices.c.device_id)).mappings().all()
            travel = c.execute(select(t.site_travel_times)).mappings().all()
        for site in sites:
            site["devices"] = [
                {k: v for k, v in d.items() if k != "site_id"}
                for d in devices
                if d["site_id"] == site["site_id"]
            ]
            site["travel_minutes"] = {
                r["to_site"]: r["minutes"] for r in travel if r["from_site"] == site["site_id"]
            }
        return sites

    def put_department(self, department_id: str, name: str, head_staff_id: str | None) -> None:
        with self.engine.begin() as c:
            if head_staff_id is not None:
                _one(c, t.staff, t.staff.c.staff_id, head_staff_id, "head_staff_id")
            self._upsert(
                c,
                t.departments,
                {"department_id": department_id},
                {"name": name, "head_staff_id": head_staff_id},
            )

    def departments(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(t.departments).order_by(t.departments.c.department_id)).mappings()
            return [dict(r) for r in rows]

    def put_timetable(self, timetable_id: str, timetable: TimetableIn, now: datetime) -> None:
        values = {
            "name": timetable.name,
            "policy": timetable.policy.value,
            "require_biometric": timetable.require_biometric,
            "versions": [v.model_dump(mode="json") for v in timetable.versions],
            "updated_at": now,
        }
        with self.engine.begin() as c:
            self._upsert(c, t.timetables, {"timetable_id": timetable_id}, values)

    def timetables(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(t.timetables).order_by(t.timetables.c.timetable_id)).mappings()
            return [dict(r) for r in rows]

    def put_staff(self, staff_id: str, values: dict[str, Any], terminal_user_ids: list[str]) -> None:
        with self.engine.begin() as c:
            _one(c, t.departments, t.departments.c.department_id, values["department_id"], "department_id")
            _one(c, t.sites, t.sites.c.site_id, values["site_id"], "site_id")
            _one(c, t.timetables, t.timetables.c.timetable_id, values["timetable_id"], "timetable_id")
            substitute = values.get("substitute_staff_id")
            if substitute is not None and substitute != staff_id:
                _one(c, t.staff, t.staff.c.staff_id, substitute, "substitute_staff_id")
            taken = c.execute(
                select(t.staff_terminal_ids).where(
                    t.staff_terminal_ids.c.user_id.in_(terminal_user_ids),
                    t.staff_terminal_ids.c.staff_id != staff_id,
                )
            ).first()
            if taken is not None:
                raise ValueError(
                    f"terminal_user_ids: {taken.user_id!r} already belongs to staff {taken.staff_id!r}"
                )
            self._upsert(c, t.staff, {"staff_id": staff_id}, values)
            c.execute(delete(t.staff_terminal_ids).where(t.staff_terminal_ids.c.staff_id == staff_id))
            if terminal_user_ids:
                c.execute(
                    insert(t.staff_terminal_ids),
                    [{"user_id": u, "staff_id": staff_id} for u in terminal_user_ids],
                )

    def staff(self, department_id: str | None = None, staff_id: str | None = None) -> list[dict[str, Any]]:
        query = select(t.staff).order_by(t.staff.c.staff_id)
        if department_id is not None:
            query = query.where(t.staff.c.department_id == department_id)
        if staff_id is not None:
            query = query.where(t.staff.c.staff_id == staff_id)
        with self.engine.connect() as c:
            rows = [dict(r) for r in c.execute(query).mappings()]
            ids = defaultdict(list)
            for user_id, owner in c.execute(
                select(t.staff_terminal_ids.c.user_id, t.staff_terminal_ids.c.staff_id)
            ):
                ids[owner].append(user_id)
        for row in rows:
            row["terminal_user_ids"] = sorted(ids[row["staff_id"]])
        return rows

    def put_override(self, day: date, kind: DayKind, name: str) -> None:
        with self.engine.begin() as c:
            self._upsert(c, t.calendar_overrides, {"day": day}, {"kind": kind.value, "name": name})

    def delete_override(self, day: date) -> bool:
        with self.engine.begin() as c:
            return (
                c.execute(delete(t.calendar_overrides).where(t.calendar_overrides.c.day == day)).rowcount > 0
            )

    def overrides(self, start: date, end: date) -> dict[date, CalendarDay]:
        query = select(t.calendar_overrides).where(t.calendar_overrides.c.day.between(start, end))
        with self.engine.connect() as c:
            return {r.day: CalendarDay(DayKind(r.kind), r.name) for r in c.execute(query)}

    def add_absence(self, absence_id: str, absence: AbsenceIn, now: datetime) -> None:
        with self.engine.begin() as c:
            _one(c, t.staff, t.staff.c.staff_id, absence.staff_id, "staff_id")
            c.execute(
                insert(t.absences).values(
                    absence_id=absence_id,
                    created_at=now,
                    **absence.model_dump(exclude={"kind"}),
                    kind=absence.kind.value,
                )
            )

    def delete_absence(self, absence_id: str) -> bool:
        with self.engine.begin() as c:
            return c.execute(delete(t.absences).where(t.absences.c.absence_id == absence_id)).rowcount > 0

    def absences(
        self, staff_id: str | None, since: datetime | None, until: datetime | None
    ) -> list[dict[str, Any]]:
        query = select(t.absences).order_by(t.absences.c.starts_at, t.absences.c.absence_id)
        if staff_id is not None:
            query = query.where(t.absences.c.staff_id == staff_id)
        if since is not None:
            query = query.where(t.absences.c.ends_at > since)
        if until is not None:
            query = query.where(t.absences.c.starts_at < until)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query).mappings()]

    @staticmethod
    def _upsert(c: Connection, table: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
        condition = and_(*(table.c[k] == v for k, v in key.items()))
        if c.execute(update(table).where(condition).values(**values)).rowcount == 0:
            c.execute(insert(table).values(**key, **values))

    # ------------------------------------------------------------------ engine inputs
    def load_inputs(self, since: datetime, until: datetime) -> EngineInputs:
        """Everything a run needs for marks occurring in [since, until)."""
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
                    p.c.occurred_at,
                    p.c.observed_at,
                    p.c.verify_method,
                    p.c.flags,
                )
                .join(t.staff_terminal_ids, t.staff_terminal_ids.c.user_id == p.c.user_id)
                .where(p.c.occurred_at >= since, p.c.occurred_at < until)
            ).all()
            f = tables.face_observations
            face_rows = c.execute(
                select(
                    f.c.event_id,
                    f.c.camera_id,
                    f.c.occurred_at,
                    f.c.staff_id,
                    f.c.outcome,
                    f.c.linked_terminal,
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
        punches = []
        for e in punch_rows:
            marks[e.staff_id].append(Mark(e.event_id, e.occurred_at, "punch", e.device_serial))
            punches.append(
                PunchFact(
                    e.event_id,
                    e.staff_id,
                    e.device_serial,
                    device_sites.get(e.device_serial),
                    e.occurred_at,
                    e.observed_at,
                    e.verify_method,
                    tuple(e.flags or ()),
                )
            )
        faces = []
        for e in face_rows:
            staff_id = e.staff_id if e.outcome == "known" else None
            faces.append(FaceFact(e.event_id, e.camera_id, e.occurred_at, staff_id))
            if e.linked_terminal:
                cameras[e.linked_terminal].add(e.camera_id)
            if staff_id in known_staff:
                marks[staff_id].append(Mark(e.event_id, e.occurred_at, "face", e.camera_id))
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
        )

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

    def write_days(self, rows: list[dict[str, Any]]) -> None:
        """Replace the given (staff, day) results in one transaction."""
        if not rows:
            return
        d = t.attendance_days
        with self.engine.begin() as c:
            for chunk in range(0, len(rows), 500):
                keys = [(r["staff_id"], r["day"]) for r in rows[chunk : chunk + 500]]
                c.execute(delete(d).where(tuple_(d.c.staff_id, d.c.day).in_(keys)))
            c.execute(insert(d), rows)

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


def _aware(value: datetime) -> datetime:
    # func.max over a UTCDateTime column may come back without the type's processing on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
