"""The dashboard against the real app on SQLite: today per department before and after the day is
decided (on the attendance clock), the devices needing attention, and the live feed's event stream
from a real ``kaoqin server`` (resumed by Last-Event-ID, refused without Accept: text/event-stream)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from contracts import DeviceStatus
from contracts.events import DeviceKind
from server.adapters.db import create_db_engine
from server.app import create_app
from server.services.auth_settings import AuthSettings
from server.services.ingest import IngestBatch
from server.settings import ServerSettings
from tests.faults.rig import ServerRig
from tests.support.attendance_world import EDGE, TIMETABLE, AttendanceWorld, local
from tests.support.auth import add_user, token_for
from tests.support.processes import wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.integration

DAY = date(2025, 6, 3)  # a Tuesday of the summer timetable (08:00-12:00, 15:00-18:00)
SECRET = SecretStr("dashboard-test-secret-" + "x" * 40)


def _row(html: str, department: str) -> list[str]:
    found = re.search(rf'<tr data-department="{department}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {department}"
    return re.findall(r"<td>(.*?)</td>", found.group(1))


def _page_session(client: TestClient, database_url: str, role: str = "admin") -> None:
    username, password = add_user(database_url, role)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/signin").text)
    assert token
    data = {"username": username, "password": password, "csrf_token": token.group(1)}
    assert client.post("/signin", data=data, follow_redirects=False).status_code == 303


def _world(client: TestClient, database_url: str, engine_url: str) -> tuple[AttendanceWorld, dict[str, str]]:
    username, password = add_user(database_url, "admin")
    admin = {"Authorization": f"Bearer {token_for(client, username, password)}"}
    world = AttendanceWorld(create_db_engine(engine_url), client)
    devices = [{"device_id": "T1", "kind": "terminal"}, {"device_id": "T2", "kind": "terminal"}]
    world.ok("PUT", "/api/v1/sites/hq", json={"name": "HQ", "devices": devices}, headers=admin)
    world.ok("PUT", "/api/v1/departments/d1", json={"name": "一处"}, headers=admin)
    world.ok("PUT", "/api/v1/departments/d2", json={"name": "二处"}, headers=admin)
    world.ok("PUT", "/api/v1/timetables/standard", json=TIMETABLE, headers=admin)
    for staff_id, department, pin, active in [
        ("a", "d1", "8001", True),
        ("b", "d1", "8002", True),
        ("c", "d1", "8003", True),
        ("gone", "d1", "8004", False),
        ("e", "d2", "8005", True),
    ]:
        person = {
            "name": f"name-{staff_id}",
            "department_id": department,
            "site_id": "hq",
            "timetable_id": "standard",
            "terminal_user_ids": [pin],
            "active": active,
        }
        world.ok("PUT", f"/api/v1/staff/{staff_id}", json=person, headers=admin)
    leave = {
        "staff_id": "c",
        "kind": "leave",
        "starts_at": local(DAY, "00:00").isoformat(),
        "ends_at": local(DAY, "23:59").isoformat(),
        "reason": "family",
        "approved_by": "hr",
    }
    world.ok("POST", "/api/v1/leave", json=leave, headers=admin)
    return world, admin


@pytest.fixture
def dashboard_app(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """create_app on an attendance clock at 23:00 on DAY in the office's zone."""
    database_url = f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    settings = ServerSettings(
        database_url=database_url, embedded_broker_port=free_port(), auth=AuthSettings(token_secret=SECRET)
    )
    app = create_app(settings, clock=lambda: local(DAY, "23:00").astimezone(UTC))
    with TestClient(app) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 20, "the server to be healthy")
        yield client, database_url


def test_today_before_the_decision_shows_punches_so_far_and_leave_then_the_decided_counts(
    dashboard_app: tuple[TestClient, str],
) -> None:
    client, database_url = dashboard_app
    world, admin = _world(client, database_url, database_url)
    world.four_punches("T1", "8001", DAY)  # a: on time
    world.four_punches("T1", "8002", DAY, ("08:20", "12:02", "14:55", "18:03"))  # b: late
    world.face("CAM1", "e", local(DAY, "07:58"))  # e: a recognised face counts as checked in
    _page_session(client, database_url)

    undecided = client.get("/dashboard").text
    assert "今日概览 2025-06-03" in undecided
    assert 'data-testid="undecided"' in undecided
    # expected (the inactive one not counted), punched so far, on leave, not yet punched
    assert _row(undecided, "d1")[1:] == ["3", "2", "1", "0"]
    assert _row(undecided, "d2")[1:] == ["1", "1", "0", "0"]
    assert "name-b" in undecided  # the recent check-ins, by name

    world.reported("T1", local(DAY + timedelta(days=1), "01:00"))
    world.reported("T2", local(DAY + timedelta(days=1), "01:00"))
    body = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    assert client.post("/api/v1/attendance/decide", json=body, headers=admin).status_code == 200
    decided = client.get("/dashboard").text
    assert 'data-testid="undecided"' not in decided
    # expected, present, late, absent, on leave, punched
    d1 = _row(decided, "d1")[1:]
    assert d1[0] == "3"
    assert d1[1] == "2"  # a and b came
    assert d1[2] == "1"  # b was late
    assert d1[4] == "1"  # c on leave
    assert d1[5] == "2"


def test_devices_silent_drifting_or_nearly_full_need_attention(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'devices.sqlite3'}"
    settings = ServerSettings(database_url=database_url, embedded_broker_port=free_port())
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 20, "the server to be healthy")
        world, _ = _world(client, database_url, database_url)
        now = datetime.now(UTC).replace(microsecond=0)
        reports = [
            DeviceStatus.create(
                edge_id=EDGE, device_id="T1", device_kind=DeviceKind.TERMINAL,
                occurred_at=now - timedelta(minutes=12), reachable=True,
            ),
            DeviceStatus.create(
                edge_id=EDGE, device_id="T2", device_kind=DeviceKind.TERMINAL, occurred_at=now,
                reachable=True, records=850, record_capacity=1000, clock_offset_seconds=-45.0,
            ),
            DeviceStatus.create(
                edge_id=EDGE, device_id="T3", device_kind=DeviceKind.TERMINAL, occurred_at=now,
                reachable=True, records=100, record_capacity=1000, clock_offset_seconds=2.0,
            ),
        ]  # fmt: skip
        world.ingest.store_batch(IngestBatch(events=list(reports)), now)
        _page_session(client, database_url, "inspector")
        page = client.get("/dashboard?lang=en").text
    t1 = re.search(r'<tr data-device="T1">(.*?)</tr>', page, re.S)
    t2 = re.search(r'<tr data-device="T2">(.*?)</tr>', page, re.S)
    assert t1
    assert "No report for 12 min" in t1.group(1)
    assert t2
    assert "Log 85% full" in t2.group(1)
    assert "Clock off by -45 s" in t2.group(1)
    assert 'data-device="T3"' not in page  # a healthy device is not listed


def _events(reply: httpx.Response, wanted: int) -> list[tuple[str, dict[str, str]]]:
    """Read ``checkin`` events (id, data) until ``wanted`` arrived."""
    found: list[tuple[str, dict[str, str]]] = []
    event_id = ""
    for line in reply.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            found.append((event_id, json.loads(line[6:])))
            if len(found) == wanted:
                break
    return found


def test_the_live_feed_streams_new_check_ins_and_resumes_after_the_last_event_id(tmp_path: Path) -> None:
    rig = ServerRig(workdir=tmp_path, database_url=f"sqlite:///{tmp_path / 'live.sqlite3'}")
    rig.start()
    try:
        base = f"http://127.0.0.1:{rig.http_port}"
        with httpx.Client(base_url=base, timeout=20) as client:
            username, password = add_user(rig.database_url, "hr")
            headers = {"Authorization": f"Bearer {token_for(client, username, password)}"}
            assert client.get("/live/checkins", headers=headers).status_code == 406
            world = AttendanceWorld(create_db_engine(rig.database_url), client)  # type: ignore[arg-type]
            now = datetime.now(UTC).replace(microsecond=0)
            world.punch("SN1", "9001", now - timedelta(minutes=3))  # before the stream: not sent
            stream_headers = {**headers, "Accept": "text/event-stream"}
            with client.stream("GET", "/live/checkins", headers=stream_headers) as reply:
                assert reply.status_code == 200
                assert reply.headers["content-type"].startswith("text/event-stream")
                world.punch("SN1", "9002", now - timedelta(minutes=2))
                world.face("CAM1", None, now - timedelta(minutes=1))
                first = _events(reply, 2)
            assert [e[1]["device"] for e in first] == ["SN1", "CAM1"]
            assert first[0][1]["who"] == "9002"  # no staff with that PIN: the PIN is shown
            world.punch("SN2", "9003", now)
            resumed = {**stream_headers, "Last-Event-ID": first[0][0]}
            with client.stream("GET", "/live/checkins", headers=resumed) as reply:
                again = _events(reply, 2)
            assert [e[1]["device"] for e in again] == ["CAM1", "SN2"]  # after the first, in order
    finally:
        rig.stop()


def test_a_staff_member_sees_only_their_own_check_ins_today_in_the_office_zone(
    dashboard_app: tuple[TestClient, str],
) -> None:
    client, database_url = dashboard_app
    world, _ = _world(client, database_url, database_url)
    world.four_punches("T1", "8001", DAY)
    world.punch("T1", "8002", local(DAY, "08:20"))
    world.punch("T1", "8001", local(DAY - timedelta(days=1), "09:00"))  # yesterday: not today's
    username, password = add_user(database_url, "staff", staff_id="a")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/signin").text)
    assert token
    data = {"username": username, "password": password, "csrf_token": token.group(1)}
    page = client.post("/signin", data=data).text
    assert "我的今日打卡" in page
    times = re.findall(r"<td>(2025-\d\d-\d\d \d\d:\d\d:\d\d)</td>", page)
    assert times == [f"2025-06-03 {t}:00" for t in ("07:55", "12:02", "14:55", "18:03")]
