"""Deciding what is new without being asked: recent days as their devices report, and an older
day when a late record for it is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from contracts.events import DeviceKind
from server.adapters.db import create_db_engine
from server.adapters.decision_store import DecisionStore
from server.adapters.incident_store import IncidentStore
from server.adapters.migrate import migrate
from server.services.attendance import AttendanceEngine
from server.services.attendance_scheduler import AttendanceScheduler
from server.services.attendance_settings import AttendanceSettings
from server.services.incidents import IncidentService
from tests.support.attendance_world import TIMETABLE, ZONE, AttendanceWorld, attendance_app, local
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration

TODAY = date(2025, 6, 20)  # a Friday
OLD = date(2025, 5, 20)  # a Tuesday, a month back: outside the look-back


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(database_url: str) -> Iterator[AttendanceWorld]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            world = AttendanceWorld(engine, client)
            world.ok("PUT", "/api/v1/timetables/std", json=TIMETABLE)
            world.ok(
                "PUT",
                "/api/v1/sites/main",
                json={"name": "Main", "devices": [{"device_id": "T1", "kind": "terminal"}]},
            )
            world.ok("PUT", "/api/v1/departments/d", json={"name": "D"})
            world.ok(
                "PUT",
                "/api/v1/staff/a",
                json={
                    "name": "A",
                    "department_id": "d",
                    "site_id": "main",
                    "timetable_id": "std",
                    "terminal_user_ids": ["1"],
                },
            )
            yield world
    finally:
        engine.dispose()


def make_engine(world: AttendanceWorld, clock: Clock) -> AttendanceEngine:
    settings = AttendanceSettings()
    incidents = IncidentService(IncidentStore(world.engine), ZONE, clock)
    return AttendanceEngine(DecisionStore(world.engine), incidents, settings, clock)


def statuses(world: AttendanceWorld, start: date, end: date) -> dict[str, str]:
    days = world.ok(
        "GET", "/api/v1/attendance/days", params={"from": start.isoformat(), "to": end.isoformat()}
    )
    return {d["day"]: d["status"] for d in days}


def test_run_new_decides_recent_days_and_re_decides_an_old_day_with_a_late_record(
    world: AttendanceWorld,
) -> None:
    clock = Clock(local(TODAY, "10:00"))
    engine = make_engine(world, clock)
    world.reported("T1", local(OLD + timedelta(days=1), "06:00"))
    engine.run(OLD, OLD)
    assert statuses(world, OLD, OLD) == {"2025-05-20": "absent"}

    world.four_punches("T1", "1", TODAY - timedelta(days=1))
    world.reported("T1", local(TODAY, "06:00"), DeviceKind.TERMINAL)
    cursor = clock.now
    clock.now = local(TODAY, "10:05")
    # The terminal's old records arrive now (observed and stored today).
    for hhmm in ("07:58", "12:01", "14:59", "18:00"):
        world.punch("T1", "1", local(OLD, hhmm), observed_at=clock.now)
    reports = engine.run_new(cursor, lookback_days=7)
    assert [(r.start, r.end) for r in reports] == [
        (TODAY - timedelta(days=7), TODAY - timedelta(days=1)),
        (OLD, OLD),
    ]
    recent = statuses(world, TODAY - timedelta(days=7), TODAY - timedelta(days=1))
    assert recent == {
        "2025-06-13": "absent",
        "2025-06-14": "rest_day",
        "2025-06-15": "rest_day",
        "2025-06-16": "absent",
        "2025-06-17": "absent",
        "2025-06-18": "absent",
        "2025-06-19": "normal",
    }
    assert statuses(world, OLD, OLD) == {"2025-05-20": "normal"}
    withdrawn = world.ok("GET", "/api/v1/incidents", params={"state": "withdrawn"})["items"]
    assert [i["detection_key"] for i in withdrawn] == ["P1:absence:a:2025-05-20"]


def test_the_scheduler_runs_in_the_background_until_stopped(world: AttendanceWorld) -> None:
    clock = Clock(local(TODAY, "10:00"))
    world.four_punches("T1", "1", TODAY - timedelta(days=1))
    world.reported("T1", local(TODAY, "06:00"))
    scheduler = AttendanceScheduler(make_engine(world, clock), 0.05, 2, clock)
    scheduler.start()
    try:
        wait_until(lambda: scheduler.ticks >= 2, 20, "two scheduler passes")
    finally:
        scheduler.stop()
    assert statuses(world, TODAY - timedelta(days=1), TODAY - timedelta(days=1)) == {"2025-06-19": "normal"}
    assert not scheduler.running
