"""In Chromium against a real ``kaoqin server`` on SQLite, with a decided November in its database
(tests/support/report_world.py): HR opens the monthly sheet, exports the XLSX as a background job,
downloads it and the test reads its cells with openpyxl; an export of an empty month says so on the
page; a staff member lands on their own month and gets the 403 page on someone else's."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import BrowserContext, Page, expect

from server.adapters.db import create_db_engine
from server.reports.xlsx import FIRST_DAY_COLUMN, FIRST_PERSON_ROW
from tests.browser.conftest import base_url, sign_in
from tests.faults.rig import ServerRig
from tests.support.attendance_world import AttendanceWorld, attendance_app
from tests.support.auth import add_user
from tests.support.report_world import MONTH, build_november

pytestmark = pytest.mark.e2e


@pytest.fixture
def november(web_server: ServerRig) -> ServerRig:
    """The running server's database (migrated at its start) with November built and decided."""
    engine = create_db_engine(web_server.database_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            build_november(AttendanceWorld(engine, client))
    finally:
        engine.dispose()
    return web_server


def test_hr_opens_the_monthly_sheet_and_downloads_the_xlsx(
    november: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
    tmp_path: Path,
) -> None:
    page = new_context().new_page()
    sign_in(page, november, *add_user(november.database_url, "hr"))
    page.goto(base_url(november) + "/attendance")
    page.get_by_role("link", name="本部门月度考勤表").click()
    page.get_by_label("部门", exact=True).select_option("social")
    page.get_by_label("月份").fill(MONTH)
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("社会救助科 2026-11 月度考勤表")
    row = page.locator('#month-sheet tr[data-staff="b"]')
    expect(row.locator('td[data-day="3"]')).to_have_text("迟")
    expect(row.locator('td[data-day="4"]')).to_have_text("旷")
    expect(page.locator('img[alt="本月迟到与旷工趋势"]')).to_have_js_property("complete", True)
    screenshot(page, "monthly-sheet")

    page.get_by_test_id("export-monthly-xlsx").click()
    expect(page).to_have_url(re.compile(r".*/exports/[\w-]+$"))
    link = page.get_by_test_id("export-download")
    expect(link).to_be_visible(timeout=30_000)  # the script polls the job, then the page shows the link
    screenshot(page, "export-ready")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "attendance-social-2026-11.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    sheet = load_workbook(saved)["考勤表"]
    assert sheet["A1"].value == "XX局 2026年11月 考勤表"
    assert sheet["A2"].value == "部门：社会救助科"
    names = {sheet.cell(r, 2).value: r for r in range(FIRST_PERSON_ROW, FIRST_PERSON_ROW + 4)}
    b = names["李娜"]
    assert [sheet.cell(b, FIRST_DAY_COLUMN + d - 1).value for d in (1, 3, 4, 5, 6)] == [
        "休",
        "迟",
        "旷",
        "假",
        "早",
    ]
    totals = {
        sheet.cell(4, c).value: sheet.cell(b, c).value
        for c in range(FIRST_DAY_COLUMN + 30, FIRST_DAY_COLUMN + 40)
    }
    assert (totals["迟到分钟"], totals["旷工天数"], totals["请假天数"]) == (20, 1, 1)


def test_an_export_for_an_empty_month_shows_a_clear_message(
    november: ServerRig, new_context: Callable[[], BrowserContext], screenshot: Callable[[Page, str], Path]
) -> None:
    page = new_context().new_page()
    sign_in(page, november, *add_user(november.database_url, "admin"))
    page.goto(base_url(november) + "/attendance/month?department=social&month=2026-10")
    expect(page.get_by_test_id("empty-month")).to_contain_text("社会救助科 2026-10 没有考勤数据")
    page.get_by_test_id("export-monthly-xlsx").click()
    message = page.get_by_test_id("export-message")
    expect(message).to_contain_text("无法导出：no attendance data for department 'social'", timeout=30_000)
    expect(page.get_by_test_id("export-download")).to_have_count(0)
    screenshot(page, "empty-month-export")


def test_a_staff_member_sees_only_their_own_month(
    november: ServerRig, new_context: Callable[[], BrowserContext], screenshot: Callable[[Page, str], Path]
) -> None:
    context = new_context()
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    sign_in(page, november, *add_user(november.database_url, "staff", staff_id="b"))
    page.goto(base_url(november) + "/attendance?month=2026-11")
    expect(page).to_have_url(re.compile(r".*/attendance/staff/b$"))
    page.goto(base_url(november) + f"/attendance/staff/b?month={MONTH}")
    expect(page.get_by_role("heading", level=1)).to_have_text("李娜 2026-11 考勤明细")
    expect(page.locator('tr[data-day="2026-11-03"] td[data-status="late"]')).to_have_text("迟 迟到")
    expect(page.locator('tr[data-day="2026-11-03"]')).to_contain_text("打卡 08:50:00 T1")
    screenshot(page, "own-month")

    reply = page.goto(base_url(november) + f"/attendance/staff/a?month={MONTH}")
    assert reply is not None
    assert reply.status == 403
    expect(page.get_by_text("您的角色无权查看此页面")).to_be_visible()
    expect(page.get_by_text("张伟")).to_have_count(0)
    screenshot(page, "other-month-403")
    reply = page.goto(base_url(november) + f"/attendance/month?department=social&month={MONTH}")
    assert reply is not None
    assert reply.status == 403
