"""Page tests' helpers: sign a TestClient in through the sign-in page (the session cookie, as a
browser), post forms with the page's CSRF token, and set an office up through the real API."""

from __future__ import annotations

import html as html_text
import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.support.attendance_world import TIMETABLE
from tests.support.auth import add_user, token_for

HTML = {"accept": "text/html,application/xhtml+xml"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def page_sign_in(client: TestClient, database_url: str, role: str, *, staff_id: str | None = None) -> str:
    """Sign ``client`` in through the page as a new ``role`` user (replacing any session)."""
    username, password = add_user(database_url, role, staff_id=staff_id)
    client.cookies.clear()
    token = csrf_of(client.get("/signin").text)
    reply = client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return username


def post_form(
    client: TestClient,
    page: str,
    action: str,
    data: dict[str, Any],
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> httpx.Response:
    """POST a form the way the browser does from ``page``: with that page's CSRF token."""
    token = csrf_of(client.get(page, headers=HTML).text)
    return client.post(action, data={**data, "csrf_token": token}, files=files, follow_redirects=False)


def field_error(html: str, name: str) -> str | None:
    """The message shown next to field ``name`` (None when it has none)."""
    found = re.search(rf'id="f-{re.escape(name)}-error">(.*?)</p>', html, re.S)
    return html_text.unescape(found.group(1).strip()) if found else None


def seed_office(client: TestClient, database_url: str) -> dict[str, str]:
    """Site hq, departments d1 (head 'head1') and d2, the standard timetable, staff a, b (d1), e (d2)
    and head1; returns the admin's API headers."""
    username, password = add_user(database_url, "admin")
    admin = {"Authorization": f"Bearer {token_for(client, username, password)}"}

    def ok(method: str, path: str, body: dict[str, Any]) -> None:
        reply = client.request(method, path, json=body, headers=admin)
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"

    ok("PUT", "/api/v1/sites/hq", {"name": "HQ", "devices": [{"device_id": "T1", "kind": "terminal"}]})
    ok("PUT", "/api/v1/departments/d1", {"name": "一处"})
    ok("PUT", "/api/v1/departments/d2", {"name": "二处"})
    ok("PUT", "/api/v1/timetables/standard", TIMETABLE)
    for staff_id, department, pin in [
        ("a", "d1", "8001"),
        ("b", "d1", "8002"),
        ("e", "d2", "8005"),
        ("head1", "d1", "8009"),
    ]:
        person = {
            "name": f"name-{staff_id}",
            "department_id": department,
            "site_id": "hq",
            "timetable_id": "standard",
            "terminal_user_ids": [pin],
        }
        ok("PUT", f"/api/v1/staff/{staff_id}", person)
    ok("PUT", "/api/v1/departments/d1", {"name": "一处", "head_staff_id": "head1"})
    return admin
