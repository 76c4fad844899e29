"""The device registry through the API on SQLite and PostgreSQL: terminals and cameras registered to
edges, refusals that name the field and save nothing, and the retained config each edge is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contracts import EdgeConfig, decode_edge_config, edge_config_topic
from devices.firmware_profile import load_firmware_profile
from server.adapters.db import create_db_engine
from server.adapters.firmware_catalog import load_terminal_models
from server.adapters.tables_registry import registered_cameras, registered_terminals, registry_edges
from server.settings import BUNDLED_FIRMWARE_CONFIGS
from tests.support.auth import add_user, running_app, sign_in, token_for
from tests.support.brokers import Probe
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration

PULL_MODEL = "tft_fingerprint_card_zmm220"
PUSH_MODEL = "speedface_v5l_push"


def _terminal(serial: str = "AIOR192960031", **changes: Any) -> dict[str, Any]:
    body = {
        "serial": serial,
        "model": PULL_MODEL,
        "site_id": "hq",
        "edge_id": "edge-hq",
        "host": "10.1.2.3",
        "port": 4370,
        "transport": "tcp",
        "timezone": "Asia/Shanghai",
    }
    body.update(changes)
    return body


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    with running_app(database_url) as client:
        sign_in(client, database_url)
        assert client.post("/api/v1/edges", json={"edge_id": "edge-hq"}).status_code == 201
        assert client.put("/api/v1/sites/hq", json={"name": "HQ", "devices": []}).status_code == 204
        yield client


def _counts(database_url: str) -> tuple[int, int, int]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as c:
            return tuple(  # type: ignore[return-value]
                c.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (registered_terminals, registered_cameras, registry_edges)
            )
    finally:
        engine.dispose()


def _latest_config(client: TestClient, edge_id: str) -> EdgeConfig:
    """The retained config as a newly connecting edge gets it from the broker."""
    port = client.app.state.kaoqin.broker_url.rsplit(":", 1)[1]  # type: ignore[attr-defined]
    probe = Probe(f"mqtt://127.0.0.1:{port}", edge_config_topic(edge_id))
    try:
        return decode_edge_config(bytes(probe.get().payload))
    finally:
        probe.close()


def test_a_registered_terminal_is_listed_and_sent_to_its_edge_as_retained_config(
    api: TestClient, database_url: str
) -> None:
    reply = api.post("/api/v1/registry/terminals", json=_terminal())
    assert reply.status_code == 201, reply.text
    assert reply.json()["connection"] == "pull"
    push = api.post(
        "/api/v1/registry/terminals", json=_terminal("CKPL221160045", model=PUSH_MODEL, host=None)
    )
    assert push.status_code == 201, push.text
    assert push.json()["connection"] == "push"
    listed = api.get("/api/v1/registry/terminals").json()
    assert [t["serial"] for t in listed] == ["AIOR192960031", "CKPL221160045"]

    wait_until(lambda: _latest_config(api, "edge-hq").version == 2, 10, "config version 2 on the broker")
    config = _latest_config(api, "edge-hq")
    pulled, pushed = config.terminals
    assert (pulled.serial, pulled.connection, pulled.host, pulled.profile) == (
        "AIOR192960031",
        "pull",
        "10.1.2.3",
        PULL_MODEL,
    )
    assert (pushed.serial, pushed.connection, pushed.host) == ("CKPL221160045", "push", None)


def test_a_second_registration_of_a_serial_is_refused_with_409_naming_the_field_and_changes_nothing(
    api: TestClient, database_url: str
) -> None:
    assert api.post("/api/v1/registry/terminals", json=_terminal()).status_code == 201
    before = _counts(database_url)
    again = api.post("/api/v1/registry/terminals", json=_terminal(host="10.9.9.9"))
    assert again.status_code == 409
    assert "AIOR192960031 is already registered" in again.json()["fields"]["serial"]
    assert _counts(database_url) == before
    assert api.get("/api/v1/registry/terminals").json()[0]["host"] == "10.1.2.3"


@pytest.mark.parametrize("serial", ["aior192960031", "AIOR-1929", "12345", "A" * 21, ""])
def test_a_serial_in_the_wrong_form_is_refused_and_nothing_is_saved(
    api: TestClient, database_url: str, serial: str
) -> None:
    reply = api.post("/api/v1/registry/terminals", json=_terminal(serial))
    assert reply.status_code == 422
    assert "capital letters and digits" in reply.json()["fields"]["serial"]
    assert _counts(database_url) == (0, 0, 0)


def test_every_unusable_field_is_named_at_once(api: TestClient, database_url: str) -> None:
    reply = api.post(
        "/api/v1/registry/terminals",
        json=_terminal(model="no_such_model", site_id="nowhere", edge_id="edge-x", timezone="Mars/Base"),
    )
    assert reply.status_code == 422
    fields = reply.json()["fields"]
    assert set(fields) == {"model", "site_id", "edge_id", "timezone"}
    assert PULL_MODEL in fields["model"]  # the known models are listed
    assert "no edge 'edge-x' is registered" in fields["edge_id"]
    assert _counts(database_url) == (0, 0, 0)


def test_the_model_decides_whether_a_host_is_needed(api: TestClient) -> None:
    no_host = api.post("/api/v1/registry/terminals", json=_terminal(host=None))
    assert no_host.status_code == 422
    assert "give its IP address" in no_host.json()["fields"]["host"]
    push_with_host = api.post("/api/v1/registry/terminals", json=_terminal(model=PUSH_MODEL))
    assert push_with_host.status_code == 422
    assert "push-only" in push_with_host.json()["fields"]["host"]
    udp_only = api.post(
        "/api/v1/registry/terminals", json=_terminal(model="bw_fingerprint_zem560", transport="tcp")
    )
    spoken = load_firmware_profile(BUNDLED_FIRMWARE_CONFIGS, "bw_fingerprint_zem560").pull_transports
    assert (udp_only.status_code == 201) == ("tcp" in spoken)


def test_cameras_link_to_registered_terminals_and_deletion_follows_the_links(
    api: TestClient, database_url: str
) -> None:
    camera = {
        "camera_id": "cam-gate",
        "source": "rtsp://10.1.2.4/stream1",
        "linked_terminal": "AIOR192960031",
    }
    refused = api.post("/api/v1/registry/cameras", json={**camera, "edge_id": "edge-hq"})
    assert refused.status_code == 422
    assert "register it first" in refused.json()["fields"]["linked_terminal"]
    assert api.post("/api/v1/registry/terminals", json=_terminal()).status_code == 201
    added = api.post("/api/v1/registry/cameras", json={**camera, "edge_id": "edge-hq"})
    assert added.status_code == 201, added.text
    assert added.json()["site_id"] == "hq"
    bad_source = api.post(
        "/api/v1/registry/cameras",
        json={**camera, "camera_id": "cam-2", "source": "webcam", "edge_id": "edge-hq"},
    )
    assert bad_source.status_code == 422
    assert "stream URL" in bad_source.json()["fields"]["source"]

    in_use = api.delete("/api/v1/registry/terminals/AIOR192960031")
    assert in_use.status_code == 409
    assert "cam-gate" in in_use.json()["fields"]["serial"]
    assert _counts(database_url)[:2] == (1, 1)

    assert api.delete("/api/v1/registry/cameras/cam-gate").status_code == 204
    assert api.delete("/api/v1/registry/terminals/AIOR192960031").status_code == 204
    assert api.delete("/api/v1/registry/terminals/AIOR192960031").status_code == 404
    wait_until(lambda: _latest_config(api, "edge-hq").version == 4, 10, "config version 4 on the broker")
    emptied = _latest_config(api, "edge-hq")
    assert (emptied.terminals, emptied.cameras) == ([], [])


def test_moving_a_terminal_to_another_edge_changes_both_edges_configs(api: TestClient) -> None:
    assert api.post("/api/v1/edges", json={"edge_id": "edge-annex"}).status_code == 201
    assert api.post("/api/v1/registry/terminals", json=_terminal()).status_code == 201
    change = {k: v for k, v in _terminal(edge_id="edge-annex").items() if k != "serial"}
    moved = api.put("/api/v1/registry/terminals/AIOR192960031", json=change)
    assert moved.status_code == 200, moved.text
    wait_until(lambda: _latest_config(api, "edge-annex").terminals != [], 10, "the annex edge's config")
    wait_until(lambda: _latest_config(api, "edge-hq").terminals == [], 10, "the hq edge's config emptied")


def test_only_an_admin_registers(api: TestClient, database_url: str) -> None:
    username, password = add_user(database_url, "hr")
    token = token_for(api, username, password)
    reply = api.post(
        "/api/v1/registry/terminals", json=_terminal(), headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 403
    listed = api.get("/api/v1/registry/terminals", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


def test_the_servers_reading_of_the_firmware_configs_agrees_with_the_devices_library() -> None:
    for model in load_terminal_models(BUNDLED_FIRMWARE_CONFIGS):
        profile = load_firmware_profile(BUNDLED_FIRMWARE_CONFIGS, model.name)
        assert (model.description, list(model.pull_transports), model.adms) == (
            profile.model,
            profile.pull_transports,
            profile.adms,
        )
