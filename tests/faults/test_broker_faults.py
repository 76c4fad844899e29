"""Broker faults: restarted, and down for a while with tens of thousands of events queued at the edges.

On PostgreSQL + a Mosquitto of the test's own (persistent, so it may be restarted) and on the
embedded defaults (SQLite + amqtt, which lives in the server process: restarting the server is
restarting the broker).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.faults.rig import EdgeRig, ServerRig, assert_exactly_once, plant, punch_messages
from tests.support.processes import wait_until
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.e2e

QUEUED_PER_EDGE = 12_000  # two edges: 24,000 events queued while the broker is down


def test_broker_down_with_tens_of_thousands_queued_then_restarted(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path: Path
) -> None:
    server = ServerRig(tmp_path, postgres_url, private_mosquitto.url)
    server.start()
    edges = [EdgeRig(tmp_path, f"edge-{uuid.uuid4().hex[:8]}", private_mosquitto.url) for _ in range(2)]
    expected: set[str] = set()
    try:
        private_mosquitto.stop()  # down before the edges even start: everything queues at the edges
        for n, edge in enumerate(edges):
            messages = punch_messages(edge.edge_id, f"SN{n}", QUEUED_PER_EDGE)
            plant(edge.outbox_path, messages)
            expected |= {m.event_id for m in messages}
            edge.start()
        assert len(expected) == 2 * QUEUED_PER_EDGE
        private_mosquitto.start()
        # Part of the way through, the broker goes down again and comes back (a restart mid-stream).
        wait_until(lambda: sum(e.depth() for e in edges) < len(expected) * 3 // 4, 120, "delivery to start")
        private_mosquitto.restart()
        assert_exactly_once(postgres_url, expected, edges, timeout=180)
    finally:
        for edge in edges:
            edge.stop()
        server.stop()
        print(server.output()[-3000:])


def test_embedded_broker_restarted_with_events_queued(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    server = ServerRig(tmp_path, database_url)
    edge = EdgeRig(tmp_path, f"edge-{uuid.uuid4().hex[:8]}", server.broker_url)
    messages = punch_messages(edge.edge_id, "SN0", 10_000)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    try:
        edge.start()  # the broker is not up yet: the edge retries until it is
        server.start()
        wait_until(lambda: edge.depth() < len(expected) * 3 // 4, 120, "delivery to start")
        server.stop()  # takes the embedded broker down with it
        server.start()
        assert_exactly_once(database_url, expected, [edge], timeout=180)
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-3000:])
