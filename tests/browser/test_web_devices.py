"""In Chromium against a real ``kaoqin server``: an admin registers an edge (its MQTT password shown
once) and a simulated terminal (a TerminalSimulator over pyzk) for a running edge agent, sees it
come online on the devices page and its punches arrive, a live one included; registering the same
serial again, or a serial in the wrong form, shows the message next to the field and saves nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from tests.browser.conftest import api, base_url, sign_in
from tests.faults.rig import ServerRig
from tests.support.auth import add_user, token_for
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

EDGE, SERIAL, ZONE = "edge-web", "KQWEB0001", "Asia/Shanghai"
MODEL = "tft_fingerprint_card_zmm220"


@pytest.fixture
def terminal() -> Iterator[TerminalSimulator]:
    with TerminalSimulator(serial=SERIAL, users=5, records=6, timezone=ZONE, seed=11) as sim:
        yield sim


@pytest.fixture
def edge(web_server: ServerRig, tmp_path: Path) -> Iterator[EdgeAgent]:
    """A running edge agent with no terminal in its YAML: it polls what is registered to it."""
    agent = EdgeAgent(
        EdgeSettings(
            edge_id=EDGE,
            mqtt_url=web_server.broker_url,
            outbox_path=tmp_path / "edge-outbox.sqlite3",
            poll_interval_seconds=0.5,
            retry_max_seconds=2,
            status_interval_seconds=2,
        )
    )
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def _site(rig: ServerRig, admin: tuple[str, str]) -> None:
    with api(rig) as client:
        token = token_for(client, *admin)
    with api(rig, token) as client:
        reply = client.put("/api/v1/sites/hq", json={"name": "总部", "devices": []})
        assert reply.status_code == 204, reply.text


def _row_shows(page: Page, online: str, punches: str) -> bool:
    page.reload()
    row = page.locator(f'tr[data-device="{SERIAL}"]')
    return (
        row.count() == 1
        and row.get_by_test_id("online").inner_text() == online
        and row.get_by_test_id("punches").inner_text() == punches
    )


def _fill_terminal_form(page: Page, serial: str, port: int) -> None:
    page.goto(base_url_of(page) + "/devices/terminals/new")
    page.get_by_label("序列号").fill(serial)
    page.get_by_label("型号（固件配置）").select_option(MODEL)
    page.get_by_label("地点").select_option("hq")
    page.get_by_label("边缘代理").select_option(EDGE)
    page.get_by_label("IP地址或主机名").fill("127.0.0.1")
    page.get_by_label("端口").fill(str(port))
    expect(page.get_by_label("考勤机时区")).to_have_value(ZONE)  # the office's zone by default
    page.get_by_role("button", name="登记").click()


def base_url_of(page: Page) -> str:
    found = re.match(r"https?://[^/]+", page.url)
    assert found is not None
    return found.group(0)


def test_admin_registers_a_simulated_terminal_and_sees_it_come_online_and_its_punches_arrive(
    web_server: ServerRig,
    edge: EdgeAgent,
    terminal: TerminalSimulator,
    new_context: Callable[[], BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    admin = add_user(web_server.database_url, "admin")
    _site(web_server, admin)
    page = new_context().new_page()
    sign_in(page, web_server, *admin)

    page.goto(base_url(web_server) + "/devices")
    expect(page.get_by_role("heading", level=1)).to_have_text("设备")
    page.get_by_role("link", name="登记边缘代理").click()
    page.get_by_label("边缘代理编号").fill(EDGE)
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"边缘代理{EDGE}已登记")
    expect(page.get_by_text("MQTT密码只显示这一次")).to_be_visible()
    password = page.get_by_test_id("mqtt-password").inner_text()
    assert len(password) >= 40
    screenshot(page, "edge-registered-password-once")

    _fill_terminal_form(page, SERIAL, terminal.port)
    page.wait_for_url(re.compile(r".*/devices$"))
    expect(page.get_by_text(f"考勤机{SERIAL}已登记")).to_be_visible()
    assert password not in page.content()

    # The edge picks the registration up from its retained config, polls the simulator, reports it.
    wait_until(lambda: _row_shows(page, "在线", "6"), 60, "the terminal online with its 6 records")
    row = page.locator(f'tr[data-device="{SERIAL}"]')
    expect(row.get_by_test_id("last-read")).not_to_have_text("")
    expect(row.get_by_test_id("drift")).not_to_have_text("")
    expect(page.locator(f'tr[data-edge="{EDGE}"]').get_by_test_id("edge-state")).to_have_text("在线")
    wait_until(lambda: terminal.state.live_listeners == 1, 30, "the edge capturing live punches")
    terminal.add_punch("2")
    wait_until(lambda: _row_shows(page, "在线", "7"), 30, "the live punch counted on the page")
    screenshot(page, "terminal-online-punches")

    _fill_terminal_form(page, SERIAL, terminal.port)
    error = page.locator("#f-serial-error")
    expect(error).to_have_text("此序列号已登记，请修改或删除原登记")
    expect(page.get_by_label("序列号")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").first).to_be_visible()
    screenshot(page, "terminal-registered-twice")

    _fill_terminal_form(page, "kq-web-2", terminal.port)
    expect(page.locator("#f-serial-error")).to_contain_text("序列号格式不正确")
    expect(page.get_by_label("序列号")).to_have_value("kq-web-2")
    screenshot(page, "terminal-serial-wrong-form")

    page.goto(base_url(web_server) + "/devices")
    expect(page.locator("tr[data-device]")).to_have_count(1)  # neither refusal saved anything
    assert len(edge.registered.pollers) == 1
