"""Delivery faults: the same event twice and out of order, acknowledgements lost, and a burst far
larger than the broker's per-client queue while the server is too slow to take it.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contracts import AckStatus, DeviceKind, DeviceStatus, EventKind, ack_topic, encode, event_topic
from server.adapters.db import create_db_engine
from server.adapters.tables import device_status_reports, devices
from tests.faults.conftest import Stack
from tests.faults.mqtt_tap import MqttTap, kill_and_restart
from tests.faults.rig import EdgeRig, ServerRig, assert_exactly_once, plant, punch_messages, stored_punch_ids
from tests.support.processes import wait_until
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.e2e


def _status_reports(edge_id: str, count: int) -> list[DeviceStatus]:
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    return [
        DeviceStatus.create(
            edge_id=edge_id,
            device_id="SN0",
            occurred_at=start + timedelta(minutes=n),
            device_kind=DeviceKind.TERMINAL,
            reachable=True,
            records=n,
        )
        for n in range(count)
    ]


def _latest_device_report(database_url: str) -> tuple[str, int]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(select(devices.c.last_report_id, devices.c.records)).one()
            reports = connection.execute(select(device_status_reports.c.event_id)).scalars().all()
        assert len(reports) == len(set(reports)), "a device status report was stored twice"
        return row.last_report_id, row.records
    finally:
        engine.dispose()


def test_same_event_twice_and_out_of_order(stack: Stack) -> None:
    """Every event published twice, shuffled, by a raw client, and a third time by the edge from its
    outbox: each is stored once and acknowledged "stored" exactly once (every other answer is
    "duplicate"). Device status reports arriving newest-first leave the newest one standing."""
    server = stack.server()
    edge = EdgeRig(stack.workdir, f"edge-{uuid.uuid4().hex[:8]}", server.broker_url)
    messages = punch_messages(edge.edge_id, "SN0", 1_000)
    expected = {m.event_id for m in messages}
    reports = _status_reports(edge.edge_id, 30)
    rng = random.Random(5)
    raw = [(m.topic, m.payload) for m in messages] * 2
    raw += [(event_topic(edge.edge_id, EventKind.DEVICE_STATUS, "SN0"), encode(r)) for r in reports] * 2
    rng.shuffle(raw)
    raw += [(event_topic(edge.edge_id, EventKind.DEVICE_STATUS, "SN0"), encode(r)) for r in reversed(reports)]
    try:
        server.start()
        tap = MqttTap(server.broker_url, ack_topic(edge.edge_id))
        try:
            tap.publish_all(raw)
            everything = expected | {r.event_id for r in reports}
            wait_until(lambda: everything <= set(tap.acks()), 60, "every raw event to be acknowledged")
            plant(edge.outbox_path, messages)  # the edge still holds them all: a third delivery
            edge.start()
            assert_exactly_once(stack.database_url, expected, [edge], timeout=120)
            acks = tap.acks()
        finally:
            tap.close()
        for event_id in everything:
            statuses = acks[event_id]
            assert statuses.count(AckStatus.STORED) == 1, f"{event_id} acknowledged {statuses}"
            assert set(statuses) <= {AckStatus.STORED, AckStatus.DUPLICATE}
        newest = reports[-1]
        assert _latest_device_report(stack.database_url) == (newest.event_id, newest.records)
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-2000:], edge.output()[-2000:])


def test_acknowledgements_lost(stack: Stack) -> None:
    """The server stores and acknowledges, but the acks never reach the edge: it is frozen (SIGSTOP)
    while they arrive, then killed, and the broker holding them for its session is killed too
    (Mosquitto: SIGKILL, its queues were only in memory; embedded: the server process restarts, and
    amqtt keeps queues only in memory). The restarted edge still holds events the server stored; it
    publishes them again and the server answers "duplicate", so they are stored once and the outbox
    drains."""
    server = stack.server()
    edge = EdgeRig(
        stack.workdir,
        f"edge-{uuid.uuid4().hex[:8]}",
        server.broker_url,
        ack_timeout_seconds=120,  # the resend after the restart comes from the reconnect, not a timer
        extra={"max_unacked": 10_000},
    )
    messages = punch_messages(edge.edge_id, "SN0", 2_500)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    try:
        server.start()
        tap = MqttTap(server.broker_url, f"kaoqin/v1/edges/{edge.edge_id}/events/#", ack_topic(edge.edge_id))
        edge.start()
        wait_until(lambda: tap.events_seen() >= 500, 60, "the edge to publish", interval=0.02)
        edge.pause()
        # What the edge got out before it froze: stored and acknowledged by the server.
        wait_until(
            lambda: (seen := tap.event_ids_seen()) <= set(tap.acks()) and seen == tap.event_ids_seen(),
            60,
            "the server to acknowledge everything that reached the broker",
        )
        acked_to_nowhere = set(tap.acks())
        tap_connections = tap.connections
        edge.kill()
        if stack.mosquitto is not None:
            connections = server.output().count("connected to mqtt://")
            kill_and_restart(stack.mosquitto)
            # The broker forgot the server's subscription with everything else: until the server
            # has subscribed again, what the edge publishes reaches nobody (the edge would resend it
            # after ack_timeout_seconds; waiting here keeps this test about the lost acks).
            wait_until(
                lambda: server.output().count("connected to mqtt://") > connections,
                60,
                "the server to reconnect",
            )
            server.wait_healthy()
        else:
            server.stop()
            server.start()
        tap.wait_resubscribed(tap_connections)  # its own connection went with the broker
        lost = edge.held_ids() & acked_to_nowhere
        assert lost, "no acknowledgement was lost: the edge took every ack it was sent"
        assert lost <= set(stored_punch_ids(stack.database_url))
        edge.start()
        assert_exactly_once(stack.database_url, expected, [edge], timeout=120)
        acks = tap.acks()
        tap.close()
        # The resent ones were answered "duplicate" (or the ack of that answer was lost too, when
        # it raced the broker restart: then the last word is still "stored").
        answered_duplicate = {event_id for event_id in lost if AckStatus.DUPLICATE in acks.get(event_id, [])}
        assert answered_duplicate, "no lost ack was made good by a resend answered 'duplicate'"
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-2000:], edge.output()[-2000:])


def test_burst_beyond_the_broker_queue_while_the_server_is_slow(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """6,000 events from two edges at once, with Mosquitto's default per-client limits
    (max_queued_messages 1000, max_inflight_messages 20) and the server frozen (SIGSTOP): Mosquitto
    drops what no longer fits the server's queue ("Outgoing messages are being dropped", checked in
    its log). What saves every event is the edge: a dropped event gets no ack, so it stays in the
    outbox and is published again after ``ack_timeout_seconds``, once the server takes messages."""
    config = private_mosquitto.config.read_text().splitlines()
    defaults = [
        line
        for line in config
        if not line.startswith(("max_queued_messages", "max_inflight_messages", "user "))
    ]
    # As root Mosquitto drops to its own user, which cannot write the test's log; stay root.
    private_mosquitto.config.write_text("\n".join([*defaults, "user root"]) + "\n")
    private_mosquitto.restart()
    log = private_mosquitto.workdir / "mosquitto.log"
    workdir = tmp_path_factory.mktemp("burst")
    server = ServerRig(workdir, postgres_url, private_mosquitto.url)
    edges = [EdgeRig(workdir, f"edge-{uuid.uuid4().hex[:8]}", private_mosquitto.url) for _ in range(2)]
    expected: set[str] = set()
    for n, edge in enumerate(edges):
        messages = punch_messages(edge.edge_id, f"SN{n}", 3_000)
        plant(edge.outbox_path, messages)
        expected |= {m.event_id for m in messages}
    try:
        server.start()
        server.pause()
        for edge in edges:
            edge.start()
        wait_until(
            lambda: "Outgoing messages are being dropped" in log.read_text(errors="replace"),
            60,
            "Mosquitto to drop messages for the frozen server",
        )
        server.resume()
        assert_exactly_once(postgres_url, expected, edges, timeout=150)
    finally:
        for edge in edges:
            edge.stop()
        server.stop()
        print(server.output()[-2000:])
