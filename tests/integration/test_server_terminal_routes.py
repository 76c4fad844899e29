"""The terminal sync endpoints publish EdgeCommands an edge can decode (server with its embedded broker)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts import CopyTemplatesCommand, UpsertUsersCommand, command_topic, decode_command
from devices.zkteco.records import UserRecord
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings, TerminalSettings
from server.app import create_app
from server.settings import ServerSettings
from tests.support.attendance_world import TIMETABLE
from tests.support.auth import running_app, sign_in
from tests.support.brokers import Probe
from tests.support.processes import wait_until
from tests.support.services import free_port
from tests.support.terminal_rig import ZONE

pytestmark = pytest.mark.integration


def test_staff_and_template_commands_reach_the_edge_topic(tmp_path: Path) -> None:
    port = free_port()
    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 's.sqlite3'}", embedded_broker_port=port)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 15
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)
        sign_in(client, settings.database_url)
        edge = Probe(settings.broker_url, command_topic("edge-site-1"))
        try:
            reply = client.post(
                "/api/v1/edges/edge-site-1/terminals/users",
                json={"users": [{"user_id": "0042", "name": "Zhao Min", "card": 7}]},
            )
            assert reply.status_code == 202
            (sent_id,) = reply.json()["command_ids"]
            command = decode_command(edge.get().payload)
            assert command.command_id == sent_id
            assert isinstance(command.command, UpsertUsersCommand)
            assert command.command.users[0].user_id == "0042"

            reply = client.post(
                "/api/v1/edges/edge-site-1/terminals/templates/copy", json={"source_serial": "SN-GATE"}
            )
            assert reply.status_code == 202
            assert isinstance(decode_command(edge.get().payload).command, CopyTemplatesCommand)

            bad = client.post(
                "/api/v1/edges/edge-site-1/terminals/users", json={"users": [{"user_id": "4 2"}]}
            )
            assert bad.status_code == 422
            assert "user_id" in bad.text
            assert (
                client.post(
                    "/api/v1/edges/no$such/terminals/users/disable", json={"user_ids": ["1"]}
                ).status_code
                == 422
            )
        finally:
            edge.close()


@dataclass
class TwoEdgeSite:
    """Site "main": GATE and HALL behind edge a, ANNEX behind edge b; ELSEWHERE (edge b) is at "other"."""

    client: TestClient
    sims: dict[str, TerminalSimulator]
    run: str

    def edge_id(self, name: str) -> str:
        return f"edge-{name}-{self.run}"


@pytest.fixture
def two_edge_site(mosquitto_url: str, tmp_path: Path) -> Iterator[TwoEdgeSite]:
    run = uuid.uuid4().hex[:8]  # the machine's broker keeps sessions across runs
    leaver = [UserRecord(uid=1, user_id="2002", name="Li Na")]
    sims = {
        name: TerminalSimulator(serial=f"SN-{name}-{run}", users=leaver, timezone=ZONE).start()
        for name in ("GATE", "HALL", "ANNEX", "ELSEWHERE")
    }

    def edge(name: str, terminals: list[TerminalSimulator]) -> EdgeAgent:
        return EdgeAgent(
            EdgeSettings(
                edge_id=f"edge-{name}-{run}",
                mqtt_url=mosquitto_url,
                outbox_path=tmp_path / f"{name}.sqlite3",
                poll_interval_seconds=0.3,
                retry_max_seconds=1,
                terminals=[
                    TerminalSettings(serial=s.serial, host="127.0.0.1", port=s.port, timezone=ZONE)
                    for s in terminals
                ],
            )
        )

    agents = [edge("a", [sims["GATE"], sims["HALL"]]), edge("b", [sims["ANNEX"], sims["ELSEWHERE"]])]
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    started: list[EdgeAgent] = []
    try:
        with running_app(url, mqtt_url=mosquitto_url, mqtt_client_id=f"server-{run}") as client:
            sign_in(client, url)
            for agent in agents:
                agent.start()
                started.append(agent)

            def put(path: str, body: dict[str, object]) -> None:
                reply = client.put(path, json=body)
                assert reply.status_code == 204, reply.text

            site = [{"device_id": sims[n].serial, "kind": "terminal"} for n in ("GATE", "HALL", "ANNEX")]
            put("/api/v1/sites/main", {"name": "Main building", "devices": site})
            other = [{"device_id": sims["ELSEWHERE"].serial, "kind": "terminal"}]
            put("/api/v1/sites/other", {"name": "Other", "devices": other})
            put("/api/v1/timetables/std", TIMETABLE)
            put("/api/v1/departments/social", {"name": "Social assistance"})
            member = {"department_id": "social", "timetable_id": "std"}
            put(
                "/api/v1/staff/s-1",
                {**member, "name": "Zhao Min", "site_id": "main", "terminal_user_ids": ["0042"]},
            )
            put(
                "/api/v1/staff/s-2",
                {
                    **member,
                    "name": "Li Na",
                    "site_id": "main",
                    "terminal_user_ids": ["2002"],
                    "active": False,
                },
            )
            put(
                "/api/v1/staff/s-3",
                {**member, "name": "Far Away", "site_id": "other", "terminal_user_ids": ["3003"]},
            )
            # Until the edges have reported their terminals, the server does not know where they are.
            wait_until(
                lambda: (
                    {d["device_id"] for d in client.get("/api/v1/devices").json()}
                    >= {s.serial for s in sims.values()}
                ),
                30,
                "every terminal reported by its edge",
            )
            yield TwoEdgeSite(client, sims, run)
    finally:
        for agent in started:
            agent.stop()
        for sim in sims.values():
            sim.stop()


def test_a_sites_staff_list_reaches_every_terminal_of_the_site_across_edges(
    two_edge_site: TwoEdgeSite,
) -> None:
    """The server's staff of a site (staff, staff_terminal_ids, the site's terminals) go through
    each terminal's own edge to the simulators; an inactive member is disabled, fingerprints kept."""
    client, sims, site = two_edge_site.client, two_edge_site.sims, two_edge_site
    sims["ANNEX"].state.enroll_finger(1, 2, b"\x44" * 300)
    reply = client.post("/api/v1/sites/main/terminals/staff")
    assert reply.status_code == 202
    sent = reply.json()
    assert sent["unplaced"] == []
    assert sent["users"] == 2
    assert {(t["serial"], t["edge_id"]) for t in sent["terminals"]} == {
        (sims["GATE"].serial, site.edge_id("a")),
        (sims["HALL"].serial, site.edge_id("a")),
        (sims["ANNEX"].serial, site.edge_id("b")),
    }
    site_sims = [sims[n] for n in ("GATE", "HALL", "ANNEX")]
    wait_until(
        lambda: all("0042" in {u.user_id for u in s.state.users} for s in site_sims),
        30,
        "the site's staff on each of its terminals",
    )
    wait_until(
        lambda: all(u.privilege & 0x01 for s in site_sims for u in s.state.users if u.user_id == "2002"),
        30,
        "the inactive member disabled",
    )
    assert sims["ANNEX"].state.templates == {(1, 2): b"\x44" * 300}  # their fingerprint stays
    assert {u.user_id for u in sims["ELSEWHERE"].state.users} == {"2002"}  # another site's terminal
    assert all(u.privilege == 0 for u in sims["ELSEWHERE"].state.users)
    assert client.post("/api/v1/sites/nowhere/terminals/staff").status_code == 404


def test_fingerprints_enrolled_at_one_terminal_reach_every_terminal_of_its_site_across_edges(
    two_edge_site: TwoEdgeSite,
) -> None:
    """GATE's edge writes HALL itself; ANNEX, behind the other edge, gets them through the server
    (a templates event relayed as a write_templates command); ELSEWHERE, at another site, does not."""
    client, sims, site = two_edge_site.client, two_edge_site.sims, two_edge_site
    gate = sims["GATE"]
    gate.state.put_user(UserRecord(uid=2, user_id="0042", name="Zhao Min"))
    gate.state.enroll_finger(2, 0, b"\x11" * 700)
    gate.state.enroll_finger(2, 5, b"\x22" * 650)
    reply = client.post("/api/v1/sites/main/terminals/templates/copy", json={"source_serial": gate.serial})
    assert reply.status_code == 202, reply.text
    sent = reply.json()
    assert sent["same_edge"] == [sims["HALL"].serial]
    assert sent["other_edges"] == [{"serial": sims["ANNEX"].serial, "edge_id": site.edge_id("b")}]

    def fingers(sim: TerminalSimulator) -> dict[int, bytes]:
        slot = next((u.uid for u in sim.state.users if u.user_id == "0042"), None)
        return {finger: t for (uid, finger), t in sim.state.templates.items() if uid == slot}

    expected = {0: b"\x11" * 700, 5: b"\x22" * 650}
    wait_until(lambda: fingers(sims["HALL"]) == expected, 30, "the fingerprints on the same edge's terminal")
    wait_until(
        lambda: fingers(sims["ANNEX"]) == expected, 30, "the fingerprints on the other edge's terminal"
    )
    annex = {u.user_id: u for u in sims["ANNEX"].state.users}
    assert annex["0042"].name == "Zhao Min"
    assert annex["2002"].name == "Li Na"  # the annex's own user kept their slot
    assert fingers(sims["ELSEWHERE"]) == {}
    assert "0042" not in {u.user_id for u in sims["ELSEWHERE"].state.users}
    unknown = client.post("/api/v1/sites/main/terminals/templates/copy", json={"source_serial": "SN-NOPE"})
    assert unknown.status_code == 404
    assert "not at site" in unknown.text
