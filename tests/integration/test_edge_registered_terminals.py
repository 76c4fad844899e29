"""Terminals registered through the API reach the edge as its retained config: real simulators
over pyzk, the server with its embedded broker, an edge agent started without them in its YAML.

Registering a terminal starts a poller (restarted at the corrected address after a change) whose
punches arrive on the server; deleting it stops the poller (the simulator's live session closes). A registered push terminal joins the ADMS allow-list;
a serial the YAML lists too keeps the YAML's settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from devices.zkteco.simulator import TerminalSimulator
from edge.adms_settings import AdmsSettings
from edge.agent import EdgeAgent
from edge.settings import BUNDLED_FIRMWARE_CONFIGS, EdgeSettings, TerminalSettings
from tests.integration.test_metrics import scrape
from tests.support.auth import running_app, sign_in
from tests.support.processes import wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.integration
ZONE = "Asia/Shanghai"
MODEL = "tft_fingerprint_card_zmm220"
REACHABLE = "kaoqin_edge_device_reachable"
ADMS_HEADERS = {"User-Agent": "iClock Proxy/1.09", "Connection": "close"}


@pytest.fixture
def api(sqlite_url: str) -> Iterator[TestClient]:
    with running_app(sqlite_url, ingest_batch_wait_seconds=0.05) as client:
        sign_in(client, sqlite_url)
        assert client.post("/api/v1/edges", json={"edge_id": "edge-reg"}).status_code == 201
        assert client.put("/api/v1/sites/hq", json={"name": "HQ", "devices": []}).status_code == 204
        yield client


def _agent(api: TestClient, tmp_path: Path, **settings: Any) -> EdgeAgent:
    return EdgeAgent(
        EdgeSettings(
            edge_id="edge-reg",
            mqtt_url=api.app.state.kaoqin.broker_url,  # type: ignore[attr-defined]
            outbox_path=tmp_path / "outbox.sqlite3",
            poll_interval_seconds=0.5,
            retry_max_seconds=2,
            ack_timeout_seconds=3,
            **settings,
        )
    )


def _register(api: TestClient, serial: str, **fields: Any) -> None:
    body = {
        "serial": serial,
        "model": MODEL,
        "site_id": "hq",
        "edge_id": "edge-reg",
        "timezone": ZONE,
        **fields,
    }
    reply = api.post("/api/v1/registry/terminals", json=body)
    assert reply.status_code == 201, reply.text


def _metric_reachable(agent: EdgeAgent) -> dict[str, float]:
    assert agent.metrics is not None
    samples = scrape(f"http://127.0.0.1:{agent.metrics.port}/metrics")
    return {dict(labels)["device_id"]: v for (name, labels), v in samples.items() if name == REACHABLE}


def _stored(api: TestClient, serial: str) -> int:
    return int(api.get("/api/v1/punches", params={"device": serial, "limit": 1}).json()["total"])


def _reachable(api: TestClient, serial: str) -> bool:
    devices = api.get("/api/v1/devices").json()
    return any(d["device_id"] == serial and d["reachable"] for d in devices)


def _unreachable(api: TestClient, serial: str) -> bool:
    devices = api.get("/api/v1/devices").json()
    return any(d["device_id"] == serial and not d["reachable"] for d in devices)


def test_a_registered_terminal_is_polled_from_its_corrected_address_until_its_registration_is_deleted(
    api: TestClient, tmp_path: Path
) -> None:
    with TerminalSimulator(serial="KQREG0001", users=5, records=12, timezone=ZONE, seed=5) as sim:
        agent = _agent(api, tmp_path, metrics_port=free_port())
        agent.start()
        try:
            assert agent.all_pollers() == []
            _register(api, "KQREG0001", host="127.0.0.1", port=1)

            # Registered at a port where nothing answers: reported unreachable, then corrected.
            wait_until(lambda: _unreachable(api, "KQREG0001"), 30, "the wrong address reported")
            change = {"model": MODEL, "site_id": "hq", "edge_id": "edge-reg", "timezone": ZONE}
            moved = api.put(
                "/api/v1/registry/terminals/KQREG0001", json={**change, "host": "127.0.0.1", "port": sim.port}
            )
            assert moved.status_code == 200, moved.text
            wait_until(lambda: _stored(api, "KQREG0001") == 12, 30, "the terminal's 12 records on the server")
            wait_until(lambda: _reachable(api, "KQREG0001"), 30, "the terminal reported online")
            wait_until(lambda: sim.state.live_listeners == 1, 30, "the edge capturing live punches")
            sim.add_punch("3")  # stamped with the terminal's own clock
            wait_until(lambda: _stored(api, "KQREG0001") == 13, 30, "the live punch on the server")
            (poller,) = agent.registered.pollers
            # The running registered terminal is in the edge's /metrics and its retained status.
            assert _metric_reachable(agent) == {"KQREG0001": 1.0}
            assert agent.device_ids() == ["KQREG0001"]

            assert api.delete("/api/v1/registry/terminals/KQREG0001").status_code == 204
            wait_until(lambda: agent.registered.pollers == [], 30, "the poller stopped")
            wait_until(lambda: sim.state.live_listeners == 0, 30, "the live session closed")
            assert poller.serial == "KQREG0001"
            assert _metric_reachable(agent) == {}
            assert agent.device_ids() == []
            assert _stored(api, "KQREG0001") == 13  # what was read stays
        finally:
            agent.stop()


def test_push_serials_join_the_adms_allow_list_and_the_yaml_wins_over_a_registration(
    api: TestClient, tmp_path: Path
) -> None:
    with TerminalSimulator(serial="KQYAML001", users=3, records=4, timezone=ZONE, seed=6) as pinned:
        yaml_terminal = TerminalSettings(
            serial="KQYAML001", host="127.0.0.1", port=pinned.port, timezone=ZONE
        )
        agent = _agent(api, tmp_path, terminals=[yaml_terminal], adms=AdmsSettings(host="127.0.0.1", port=0))
        agent.start()
        try:
            assert agent.adms is not None
            adms = httpx.Client(
                base_url=f"http://127.0.0.1:{agent.adms.port}", headers=ADMS_HEADERS, timeout=5
            )
            handshake = {"SN": "CKPUSH0001", "options": "all", "pushver": "2.4.1"}
            assert adms.get("/iclock/cdata", params=handshake).status_code == 403

            _register(api, "CKPUSH0001", model="speedface_v5l_push")
            # Registered at an address where nothing answers: the YAML's address must be the one used.
            _register(api, "KQYAML001", host="127.0.0.1", port=1)
            wait_until(
                lambda: adms.get("/iclock/cdata", params=handshake).status_code == 200,
                30,
                "the registered push terminal accepted by the ADMS endpoint",
            )
            wait_until(lambda: agent.registered.applied_version == 2, 30, "both registrations applied")
            assert agent.registered.pollers == []
            assert [p.settings.port for p in agent.all_pollers()] == [pinned.port]
            wait_until(lambda: _stored(api, "KQYAML001") == 4, 30, "the YAML terminal's records")

            assert api.delete("/api/v1/registry/terminals/CKPUSH0001").status_code == 204
            wait_until(
                lambda: adms.get("/iclock/cdata", params=handshake).status_code == 403,
                30,
                "the deleted push terminal refused again",
            )
            adms.close()
        finally:
            agent.stop()


def test_a_registered_terminal_this_edge_cannot_take_is_reported_with_the_reason(
    api: TestClient, tmp_path: Path
) -> None:
    configs = tmp_path / "firmware_configs"
    configs.mkdir()
    shutil.copy(BUNDLED_FIRMWARE_CONFIGS / "speedface_v5l_push.yaml", configs)  # no pull model here
    agent = _agent(api, tmp_path, firmware_configs_dir=configs)  # and no adms: section
    agent.start()
    try:
        _register(api, "KQGONE0001", host="127.0.0.1", port=4370)
        _register(api, "CKPUSH0002", model="speedface_v5l_push")
        wait_until(
            lambda: {"KQGONE0001", "CKPUSH0002"} <= set(_errors(api)), 30, "both reported as not configured"
        )
        errors = _errors(api)
        assert errors["KQGONE0001"].startswith(
            "not configured: registered terminal KQGONE0001 cannot be polled"
        )
        assert MODEL in errors["KQGONE0001"]
        assert "no adms: section" in errors["CKPUSH0002"]
        assert agent.all_pollers() == []
    finally:
        agent.stop()


def _errors(api: TestClient) -> dict[str, str]:
    return {d["device_id"]: d["error"] for d in api.get("/api/v1/devices").json() if d["error"]}
