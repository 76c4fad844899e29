"""The attendance API and engine on a real database (SQLite and PostgreSQL): working-time data,
per-device completeness, re-decision on a late record, P1 incidents withdrawn with a reason, the
review workflow, and warnings escalating to the head."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from contracts.events import DeviceKind
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from tests.support.attendance_world import TIMETABLE, AttendanceWorld, attendance_app, local

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


def setup_office(w: AttendanceWorld) -> None:
    w.ok("PUT", "/api/v1/timetables/std", json=TIMETABLE)
    w.ok(
        "PUT",
        "/api/v1/sites/main",
        json={
            "name": "Main building",
            "devices": [
                {"device_id": "T1", "kind": "terminal"},
                {"device_id": "C1", "kind": "camera", "linked_terminal": "T1"},
            ],
        },
    )
    w.ok("PUT", "/api/v1/departments/social", json={"name": "Social assistance"})
    for staff_id, pin in (("head", "1000"), ("a", "1001"), ("b", "1002")):
        w.ok(
            "PUT",
            f"/api/v1/staff/{staff_id}",
            json={
                "name": staff_id.upper(),
                "department_id": "social",
                "site_id": "main",
                "timetable_id": "std",
                "terminal_user_ids": [pin],
            },
        )
    w.ok("PUT", "/api/v1/departments/social", json={"name": "Social assistance", "head_staff_id": "head"})


def both_devices_reported(w: AttendanceWorld, day: date) -> None:
    w.reported("T1", local(day + timedelta(days=1), "06:00"))
    w.reported("C1", local(day + timedelta(days=1), "06:00"), DeviceKind.CAMERA)


def test_bad_input_is_refused_naming_the_field(world: AttendanceWorld) -> None:
    setup_office(world)
    overlapping = {
        **TIMETABLE,
        "versions": [dict(TIMETABLE["versions"][0], valid_from="01-01", valid_to="12-31")],
    }
    overlapping["versions"][0]["sessions"] = [
        {"name": "morning", "start": "08:00", "end": "13:00"},
        {"name": "afternoon", "start": "12:30", "end": "17:00"},
    ]
    reply = world.client.put("/api/v1/timetables/bad", json=overlapping)
    assert reply.status_code == 422
    assert "sessions[1]: overlaps sessions[0]" in reply.text

    leave = {
        "staff_id": "a",
        "kind": "leave",
        "starts_at": "2025-06-10T18:00:00+08:00",
        "ends_at": "2025-06-10T08:00:00+08:00",
        "reason": "x",
        "approved_by": "hr",
    }
    reply = world.client.post("/api/v1/leave", json=leave)
    assert reply.status_code == 422
    assert "ends_at" in reply.text

    incident = {
        "staff_id": "nobody",
        "prohibition": "P2",
        "summary": "cards",
        "occurred_at": "2025-06-10T10:00:00+08:00",
        "reported_by": "inspector",
    }
    reply = world.client.post("/api/v1/incidents", json=incident)
    assert reply.status_code == 422
    assert "staff_id" in reply.json()["detail"]
    reply = world.client.post("/api/v1/incidents", json={**incident, "staff_id": "a", "prohibition": "P9"})
    assert reply.status_code == 422
    assert "prohibition" in reply.json()["message"]

    reply = world.client.put(
        "/api/v1/staff/c",
        json={"name": "C", "department_id": "nope", "site_id": "main", "timetable_id": "std"},
    )
    assert reply.status_code == 422
    assert "department_id" in reply.json()["detail"]
    assert world.ok("GET", "/api/v1/incidents")["total"] == 0  # nothing half-stored


def test_a_day_waits_for_every_device_and_a_late_record_re_decides_it(world: AttendanceWorld) -> None:
    setup_office(world)
    world.four_punches("T1", "1000", DAY)
    world.four_punches("T1", "1001", DAY, ("08:20", "12:01", "14:58", "18:00"))
    for staff_id, hhmm in (("head", "07:55"), ("a", "08:20")):
        world.face("C1", staff_id, local(DAY, hhmm), "T1")
    decide = {"from": DAY.isoformat(), "to": DAY.isoformat()}

    world.reported("T1", local(DAY + timedelta(days=1), "06:00"))  # the camera has not reported yet
    report = world.ok("POST", "/api/v1/attendance/decide", json=decide)
    assert (report["decided"], report["pending"]) == (0, 3)
    assert world.ok("GET", "/api/v1/attendance/days", params={"from": "2025-06-10", "to": "2025-06-10"}) == []

    world.reported("C1", local(DAY + timedelta(days=1), "06:00"), DeviceKind.CAMERA)
    report = world.ok("POST", "/api/v1/attendance/decide", json=decide)
    assert report["decided"] == 3
    days = {
        d["staff_id"]: d
        for d in world.ok("GET", "/api/v1/attendance/days", params={"from": "2025-06-10", "to": "2025-06-10"})
    }
    assert {k: (d["status"], d["late_minutes"]) for k, d in days.items()} == {
        "head": ("normal", 0),
        "a": ("late", 20),
        "b": ("absent", 0),
    }
    morning = days["a"]["detail"]["sessions"][0]
    assert (morning["session"], morning["late_minutes"], morning["early_minutes"]) == ("morning", 20, 0)
    assert len(days["a"]["detail"]["marks"]) == 5  # four punches and the face at the 08:20 punch
    incidents = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P1"})["items"]
    assert [(i["staff_id"], i["rule"], i["state"]) for i in incidents] == [
        ("b", "unexcused_absence", "reported")
    ]
    again = world.ok("POST", "/api/v1/attendance/decide", json=decide)
    assert (again["changes"], again["raised"], again["withdrawn"]) == ([], [], [])  # deterministic

    # b's punches were on a terminal that delivered them late (its own site's other terminal was down).
    for hhmm in ("07:50", "12:05", "15:05", "18:10"):
        world.punch("T1", "1002", local(DAY, hhmm), observed_at=local(DAY + timedelta(days=1), "09:00"))
        world.face("C1", "b", local(DAY, hhmm), "T1")
    report = world.ok("POST", "/api/v1/attendance/decide", json=decide)
    assert report["changes"] == [
        {"staff_id": "b", "day": "2025-06-10", "before": "absent", "after": "normal"}
    ]
    assert [w["reason"] for w in report["withdrawn"]] == ["re-decided: 2025-06-10 is now normal for b"], (
        report
    )
    incident = world.ok("GET", f"/api/v1/incidents/{incidents[0]['incident_id']}")
    assert incident["state"] == "withdrawn"
    assert incident["history"][-1]["reason"] == "re-decided: 2025-06-10 is now normal for b"
    # The late records stay suspicious: device time far before the edge saw them is a P6 backfill hit.
    p6 = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P6", "staff": "b"})["items"]
    assert {i["rule"] for i in p6} == {"backfill"}


def test_leave_excuses_and_an_uncovered_post_is_p1(world: AttendanceWorld) -> None:
    setup_office(world)
    world.ok(
        "PUT",
        "/api/v1/staff/a",
        json={
            "name": "A",
            "department_id": "social",
            "site_id": "main",
            "timetable_id": "std",
            "terminal_user_ids": ["1001"],
            "substitute_staff_id": "b",
        },
    )
    world.ok(
        "POST",
        "/api/v1/leave",
        json={
            "staff_id": "a",
            "kind": "leave",
            "starts_at": "2025-06-10T00:00:00+08:00",
            "ends_at": "2025-06-11T00:00:00+08:00",
            "reason": "sick",
            "approved_by": "hr",
        },
    )
    world.four_punches("T1", "1000", DAY)
    both_devices_reported(world, DAY)
    world.ok("POST", "/api/v1/attendance/decide", json={"from": "2025-06-10", "to": "2025-06-10"})
    p1 = world.ok("GET", "/api/v1/incidents", params={"prohibition": "P1"})["items"]
    rules = sorted((i["staff_id"], i["rule"]) for i in p1)
    assert rules == [("a", "post_uncovered"), ("b", "unexcused_absence")]
    month = world.ok("GET", "/api/v1/attendance/departments/social/month", params={"month": "2025-06"})
    a = next(s for s in month["staff"] if s["staff_id"] == "a")
    assert a["totals"] == {"leave": 1, "late_minutes": 0, "early_minutes": 0}


def report_p2(world: AttendanceWorld, staff_id: str, n: int) -> str:
    incident = world.ok(
        "POST",
        "/api/v1/incidents",
        json={
            "staff_id": staff_id,
            "prohibition": "P2",
            "summary": f"cards #{n}",
            "occurred_at": "2025-06-10T10:00:00+08:00",
            "reported_by": "inspector",
        },
    )
    return str(incident["incident_id"])


def confirm(world: AttendanceWorld, incident_id: str) -> None:
    for action in ("review", "confirm"):
        world.ok(
            "POST",
            f"/api/v1/incidents/{incident_id}/decision",
            json={"action": action, "decided_by": "hr-li", "reason": action},
        )


def test_review_workflow_records_who_when_why_and_attachments(world: AttendanceWorld) -> None:
    setup_office(world)
    incident_id = report_p2(world, "a", 1)
    reply = world.client.post(
        f"/api/v1/incidents/{incident_id}/decision",
        json={"action": "confirm", "decided_by": "hr", "reason": "x"},
    )
    assert reply.status_code == 409
    assert "only on: under_review" in reply.text
    world.ok(
        "POST",
        f"/api/v1/incidents/{incident_id}/attachments",
        files={"file": ("photo.jpg", b"\xff\xd8jpeg", "image/jpeg")},
        data={"uploaded_by": "inspector"},
    )
    world.ok(
        "POST", f"/api/v1/incidents/{incident_id}/explanation", json={"by": "a", "text": "I was on a break"}
    )
    confirm(world, incident_id)
    world.ok(
        "POST", f"/api/v1/incidents/{incident_id}/appeal", json={"by": "a", "text": "the break was approved"}
    )
    detail = world.ok("GET", f"/api/v1/incidents/{incident_id}")
    assert detail["state"] == "under_review"
    assert [(h["action"], h["actor"], h["to_state"]) for h in detail["history"]] == [
        ("report", "inspector", "reported"),
        ("explain", "a", "reported"),
        ("review", "hr-li", "under_review"),
        ("confirm", "hr-li", "confirmed"),
        ("appeal", "a", "under_review"),
    ]
    (attachment,) = detail["attachments"]
    content = world.client.get(f"/api/v1/incidents/{incident_id}/attachments/{attachment['attachment_id']}")
    assert content.content == b"\xff\xd8jpeg"


def test_every_second_staff_warning_warns_the_head_and_withdrawal_follows(world: AttendanceWorld) -> None:
    setup_office(world)
    warnings = []
    for n, staff_id in enumerate(("a", "b", "head", "a", "b"), start=1):
        incident_id = report_p2(world, staff_id, n)
        confirm(world, incident_id)
        warnings.append(
            world.ok(
                "POST",
                "/api/v1/warnings",
                json={"incident_id": incident_id, "issued_by": "office", "reason": "P2"},
            )
        )
    listed = world.ok("GET", "/api/v1/warnings", params={"department": "social"})
    escalations = [w for w in listed if w["kind"] == "escalation"]
    # staff warnings a, b (1st, 2nd) -> head #1; head's own does not count; a, b (3rd, 4th) -> head #2
    assert [(w["staff_id"], w["ordinal"], w["caused_by"]) for w in escalations] == [
        ("head", 1, [warnings[0]["warning_id"], warnings[1]["warning_id"]]),
        ("head", 2, [warnings[3]["warning_id"], warnings[4]["warning_id"]]),
    ]
    reply = world.client.post(
        "/api/v1/warnings", json={"incident_id": report_p2(world, "a", 9), "issued_by": "o", "reason": "r"}
    )
    assert reply.status_code == 422
    assert "only a confirmed incident" in reply.text

    world.ok(
        "POST",
        f"/api/v1/warnings/{warnings[1]['warning_id']}/withdrawal",
        json={"withdrawn_by": "office", "reason": "appeal upheld"},
    )
    active = [
        w for w in world.ok("GET", "/api/v1/warnings", params={"staff": "head"}) if w["withdrawn_at"] is None
    ]
    assert [(w["kind"], w["ordinal"], w["caused_by"]) for w in active] == [
        ("escalation", 1, [warnings[0]["warning_id"], warnings[3]["warning_id"]]),
        ("personal", None, []),
    ]
