"""The calendar and audit pages against the real app on SQLite and PostgreSQL: timetables shown and edited through
their one-line-a-version text (checked by the API's TimetableIn), the year's national holidays with
the office's overrides (the same days as GET /api/v1/holidays), leave with each problem next to its
field, a staff member's own leave only (linked from their nav), and the admin's audit log with its filters and chain check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.auth import running_app
from tests.support.web_session import HTML, field_error, page_sign_in, post_form, seed_office

pytestmark = pytest.mark.integration


@pytest.fixture
def office(database_url: str) -> Iterator[tuple[TestClient, str, dict[str, str]]]:
    """The office on SQLite and on PostgreSQL."""
    with running_app(database_url) as client:
        admin = seed_office(client, database_url)
        yield client, database_url, admin


def _holiday_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-day="([0-9-]+)" data-source="(\w+)">', html)


def test_holidays_show_the_national_calendar_with_the_offices_overrides(
    office: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, admin = office
    page_sign_in(client, database_url, "hr")
    page = "/calendar?year=2025"
    rows = _holiday_rows(client.get(page, headers=HTML).text)
    assert ("2025-10-01", "national") in rows  # National Day, from chinese-calendar
    assert ("2025-09-28", "national") in rows  # a make-up working Sunday (调休)
    reply = post_form(
        client, page, "/calendar/holidays", {"day": "2025/06/03", "kind": "holiday", "name": ""}
    )
    assert reply.status_code == 422
    assert field_error(reply.text, "day") == "请填写日期，格式为 年-月-日"
    assert field_error(reply.text, "name") == "此项必填"
    reply = post_form(
        client, page, "/calendar/holidays", {"day": "2025-06-03", "kind": "holiday", "name": "局庆"}
    )
    assert reply.status_code == 303
    page_html = client.get(page, headers=HTML).text
    assert ("2025-06-03", "override") in _holiday_rows(page_html)
    api = client.get(
        "/api/v1/holidays", params={"from": "2025-01-01", "to": "2025-12-31"}, headers=admin
    ).json()
    assert [(d["day"], d["source"]) for d in api] == _holiday_rows(page_html)
    reply = post_form(client, page, "/calendar/holidays/2025-06-03/delete", {})
    assert reply.status_code == 303
    assert ("2025-06-03", "override") not in _holiday_rows(client.get(page, headers=HTML).text)
    assert client.get("/calendar?year=20x5", headers=HTML).status_code == 422


def test_a_timetable_is_edited_as_text_and_checked_by_the_apis_own_rules(
    office: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, admin = office
    page_sign_in(client, database_url, "hr")
    page = "/calendar/timetables/standard"
    shown = client.get(page, headers=HTML).text
    text = re.search(r'<textarea id="f-versions" name="versions"[^>]*>(.*?)</textarea>', shown, re.S)
    assert text
    versions = text.group(1)
    assert "summer 05-01..09-30 grace=5 in=60 out=240: morning 08:00-12:00, afternoon 15:00-18:00" in versions
    before = client.get("/api/v1/timetables", headers=admin).json()
    form = {
        "editing": "standard",
        "name": "Bureau standard",
        "policy": "four_punches",
        "require_biometric": "on",
    }
    assert post_form(client, page, "/calendar/timetables", {**form, "versions": versions}).status_code == 303
    assert client.get("/api/v1/timetables", headers=admin).json()[0]["versions"] == before[0]["versions"]

    reply = post_form(client, page, "/calendar/timetables", {**form, "versions": "summer 05-01 to 09-30"})
    assert reply.status_code == 422
    assert (field_error(reply.text, "versions") or "").startswith("line 1:")
    one_season = "all 01-01..06-30 grace=5: day 09:00-17:00"  # half the year left without a version
    reply = post_form(client, page, "/calendar/timetables", {**form, "versions": one_season})
    assert reply.status_code == 422
    assert field_error(reply.text, "versions")
    reply = post_form(
        client,
        "/calendar/timetables/new",
        "/calendar/timetables",
        {**form, "editing": "", "timetable_id": "standard", "versions": versions},
    )
    assert reply.status_code == 422
    assert field_error(reply.text, "timetable_id") == "此班次编号已存在"
    night = {
        "timetable_id": "night",
        "name": "Night desk",
        "policy": "first_last",
        "versions": "all 01-01..12-31: night 22:00-06:00+1",
    }
    assert post_form(client, "/calendar/timetables/new", "/calendar/timetables", night).status_code == 303
    stored = {t["timetable_id"]: t for t in client.get("/api/v1/timetables", headers=admin).json()}
    assert stored["night"]["versions"][0]["sessions"][0]["ends_next_day"] is True
    assert stored["night"]["policy"] == "first_last"
    assert stored["standard"]["versions"] == before[0]["versions"]  # the refused edits saved nothing


def test_leave_is_recorded_with_each_problem_next_to_its_field_and_staff_see_their_own(
    office: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = office
    page_sign_in(client, database_url, "hr")
    page = "/calendar/leave"
    good = {
        "staff_id": "a",
        "kind": "leave",
        "starts_at": "2026-11-05T08:00",
        "ends_at": "2026-11-05T18:00",
        "reason": "sick",
        "approved_by": "hr-li",
    }
    reply = post_form(client, page, page, {**good, "ends_at": "2026-11-05T07:00"})
    assert reply.status_code == 422
    assert "must be after starts_at" in (field_error(reply.text, "ends_at") or "")
    reply = post_form(client, page, page, {**good, "staff_id": "ghost", "reason": ""})
    assert reply.status_code == 422
    assert field_error(reply.text, "reason") == "此项必填"
    reply = post_form(client, page, page, {**good, "staff_id": "ghost"})
    assert reply.status_code == 422
    assert "ghost" in (field_error(reply.text, "staff_id") or "")
    assert 'data-absence="' not in client.get(page, headers=HTML).text  # nothing saved
    assert post_form(client, page, page, good).status_code == 303
    assert post_form(client, page, page, {**good, "staff_id": "b", "kind": "trip"}).status_code == 303
    listed = client.get(page, headers=HTML).text
    assert listed.count('data-absence="') == 2
    assert "2026-11-05 08:00" in listed  # the office's wall clock, as typed

    page_sign_in(client, database_url, "staff", staff_id="a")
    own = client.get(page, headers=HTML)
    assert own.status_code == 200
    assert own.text.count('data-absence="') == 1
    assert "name-a" in own.text
    assert 'data-testid="leave-form"' not in own.text
    assert client.get(f"{page}?staff=b", headers=HTML).status_code == 403
    assert post_form(client, page, page, good).status_code == 403
    assert client.get("/calendar", headers=HTML).status_code == 403


def _nav_links(html: str) -> list[tuple[str, str]]:
    nav = re.search(r'<nav id="main-nav".*?</nav>', html, re.S)
    assert nav, "the page has the nav"
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))


def test_staff_find_their_own_leave_in_the_nav_and_the_other_roles_find_it_under_the_calendar(
    office: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = office
    page_sign_in(client, database_url, "staff", staff_id="a")
    links = _nav_links(client.get("/me", headers=HTML).text)
    assert ("/calendar/leave", "我的请假") in links
    assert "/calendar" not in [path for path, _ in links]  # staff may not open the calendar itself
    leave = client.get("/calendar/leave", headers=HTML)
    assert leave.status_code == 200  # the link leads to their own leave page
    assert re.search(r'<a href="/calendar/leave" aria-current="page">', leave.text)
    assert ("/calendar/leave", "My leave") in _nav_links(client.get("/me?lang=en", headers=HTML).text)
    for role in ("admin", "hr", "inspector"):
        page_sign_in(client, database_url, role)
        paths = [path for path, _ in _nav_links(client.get("/calendar/leave", headers=HTML).text)]
        assert "/calendar" in paths, role
        assert "/calendar/leave" not in paths, role  # one entry for the calendar section, not two
        assert re.search(
            r'<a href="/calendar" aria-current="page">', client.get("/calendar/leave", headers=HTML).text
        ), role


def test_the_admin_reads_the_audit_log_filtered_and_sees_the_chain_verified(
    office: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = office
    hr = page_sign_in(client, database_url, "hr")
    page = "/calendar?year=2025"
    assert (
        post_form(
            client, page, "/calendar/holidays", {"day": "2025-06-03", "kind": "holiday", "name": "局庆"}
        ).status_code
        == 303
    )
    assert client.get("/audit", headers=HTML).status_code == 403

    page_sign_in(client, database_url, "admin")
    by_hr = client.get(f"/audit?actor={hr}", headers=HTML).text
    rows = re.findall(
        r'<tr data-seq="(\d+)">\s*<td>\d+</td><td>[^<]+</td><td>([^<]+)</td><td>([^<]+)</td>', by_hr
    )
    assert rows, "the HR user's actions are listed"
    assert {actor for _, actor, _ in rows} == {hr}
    assert "/calendar/holidays" in by_hr  # the route the page posted to is in the details
    assert [action for _, _, action in rows] == ["save_override", "sign_in"]  # newest first
    assert 'data-seq="' not in client.get("/audit?actor=nobody-at-all", headers=HTML).text
    assert 'data-seq="' not in client.get("/audit?since=2000-01-01&until=2000-01-02", headers=HTML).text
    assert (
        field_error(client.get("/audit?until=tomorrow", headers=HTML).text, "until")
        == "请填写日期，格式为 年-月-日"
    )
    verified = client.get("/audit/verify", headers=HTML).text
    assert 'data-intact="yes"' in verified
    assert "哈希链完整" in verified
