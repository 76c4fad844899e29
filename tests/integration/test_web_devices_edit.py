"""The devices page's refresh and the terminal edit form through the real app (TestClient session,
SQLite, its embedded broker): the status part served alone for the page's script, with a plain
refresh link and no meta refresh; a registration changed on the form is saved and sent to its edge;
refused values are shown next to their fields and change nothing; only admins may edit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contracts import (
    DeviceKind,
    DeviceStatus,
    EventKind,
    decode_edge_config,
    edge_config_topic,
    encode,
    event_topic,
)
from server.adapters.db import create_db_engine
from server.adapters.tables_registry import registered_terminals
from tests.integration.test_web_devices import HTML, MODEL, _as, _field_error, _post, _terminal_form, app
from tests.integration.test_web_foundation import csrf_of
from tests.support.brokers import Probe
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration
SERIAL = "AIOR192960031"
__all__ = ["app"]  # the fixture, shared with test_web_devices.py


def _row(database_url: str) -> dict[str, object]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as c:
            query = select(registered_terminals).where(registered_terminals.c.serial == SERIAL)
            return dict(c.execute(query).one()._mapping)
    finally:
        engine.dispose()


def _edit_form(**changes: str) -> dict[str, str]:
    form = _terminal_form(**changes)
    del form["serial"], form["edge_id"]  # fixed by the registration
    return form


def _status_part(client: TestClient, lang: str = "zh") -> str:
    reply = client.get(f"/devices/status?lang={lang}", headers=HTML)
    assert reply.status_code == 200
    return reply.text


def test_the_status_part_is_served_alone_for_the_refresh_script(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    assert _post(client, "/devices/terminals", _terminal_form()).startswith("303")

    page = client.get("/devices", headers=HTML).text
    assert 'data-refresh="/devices/status"' in page
    assert '<script src="/static/devices_refresh.js" defer></script>' in page
    assert '<a href="/devices" data-testid="refresh">刷新</a>' in page  # without JS: reload by hand
    assert 'http-equiv="refresh"' not in page
    script = client.get("/static/devices_refresh.js")
    assert script.status_code == 200
    assert "dataset.refresh" in script.text

    part = _status_part(client)
    assert "<html" not in part
    assert 'id="main-nav"' not in part
    assert f'data-device="{SERIAL}"' in part
    assert f'href="/devices/terminals/{SERIAL}/edit"' in part
    assert "已登记，尚未上报" in part

    # An edge reports the terminal: the next fetch of the part shows it, no page load needed.
    now = datetime.now(UTC)
    status = DeviceStatus.create(
        edge_id="edge-hq",
        device_id=SERIAL,
        device_kind=DeviceKind.TERMINAL,
        occurred_at=now,
        reachable=True,
        last_read_at=now,
        records=45_000,
        record_capacity=100_000,
    )
    probe = Probe(client.app.state.kaoqin.broker_url)  # type: ignore[attr-defined]
    try:
        probe.publish(event_topic("edge-hq", EventKind.DEVICE_STATUS, SERIAL), encode(status))
        wait_until(lambda: "45%" in _status_part(client), 20, "the reported status in the status part")
    finally:
        probe.close()
    row = _status_part(client, "en").split(f'data-device="{SERIAL}"', 1)[1].split("</tr>", 1)[0]
    assert "online" in row
    assert "never reported" not in row


def test_an_edited_terminal_is_saved_and_its_edge_is_sent_the_new_address(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    assert _post(client, "/devices/terminals", _terminal_form()).startswith("303")

    form = client.get(f"/devices/terminals/{SERIAL}/edit", headers=HTML)
    assert form.status_code == 200
    assert 'value="10.1.2.3"' in form.text  # the registration's values filled in
    assert f'<option value="{MODEL}" selected>' in form.text
    assert 'name="serial"' not in form.text  # the serial is what is edited, not a field

    saved = _post(
        client, f"/devices/terminals/{SERIAL}", _edit_form(host="10.1.2.4", port="4371", transport="udp")
    )
    assert saved.startswith("303"), saved
    row = _row(database_url)
    assert (row["host"], row["port"], row["transport"], row["edge_id"]) == (
        "10.1.2.4",
        4371,
        "udp",
        "edge-hq",
    )
    listed = client.get("/devices", headers=HTML).text
    assert "10.1.2.4:4371 udp" in listed
    assert f"考勤机 {SERIAL} 的登记已修改" in listed

    port = client.app.state.kaoqin.broker_url.rsplit(":", 1)[1]  # type: ignore[attr-defined]
    probe = Probe(f"mqtt://127.0.0.1:{port}", edge_config_topic("edge-hq"))
    try:
        (terminal,) = decode_edge_config(bytes(probe.get().payload)).terminals
    finally:
        probe.close()
    assert (terminal.host, terminal.port, terminal.transport) == ("10.1.2.4", 4371, "udp")


def test_refused_edits_are_named_next_to_each_field_and_change_nothing(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    assert _post(client, "/devices/terminals", _terminal_form()).startswith("303")
    before = _row(database_url)

    checked = _post(client, f"/devices/terminals/{SERIAL}", _edit_form(model="", port="43x0"))
    assert checked.startswith("422")
    assert _field_error(checked, "model") == "此项必填"
    assert _field_error(checked, "port") == "请填写数字"

    refused = _post(
        client,
        f"/devices/terminals/{SERIAL}",
        _edit_form(host="not a host!", port="70000", timezone="Mars/Olympus", site_id="nowhere"),
    )
    assert refused.startswith("422")
    assert _field_error(refused, "host") == "不是有效的IP地址或主机名"
    assert _field_error(refused, "port") == "端口应在1到65535之间"
    assert _field_error(refused, "timezone").startswith("未知时区")
    assert _field_error(refused, "site_id") == "没有此地点，请先设置地点"
    assert 'value="not a host!"' in refused  # what was typed is kept
    assert f'action="/devices/terminals/{SERIAL}"' in refused  # still the edit form

    english = _post(client, f"/devices/terminals/{SERIAL}", _edit_form(transport="bluetooth"), lang="en")
    assert "This model does not speak it" in _field_error(english, "transport")
    assert _row(database_url) == before


def test_only_admins_edit_and_an_unregistered_serial_is_not_found(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    assert _post(client, "/devices/terminals", _terminal_form()).startswith("303")
    assert client.get("/devices/terminals/NOSUCH0001/edit", headers=HTML).status_code == 404
    assert _post(client, "/devices/terminals/NOSUCH0001", _edit_form()).startswith("404")

    client.cookies.clear()
    _as(client, database_url, "hr")
    part = _status_part(client)
    assert f'data-device="{SERIAL}"' in part
    assert "/edit" not in part
    assert client.get(f"/devices/terminals/{SERIAL}/edit", headers=HTML).status_code == 403
    token = csrf_of(client.get("/devices", headers=HTML).text)
    refused = client.post(
        f"/devices/terminals/{SERIAL}",
        data={**_edit_form(host="10.6.6.6"), "csrf_token": token},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert _row(database_url)["host"] == "10.1.2.3"
