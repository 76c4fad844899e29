"""``kaoqin rules replay`` over stored history: reports what would change, writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contracts.events import DeviceKind
from kaoqin.cli import main
from server.adapters import tables_attendance
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from tests.support.attendance_world import TIMETABLE, AttendanceWorld, attendance_app, local

pytestmark = pytest.mark.integration
DAY = date(2025, 6, 10)


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AttendanceWorld]:
    migrate(database_url)
    monkeypatch.setenv("KAOQIN_SERVER_DATABASE_URL", database_url)
    engine = create_db_engine(database_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            yield AttendanceWorld(engine, client)
    finally:
        engine.dispose()


def counts(world: AttendanceWorld) -> tuple[int, int, list[tuple[str, str]]]:
    with world.engine.connect() as c:
        incidents = c.execute(select(func.count()).select_from(tables_attendance.incidents)).scalar_one()
        days = c.execute(select(func.count()).select_from(tables_attendance.attendance_days)).scalar_one()
        states = c.execute(
            select(tables_attendance.incidents.c.rule, tables_attendance.incidents.c.state)
        ).all()
    return int(incidents), int(days), sorted((str(r), str(s)) for r, s in states)


def test_replay_reports_new_thresholds_without_writing(
    world: AttendanceWorld, capsys: pytest.CaptureFixture[str]
) -> None:
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
    world.four_punches("T1", "1", DAY, ("07:55", "12:00", "15:00", "17:30"))  # 30 minutes early
    world.reported("T1", local(DAY + timedelta(days=1), "06:00"), DeviceKind.TERMINAL)
    world.ok("POST", "/api/v1/attendance/decide", json={"from": "2025-06-10", "to": "2025-06-10"})
    before = counts(world)
    assert before[2] == [("early_departure", "reported")]

    assert main(["rules", "replay", "--from", "2025-06-10", "--to", "2025-06-10"]) == 0
    same = capsys.readouterr().out
    assert "days that would change: 0" in same
    assert "incidents that would be withdrawn: 0" in same

    code = main(
        [
            "rules",
            "replay",
            "--from",
            "2025-06-10",
            "--to",
            "2025-06-10",
            "--threshold",
            "early_departure_minutes=45",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "incidents that would be withdrawn: 1" in out
    assert "P1:early:a:2025-06-10" in out
    assert counts(world) == before  # nothing written

    assert (
        main(["rules", "replay", "--from", "2025-06-10", "--to", "2025-06-10", "--threshold", "nope=1"]) == 2
    )
    assert "'nope': unknown" in capsys.readouterr().err
