"""Server faults: killed with SIGKILL in the middle of a batch, then restarted.

On PostgreSQL + Mosquitto the messages of the batch in hand were never PUBACKed, so Mosquitto
redelivers them to the server's persistent session; on the embedded defaults the broker dies with
the server, and the edge publishes every unacknowledged event again after it reconnects. Either
way the store's unique event id turns every redelivery into "duplicate".
"""

from __future__ import annotations

import uuid

import pytest

from tests.faults.conftest import Stack
from tests.faults.rig import EdgeRig, assert_exactly_once, plant, punch_messages, stored_punch_ids
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

EVENTS = 6_000


def test_server_sigkilled_mid_batch_then_restarted(stack: Stack) -> None:
    # Large batches that take a while to fill: a kill always finds one in hand.
    server = stack.server(ingest_batch_size=500, ingest_batch_wait_seconds=0.5)
    edge = EdgeRig(stack.workdir, f"edge-{uuid.uuid4().hex[:8]}", server.broker_url)
    messages = punch_messages(edge.edge_id, "SN0", EVENTS)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    try:
        server.start()
        edge.start()
        wait_until(lambda: len(stored_punch_ids(stack.database_url)) >= EVENTS // 5, 120, "delivery to start")
        server.kill()
        stored_at_kill = len(stored_punch_ids(stack.database_url))
        assert stored_at_kill < EVENTS, "everything was stored before the kill: nothing was in flight"
        assert edge.depth() > 0
        server.start()
        assert_exactly_once(stack.database_url, expected, [edge], timeout=180)
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-3000:])
        print(edge.output()[-3000:])
