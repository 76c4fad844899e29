"""In Chromium against a real ``kaoqin server``: a terminal registered at a wrong port shows as
offline on the devices page without reloading it (the status part refreshed by its script); the
admin corrects the port on the edit form, and the page, left open, shows the terminal come online
with its punches, still without a reload."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from tests.browser.conftest import api, base_url, sign_in
from tests.browser.test_web_devices import EDGE, MODEL, SERIAL, ZONE, edge, terminal
from tests.faults.rig import ServerRig
from tests.support.auth import add_user, token_for

pytestmark = pytest.mark.e2e
__all__ = ["edge", "terminal"]  # fixtures shared with test_web_devices.py
REFRESH_WAIT_MS = 60_000  # several 10 s refreshes: the edge polls, reports, the server stores


def _register_at_a_wrong_port(rig: ServerRig, admin: tuple[str, str]) -> None:
    with api(rig) as client:
        token = token_for(client, *admin)
    with api(rig, token) as client:
        assert client.put("/api/v1/sites/hq", json={"name": "总部", "devices": []}).status_code == 204
        assert client.post("/api/v1/edges", json={"edge_id": EDGE}).status_code == 201
        terminal = {
            "serial": SERIAL,
            "model": MODEL,
            "site_id": "hq",
            "edge_id": EDGE,
            "host": "127.0.0.1",
            "port": 1,  # nothing answers there
            "timezone": ZONE,
        }
        reply = client.post("/api/v1/registry/terminals", json=terminal)
        assert reply.status_code == 201, reply.text


def test_the_open_devices_page_follows_a_terminal_corrected_on_the_edit_form(
    web_server: ServerRig,
    edge: EdgeAgent,
    terminal: TerminalSimulator,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    admin = add_user(web_server.database_url, "admin")
    _register_at_a_wrong_port(web_server, admin)
    page = new_context().new_page()
    sign_in(page, web_server, *admin)

    page.goto(base_url(web_server) + "/devices")
    page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded
    with page.expect_response(lambda r: r.url.endswith("/devices/status"), timeout=15_000) as fetched:
        pass  # the page's script asks for the status part by itself within ~10 s
    assert fetched.value.status == 200
    row = page.locator(f'tr[data-device="{SERIAL}"]')
    expect(row.get_by_test_id("online")).to_have_text("离线", timeout=REFRESH_WAIT_MS)
    expect(row).to_have_class(re.compile("attention"))  # marked, with the edge's reason
    assert page.evaluate("window.loadedOnce") is True
    screenshot(page, "offline-without-reload")

    row.get_by_test_id("edit").click()
    page.wait_for_url(re.compile(rf".*/devices/terminals/{SERIAL}/edit$"))
    expect(page.get_by_label("端口")).to_have_value("1")
    page.get_by_label("端口").fill("99999")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#f-port-error")).to_have_text("端口应在1到65535之间")
    expect(page.get_by_label("端口")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "edit-refused-next-to-the-field")
    page.get_by_label("端口").fill(str(terminal.port))
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r".*/devices$"))
    expect(page.get_by_text(f"考勤机 {SERIAL} 的登记已修改")).to_be_visible()

    page.evaluate("window.loadedOnce = true")
    row = page.locator(f'tr[data-device="{SERIAL}"]')
    expect(row.get_by_test_id("online")).to_have_text("在线", timeout=REFRESH_WAIT_MS)
    expect(row.get_by_test_id("punches")).to_have_text("6", timeout=REFRESH_WAIT_MS)
    expect(row).to_contain_text(f"127.0.0.1:{terminal.port}")
    assert page.evaluate("window.loadedOnce") is True
    assert [p.settings.port for p in edge.registered.pollers] == [terminal.port]
    screenshot(page, "online-after-edit-without-reload")
