"""Registered devices stand at their site for the attendance engine (SQLite and PostgreSQL, the real
server app): registering a terminal or camera adds it to its site's devices in the registration's
transaction, so a day there waits for it; changing its site moves it, deleting it removes it, and a
later PUT of the site keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from contracts.events import DeviceKind
from server.adapters.db import create_db_engine
from server.adapters.migrate import alembic_config
from tests.support.attendance_world import TIMETABLE, AttendanceWorld, local
from tests.support.auth import running_app, sign_in

pytestmark = pytest.mark.integration

DAY = date(2025, 6, 10)  # a Tuesday in summer: sessions 08:00-12:00 and 15:00-18:00
MODEL = "tft_fingerprint_card_zmm220"
DECIDE = {"from": DAY.isoformat(), "to": DAY.isoformat()}


@pytest.fixture
def world(database_url: str) -> Iterator[AttendanceWorld]:
    with running_app(database_url) as client:
        sign_in(client, database_url)
        engine = create_db_engine(database_url)
        try:
            w = AttendanceWorld(engine, client)
            w.ok("POST", "/api/v1/edges", json={"edge_id": "edge-bureau"})
            w.ok("PUT", "/api/v1/timetables/std", json=TIMETABLE)
            for site in ("main", "annex"):
                w.ok("PUT", f"/api/v1/sites/{site}", json={"name": site.title(), "devices": []})
            w.ok("PUT", "/api/v1/departments/social", json={"name": "Social assistance"})
            staff = {"department_id": "social", "site_id": "main", "timetable_id": "std"}
            w.ok("PUT", "/api/v1/staff/a", json={"name": "A", "terminal_user_ids": ["1001"], **staff})
            yield w
        finally:
            engine.dispose()


def _register_terminal(w: AttendanceWorld, serial: str, site: str = "main") -> dict[str, Any]:
    body = {"model": MODEL, "site_id": site, "edge_id": "edge-bureau", "host": "10.0.0.9"}
    return dict(w.ok("POST", "/api/v1/registry/terminals", json={"serial": serial, **body}))


def _site_devices(w: AttendanceWorld, site: str) -> list[tuple[str, str, str | None]]:
    (found,) = [s for s in w.ok("GET", "/api/v1/sites") if s["site_id"] == site]
    return [(d["device_id"], d["kind"], d["linked_terminal"]) for d in found["devices"]]


def _decide(w: AttendanceWorld) -> tuple[int, int]:
    report = w.ok("POST", "/api/v1/attendance/decide", json=DECIDE)
    return report["decided"], report["pending"]


def test_a_day_waits_for_a_newly_registered_terminal_until_it_reported_past_the_day(
    world: AttendanceWorld,
) -> None:
    _register_terminal(world, "KQSITE0001")
    assert _site_devices(world, "main") == [("KQSITE0001", "terminal", None)]
    world.four_punches("KQSITE0001", "1001", DAY)

    assert _decide(world) == (0, 1)  # registered, never reported: the day waits
    world.reported("KQSITE0001", local(DAY, "17:00"))  # read up to before the day's end
    assert _decide(world) == (0, 1)
    assert world.ok("GET", "/api/v1/attendance/days", params=DECIDE) == []

    world.reported("KQSITE0001", local(DAY + timedelta(days=1), "06:00"))
    assert _decide(world) == (1, 0)
    (day,) = world.ok("GET", "/api/v1/attendance/days", params=DECIDE)
    assert day["staff_id"] == "a"
    assert day["status"] == "normal"  # four punches in time, biometric


def test_a_registered_camera_stands_by_its_terminal_and_moves_and_goes_with_the_registration(
    world: AttendanceWorld,
) -> None:
    _register_terminal(world, "KQSITE0002")
    camera = {
        "camera_id": "cam-door",
        "source": "0",
        "linked_terminal": "KQSITE0002",
        "edge_id": "edge-bureau",
    }
    world.ok("POST", "/api/v1/registry/cameras", json=camera)
    assert _site_devices(world, "main") == [
        ("KQSITE0002", "terminal", None),
        ("cam-door", "camera", "KQSITE0002"),
    ]
    world.reported("KQSITE0002", local(DAY + timedelta(days=1), "06:00"))
    assert _decide(world) == (0, 1)  # the camera has not reported
    world.reported("cam-door", local(DAY + timedelta(days=1), "06:00"), DeviceKind.CAMERA)
    assert _decide(world) == (1, 0)

    # Redefining the site through the attendance API keeps what is registered there.
    world.ok("PUT", "/api/v1/sites/main", json={"name": "Main building", "devices": []})
    assert [d[0] for d in _site_devices(world, "main")] == ["KQSITE0002", "cam-door"]
    # ...and listing a device registered at another site is refused by name, changing nothing.
    reply = world.client.put(
        "/api/v1/sites/annex",
        json={"name": "Annex", "devices": [{"device_id": "cam-door", "kind": "camera"}]},
    )
    assert reply.status_code == 422
    assert "cam-door is registered at site main" in reply.json()["detail"]
    assert _site_devices(world, "annex") == []

    # Moving the terminal to the annex moves its camera with it.
    change = {"model": MODEL, "site_id": "annex", "edge_id": "edge-bureau", "host": "10.0.0.9"}
    world.ok("PUT", "/api/v1/registry/terminals/KQSITE0002", json=change)
    assert _site_devices(world, "main") == []
    assert [d[0] for d in _site_devices(world, "annex")] == ["KQSITE0002", "cam-door"]

    assert world.client.delete("/api/v1/registry/cameras/cam-door").status_code == 204
    assert world.client.delete("/api/v1/registry/terminals/KQSITE0002").status_code == 204
    assert _site_devices(world, "annex") == []


def test_a_refused_registration_adds_nothing_to_the_site(world: AttendanceWorld) -> None:
    reply = world.client.post(
        "/api/v1/registry/terminals",
        json={"serial": "KQSITE0003", "model": MODEL, "site_id": "main", "edge_id": "edge-bureau"},
    )
    assert reply.status_code == 422  # a pull model without a host
    assert "host" in reply.json()["fields"]
    assert _site_devices(world, "main") == []


def test_migration_0011_places_devices_registered_before_it(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0010")
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as c:
            c.execute(text("INSERT INTO sites (site_id, name) VALUES ('main', 'Main'), ('annex', 'Annex')"))
            c.execute(
                text(
                    "INSERT INTO edge_credentials (edge_id, username, password_hash, generation, issued_at)"
                    " VALUES ('edge-old', 'edge-old', 'x', 1, CURRENT_TIMESTAMP)"
                )
            )
            c.execute(
                text(
                    "INSERT INTO registered_terminals (serial, model, connection, site_id, edge_id, host,"
                    " port, transport, comm_key, timezone, registered_at, updated_at) VALUES ('KQOLD0001',"
                    f" '{MODEL}', 'pull', 'main', 'edge-old', '10.0.0.1', 4370, 'tcp', 0, 'Asia/Shanghai',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            c.execute(
                text(
                    "INSERT INTO registered_cameras (camera_id, source, linked_terminal, edge_id,"
                    " registered_at, updated_at) VALUES ('cam-old', '0', 'KQOLD0001', 'edge-old',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            # Listed by hand at the wrong site before: the registration's site is what counts.
            c.execute(
                text(
                    "INSERT INTO site_devices (device_id, site_id, kind) VALUES ('KQOLD0001', 'annex', 'terminal')"
                )
            )
        command.upgrade(alembic_config(database_url), "0011")
        with engine.connect() as c:
            rows = c.execute(text("SELECT device_id, site_id, kind, linked_terminal FROM site_devices")).all()
        assert sorted(tuple(r) for r in rows) == [
            ("KQOLD0001", "main", "terminal", None),
            ("cam-old", "main", "camera", "KQOLD0001"),
        ]
    finally:
        engine.dispose()
