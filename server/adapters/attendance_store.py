"""Database side of the attendance engine: working-time data in, a range's inputs out in a few
set-based queries, decided days written back in bulk."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    insert,
    select,
    update,
)

from server.adapters import tables_attendance as t
from server.adapters import tables_registry as registry
from server.domain.working_time import CalendarDay, DayKind
from server.services.working_time_models import AbsenceIn, TimetableIn


class NotFoundError(LookupError):
    """A referenced row does not exist; the message names the field and the value."""


def _one(connection: Connection, table: Any, column: Any, value: str, what: str) -> None:
    if connection.execute(select(column).where(column == value)).first() is None:
        raise NotFoundError(f"{what}: no such {table.name.rstrip('s')} {value!r}")


def _registered_device_sites(c: Connection) -> dict[str, str]:
    """device id -> site of every registered terminal and camera (a camera stands by its terminal)."""
    terminals, cameras = registry.registered_terminals, registry.registered_cameras
    sites = {r.serial: r.site_id for r in c.execute(select(terminals.c.serial, terminals.c.site_id))}
    query = select(cameras.c.camera_id, cameras.c.linked_terminal)
    sites.update({r.camera_id: sites[r.linked_terminal] for r in c.execute(query)})
    return sites


class AttendanceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ working-time data
    def put_site(self, site_id: str, name: str, devices: list[dict[str, Any]]) -> None:
        """Replace the site and its listed devices. Devices registered through the device registry
        stay where their registration puts them (it moves them): a day keeps waiting for them."""
        with self.engine.begin() as c:
            registered = _registered_device_sites(c)
            for device in devices:
                where = registered.get(device["device_id"])
                if where is not None and where != site_id:
                    raise ValueError(
                        f"devices: {device['device_id']} is registered at site {where}: "
                        "change its registration (devices page, /api/v1/registry) to move it"
                    )
            sd = t.site_devices
            c.execute(delete(sd).where(sd.c.site_id == site_id, sd.c.device_id.not_in(list(registered))))
            self._upsert(c, t.sites, {"site_id": site_id}, {"name": name})
            listed = [d for d in devices if d["device_id"] not in registered]
            for device in listed:
                c.execute(delete(sd).where(sd.c.device_id == device["device_id"]))
            if listed:
                c.execute(insert(sd), [dict(d, site_id=site_id) for d in listed])

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
