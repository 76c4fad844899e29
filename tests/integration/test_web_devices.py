"""The devices page through the real app (TestClient, SQLite, its embedded broker): registration
forms that show each refusal next to its field and save nothing, the edge's password shown once,
status and attention on the list, and who may see or post what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contracts import DeviceKind, DeviceStatus, EventKind, encode, event_topic
from server.adapters.db import create_db_engine
from server.adapters.tables_registry import registered_terminals
from tests.integration.test_web_foundation import csrf_of, sign_in_page
from tests.support.auth import add_user, running_app, sign_in
from tests.support.brokers import Probe
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration
HTML = {"Accept": "text/html"}
MODEL = "tft_fingerprint_card_zmm220"


@pytest.fixture
def app(sqlite_url: str) -> Iterator[tuple[TestClient, str]]:
    with running_app(sqlite_url, ingest_batch_wait_seconds=0.05) as client:
        sign_in(client, sqlite_url)  # the API calls that set the world up
        assert client.put("/api/v1/sites/hq", json={"name": "总部", "devices": []}).status_code == 204
        assert client.post("/api/v1/edges", json={"edge_id": "edge-hq"}).status_code == 201
        client.headers.pop("Authorization")
        yield client, sqlite_url


def _as(client: TestClient, database_url: str, role: str) -> None:
    username, password = add_user(database_url, role)
    assert sign_in_page(client, username, password).status_code == 303


def _post(client: TestClient, path: str, form: dict[str, str], lang: str = "zh") -> str:
    token = csrf_of(client.get("/devices", headers=HTML).text)
    reply = client.post(
        f"{path}?lang={lang}", data={**form, "csrf_token": token}, headers=HTML, follow_redirects=False
    )
    return f"{reply.status_code}\n{reply.text}"


def _terminal_form(**changes: str) -> dict[str, str]:
    form = {
        "serial": "AIOR192960031",
        "model": MODEL,
        "site_id": "hq",
        "edge_id": "edge-hq",
        "host": "10.1.2.3",
        "port": "4370",
        "transport": "tcp",
        "timezone": "Asia/Shanghai",
    }
    form.update(changes)
    return form


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def _registered(database_url: str) -> int:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(registered_terminals)).scalar_one())
    finally:
        engine.dispose()


def test_the_terminal_form_offers_the_firmware_configs_and_the_registered_edges(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    page = client.get("/devices/terminals/new", headers=HTML)
    assert page.status_code == 200
    for option in (MODEL, "speedface_v5l_push", "bw_fingerprint_zem560", "edge-hq", "hq"):
        assert f'<option value="{option}"' in page.text


def test_a_registration_lands_on_the_list_and_a_second_one_shows_the_message_next_to_the_serial(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    first = _post(client, "/devices/terminals", _terminal_form())
    assert first.startswith("303"), first
    listed = client.get("/devices", headers=HTML).text
    assert 'data-device="AIOR192960031"' in listed
    assert "已登记，尚未上报" in listed  # registered, and no edge has reported it yet

    again = _post(client, "/devices/terminals", _terminal_form(host="10.9.9.9"))
    assert again.startswith("422")
    assert _field_error(again, "serial") == "此序列号已登记，请修改或删除原登记"
    assert 'value="10.9.9.9"' in again  # what was typed is kept
    assert _registered(database_url) == 1

    english = _post(client, "/devices/terminals", _terminal_form(), lang="en")
    assert "This serial number is already registered" in _field_error(english, "serial")


@pytest.mark.parametrize("serial", ["aior192960031", "AIOR-1929", "<script>"])
def test_a_serial_in_the_wrong_form_is_named_next_to_the_field_and_nothing_is_saved(
    app: tuple[TestClient, str], serial: str
) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    reply = _post(client, "/devices/terminals", _terminal_form(serial=serial, host=""))
    assert reply.startswith("422")
    assert _field_error(reply, "serial").startswith("序列号格式不正确")
    assert _field_error(reply, "host") == "此型号通过网络读取，请填写IP地址或主机名"
    assert "<script>" not in reply  # typed values are escaped
    assert _registered(database_url) == 0


def test_missing_and_non_numeric_fields_are_refused_before_the_registry_is_asked(
    app: tuple[TestClient, str],
) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    reply = _post(client, "/devices/terminals", _terminal_form(serial="", edge_id="", port="43x0"))
    assert reply.startswith("422")
    assert _field_error(reply, "serial") == "此项必填"
    assert _field_error(reply, "edge_id") == "此项必填"
    assert _field_error(reply, "port") == "请填写数字"
    assert _registered(database_url) == 0


def test_a_registered_edge_sees_its_password_once(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    issued = _post(client, "/devices/edges", {"edge_id": "edge-annex"})
    assert issued.startswith("200")
    password = re.search(r'data-testid="mqtt-password"><code>([^<]+)</code>', issued)
    assert password is not None
    assert len(password.group(1)) >= 40
    listed = client.get("/devices", headers=HTML).text
    assert 'data-edge="edge-annex"' in listed
    assert password.group(1) not in listed
    again = _post(client, "/devices/edges", {"edge_id": "edge-annex"})
    assert again.startswith("422")
    assert _field_error(again, "edge_id").startswith("此边缘代理已登记")
    assert password.group(1) not in again


def test_status_columns_and_attention_follow_the_edges_reports(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "admin")
    assert _post(client, "/devices/terminals", _terminal_form()).startswith("303")
    now = datetime.now(UTC)
    status = DeviceStatus.create(
        edge_id="edge-hq",
        device_id="AIOR192960031",
        device_kind=DeviceKind.TERMINAL,
        occurred_at=now,
        reachable=True,
        last_read_at=now,
        records=90_000,
        record_capacity=100_000,
        clock_offset_seconds=-47.0,
    )
    probe = Probe(client.app.state.kaoqin.broker_url)  # type: ignore[attr-defined]
    probe.publish(event_topic("edge-hq", EventKind.DEVICE_STATUS, "AIOR192960031"), encode(status))
    wait_until(lambda: "90%" in client.get("/devices", headers=HTML).text, 20, "the status on the page")
    probe.close()
    page = client.get("/devices?lang=en", headers=HTML).text
    row = page[page.index('data-device="AIOR192960031"') :].split("</tr>", 1)[0]
    assert 'class="attention"' in page[page.index('data-device="AIOR192960031"') - 40 :][:120]
    assert "online" in row
    assert "-47" in row
    assert "Clock off by -47 s" in row
    assert "Log 90% full" in row


def test_hr_sees_the_list_but_not_the_forms(app: tuple[TestClient, str]) -> None:
    client, database_url = app
    _as(client, database_url, "hr")
    page = client.get("/devices", headers=HTML)
    assert page.status_code == 200
    assert "/devices/terminals/new" not in page.text
    assert client.get("/devices/terminals/new", headers=HTML).status_code == 403
    token = csrf_of(page.text)
    refused = client.post("/devices/terminals", data={**_terminal_form(), "csrf_token": token}, headers=HTML)
    assert refused.status_code == 403
    assert _registered(database_url) == 0
