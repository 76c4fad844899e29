"""Edge faults: the real edge process killed with SIGKILL at the moments that matter.

The moment is read off the outbox, as the edge leaves it: ``attempts = 0`` is an event written and
never published, ``attempts > 0`` one published and not yet acknowledged (an acknowledged one is
deleted). No test hook is needed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from contracts import AckStatus, ack_topic
from tests.faults.conftest import Stack
from tests.faults.mqtt_tap import MqttTap
from tests.faults.rig import EdgeRig, ServerRig, assert_exactly_once, plant, punch_messages, stored_punch_ids
from tests.support.processes import wait_until
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.e2e


def _edge(stack: Stack, server: ServerRig, **extra: object) -> EdgeRig:
    return EdgeRig(stack.workdir, f"edge-{uuid.uuid4().hex[:8]}", server.broker_url, extra=dict(extra))


def test_edge_sigkilled_with_events_written_but_never_published_and_published_but_unacked(
    stack: Stack,
) -> None:
    """Killed mid-drain: part of the outbox was never published (written, then the edge died), part
    was published and its ack had not arrived. The restarted edge publishes both again."""
    server = stack.server()
    edge = _edge(stack, server)
    messages = punch_messages(edge.edge_id, "SN0", 5_000)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    try:
        server.start()
        edge.start()
        sent, unsent = wait_until(
            lambda: (state := edge.sent_unsent())[0] > 0 and state[1] > 0 and state,
            60,
            "the edge to be mid-drain",
            interval=0.05,
        )
        edge.kill()
        sent, unsent = edge.sent_unsent()
        assert unsent > 0, "no event was left unpublished at the kill"
        assert sent > 0, "no published event was awaiting its ack at the kill"
        edge.start()
        assert_exactly_once(stack.database_url, expected, [edge], timeout=120)
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-2000:], edge.output()[-2000:])


def test_edge_sigkilled_after_publishing_before_the_ack(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path: Path
) -> None:
    """Every event reached the broker (a tap saw each one) while the server was paused, so no ack
    could come; then the edge is killed. The server stores them from the broker's queue for its
    persistent session, and the restarted edge takes the acks queued for its own session, or
    publishes again and is told "duplicate". (Mosquitto only: with the embedded broker, pausing the
    server pauses the broker too; the mid-drain test covers published-but-unacked there.)"""
    server = ServerRig(tmp_path, postgres_url, private_mosquitto.url)
    events = 3_000
    # No resend while the server is paused, and room for every event in flight.
    edge = EdgeRig(
        tmp_path,
        f"edge-{uuid.uuid4().hex[:8]}",
        private_mosquitto.url,
        ack_timeout_seconds=120,
        extra={"max_unacked": 10_000},
    )
    messages = punch_messages(edge.edge_id, "SN0", events)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    tap = MqttTap(private_mosquitto.url, f"kaoqin/v1/edges/{edge.edge_id}/events/#", ack_topic(edge.edge_id))
    try:
        server.start()
        server.pause()
        edge.start()
        wait_until(lambda: tap.events_seen() >= events, 60, "the broker to have every event")
        # The edge marks a batch sent right after handing it to paho: wait for the last mark.
        wait_until(lambda: edge.sent_unsent() == (events, 0), 30, "every event marked published, none acked")
        edge.kill()
        server.resume()
        wait_until(lambda: set(stored_punch_ids(postgres_url)) >= expected, 60, "the server to store all")
        assert edge.depth() == events, "the dead edge cannot have taken an ack"
        edge.start()
        assert_exactly_once(postgres_url, expected, [edge], timeout=120)
        acks = tap.acks()
        assert all(acks[event_id][0] is AckStatus.STORED for event_id in expected)
        assert all(acks[event_id].count(AckStatus.STORED) == 1 for event_id in expected)
    finally:
        tap.close()
        edge.stop()
        server.stop()
        print(server.output()[-2000:], edge.output()[-2000:])
