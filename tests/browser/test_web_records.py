"""In Chromium against a real ``kaoqin server``: HR records a day of leave through the calendar's
form (a wrong order of times named next to the field first) and sees it listed in office time, the
staff and timetable pages render, and the admin sees that leave in the audit log and the chain
verified. Screenshots of each page under test-output/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import base_url, sign_in
from tests.browser.test_web_incidents import set_up_office
from tests.faults.rig import ServerRig
from tests.support.auth import add_user

pytestmark = pytest.mark.e2e


def test_hr_records_leave_in_office_time_and_the_admin_finds_it_in_the_verified_audit_log(
    web_server: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    set_up_office(web_server)
    hr_user = add_user(web_server.database_url, "hr")
    hr = new_context().new_page()
    sign_in(hr, web_server, *hr_user)
    hr.get_by_role("link", name="人员与部门").click()
    expect(hr.locator("#staff-list tbody tr")).to_have_count(2)
    screenshot(hr, "staff")
    hr.get_by_role("link", name="班次、节假日与请假").click()
    expect(hr.locator("#timetable-list tbody tr[data-timetable=standard]")).to_have_count(1)
    screenshot(hr, "calendar")
    hr.locator("#timetable-list").get_by_role("link", name="standard").click()
    expect(hr.locator("#f-versions")).to_have_value(re.compile(r"^summer 05-01\.\.09-30 grace=5"))
    screenshot(hr, "timetable")
    hr.goto(base_url(web_server) + "/calendar/leave")
    hr.locator("#f-staff_id").select_option("s-wang")
    hr.locator("#f-kind").select_option("leave")
    hr.locator("#f-starts_at").fill("2026-11-05T08:00")
    hr.locator("#f-ends_at").fill("2026-11-05T07:00")
    hr.locator("#f-reason").fill("病假")
    hr.get_by_role("button", name="保存").click()
    expect(hr.locator("#f-ends_at-error")).to_contain_text("must be after starts_at")
    expect(hr.locator("#leave-list tbody tr[data-absence]")).to_have_count(0)
    hr.locator("#f-ends_at").fill("2026-11-05T18:00")
    hr.get_by_role("button", name="保存").click()
    row = hr.locator("#leave-list tbody tr[data-absence]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("王芳")
    expect(row).to_contain_text("2026-11-05 08:00")
    expect(row).to_contain_text("2026-11-05 18:00")
    screenshot(hr, "leave")

    admin = new_context().new_page()
    sign_in(admin, web_server, *add_user(web_server.database_url, "admin"))
    admin.get_by_role("link", name="审计日志").click()
    admin.locator("#f-actor").fill(hr_user[0])
    admin.get_by_role("button", name="筛选").click()
    entries = admin.locator("#audit-log tbody tr[data-seq]")
    expect(entries.first).to_contain_text("add_leave")
    expect(entries.first).to_contain_text("/calendar/leave")
    screenshot(admin, "audit")
    admin.get_by_test_id("verify-link").click()
    expect(admin.get_by_test_id("chain-report")).to_have_attribute("data-intact", "yes")
    screenshot(admin, "audit-verify")
