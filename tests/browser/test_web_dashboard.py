"""In Chromium against a real ``kaoqin server``: an admin signs in, sees today's dashboard in
Chinese, switches to English, and sees a punch published through the embedded broker arrive in
the live feed; a staff member sees no admin pages in the nav and a 403 page on the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from contracts import EventKind, PunchEvent, PunchSource
from contracts.codec import encode
from contracts.events import VerifyMethod
from contracts.topics import event_topic
from tests.browser.conftest import api, base_url, sign_in
from tests.faults.rig import ServerRig
from tests.support.attendance_world import TIMETABLE
from tests.support.auth import add_user, token_for
from tests.support.brokers import Probe

pytestmark = pytest.mark.e2e

EDGE, TERMINAL, PIN = "edge-web", "SN-WEB-1", "7001"


def _world(rig: ServerRig, admin: tuple[str, str]) -> None:
    with api(rig) as client:
        token = token_for(client, *admin)
    with api(rig, token) as client:
        for method, path, body in [
            (
                "PUT",
                "/api/v1/sites/hq",
                {"name": "HQ", "devices": [{"device_id": TERMINAL, "kind": "terminal"}]},
            ),
            ("PUT", "/api/v1/departments/office", {"name": "办公室"}),
            ("PUT", "/api/v1/timetables/standard", TIMETABLE),
            (
                "PUT",
                "/api/v1/staff/s-wang",
                {
                    "name": "王芳",
                    "department_id": "office",
                    "site_id": "hq",
                    "timetable_id": "standard",
                    "terminal_user_ids": [PIN],
                },
            ),
        ]:
            reply = client.request(method, path, json=body)
            assert reply.status_code == 204, f"{path}: {reply.status_code} {reply.text}"


def _publish_punch(rig: ServerRig) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    punch = PunchEvent.create(
        edge_id=EDGE,
        device_serial=TERMINAL,
        user_id=PIN,
        device_time=now.replace(tzinfo=None),
        occurred_at=now,
        observed_at=now + timedelta(seconds=1),
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=0,
        source=PunchSource.LIVE,
    )
    probe = Probe(rig.broker_url)
    try:
        probe.publish(event_topic(EDGE, EventKind.PUNCH, TERMINAL), encode(punch))
    finally:
        probe.close()


def test_admin_sees_the_dashboard_in_chinese_then_english_and_a_punch_arrive_live(
    web_server: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    admin = add_user(web_server.database_url, "admin")
    _world(web_server, admin)
    page = new_context().new_page()

    sign_in(page, web_server, *admin)
    expect(page.get_by_role("heading", level=1)).to_contain_text("今日概览")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    row = page.locator('tr[data-department="office"]')
    expect(row).to_contain_text("办公室")
    expect(page.get_by_test_id("undecided")).to_be_visible()
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="今日概览")).to_be_visible()
    screenshot(page, "dashboard-zh")

    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today,")
    expect(page.locator("[data-live-status]")).to_have_text("Waiting for check-ins…")
    _publish_punch(web_server)
    arrived = page.locator(".feed li", has_text="王芳")
    expect(arrived).to_be_visible(timeout=20_000)
    expect(arrived).to_contain_text(TERMINAL)
    expect(arrived).to_contain_text("punch")
    page.reload()  # the stored punch counts as checked in once the page is drawn again
    expect(page.locator('tr[data-department="office"] td').nth(2)).to_have_text("1")
    screenshot(page, "dashboard-en-live")


def test_staff_see_no_admin_nav_and_get_a_403_page_on_the_dashboard(
    web_server: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    admin = add_user(web_server.database_url, "admin")
    _world(web_server, admin)
    staff = add_user(web_server.database_url, "staff", staff_id="s-wang")
    page = new_context().new_page()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone

    sign_in(page, web_server, *staff)
    assert page.url.endswith("/me")
    expect(page.get_by_role("heading", level=1)).to_contain_text("我的今日打卡")
    page.get_by_role("button", name="菜单").click()  # the phone layout folds the nav away
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="我的考勤")).to_be_visible()
    expect(nav.get_by_role("link", name="今日概览")).to_have_count(0)
    screenshot(page, "staff-me-phone")

    reply = page.goto(base_url(web_server) + "/dashboard")
    assert reply is not None
    assert reply.status == 403
    expect(page.get_by_text("您的角色无权查看此页面")).to_be_visible()
    expect(page.get_by_role("navigation")).to_have_count(0)
    assert re.search(r"/dashboard$", page.url)
    screenshot(page, "staff-dashboard-403")
