"""In Chromium against a real ``kaoqin server``: an inspector reports a P2 incident with a photo
attached, reviews and confirms it and issues the warning, and the warning appears in the register;
HR's face enrolment refuses a file that is not an image with the message next to the upload field
and stores nothing. Screenshots of each page under test-output/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import api, base_url, sign_in
from tests.faults.rig import ServerRig
from tests.support.attendance_world import TIMETABLE
from tests.support.auth import add_user, token_for

pytestmark = pytest.mark.e2e

PHOTO = Path("/work/shared/testdata/faces/people/leslie_1.jpg")  # read in place, never copied


def set_up_office(rig: ServerRig) -> None:
    """Site hq, the standard timetable, department office headed by 李强 (s-li), and 王芳 (s-wang)."""
    with api(rig) as client:
        token = token_for(client, *add_user(rig.database_url, "admin"))
    with api(rig, token) as client:
        person = {"department_id": "office", "site_id": "hq", "timetable_id": "standard"}
        for method, path, body in [
            ("PUT", "/api/v1/sites/hq", {"name": "HQ", "devices": []}),
            ("PUT", "/api/v1/departments/office", {"name": "办公室"}),
            ("PUT", "/api/v1/timetables/standard", TIMETABLE),
            ("PUT", "/api/v1/staff/s-wang", {"name": "王芳", "terminal_user_ids": ["7001"], **person}),
            ("PUT", "/api/v1/staff/s-li", {"name": "李强", "terminal_user_ids": ["7002"], **person}),
            ("PUT", "/api/v1/departments/office", {"name": "办公室", "head_staff_id": "s-li"}),
        ]:
            reply = client.request(method, path, json=body)
            assert reply.status_code == 204, f"{path}: {reply.status_code} {reply.text}"


def test_an_inspector_reports_a_p2_incident_with_a_photo_confirms_it_and_the_warning_appears(
    web_server: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    if not PHOTO.exists():
        pytest.fail(f"the shared test photo {PHOTO} is missing")
    set_up_office(web_server)
    inspector = new_context().new_page()
    username, password = add_user(web_server.database_url, "inspector")
    sign_in(inspector, web_server, username, password)
    inspector.get_by_role("link", name="违纪事件").click()
    inspector.get_by_test_id("report-incident").click()
    inspector.locator("#f-staff_id").select_option("s-wang")
    inspector.locator("#f-prohibition").select_option("P2")
    inspector.locator("#f-occurred_at").fill("2026-11-03T10:20")
    inspector.locator("#f-place").fill("3号窗口")
    inspector.locator("#f-summary").fill("工作时间在3号窗口玩电脑游戏")
    inspector.locator("#f-file").set_input_files(str(PHOTO))
    screenshot(inspector, "report-form")
    inspector.get_by_role("button", name="上报").click()
    inspector.wait_for_url(re.compile(r".*/incidents/[0-9a-f-]+$"))
    incident_url = inspector.url
    expect(inspector.get_by_test_id("incident-state")).to_have_text("已上报")
    expect(inspector.get_by_test_id("attachment-link")).to_have_text(PHOTO.name)
    expect(inspector.get_by_test_id("action-confirm")).to_have_count(0)  # reported: review comes first
    screenshot(inspector, "reported")
    with inspector.context.expect_page() as opened:
        inspector.get_by_test_id("attachment-link").click(modifiers=["Control"])
    attachment = opened.value
    attachment.wait_for_load_state()
    assert attachment.evaluate("document.images.length && document.images[0].naturalWidth") > 0
    attachment.close()

    # the efficiency office follows up its own report: review, confirm, warn
    inspector.locator("#f-decision-reason").fill("核查照片")
    inspector.get_by_test_id("action-review").click()
    expect(inspector.get_by_test_id("incident-state")).to_have_text("审核中")
    inspector.locator("#f-decision-reason").fill("照片清楚，属实")
    inspector.get_by_test_id("action-confirm").click()
    expect(inspector.get_by_test_id("incident-state")).to_have_text("已确认")
    inspector.locator("#f-warn-reason").fill("违反第二条：工作时间玩电脑游戏")
    screenshot(inspector, "confirmed")
    inspector.get_by_test_id("action-warn").click()
    expect(inspector.get_by_role("status")).to_have_text("已给予效能告诫")
    expect(inspector.get_by_test_id("warning-form")).to_have_count(0)  # one incident, one warning
    history = inspector.locator("#history tbody tr")
    expect(history).to_have_count(3)
    for n, reason in ((1, "核查照片"), (2, "照片清楚，属实")):  # each decision recorded as the inspector's
        expect(history.nth(n)).to_contain_text(username)
        expect(history.nth(n)).to_contain_text(reason)

    inspector.get_by_role("link", name="警告登记").click()
    row = inspector.locator("#warning-register tbody tr[data-kind=personal]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("王芳")
    expect(row).to_contain_text("违反第二条：工作时间玩电脑游戏")
    expect(row).to_contain_text("有效")
    screenshot(inspector, "warnings")
    row.get_by_role("link", name="违纪事件").click()
    assert inspector.url == incident_url


def test_face_enrolment_refuses_a_file_that_is_not_an_image_next_to_the_field_and_stores_nothing(
    web_server: ServerRig,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
    tmp_path: Path,
) -> None:
    set_up_office(web_server)
    hr = new_context().new_page()
    sign_in(hr, web_server, *add_user(web_server.database_url, "hr"))
    hr.goto(base_url(web_server) + "/staff")
    hr.locator("#staff-list").get_by_role("link", name="s-wang").click()
    hr.locator("#f-evidence").fill("同意书 2026-017")
    hr.get_by_label("本人已书面同意采集和使用其人脸信息").check()
    hr.get_by_role("button", name="记录同意").click()
    expect(hr.get_by_test_id("face-consent")).to_contain_text("同意书 2026-017")
    expect(hr.get_by_test_id("face-encodings")).to_have_text("已登记 0 张照片")
    not_an_image = tmp_path / "签到表.pdf"
    not_an_image.write_bytes(b"%PDF-1.4 not a photo of anyone\n")
    hr.locator("#f-photos").set_input_files(str(not_an_image))
    hr.get_by_role("button", name="上传照片").click()
    message = hr.locator("#f-photos-error")
    expect(message).to_be_visible()
    expect(message).to_contain_text("签到表.pdf")
    expect(hr.locator("#f-photos")).to_have_attribute("aria-describedby", "f-photos-error")
    expect(hr.get_by_test_id("face-encodings")).to_have_text("已登记 0 张照片")
    screenshot(hr, "not-an-image")
    hr.reload()  # nothing was stored: the page drawn afresh still counts none
    expect(hr.get_by_test_id("face-encodings")).to_have_text("已登记 0 张照片")
