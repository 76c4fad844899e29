"""A generated month for the report tests: November 2026 at one bureau, built through the real API
and the real ingest store (tests/support/attendance_world.py), then decided by the real engine.

Two departments. In "social": the head (on time every working day), "a" (on time), "b" (late 20 min
on 3 Nov, absent on 4 Nov, on leave on 5 Nov, left 30 min early on 6 Nov, on a business trip on
12 Nov), "c" (no afternoon out-punch on 9 Nov, else on time). "legal" has "d" (absent on 2 Nov).
10 Nov is the office's own holiday. Winter timetable: 08:30-12:00, 14:30-17:30, grace 5 min.
"""

from __future__ import annotations

from datetime import date, timedelta

from contracts.events import DeviceKind
from tests.support.attendance_world import TIMETABLE, AttendanceWorld, local

MONTH = "2026-11"
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
HOLIDAY = date(2026, 11, 10)
ON_TIME = ("08:25", "12:01", "14:25", "17:31")
PINS = {"head": "1000", "a": "1001", "b": "1002", "c": "1003", "d": "2001"}
NAMES = {"head": "王处长", "a": "张伟", "b": "李娜", "c": "刘洋", "d": "陈静"}


def workdays() -> list[date]:
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    return [d for d in days if d.weekday() < 5 and d != HOLIDAY]


def build_office(w: AttendanceWorld) -> None:
    w.ok("PUT", "/api/v1/timetables/std", json=TIMETABLE)
    w.ok(
        "PUT",
        "/api/v1/sites/main",
        json={"name": "Main", "devices": [{"device_id": "T1", "kind": "terminal"}]},
    )
    w.ok("PUT", "/api/v1/departments/social", json={"name": "社会救助科"})
    w.ok("PUT", "/api/v1/departments/legal", json={"name": "法规科"})
    for staff_id, pin in PINS.items():
        department = "legal" if staff_id == "d" else "social"
        w.ok(
            "PUT",
            f"/api/v1/staff/{staff_id}",
            json={
                "name": NAMES[staff_id],
                "department_id": department,
                "site_id": "main",
                "timetable_id": "std",
                "terminal_user_ids": [pin],
            },
        )
    w.ok("PUT", "/api/v1/departments/social", json={"name": "社会救助科", "head_staff_id": "head"})
    w.ok("PUT", f"/api/v1/holidays/{HOLIDAY.isoformat()}", json={"kind": "holiday", "name": "局庆"})


def build_november(w: AttendanceWorld) -> None:
    """The office, the month's punches and absences, the terminal's report past the month; decided."""
    build_office(w)
    for kind, day in (("leave", date(2026, 11, 5)), ("trip", date(2026, 11, 12))):
        w.ok(
            "POST",
            "/api/v1/leave",
            json={
                "staff_id": "b",
                "kind": kind,
                "starts_at": local(day, "00:00").isoformat(),
                "ends_at": local(day, "23:59").isoformat(),
                "reason": kind,
                "approved_by": "hr",
            },
        )
    special = {
        ("b", date(2026, 11, 3)): ("08:50", "12:01", "14:25", "17:31"),
        ("b", date(2026, 11, 4)): (),
        ("b", date(2026, 11, 5)): (),
        ("b", date(2026, 11, 6)): ("08:25", "12:01", "14:25", "17:00"),
        ("b", date(2026, 11, 12)): (),
        ("c", date(2026, 11, 9)): ("08:25", "12:01", "14:25"),
        ("d", date(2026, 11, 2)): (),
    }
    w.buffered()
    for day in workdays():
        for staff_id, pin in PINS.items():
            for hhmm in special.get((staff_id, day), ON_TIME):
                w.punch("T1", pin, local(day, hhmm))
    w.flush()
    w.reported("T1", local(LAST + timedelta(days=1), "06:00"), DeviceKind.TERMINAL)
    w.ok("POST", "/api/v1/attendance/decide", json={"from": FIRST.isoformat(), "to": LAST.isoformat()})
