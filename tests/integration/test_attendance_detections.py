"""P6 detections on stored data (SQLite and PostgreSQL): a face that failed liveness is a suspicion
and no presence, with its snapshot one link away; a recurring pair is one incident whatever range
a run covers, so re-runs over shorter or overlapping ranges neither withdraw nor re-raise it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from contracts.events import FaceLiveness
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from tests.integration.test_attendance_api import both_devices_reported, confirm, setup_office
from tests.support.attendance_world import ZONE, AttendanceWorld, attendance_app, local

pytestmark = pytest.mark.integration

DAY = date(2025, 6, 10)  # a Tuesday in summer


@pytest.fixture
def world(database_url: str) -> Iterator[AttendanceWorld]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            yield AttendanceWorld(engine, client)
    finally:
        engine.dispose()


def a_jpeg() -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.full((24, 24, 3), 128, dtype=np.uint8))
    assert ok
    return bytes(encoded)


def decide(w: AttendanceWorld, start: date, end: date) -> dict:
    return w.ok("POST", "/api/v1/attendance/decide", json={"from": start.isoformat(), "to": end.isoformat()})


def test_a_face_that_failed_liveness_is_a_p6_incident_and_no_presence(world: AttendanceWorld) -> None:
    setup_office(world)
    times = ("07:55", "12:02", "14:55", "18:03")
    for staff_id, pin in (("head", "1000"), ("a", "1001")):
        world.four_punches("T1", pin, DAY, times)
        for hhmm in times:
            world.face("C1", staff_id, local(DAY, hhmm), "T1", liveness=FaceLiveness.PASSED)
    snapshot = a_jpeg()
    spoofed_a = world.face(
        "C1", "a", local(DAY, "10:00"), "T1", liveness=FaceLiveness.FAILED_STILL, snapshot_jpeg=snapshot
    )
    # b never came: a photo of b held up at the morning and at the evening punch times.
    spoofed_b = [
        world.face("C1", "b", local(DAY, hhmm), "T1", liveness=FaceLiveness.FAILED_NO_BLINK)
        for hhmm in ("07:58", "18:05")
    ]
    both_devices_reported(world, DAY)
    decide(world, DAY, DAY)

    days = {
        d["staff_id"]: d for d in world.ok("GET", "/api/v1/attendance/days", params={"from": DAY, "to": DAY})
    }
    assert days["b"]["status"] == "absent"  # spoofed faces are not presence marks
    assert days["b"]["detail"]["marks"] == []
    assert spoofed_a not in days["a"]["detail"]["marks"]
    assert len(days["a"]["detail"]["marks"]) == 8  # four punches, four live faces
    assert days["a"]["status"] == "normal"

    p6 = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P6"})["items"]
    assert sorted((i["staff_id"], i["rule"], i["evidence"]["faces"][0]) for i in p6) == sorted(
        [("a", "liveness_failed", spoofed_a)] + [("b", "liveness_failed", f) for f in spoofed_b]
    )
    hit = next(i for i in p6 if i["staff_id"] == "a")
    assert hit["evidence"]["liveness"] == "failed_still"
    assert hit["evidence"]["thresholds"] == {"liveness_required": "passed"}
    (link,) = hit["evidence"]["snapshots"]
    assert link == f"/api/v1/faces/observations/{spoofed_a}/snapshot"
    reply = world.client.get(link)
    assert (reply.status_code, reply.headers["content-type"], reply.content) == (200, "image/jpeg", snapshot)
    p1 = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P1"})["items"]
    assert [(i["staff_id"], i["rule"]) for i in p1] == [("b", "unexcused_absence")]


PAIR_DAYS = [date(2025, 6, d) for d in (9, 10, 11, 12, 13, 16)]  # Mon-Fri and the next Monday
JUNE = [date(2025, 6, d) for d in range(2, 21) if date(2025, 6, d).weekday() < 5]


def test_a_recurring_pair_is_one_incident_whatever_range_a_run_covers(world: AttendanceWorld) -> None:
    setup_office(world)
    world.buffered()
    for day in JUNE:
        for staff_id, pin, times in (
            ("head", "1000", ("07:40", "12:10", "14:40", "18:10")),
            ("a", "1001", ("07:50", "12:20", "14:50", "18:20")),
            ("b", "1002", ("07:30", "12:30", "14:30", "18:30")),
        ):
            for hhmm in times:
                at = local(day, hhmm)
                if (staff_id, hhmm) == ("b", "07:30") and day in PAIR_DAYS:
                    at = local(day, "07:50", 8)  # b punches eight seconds after a
                world.punch("T1", pin, at)
                world.face("C1", staff_id, at, "T1")
    world.flush()
    both_devices_reported(world, JUNE[-1])

    first = decide(world, JUNE[0], JUNE[-1])
    assert [k for k in first["raised"] if "recurring_pair" in k] == ["P6:recurring_pair:a:b"]
    (incident,) = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P6", "staff": "b"})["items"]
    occurred = datetime.fromisoformat(incident["occurred_at"]).astimezone(ZONE)
    assert (incident["rule"], occurred) == ("recurring_pair", local(date(2025, 6, 13), "07:50", 8))
    assert incident["evidence"]["days"] == [d.isoformat() for d in PAIR_DAYS[:5]]
    confirm(world, incident["incident_id"])
    warning = world.ok(
        "POST",
        "/api/v1/warnings",
        json={"incident_id": incident["incident_id"], "issued_by": "o", "reason": "r"},
    )

    # Shorter and overlapping ranges, as the scheduler and people run them: a day the pattern
    # holds on finds it again; a range without such a day leaves it alone.
    for start, end in (
        (date(2025, 6, 16), date(2025, 6, 20)),
        (date(2025, 6, 13), date(2025, 6, 13)),
        (date(2025, 6, 17), date(2025, 6, 20)),
        (date(2025, 6, 10), date(2025, 6, 12)),
        (date(2025, 6, 12), date(2025, 6, 18)),
        (JUNE[0], JUNE[-1]),
    ):
        report = decide(world, start, end)
        assert (report["raised"], report["withdrawn"], report["reinstated"]) == ([], [], []), (start, end)

    incidents = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P6"})["items"]
    assert [(i["staff_id"], i["rule"], i["state"]) for i in incidents] == [
        ("b", "recurring_pair", "confirmed")
    ]
    history = world.ok("GET", f"/api/v1/incidents/{incident['incident_id']}")["history"]
    assert [h["action"] for h in history] == ["detect", "review", "confirm"]
    (active,) = world.ok("GET", "/api/v1/warnings", params={"staff": "b"})
    assert (active["warning_id"], active["withdrawn_at"]) == (warning["warning_id"], None)


def test_the_recurring_pair_is_withdrawn_when_its_data_no_longer_holds_it(world: AttendanceWorld) -> None:
    setup_office(world)
    world.buffered()
    for day in PAIR_DAYS[:5]:
        for pin, at in (("1001", local(day, "07:50")), ("1002", local(day, "07:50", 8))):
            world.punch("T1", pin, at)
    world.flush()
    both_devices_reported(world, PAIR_DAYS[4])
    assert "P6:recurring_pair:a:b" in decide(world, PAIR_DAYS[0], PAIR_DAYS[4])["raised"]
    # PIN 1002 turns out not to be b's: without b's punches there is no pair any more.
    body = {"name": "B", "department_id": "social", "site_id": "main", "timetable_id": "std"}
    world.ok("PUT", "/api/v1/staff/b", json={**body, "terminal_user_ids": []})
    report = decide(world, PAIR_DAYS[4], PAIR_DAYS[4])
    assert [w["key"] for w in report["withdrawn"] if "recurring" in w["key"]] == ["P6:recurring_pair:a:b"]
