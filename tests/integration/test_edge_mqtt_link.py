"""The edge's outbox and MQTT link against real brokers, with a stand-in for the server's acks."""

from __future__ import annotations

import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import (
    AckItem,
    AckStatus,
    EdgeState,
    EventAck,
    ack_topic,
    decode_edge_status,
    decode_event,
    edge_status_topic,
    encode,
    server_event_filter,
)
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.punch_poller import PunchPoller
from edge.settings import EdgeSettings, TerminalSettings
from tests.support.brokers import Probe, broker_url  # noqa: F401  (fixture)
from tests.support.processes import KaoqinProcess, wait_until
from tests.unit.edge.fakes import FakeTerminal

pytestmark = pytest.mark.integration


def test_outbox_drains_only_as_acks_arrive(broker_url: str, tmp_path: Path) -> None:  # noqa: F811
    edge_id = f"edge-{uuid.uuid4().hex[:8]}"  # the machine's broker keeps retained state across runs
    settings = EdgeSettings(
        edge_id=edge_id, mqtt_url=broker_url, outbox_path=tmp_path / "o.sqlite3", ack_timeout_seconds=30
    )
    outbox = Outbox(settings.outbox_path)
    terminal = TerminalSettings(serial="SN1", host="x", timezone="Asia/Shanghai")
    poller = PunchPoller(
        edge_id=edge_id,
        terminal=terminal,
        open_terminal=lambda _: FakeTerminal(punches=25),
        outbox=outbox,
        clock=SystemClock(),
        poll_interval=1,
        retry_max=1,
        status_interval=60,
    )
    poller.poll_once()
    assert outbox.depth() == 26  # 25 punches and one device status

    server = Probe(broker_url, server_event_filter(), edge_status_topic(edge_id))
    link = MqttLink(settings, outbox, SystemClock(), devices=["SN1"], on_command=lambda _: None)
    stop = threading.Event()
    link.start()
    publisher = threading.Thread(target=link.run_publisher, args=(stop,))
    publisher.start()
    try:
        received = {}
        while len(received) < 26:
            msg = server.get()
            if msg.topic == edge_status_topic(edge_id):
                assert decode_edge_status(msg.payload).state == EdgeState.ONLINE
                continue
            event = decode_event(msg.topic, msg.payload)
            received[event.event_id] = event
        assert outbox.depth() == 26, "nothing may leave the outbox before the server's ack"

        first = sorted(received)[:10]
        ack = EventAck(
            edge_id=edge_id,
            acked_at=datetime.now(UTC),
            items=[AckItem(event_id=e, status=AckStatus.STORED) for e in first],
        )
        server.publish(ack_topic(edge_id), encode(ack))
        wait_until(lambda: outbox.depth() == 16, 10, "the acknowledged events to leave the outbox")
    finally:
        stop.set()
        publisher.join()
        link.stop()
        server.close()
    retained = Probe(broker_url, edge_status_topic(edge_id))
    try:
        assert decode_edge_status(retained.get().payload).state == EdgeState.OFFLINE
    finally:
        retained.close()


def test_killed_edge_leaves_an_offline_last_will(broker_url: str, tmp_path: Path) -> None:  # noqa: F811
    edge_id = f"edge-will-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "edge.yaml"
    config.write_text(f"edge_id: {edge_id}\nmqtt_url: {broker_url}\noutbox_path: {tmp_path / 'o.sqlite3'}\n")
    watcher = Probe(broker_url, edge_status_topic(edge_id))
    edge = KaoqinProcess(["edge", "--config", str(config)], tmp_path / "edge.log")
    edge.start()
    try:
        states = []

        def saw(state: EdgeState) -> bool:
            while not watcher.messages.empty():
                states.append(decode_edge_status(watcher.messages.get().payload).state)
            return state in states

        wait_until(lambda: saw(EdgeState.ONLINE), 20, "the edge to say it is online")
        edge.stop(signal.SIGKILL)
        wait_until(lambda: saw(EdgeState.OFFLINE), 90, "the broker to publish the edge's last will")
    finally:
        edge.stop()
        watcher.close()
        print(edge.output())
