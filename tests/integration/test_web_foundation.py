"""The web pages' foundation against the real app (create_app on SQLite under its lifespan, real
argon2 and tokens): sign-in with CSRF and the shared rate limit, the session cookie, redirects to
sign-in, the policy's role-aware nav and 403 page, the language switch, and the message catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from server.api.access_policy import DENIED_HEADER, POLICY, SESSION_COOKIE
from server.domain.day_decision import DayStatus
from server.domain.incidents import IncidentAction, IncidentState
from server.domain.working_time import AbsenceKind, DayKind, PunchPolicy
from server.reports.exports import ExportKind
from server.reports.model import TOTAL_COLUMNS
from server.services.auth import Role
from server.services.auth_settings import AuthSettings
from server.web.i18n import CATALOGUE
from server.web.rendering import NAV, TEMPLATES
from tests.support.auth import add_user, running_app

pytestmark = pytest.mark.integration

SECRET = "web-test-signing-secret-" + "x" * 40
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    database_url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    auth = AuthSettings(token_secret=SecretStr(SECRET), login_failures_per_username=3)
    with running_app(database_url, auth=auth) as client:
        yield client, database_url


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in_page(client: TestClient, username: str, password: str, next_page: str = "/") -> httpx.Response:
    token = csrf_of(client.get("/signin").text)
    return client.post(
        "/signin",
        data={"username": username, "password": password, "csrf_token": token, "next": next_page},
        follow_redirects=False,
    )


def test_sign_in_sets_an_httponly_lax_session_and_lands_on_the_dashboard_in_chinese(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    username, password = add_user(database_url, "admin")
    reply = sign_in_page(client, username, password)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"
    cookie = next(c for c in reply.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    assert page.url.path == "/dashboard"
    assert "今日概览" in page.text
    assert '<html lang="zh-CN">' in page.text
    assert f"当前用户：{username}（系统管理员）" in page.text


def test_the_sign_in_form_names_what_is_wrong_next_to_the_field_and_refuses_without_csrf(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    token = csrf_of(client.get("/signin").text)
    empty = client.post("/signin", data={"username": "", "password": "", "csrf_token": token})
    assert empty.status_code == 422
    assert re.search(r'id="f-username-error">此项必填<', empty.text)
    assert re.search(r'id="f-password-error">此项必填<', empty.text)
    username, password = add_user(database_url, "hr")
    forged = client.post("/signin", data={"username": username, "password": password}, follow_redirects=False)
    assert forged.status_code == 403
    assert "表单已失效" in forged.text
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    wrong = client.post("/signin", data={"username": username, "password": "nope" * 4, "csrf_token": token})
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text
    assert f'value="{username}"' in wrong.text
    assert "nopenope" not in wrong.text


def test_failed_page_sign_ins_count_in_the_apis_rate_limit(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    username, password = add_user(database_url, "inspector")
    for _ in range(3):
        assert sign_in_page(client, username, "wrong-password-x").status_code == 401
    throttled = sign_in_page(client, username, password)
    assert throttled.status_code == 429
    assert "登录失败次数过多" in throttled.text
    api = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert api.status_code == 429


def test_no_or_an_expired_session_sends_a_browser_to_sign_in_and_back(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    absent = client.get("/dashboard?lang=en", headers=HTML, follow_redirects=False)
    assert absent.status_code == 303
    assert absent.headers["location"] == "/signin?next=%2Fdashboard%3Flang%3Den"
    assert client.get("/dashboard").status_code == 401  # not a browser: no redirect, still refused
    username, password = add_user(database_url, "hr")
    now = datetime.now(UTC)
    claims = {
        "sub": username,
        "iat": now - timedelta(hours=1),
        "exp": now - timedelta(minutes=1),
        "iss": "kaoqin",
    }
    client.cookies.set(SESSION_COOKIE, jwt.encode(claims, SECRET, algorithm="HS256"))
    expired = client.get("/dashboard", headers=HTML)
    assert expired.url.path == "/signin"
    assert "登录已过期" in expired.text
    assert sign_in_page(client, username, password, "/dashboard?lang=en").headers["location"] == (
        "/dashboard?lang=en"
    )
    assert sign_in_page(client, username, password, "//evil.example/").headers["location"] == "/"


def test_sign_out_needs_the_csrf_token_and_ends_the_session(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    username, password = add_user(database_url, "admin")
    sign_in_page(client, username, password)
    page = client.get("/dashboard")
    assert client.post("/signout", follow_redirects=False).status_code == 403
    assert client.get("/dashboard").status_code == 200  # still signed in
    out = client.post("/signout", data={"csrf_token": csrf_of(page.text)}, headers=HTML)
    assert out.url.path == "/signin"
    assert "已退出登录" in out.text
    assert client.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 303


def test_staff_see_no_admin_nav_and_get_the_403_page_on_the_dashboard(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    username, password = add_user(database_url, "staff", staff_id="s-1")
    sign_in_page(client, username, password)
    home = client.get("/", headers=HTML)
    assert home.url.path == "/me"
    assert "此账户未关联职工" not in home.text
    nav = re.search(r'<nav id="main-nav".*?</nav>', home.text, re.S)
    assert nav
    assert 'href="/me"' in nav.group(0)
    assert 'href="/dashboard"' not in nav.group(0)
    refused = client.get("/dashboard", headers=HTML)
    assert refused.status_code == 403
    assert refused.headers[DENIED_HEADER] == "denied"
    assert "您的角色无权查看此页面" in refused.text
    assert client.get("/live/checkins", headers={"accept": "text/event-stream"}).status_code == 403


def test_the_english_switch_is_remembered(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    username, password = add_user(database_url, "admin")
    sign_in_page(client, username, password)
    english = client.get("/dashboard?lang=en")
    assert "Today," in english.text
    assert '<html lang="en">' in english.text
    assert "今日概览" not in english.text
    assert 'href="/dashboard?lang=zh"' in english.text
    assert "Today," in client.get("/dashboard").text  # the cookie remembers
    assert "今日概览" in client.get("/dashboard?lang=zh").text


def test_every_message_key_the_templates_use_is_in_the_catalogue_in_both_languages() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in [*TEMPLATES.glob("*.html"), *Path(TEMPLATES.parent).glob("*.py")]:
        text = path.read_text()
        for key in re.findall(r"""\bt\(\s*["']([a-z0-9_]+\.[a-z0-9_.]*)["']""", text):
            (prefixes if key.endswith(".") else used).add(key)  # t("role." ~ role) names a family
        used |= set(re.findall(r"""["']([a-z]+\.[a-z0-9_.]+)["']""", text)) & set(CATALOGUE)
    used |= {entry.key for entry in NAV} | {f"role.{role.value}" for role in Role}
    used |= {"feed.kind.punch", "feed.kind.face"}
    # the incident pages' families (server/web/incident_pages.py, warning_pages.py)
    used |= {f"incidents.state.{s.value}" for s in IncidentState}
    used |= {f"incidents.source.{s}" for s in ("rule", "inspector")}
    used |= {f"incidents.action.{a.value}" for a in IncidentAction} | {
        "incidents.action.report",
        "incidents.action.detect",
        "incidents.action.reinstate",
    }
    used |= {f"incidents.do.{a}" for a in ("review", "confirm", "dismiss", "explain", "appeal", "warn")}
    used |= {
        f"incidents.done.{a}" for a in ("review", "confirm", "dismiss", "explain", "appeal", "attach", "warn")
    }
    used |= {
        "incidents.statement.explain",
        "incidents.statement.appeal",
        "warnings.kind.personal",
        "warnings.kind.escalation",
    }
    incident_families = {"incidents.state.", "incidents.source.", "incidents.action.", "incidents.do."}
    incident_families |= {"warnings.kind."}
    # the attendance pages' families (server/web/attendance_pages.py, export_pages.py)
    used |= {f"status.{s.value}" for s in DayStatus} | {"status.pending"}
    used |= {f"total.{attribute}" for _, attribute in TOTAL_COLUMNS}
    used |= {"person.punch", "person.face"} | {f"export.kind.{k.value}" for k in ExportKind}
    incident_families |= {"status.", "total.", "person."}  # export.kind.* is named from Python
    # the calendar pages' families (server/web/calendar_pages.py)
    used |= {f"calendar.policy.{p.value}" for p in PunchPolicy} | {f"calendar.day.{k.value}" for k in DayKind}
    used |= {f"calendar.source.{s}" for s in ("national", "override")}
    used |= {f"calendar.absence.{k.value}" for k in AbsenceKind}
    incident_families |= {"calendar.policy.", "calendar.day.", "calendar.source.", "calendar.absence."}
    missing = sorted(key for key in used if key not in CATALOGUE)
    assert not missing, f"add to server/web/i18n.py CATALOGUE: {missing}"
    assert prefixes == {"role.", "feed.kind."} | incident_families, prefixes  # each family is listed above
    half = [key for key, (zh, en) in CATALOGUE.items() if not zh.strip() or not en.strip()]
    assert not half, f"these keys lack a language: {half}"
    assert len(used) > 40


def test_every_nav_page_with_a_policy_entry_is_served(app: tuple[TestClient, str]) -> None:
    client, _ = app
    served = {str(context.path) for context in iter_route_contexts(client.app.routes)}  # type: ignore[attr-defined]
    listed = [entry.path for entry in NAV if ("GET", entry.path) in POLICY]
    assert listed
    assert all(path in served for path in listed), (listed, served)
    assert all(POLICY[("GET", path)].page for path in listed)


def test_a_session_past_half_its_life_is_renewed_and_a_fresh_one_is_not(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    username, _ = add_user(database_url, "admin")
    now = datetime.now(UTC)
    for age, renewed in ((timedelta(minutes=14), True), (timedelta(minutes=1), False)):
        claims = {
            "sub": username,
            "iat": now - age,
            "exp": now - age + timedelta(minutes=15),
            "iss": "kaoqin",
        }
        old = jwt.encode(claims, SECRET, algorithm="HS256")
        client.cookies.set(SESSION_COOKIE, old)
        reply = client.get("/dashboard")
        assert reply.status_code == 200
        set_session = [c for c in reply.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
        assert bool(set_session) is renewed, (age, set_session)
        if renewed:
            fresh = set_session[0].split(";")[0].split("=", 1)[1]
            assert jwt.decode(fresh, SECRET, algorithms=["HS256"])["exp"] > claims["exp"].timestamp()
