"""Efficiency warnings on a real database (SQLite and PostgreSQL): the year is the year of issue
in the office's zone, from the services' one clock; one incident gives one standing warning; and
dismissing an incident withdraws its warnings and the head's escalation they caused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from server.adapters import tables_attendance as t
from server.adapters.db import create_db_engine
from server.adapters.migrate import alembic_config, migrate
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


def test_migration_0008_keeps_the_first_of_two_standing_warnings_for_one_incident(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "0007")
    engine = create_db_engine(database_url)
    at = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
    try:
        with engine.begin() as c:
            c.execute(insert(t.sites).values(site_id="main", name="Main"))
            c.execute(insert(t.departments).values(department_id="d", name="D", head_staff_id=None))
            c.execute(
                insert(t.timetables).values(
                    timetable_id="std",
                    name="s",
                    policy="four_punches",
                    require_biometric=False,
                    versions=[],
                    updated_at=at,
                )
            )
            c.execute(
                insert(t.staff).values(
                    staff_id="a", name="A", department_id="d", site_id="main", timetable_id="std", active=True
                )
            )
            c.execute(
                insert(t.incidents).values(
                    incident_id="i1",
                    staff_id="a",
                    department_id="d",
                    prohibition="P2",
                    state="confirmed",
                    source="inspector",
                    summary="cards",
                    occurred_at=at,
                    evidence={},
                    reported_by="x",
                    created_at=at,
                    updated_at=at,
                )
            )
            for n, warning_id in enumerate(("w-later", "w-first", "w-second")):
                issued = at + timedelta(hours={"w-first": 0, "w-second": 1, "w-later": 2}[warning_id])
                c.execute(
                    insert(t.efficiency_warnings).values(
                        warning_id=warning_id,
                        staff_id="a",
                        department_id="d",
                        year=2025,
                        kind="personal",
                        counts_for_department=True,
                        incident_id="i1",
                        caused_by=[],
                        reason=f"r{n}",
                        issued_by="office",
                        issued_at=issued,
                    )
                )
        migrate(database_url)
        with engine.connect() as c:
            rows = c.execute(
                select(
                    t.efficiency_warnings.c.warning_id,
                    t.efficiency_warnings.c.withdrawn_by,
                    t.efficiency_warnings.c.withdrawn_reason,
                ).order_by(t.efficiency_warnings.c.warning_id)
            ).all()
        assert [tuple(r) for r in rows] == [
            ("w-first", None, None),
            ("w-later", "migration:0008", "a second warning for the same incident"),
            ("w-second", "migration:0008", "a second warning for the same incident"),
        ]
    finally:
        engine.dispose()
