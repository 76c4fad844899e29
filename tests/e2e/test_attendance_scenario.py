"""A generated month (October 2025) for a bureau of three departments, through the real server app
(create_app, its embedded broker, migrations) on SQLite and PostgreSQL.

Known events: late arrivals, an absence without leave, a day of approved leave, the National Day
holidays and the make-up working day of Saturday 11 October (chinese-calendar), a local holiday
override, a proxy sign-in seen by the camera, a card punch where a biometric is required, a burst at
the terminal, a terminal clock set back, inspectors' reports, and warnings escalating to two heads.
The test expects every day status, every incident and every warning exactly, and nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from contracts.events import DeviceKind, PunchFlag, VerifyMethod
from server.adapters.db import create_db_engine
from server.app import create_app
from server.settings import ServerSettings
from tests.support.attendance_world import TIMETABLE, ZONE, AttendanceWorld, local
from tests.support.auth import sign_in
from tests.support.services import free_port

pytestmark = pytest.mark.e2e

MONTH = [date(2025, 10, d) for d in range(1, 32)]
HOLIDAYS = {date(2025, 10, d) for d in range(1, 9)} | {date(2025, 10, 24)}  # 24th: local override
MAKE_UP = date(2025, 10, 11)  # a Saturday worked in exchange for the National Day week
DEPARTMENTS = ("d1", "d2", "d3")
STAFF = [f"{d}-{role}" for d in DEPARTMENTS for role in ("head", "s1", "s2", "s3", "s4")]
ANNEX = {s for s in STAFF if s.startswith("d2")}  # d2 works at the annex: terminal T2, no camera


_OK, _JPEG = cv2.imencode(".jpg", np.full((24, 24, 3), 96, dtype=np.uint8))
SNAPSHOT = bytes(_JPEG)


def pin(staff_id: str) -> str:
    return str(1000 + STAFF.index(staff_id))


def regular_times(staff_id: str) -> list[str]:
    """Each person's usual punches, a minute apart from the others: no burst, no recurring pair."""
    i = STAFF.index(staff_id)
    return [f"07:{40 + i:02d}", f"12:{i:02d}", f"14:{i:02d}", f"17:{30 + i:02d}"]


class TickingClock:
    """The server's clock in this scenario: early November 2025, a second further at each reading
    (so warnings have an order), whatever the real date is."""

    def __init__(self) -> None:
        self.now = datetime(2025, 11, 3, 9, 0, tzinfo=ZONE)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(database_url=database_url, embedded_broker_port=free_port())
    with TestClient(create_app(settings, clock=TickingClock())) as client:
        deadline = time.monotonic() + 20
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)
        sign_in(client, database_url)
        yield client


def test_a_month_for_a_bureau(client: TestClient, database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        run_month(AttendanceWorld(engine, client))
    finally:
        engine.dispose()


def setup_bureau(w: AttendanceWorld) -> None:
    w.ok("PUT", "/api/v1/timetables/std", json=TIMETABLE)
    w.ok(
        "PUT",
        "/api/v1/sites/main",
        json={
            "name": "Bureau main building",
            "devices": [
                {"device_id": "T1", "kind": "terminal"},
                {"device_id": "C1", "kind": "camera", "linked_terminal": "T1"},
            ],
        },
    )
    w.ok(
        "PUT",
        "/api/v1/sites/annex",
        json={"name": "Annex", "devices": [{"device_id": "T2", "kind": "terminal"}]},
    )
    w.ok("PUT", "/api/v1/sites/main/travel/annex", json={"minutes": 40})
    for department in DEPARTMENTS:
        w.ok("PUT", f"/api/v1/departments/{department}", json={"name": f"Division {department}"})
    for staff_id in STAFF:
        body = {
            "name": staff_id,
            "department_id": staff_id[:2],
            "site_id": "annex" if staff_id in ANNEX else "main",
            "timetable_id": "std",
            "terminal_user_ids": [pin(staff_id)],
        }
        w.ok("PUT", f"/api/v1/staff/{staff_id}", json=body)
        if staff_id == "d2-s3":  # once both exist: d2-s3 covers d2-s1's post (同岗替代)
            w.ok(
                "PUT",
                "/api/v1/staff/d2-s1",
                json={
                    **body,
                    "name": "d2-s1",
                    "terminal_user_ids": [pin("d2-s1")],
                    "substitute_staff_id": "d2-s3",
                },
            )
    for department in DEPARTMENTS:
        w.ok(
            "PUT",
            f"/api/v1/departments/{department}",
            json={"name": f"Division {department}", "head_staff_id": f"{department}-head"},
        )
    w.ok("PUT", "/api/v1/holidays/2025-10-24", json={"kind": "holiday", "name": "Bureau sports day (local)"})
    w.ok(
        "POST",
        "/api/v1/leave",
        json={
            "staff_id": "d2-s1",
            "kind": "leave",
            "starts_at": "2025-10-15T00:00:00+08:00",
            "ends_at": "2025-10-16T00:00:00+08:00",
            "reason": "family",
            "approved_by": "hr-li",
        },
    )


def run_month(w: AttendanceWorld) -> None:
    setup_bureau(w)
    expected: dict[tuple[str, date], str] = {}
    late: dict[tuple[str, date], int] = {}
    w.buffered()
    for day in MONTH:
        workday = day == MAKE_UP or (day.weekday() < 5 and day not in HOLIDAYS)
        for staff_id in STAFF:
            if not workday:
                expected[staff_id, day] = "holiday" if day in HOLIDAYS else "rest_day"
                continue
            expected[staff_id, day] = "normal"
            times = regular_times(staff_id)
            if (staff_id, day) == ("d1-s1", date(2025, 10, 13)):
                times[0] = "08:50"
                expected[staff_id, day], late[staff_id, day] = "late", 20
            if (staff_id, day) == ("d2-s2", date(2025, 10, 20)):
                times[0] = "08:42"
                expected[staff_id, day], late[staff_id, day] = "late", 12
            if (staff_id, day) == ("d1-s2", date(2025, 10, 14)):
                expected[staff_id, day] = "absent"
                continue
            if (staff_id, day) == ("d2-s1", date(2025, 10, 15)):
                expected[staff_id, day] = "leave"
                continue
            if (staff_id, day) == ("d1-s4", date(2025, 10, 16)):
                times = times[1:]  # arrives late without punching: d1-s3 punches in for them
            if (staff_id, day) == ("d2-s4", date(2025, 10, 22)):
                times = times[1:]  # this morning's punch went to the terminal's wrong clock (below)
                expected[staff_id, day] = "missing_punch"
            if staff_id in ("d3-s2", "d3-s3", "d3-s4") and day == date(2025, 10, 20):
                times = times[1:]  # the burst below replaces the morning punch
            terminal = "T2" if staff_id in ANNEX else "T1"
            for n, hhmm in enumerate(times):
                method = (
                    VerifyMethod.CARD
                    if (staff_id, day, n) == ("d3-s1", date(2025, 10, 17), 0)
                    else VerifyMethod.FINGERPRINT
                )
                w.punch(terminal, pin(staff_id), local(day, hhmm), method=method)
                if terminal == "T1":
                    # The camera's snapshot of d1-s3 when punching in for d1-s4 is the evidence.
                    proxy = (staff_id, day, n) == ("d1-s3", date(2025, 10, 16), 0)
                    w.face("C1", staff_id, local(day, hhmm), "T1", snapshot_jpeg=SNAPSHOT if proxy else None)

    proxy_day = date(2025, 10, 16)  # d1-s3 punches in for d1-s4; the camera sees only d1-s3
    w.punch("T1", pin("d1-s4"), local(proxy_day, regular_times("d1-s3")[0], 20))
    burst_day = date(2025, 10, 20)  # three people within ten seconds; the camera saw one
    for seconds, staff_id in ((0, "d3-s2"), (5, "d3-s3"), (10, "d3-s4")):
        w.punch("T1", pin(staff_id), local(burst_day, "08:10", seconds))
    w.face("C1", "d3-s2", local(burst_day, "08:10"), "T1")
    # T2's clock was set back two days and five minutes on 22 October; the edge saw the record then.
    real = local(date(2025, 10, 22), regular_times("d2-s4")[0])
    w.punch(
        "T2",
        pin("d2-s4"),
        real - timedelta(days=2, minutes=5),
        observed_at=real,
        flags=[PunchFlag.CLOCK_UNRELIABLE],
    )
    end = local(date(2025, 11, 1), "06:00")
    w.reported("T1", end)
    w.reported("T2", end)
    w.reported("C1", end, DeviceKind.CAMERA)
    w.flush()

    report = w.ok("POST", "/api/v1/attendance/decide", json={"from": "2025-10-01", "to": "2025-10-31"})
    assert (report["decided"], report["pending"]) == (len(STAFF) * len(MONTH), 0)
    days = w.ok("GET", "/api/v1/attendance/days", params={"from": "2025-10-01", "to": "2025-10-31"})
    got = {(d["staff_id"], date.fromisoformat(d["day"])): d["status"] for d in days}
    assert got == expected
    assert {
        (d["staff_id"], date.fromisoformat(d["day"])): d["late_minutes"] for d in days if d["late_minutes"]
    } == late

    detected = w.ok("GET", "/api/v1/incidents", params={"source": "rule"})["items"]
    assert sorted((i["staff_id"], i["prohibition"], i["rule"], i["occurred_at"][:10]) for i in detected) == [
        ("d1-s2", "P1", "unexcused_absence", "2025-10-13"),  # occurred_at is local midnight, in UTC
        ("d1-s4", "P6", "face_mismatch", "2025-10-15"),
        ("d2-s4", "P6", "backfill", "2025-10-19"),
        ("d3-s1", "P6", "non_biometric", "2025-10-16"),
        ("d3-s3", "P6", "face_mismatch", "2025-10-20"),
        ("d3-s3", "P6", "punch_burst", "2025-10-20"),
        ("d3-s4", "P6", "face_mismatch", "2025-10-20"),
        ("d3-s4", "P6", "punch_burst", "2025-10-20"),
    ]
    by_rule = {(i["staff_id"], i["rule"]): i for i in detected}
    proxy_evidence = by_rule["d1-s4", "face_mismatch"]["evidence"]
    assert proxy_evidence["seen_staff"] == ["d1-s3"]
    (snapshot_link,) = proxy_evidence["snapshots"]
    reply = w.client.get(snapshot_link)  # the link opens the picture, through the whole server
    assert (reply.status_code, reply.content) == (200, SNAPSHOT), snapshot_link
    assert by_rule["d2-s4", "backfill"]["evidence"]["reasons"] == [
        "device_time_far_before_observed",
        "clock_unreliable",
    ]
    assert all(i["state"] == "reported" and 0 < i["confidence"] <= 1 for i in detected)
    again = w.ok("POST", "/api/v1/attendance/decide", json={"from": "2025-10-01", "to": "2025-10-31"})
    assert (again["changes"], again["raised"], again["withdrawn"]) == ([], [], [])

    def confirm(incident_id: str) -> None:
        for action in ("review", "confirm"):
            w.ok(
                "POST",
                f"/api/v1/incidents/{incident_id}/decision",
                json={"action": action, "decided_by": "discipline-office", "reason": action},
            )

    def inspector(staff_id: str, code: str, text: str) -> str:
        body = {
            "staff_id": staff_id,
            "prohibition": code,
            "summary": text,
            "occurred_at": "2025-10-21T10:00:00+08:00",
            "reported_by": "inspector-wang",
        }
        return str(w.ok("POST", "/api/v1/incidents", json=body)["incident_id"])

    chain = [
        inspector("d1-s1", "P2", "stock trading at the desk"),
        by_rule["d1-s2", "unexcused_absence"]["incident_id"],
        inspector("d3-s1", "P3", "case left overdue"),
        by_rule["d3-s3", "punch_burst"]["incident_id"],
        inspector("d2-s2", "P4", "shouted at a citizen"),
        inspector("d2-head", "P5", "accepted a banquet"),
    ]
    dismissed = inspector("d2-s3", "P2", "cards at lunch (it was a break)")
    w.ok(
        "POST",
        f"/api/v1/incidents/{dismissed}/decision",
        json={"action": "review", "decided_by": "office", "reason": "check"},
    )
    w.ok(
        "POST",
        f"/api/v1/incidents/{dismissed}/decision",
        json={"action": "dismiss", "decided_by": "office", "reason": "a break"},
    )
    issued = {}
    for incident_id in chain:
        confirm(incident_id)
        warning = w.ok(
            "POST",
            "/api/v1/warnings",
            json={"incident_id": incident_id, "issued_by": "discipline-office", "reason": "confirmed"},
        )
        issued[warning["staff_id"]] = warning["warning_id"]

    # The server's clock says November 2025, so every warning is of 2025 whatever today is.
    warnings = w.ok("GET", "/api/v1/warnings", params={"year": 2025})
    assert sorted(x["warning_id"] for x in w.ok("GET", "/api/v1/warnings")) == sorted(
        x["warning_id"] for x in warnings
    )
    personal = sorted((x["staff_id"], x["warning_id"]) for x in warnings if x["kind"] == "personal")
    assert personal == sorted(issued.items())
    assert [s for s, _ in personal] == ["d1-s1", "d1-s2", "d2-head", "d2-s2", "d3-s1", "d3-s3"]
    escalations = sorted(
        (x["staff_id"], x["ordinal"], x["caused_by"]) for x in warnings if x["kind"] == "escalation"
    )
    # d2: d2-s2's warning is the division's only one; the head's own (d2-head) does not count.
    assert escalations == [
        ("d1-head", 1, [issued["d1-s1"], issued["d1-s2"]]),
        ("d3-head", 1, [issued["d3-s1"], issued["d3-s3"]]),
    ]
    inspected = w.ok("GET", "/api/v1/incidents", params={"source": "inspector"})["items"]
    assert sorted((i["staff_id"], i["prohibition"], i["state"]) for i in inspected) == [
        ("d1-s1", "P2", "confirmed"),
        ("d2-head", "P5", "confirmed"),
        ("d2-s2", "P4", "confirmed"),
        ("d2-s3", "P2", "dismissed"),
        ("d3-s1", "P3", "confirmed"),
    ]
    assert next(i for i in inspected if i["state"] == "dismissed")["incident_id"] == dismissed
    detected = w.ok("GET", "/api/v1/incidents", params={"source": "rule"})["items"]
    assert sorted((i["staff_id"], i["rule"], i["state"]) for i in detected) == [
        ("d1-s2", "unexcused_absence", "confirmed"),
        ("d1-s4", "face_mismatch", "reported"),
        ("d2-s4", "backfill", "reported"),
        ("d3-s1", "non_biometric", "reported"),
        ("d3-s3", "face_mismatch", "reported"),
        ("d3-s3", "punch_burst", "confirmed"),
        ("d3-s4", "face_mismatch", "reported"),
        ("d3-s4", "punch_burst", "reported"),
    ]
