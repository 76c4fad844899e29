"""What the dashboard knows about today: attendance per department (decided, or the punches so far),
and the devices needing attention. Plain queries over the stores; no HTTP here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, literal, select

from server.adapters import tables
from server.adapters import tables_attendance as ta
from server.api.attendance_deps import AttendanceServices
from server.web.live_feed import FeedCursor, check_ins_after

_PRESENT = {"normal", "late", "left_early", "missing_punch"}
_EXCUSED = {"leave", "trip", "duty"}
_OFF = {"holiday", "rest_day"}

# Devices: the edge's default clock_drift_threshold_seconds; silent after five of the edge's default
# 60 s status intervals; a terminal's log is nearly full at 80% (as the edge's capacity alert).
DRIFT_SECONDS = 30.0
SILENT_AFTER = timedelta(minutes=5)
LOG_FULL_SHARE = 0.8


@dataclass
class DepartmentToday:
    department_id: str
    name: str
    expected: int = 0
    present: int = 0
    late: int = 0
    absent: int = 0
    on_leave: int = 0
    punched: int = 0

    @property
    def not_punched(self) -> int:
        return max(0, self.expected - self.punched - self.on_leave)


@dataclass
class Today:
    day: date
    decided: bool
    decided_at: datetime | None
    departments: list[DepartmentToday]
    total: DepartmentToday = field(init=False)

    def __post_init__(self) -> None:
        self.total = DepartmentToday("", "")
        for d in self.departments:
            for name in ("expected", "present", "late", "absent", "on_leave", "punched"):
                setattr(self.total, name, getattr(self.total, name) + getattr(d, name))


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def staff_who_checked_in(engine: Engine, since: datetime, until: datetime) -> set[str]:
    """Staff with a punch (through their terminal user ids) or a recognised face in [since, until)."""
    p, ids, faces = tables.punches, ta.staff_terminal_ids, tables.face_observations
    by_punch = (
        select(ids.c.staff_id)
        .join(p, p.c.user_id == ids.c.user_id)
        .where(p.c.occurred_at >= since, p.c.occurred_at < until)
    )
    by_face = select(faces.c.staff_id).where(
        faces.c.staff_id.is_not(None), faces.c.occurred_at >= since, faces.c.occurred_at < until
    )
    with engine.connect() as c:
        return {str(row[0]) for row in c.execute(by_punch.union(by_face))}


def check_ins_of(
    engine: Engine, staff_id: str, pins: list[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """One person's punches (by their terminal user ids) and face check-ins in [since, until), in order."""
    p, faces = tables.punches, tables.face_observations
    punches = select(
        literal("punch").label("kind"),
        p.c.occurred_at,
        p.c.device_serial.label("device"),
        p.c.verify_method.label("how"),
    ).where(p.c.user_id.in_(pins), p.c.occurred_at >= since, p.c.occurred_at < until)
    seen = select(
        literal("face").label("kind"),
        faces.c.occurred_at,
        faces.c.camera_id.label("device"),
        faces.c.outcome.label("how"),
    ).where(faces.c.staff_id == staff_id, faces.c.occurred_at >= since, faces.c.occurred_at < until)
    with engine.connect() as c:
        rows = [dict(r) for r in c.execute(punches.union_all(seen)).mappings()]
    return sorted(rows, key=lambda r: r["occurred_at"])


def attendance_today(services: AttendanceServices, engine: Engine, day: date) -> Today:
    zone = services.settings.zone
    since, until = day_bounds(day, zone)
    departments = {
        d["department_id"]: DepartmentToday(d["department_id"], d["name"])
        for d in services.store.departments()
    }
    days = {row["staff_id"]: row for row in services.decisions.days(day, day)}
    on_leave = {a["staff_id"] for a in services.store.absences(None, since, until)}
    checked_in = staff_who_checked_in(engine, since, until)
    for person in services.store.staff():
        summary = departments.get(person["department_id"])
        if summary is None or not person["active"]:
            continue
        decided = days.get(person["staff_id"])
        state = str(decided["status"]) if decided else None
        if state in _OFF:
            continue
        summary.expected += 1
        summary.punched += person["staff_id"] in checked_in
        if state is None:
            summary.on_leave += person["staff_id"] in on_leave
            continue
        summary.present += state in _PRESENT
        summary.late += state == "late"
        summary.absent += state == "absent"
        summary.on_leave += state in _EXCUSED
    decided_at = max((row["decided_at"] for row in days.values()), default=None)
    ordered = sorted(departments.values(), key=lambda d: d.department_id)
    return Today(day, bool(days), decided_at, ordered)


def devices_needing_attention(devices: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each device with at least one problem, as (device row, [(message key, values)])."""
    attention = []
    for device in devices:
        problems: list[tuple[str, dict[str, Any]]] = []
        if not device["reachable"]:
            problems.append(("device.offline", {"error": device.get("error") or "?"}))
        silent = now - device["last_seen_at"]
        if silent > SILENT_AFTER:
            problems.append(("device.silent", {"minutes": int(silent.total_seconds() // 60)}))
        offset = device.get("clock_offset_seconds")
        if offset is not None and abs(offset) > DRIFT_SECONDS:
            problems.append(("device.drift", {"seconds": round(offset)}))
        records, capacity = device.get("records"), device.get("record_capacity")
        if records is not None and capacity and records / capacity >= LOG_FULL_SHARE:
            problems.append(("device.log_full", {"percent": int(100 * records / capacity)}))
        alert = device.get("capacity_alert")
        if alert and alert != "ok":
            problems.append(("device.capacity", {"level": alert}))
        if problems:
            attention.append({"device": device, "problems": problems})
    return attention


def recent_check_ins(engine: Engine, limit: int) -> list[dict[str, Any]]:
    """The newest punches and face observations by when they were stored (the live feed's start)."""
    rows = check_ins_after(engine, FeedCursor.start(), limit, newest=True)
    return list(reversed(rows))


def staff_names(services: AttendanceServices) -> tuple[dict[str, str], dict[str, str]]:
    """(staff id -> name, terminal user id -> staff id), for showing who checked in."""
    names, by_pin = {}, {}
    for person in services.store.staff():
        names[person["staff_id"]] = person["name"]
        for pin in person["terminal_user_ids"]:
            by_pin[pin] = person["staff_id"]
    return names, by_pin
