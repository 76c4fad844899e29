"""API security against the real app (create_app on SQLite, its lifespan, real argon2 and JWT):
every route has an access policy entry, every route x every role (and anonymous) is allowed or
refused as the policy says, staff see only their own records, failed logins are limited."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from contracts import FaceObservation
from contracts.events import FaceLiveness, FaceOutcome
from server.adapters.user_store import UserStore
from server.api.access_policy import DENIED_HEADER, POLICY, Rule
from server.services.auth import Role
from server.services.auth_settings import AuthSettings
from tests.support.attendance_world import TIMETABLE, AttendanceWorld
from tests.support.auth import add_user, running_app, token_for

pytestmark = pytest.mark.integration

SECRET = "test-signing-secret-" + "x" * 40
OWN, OTHER = "s-own", "s-other"
OWN_PIN, OTHER_PIN = "9001", "9002"
ROLES: list[Role | None] = [None, *Role]


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    database_url = f"sqlite:///{tmp_path / 'security.sqlite3'}"
    with running_app(database_url, auth=AuthSettings(token_secret=SECRET)) as client:
        yield client, database_url


def _headers(
    client: TestClient, database_url: str, role: Role, staff_id: str | None = None
) -> dict[str, str]:
    username, password = add_user(database_url, role.value, staff_id=staff_id)
    return {"Authorization": f"Bearer {token_for(client, username, password)}"}


def _rule_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves (included routers walked), as the policy keys them."""
    keys = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, Mount):
            keys.append(("GET", str(context.path)))
        else:
            keys += [(m, str(context.path)) for m in sorted(context.methods or ()) if m != "HEAD"]
    return keys


def test_every_route_has_an_access_policy_entry(app_client: tuple[TestClient, str]) -> None:
    client, _ = app_client
    missing = [key for key in _rule_routes(client.app) if key not in POLICY]
    assert not missing, f"add these to server/api/access_policy.py POLICY: {missing}"


def test_a_route_without_a_policy_entry_is_refused_at_run_time(app_client: tuple[TestClient, str]) -> None:
    client, database_url = app_client
    client.app.add_api_route("/api/v1/not-in-the-policy", lambda: {"leaked": True})  # type: ignore[attr-defined]
    reply = client.get("/api/v1/not-in-the-policy", headers=_headers(client, database_url, Role.ADMIN))
    assert reply.status_code == 403
    assert reply.headers[DENIED_HEADER] == "denied"
    assert "no access policy entry" in reply.json()["detail"]


def _concrete(path: str) -> str:
    values = {"{day}": "2025-06-02", "{staff_id}": OWN}
    for name, value in values.items():
        path = path.replace(name, value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + "x-1" + path[end + 1 :]
    return path


def _expected_allowed(rule: Rule, role: Role | None) -> bool:
    return rule.public or (role is not None and role in rule.roles)


def _world(client: TestClient, database_url: str, admin: dict[str, str]) -> None:
    """Two staff members with a terminal PIN each (the staff user's punches are scoped by PIN)."""
    for method, path, body in [
        ("PUT", "/api/v1/sites/main", {"name": "Main", "devices": [{"device_id": "T1", "kind": "terminal"}]}),
        ("PUT", "/api/v1/departments/d1", {"name": "Division one"}),
        ("PUT", "/api/v1/timetables/standard", TIMETABLE),
    ]:
        assert client.request(method, path, json=body, headers=admin).status_code == 204, path
    for staff_id, pin in ((OWN, OWN_PIN), (OTHER, OTHER_PIN)):
        person = {
            "name": staff_id,
            "department_id": "d1",
            "site_id": "main",
            "timetable_id": "standard",
            "terminal_user_ids": [pin],
        }
        assert client.put(f"/api/v1/staff/{staff_id}", json=person, headers=admin).status_code == 204


def test_every_route_for_every_role_is_allowed_or_refused_as_the_policy_says(
    app_client: tuple[TestClient, str],
) -> None:
    client, database_url = app_client
    headers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in Role:
        headers[role] = _headers(client, database_url, role, OWN if role is Role.STAFF else None)
    _world(client, database_url, headers[Role.ADMIN])
    wrong = []
    checked = 0
    for method, path in _rule_routes(client.app):
        rule = POLICY[(method, path)]
        for role in ROLES:
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            reply = client.request(method, _concrete(path), headers=headers[role], **body)
            refused = reply.status_code in (401, 403) and reply.headers.get(DENIED_HEADER) == "denied"
            expected_refusal = None if _expected_allowed(rule, role) else (401 if role is None else 403)
            checked += 1
            if expected_refusal is None and (refused or reply.status_code == 401):
                wrong.append(f"{role} {method} {path}: refused {reply.status_code} {reply.text[:120]}")
            elif expected_refusal is not None and not (refused and reply.status_code == expected_refusal):
                wrong.append(f"{role} {method} {path}: {reply.status_code}, expected {expected_refusal}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 5 * 50


def test_staff_see_only_their_own_records(app_client: tuple[TestClient, str]) -> None:
    client, database_url = app_client
    admin = _headers(client, database_url, Role.ADMIN)
    inspector = _headers(client, database_url, Role.INSPECTOR)
    staff = _headers(client, database_url, Role.STAFF, OWN)
    _world(client, database_url, admin)
    world = AttendanceWorld(client.app.state.kaoqin.engine, client)  # type: ignore[attr-defined]
    at = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    world.punch("T1", OWN_PIN, at)
    world.punch("T1", OTHER_PIN, at)
    incidents, snapshots = {}, {}
    for n, staff_id in enumerate((OWN, OTHER)):
        reported = client.post(
            "/api/v1/incidents",
            json={
                "staff_id": staff_id,
                "prohibition": "P2",
                "summary": "away from the service window",
                "occurred_at": "2025-06-02T10:00:00+08:00",
                "reported_by": "inspector-wang",
            },
            headers=inspector,
        )
        assert reported.status_code == 201, reported.text
        incidents[staff_id] = reported.json()["incident_id"]
        leave = {
            "staff_id": staff_id,
            "kind": "leave",
            "starts_at": "2025-06-03T08:00:00+08:00",
            "ends_at": "2025-06-03T18:00:00+08:00",
            "reason": "family",
            "approved_by": "hr",
        }
        assert client.post("/api/v1/leave", json=leave, headers=admin).status_code == 201
        observation = FaceObservation.create(
            edge_id="edge-1",
            camera_id="cam-1",
            track_id=n + 1,
            occurred_at=at,
            outcome=FaceOutcome.KNOWN,
            staff_id=staff_id,
            distance=0.4,
            liveness=FaceLiveness.PASSED,
            snapshot_jpeg_b64=base64.b64encode(b"\xff\xd8\xff\xe0 jpeg of " + staff_id.encode()).decode(),
        )
        world._store(observation)
        snapshots[staff_id] = observation.event_id

    def staff_get(path: str, **params: str) -> Any:
        return client.get(path, params=params, headers=staff)

    punches = staff_get("/api/v1/punches").json()
    assert {p["user_id"] for p in punches["items"]} == {OWN_PIN}
    assert staff_get("/api/v1/punches", staff=OTHER_PIN).status_code == 403
    listed = staff_get("/api/v1/incidents").json()["items"]
    assert [i["incident_id"] for i in listed] == [incidents[OWN]]
    assert staff_get("/api/v1/incidents", staff=OTHER).status_code == 403
    assert staff_get(f"/api/v1/incidents/{incidents[OWN]}").status_code == 200
    assert staff_get(f"/api/v1/incidents/{incidents[OTHER]}").status_code == 404
    leave = staff_get("/api/v1/leave").json()
    assert {a["staff_id"] for a in leave} == {OWN}
    days = staff_get("/api/v1/attendance/days", **{"from": "2025-06-01", "to": "2025-06-30"})
    assert days.status_code == 200
    assert all(d["staff_id"] == OWN for d in days.json())
    assert (
        staff_get(
            "/api/v1/attendance/days", staff=OTHER, **{"from": "2025-06-01", "to": "2025-06-30"}
        ).status_code
        == 403
    )
    assert staff_get("/api/v1/warnings", staff=OTHER).status_code == 403
    own_snapshot = staff_get(f"/api/v1/faces/observations/{snapshots[OWN]}/snapshot")
    assert own_snapshot.status_code == 200
    assert own_snapshot.content.endswith(OWN.encode())
    assert staff_get(f"/api/v1/faces/observations/{snapshots[OTHER]}/snapshot").status_code == 404
    assert staff_get(f"/api/v1/faces/{OWN}").status_code == 200
    assert staff_get(f"/api/v1/faces/{OTHER}").status_code == 403
    statement = {"by": OWN, "text": "I was at the archive"}
    mine = client.post(f"/api/v1/incidents/{incidents[OWN]}/explanation", json=statement, headers=staff)
    assert mine.status_code == 200, mine.text
    theirs = client.post(f"/api/v1/incidents/{incidents[OTHER]}/explanation", json=statement, headers=staff)
    assert theirs.status_code == 404
    # the inspector sees both
    both = client.get("/api/v1/incidents", headers=inspector).json()["items"]
    assert {i["staff_id"] for i in both} == {OWN, OTHER}


def test_inspectors_and_hr_move_incidents_through_review_and_issue_and_withdraw_warnings_staff_do_not(
    app_client: tuple[TestClient, str],
) -> None:
    client, database_url = app_client
    admin = _headers(client, database_url, Role.ADMIN)
    deciders = {
        "inspector": _headers(client, database_url, Role.INSPECTOR),
        "hr": _headers(client, database_url, Role.HR),
    }
    staff = _headers(client, database_url, Role.STAFF, OWN)
    _world(client, database_url, admin)
    for n, (who, headers) in enumerate(deciders.items()):
        reported = client.post(
            "/api/v1/incidents",
            json={
                "staff_id": OWN,
                "prohibition": "P2",
                "summary": f"cards at the desk, visit {n}",
                "occurred_at": f"2025-06-0{n + 2}T10:00:00+08:00",
                "reported_by": "inspector-wang",
            },
            headers=deciders["inspector"],
        )
        assert reported.status_code == 201, reported.text
        incident = reported.json()["incident_id"]
        decision = f"/api/v1/incidents/{incident}/decision"
        review = {"action": "review", "decided_by": who, "reason": "looking into it"}
        refused = client.post(decision, json=review, headers=staff)
        assert (refused.status_code, refused.headers.get(DENIED_HEADER)) == (403, "denied")
        for action in ("review", "confirm"):
            body = {"action": action, "decided_by": who, "reason": f"{action} by {who}"}
            reply = client.post(decision, json=body, headers=headers)
            assert reply.status_code == 200, reply.text
        decided = reply.json()
        assert decided["state"] == "confirmed"
        assert [(e["actor"], e["reason"]) for e in decided["history"][-2:]] == [
            (who, f"review by {who}"),
            (who, f"confirm by {who}"),
        ]
        warning = {"incident_id": incident, "issued_by": who, "reason": "P2 confirmed"}
        assert client.post("/api/v1/warnings", json=warning, headers=staff).status_code == 403
        issued = client.post("/api/v1/warnings", json=warning, headers=headers)
        assert issued.status_code == 201, issued.text
        assert issued.json()["issued_by"] == who
        withdrawal = {"withdrawn_by": who, "reason": "appeal upheld"}
        path = f"/api/v1/warnings/{issued.json()['warning_id']}/withdrawal"
        assert client.post(path, json=withdrawal, headers=staff).status_code == 403
        withdrawn = client.post(path, json=withdrawal, headers=headers)
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["withdrawn_at"] is not None
    senders = [
        (e.actor, e.details["role"])
        for e in client.app.state.audit_log.entries()
        if e.action == "issue_warning"  # type: ignore[attr-defined]
    ]
    assert [role for _, role in senders] == ["inspector", "hr"]  # the signed-in sender is recorded too


def test_failed_logins_are_limited_per_username_then_429_with_retry_after(
    app_client: tuple[TestClient, str],
) -> None:
    client, database_url = app_client
    username, password = add_user(database_url, "hr")
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": username, "password": "not-it-at-all"})
        assert wrong.status_code == 401
    limited = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    other_user, other_password = add_user(database_url, "hr")
    assert (
        client.post(
            "/api/v1/auth/token", data={"username": other_user, "password": other_password}
        ).status_code
        == 200
    )


def test_failed_logins_are_limited_per_client_address(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    limits = AuthSettings(token_secret=SECRET, login_failures_per_address=3, login_failures_per_username=100)
    with running_app(database_url, auth=limits) as client:
        username, password = add_user(database_url, "hr")
        for n in range(3):
            guess = {"username": f"guess-{n}", "password": "wrong-password-123"}
            assert client.post("/api/v1/auth/token", data=guess).status_code == 401
        refused = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert refused.status_code == 429
        assert "address" in refused.json()["detail"]
        elsewhere = TestClient(client.app, client=("198.51.100.7", 40000))
        assert (
            elsewhere.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            ).status_code
            == 200
        )


def test_expired_forged_and_disabled_tokens_are_refused(app_client: tuple[TestClient, str]) -> None:
    client, database_url = app_client
    username, password = add_user(database_url, "admin")
    now = datetime.now(UTC)
    expired = jwt.encode(
        {
            "sub": username,
            "iat": now - timedelta(hours=1),
            "exp": now - timedelta(minutes=1),
            "iss": "kaoqin",
        },
        SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": username, "iat": now, "exp": now + timedelta(minutes=5), "iss": "kaoqin"},
        "another-secret-" * 4,
        algorithm="HS256",
    )
    for token, reason in ((expired, "expired"), (forged, "not valid"), ("not.a.token", "not valid")):
        reply = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        assert reason in reply.json()["detail"], reply.text
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    good = {"Authorization": f"Bearer {token_for(client, username, password)}"}
    assert client.get("/api/v1/devices", headers=good).status_code == 200
    me = client.get("/api/v1/auth/me", headers=good).json()
    assert me == {"username": username, "role": "admin", "staff_id": None}
    engine = client.app.state.kaoqin.engine  # type: ignore[attr-defined]
    assert UserStore(engine).disable(username, datetime.now(UTC))
    assert client.get("/api/v1/devices", headers=good).status_code == 401
    assert (
        client.post("/api/v1/auth/token", data={"username": username, "password": password}).status_code
        == 401
    )


def test_health_and_docs_stay_public(app_client: tuple[TestClient, str]) -> None:
    client, _ = app_client
    assert client.get("/healthz").status_code == 200
    assert client.get("/docs").status_code == 200
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"]
    assert client.get("/api/v1/punches").status_code == 401


def test_kaoqin_users_add_takes_the_password_from_stdin_never_the_command_line(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    config = tmp_path / "server.yaml"
    config.write_text(f"database_url: {database_url}\n")
    kaoqin = [sys.executable, "-m", "kaoqin.cli"]
    add = [*kaoqin, "users", "add", "--username", "s-li", "--role", "staff", "--staff-id", OWN]
    added = subprocess.run(
        [*add, "--config", str(config)], input="a-long-password-from-stdin\n", capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    assert "added s-li (staff, staff s-own)" in added.stdout
    with_argv = subprocess.run([*add, "--password", "on-the-command-line"], capture_output=True, text=True)
    assert with_argv.returncode == 2
    assert "unrecognized arguments: --password" in with_argv.stderr
    listed = subprocess.run(
        [*kaoqin, "users", "list", "--config", str(config)], capture_output=True, text=True
    )
    assert "s-li\tstaff\ts-own\tactive" in listed.stdout
    with running_app(database_url, auth=AuthSettings(token_secret=SECRET)) as client:
        token = token_for(client, "s-li", "a-long-password-from-stdin")
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me == {"username": "s-li", "role": "staff", "staff_id": OWN}
        assert [e.action for e in client.app.state.audit_log.entries()][:1] == ["users.add"]  # type: ignore[attr-defined]
