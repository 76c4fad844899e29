"""Efficiency warnings on a real database (SQLite and PostgreSQL): the year is the year of issue
in the office's zone, from the services' one clock; one incident gives one standing warning; and
dismissing an incident withdraws its warnings and the head's escalation they caused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from server.adapters import tables_attendance as t
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from tests.integration.test_attendance_api import confirm, report_p2, setup_office
from tests.support.attendance_world import ZONE, AttendanceWorld, attendance_app

pytestmark = pytest.mark.integration


class Clock:
    """A fixed clock that ticks a second per reading, as time passes between two requests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 12, 31, 10, 0, tzinfo=ZONE))


@pytest.fixture
def world(database_url: str, clock: Clock) -> Iterator[AttendanceWorld]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        with TestClient(attendance_app(engine, clock=clock)) as client:
            world = AttendanceWorld(engine, client)
            setup_office(world)
            yield world
    finally:
        engine.dispose()


def warn(world: AttendanceWorld, staff_id: str, n: int) -> dict:
    incident_id = report_p2(world, staff_id, n)
    confirm(world, incident_id)
    return world.ok(
        "POST", "/api/v1/warnings", json={"incident_id": incident_id, "issued_by": "office", "reason": "P2"}
    )


def test_two_staff_warnings_each_side_of_new_year_give_the_head_one_warning_in_each_year(
    world: AttendanceWorld, clock: Clock
) -> None:
    old_year = [warn(world, "a", 1), warn(world, "b", 2)]
    # 00:30 on 1 January in the office's zone is still 31 December in UTC: the office's year counts.
    clock.now = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    new_year = [warn(world, "a", 3)]
    clock.now = datetime(2026, 1, 1, 9, 0, tzinfo=ZONE)
    new_year.append(warn(world, "b", 4))
    assert [w["year"] for w in old_year + new_year] == [2025, 2025, 2026, 2026]

    for year, staff_warnings in ((2025, old_year), (2026, new_year)):
        heads = [
            w for w in world.ok("GET", "/api/v1/warnings", params={"year": year}) if w["kind"] == "escalation"
        ]
        assert [(w["staff_id"], w["ordinal"], w["caused_by"]) for w in heads] == [
            ("head", 1, [w["warning_id"] for w in staff_warnings])
        ], year


def test_one_incident_gives_one_standing_warning(world: AttendanceWorld) -> None:
    incident_id = report_p2(world, "a", 1)
    confirm(world, incident_id)
    body = {"incident_id": incident_id, "issued_by": "office", "reason": "P2"}
    first = world.ok("POST", "/api/v1/warnings", json=body)
    again = world.client.post("/api/v1/warnings", json=body)
    assert again.status_code == 409
    assert f"already has warning '{first['warning_id']}'" in again.json()["detail"]
    assert "incident_id" in again.json()["detail"]

    # The database refuses it too, whatever writes it (two requests racing past the check).
    with pytest.raises(IntegrityError), world.engine.begin() as c:
        c.execute(insert(t.efficiency_warnings).values(**{**_row(first), "warning_id": "dup"}))

    world.ok(
        "POST",
        f"/api/v1/warnings/{first['warning_id']}/withdrawal",
        json={"withdrawn_by": "office", "reason": "issued by mistake"},
    )
    second = world.ok("POST", "/api/v1/warnings", json=body)  # a withdrawn warning blocks nothing
    mine = world.ok("GET", "/api/v1/warnings", params={"staff": "a"})
    assert [(w["warning_id"], w["withdrawn_at"] is None) for w in mine] == [
        (first["warning_id"], False),
        (second["warning_id"], True),
    ]


def _row(warning: dict) -> dict:
    columns = set(t.efficiency_warnings.c.keys())
    row = {k: v for k, v in warning.items() if k in columns}
    for key in ("issued_at", "withdrawn_at"):
        if row.get(key):
            row[key] = datetime.fromisoformat(row[key])
    return row


def test_dismissing_an_incident_withdraws_its_warning_and_the_escalation(world: AttendanceWorld) -> None:
    kept = warn(world, "a", 1)
    dismissed = warn(world, "b", 2)
    (escalation,) = world.ok("GET", "/api/v1/warnings", params={"staff": "head"})
    assert escalation["caused_by"] == [kept["warning_id"], dismissed["warning_id"]]

    incident_id = dismissed["incident_id"]
    world.ok("POST", f"/api/v1/incidents/{incident_id}/appeal", json={"by": "b", "text": "I was on leave"})
    world.ok(
        "POST",
        f"/api/v1/incidents/{incident_id}/decision",
        json={"action": "dismiss", "decided_by": "office", "reason": "the leave was approved"},
    )
    warnings = {w["warning_id"]: w for w in world.ok("GET", "/api/v1/warnings")}
    assert warnings[dismissed["warning_id"]]["withdrawn_reason"] == (
        "its incident was withdrawn or dismissed: the leave was approved"
    )
    assert warnings[dismissed["warning_id"]]["withdrawn_by"] == "office"
    assert warnings[escalation["warning_id"]]["withdrawn_at"] is not None
    assert warnings[kept["warning_id"]]["withdrawn_at"] is None
