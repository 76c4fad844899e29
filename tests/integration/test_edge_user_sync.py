"""Staff pushed to terminals and templates copied between them: commands over MQTT, pyzk to simulators."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import (
    CopyTemplatesCommand,
    DisableUsersCommand,
    EdgeCommand,
    TerminalUser,
    UpsertUsersCommand,
    command_topic,
    encode,
)
from devices.zkteco.records import UserRecord
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings, TerminalSettings
from tests.support.brokers import Probe
from tests.support.processes import wait_until
from tests.support.terminal_rig import ZONE

pytestmark = pytest.mark.integration


@pytest.fixture
def site(mosquitto_url: str, tmp_path: Path) -> Iterator[tuple[EdgeAgent, list[TerminalSimulator], Probe]]:
    sims = [
        TerminalSimulator(serial="SN-GATE", users=[UserRecord(1, "1001", "Wang Wei")], timezone=ZONE).start(),
        TerminalSimulator(serial="SN-HALL", users=[UserRecord(1, "2002", "Li Na")], timezone=ZONE).start(),
    ]
    edge_id = f"edge-{uuid.uuid4().hex[:8]}"  # the machine's broker keeps sessions across runs
    settings = EdgeSettings(
        edge_id=edge_id,
        mqtt_url=mosquitto_url,
        outbox_path=tmp_path / "outbox.sqlite3",
        poll_interval_seconds=0.3,
        retry_max_seconds=1,
        terminals=[
            TerminalSettings(
                serial=s.serial, host="127.0.0.1", port=s.port, timezone=ZONE, live_idle_seconds=0.2
            )
            for s in sims
        ],
    )
    agent = EdgeAgent(settings)
    agent.start()
    server = Probe(mosquitto_url)
    try:
        wait_until(
            lambda: all(s.state.live_listeners == 1 for s in sims), 30, "both terminals in live capture"
        )
        yield agent, sims, server
    finally:
        server.close()
        agent.stop()
        for sim in sims:
            sim.stop()


def send(agent: EdgeAgent, server: Probe, command: object) -> None:
    message = EdgeCommand(
        command_id=uuid.uuid4().hex,
        edge_id=agent.settings.edge_id,
        issued_at=datetime.now(UTC),
        command=command,
    )
    server.publish(command_topic(agent.settings.edge_id), encode(message))


def pins(sim: TerminalSimulator) -> dict[str, str]:
    return {u.user_id: u.name for u in sim.state.users}


def disabled(sim: TerminalSimulator) -> set[str]:
    """PINs on the terminal with the privilege's "disabled" bit set (zk-protocol.md §2.5)."""
    return {u.user_id for u in sim.state.users if u.privilege & 0x01}


def test_staff_are_created_updated_and_disabled_on_every_terminal(site: tuple) -> None:  # type: ignore[type-arg]
    agent, sims, server = site
    staff = [
        TerminalUser(user_id="1001", name="Wang Wei2"),
        TerminalUser(user_id="0042", name="Zhao Min", card=7),
    ]
    send(agent, server, UpsertUsersCommand(users=staff))
    wait_until(lambda: all({"1001", "0042"} <= set(pins(s)) for s in sims), 30, "staff on both terminals")
    wait_until(lambda: all(pins(s)["1001"] == "Wang Wei2" for s in sims), 30, "the updated name")
    gate = {u.user_id: u for u in sims[0].state.users}
    assert gate["0042"].card == 7
    assert gate["1001"].uid == 1  # updated in place, not a second slot

    hall = sims[1]
    slot = {u.user_id: u.uid for u in hall.state.users}["0042"]
    hall.state.enroll_finger(slot, 3, b"\x33" * 512)
    send(agent, server, DisableUsersCommand(device_serial="SN-HALL", user_ids=["0042"]))
    wait_until(lambda: "0042" in disabled(hall), 30, "0042 disabled on the hall")
    assert disabled(sims[0]) == set()  # only the named terminal
    assert hall.state.templates == {(slot, 3): b"\x33" * 512}  # the fingerprint stays
    assert pins(hall)["0042"] == "Zhao Min"
    before = len(hall.state.records)
    hall.add_punch("0042")  # the terminal refuses a disabled user's verification
    assert len(hall.state.records) == before

    send(agent, server, UpsertUsersCommand(device_serial="SN-HALL", users=[staff[1]]))  # enabled again
    wait_until(lambda: disabled(hall) == set(), 30, "0042 enabled again")
    assert hall.state.templates == {(slot, 3): b"\x33" * 512}  # no re-enrolment needed
    hall.add_punch("0042")
    assert len(hall.state.records) == before + 1


def test_templates_enrolled_on_one_terminal_are_copied_to_the_others(site: tuple) -> None:  # type: ignore[type-arg]
    agent, sims, server = site
    gate, hall = sims
    gate.state.enroll_finger(1, 0, b"\x11" * 600)
    gate.state.enroll_finger(1, 5, b"\x22" * 500)
    send(agent, server, CopyTemplatesCommand(source_serial="SN-GATE"))
    wait_until(lambda: len(hall.state.templates) == 2, 30, "templates on the hall terminal")
    hall_users = {u.user_id: u for u in hall.state.users}
    slot = hall_users["1001"].uid
    assert slot != 1  # the hall's slot 1 is Li Na: the copy took a free slot
    assert hall.state.templates == {(slot, 0): b"\x11" * 600, (slot, 5): b"\x22" * 500}
    assert hall_users["2002"].name == "Li Na"


def test_the_server_pushes_staff_through_its_consumer_to_the_terminals(
    site: tuple,  # type: ignore[type-arg]
    mosquitto_url: str,
    tmp_path: Path,
) -> None:
    from server.adapters.db import create_db_engine
    from server.adapters.ingest_store import SqlIngestStore
    from server.adapters.migrate import migrate
    from server.adapters.mqtt_consumer import MqttConsumer
    from server.services.ingest import IngestService, IngestStats
    from server.services.terminal_sync import push_staff

    agent, sims, _ = site
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    migrate(url)
    engine = create_db_engine(url)
    consumer = MqttConsumer(
        mosquitto_url, f"server-{uuid.uuid4().hex[:8]}", IngestService(SqlIngestStore(engine), IngestStats())
    )
    consumer.start()
    try:
        assert consumer.wait_until_connected(15)
        users = [TerminalUser(user_id="3003", name="Sun Li"), TerminalUser(user_id="1001", enabled=False)]
        push_staff(consumer, edge_id=agent.settings.edge_id, users=users, now=datetime.now(UTC))
        wait_until(
            lambda: all("3003" in pins(s) for s in sims), 30, "the new member of staff on both terminals"
        )
        wait_until(lambda: "1001" in disabled(sims[0]), 30, "the leaver disabled on the gate")
        assert "1001" not in pins(sims[1])  # not created on the hall just to be disabled
    finally:
        consumer.stop()
        engine.dispose()
