"""Server faults: killed with SIGKILL in the middle of a batch, then restarted; its database gone.

On PostgreSQL + Mosquitto the messages of the batch in hand were never PUBACKed, so Mosquitto
redelivers them to the server's persistent session; on the embedded defaults the broker dies with
the server, and the edge publishes every unacknowledged event again after it reconnects. Either
way the store's unique event id turns every redelivery into "duplicate".
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.faults.conftest import Stack
from tests.faults.rig import (
    EdgeRig,
    ServerRig,
    assert_exactly_once,
    dead_letter_rows,
    plant,
    punch_messages,
    stored_punch_ids,
)
from tests.support.processes import wait_until
from tests.support.services import DATABASE_URL_VAR, PrivateMosquitto, require_env

pytestmark = pytest.mark.e2e

EVENTS = 4_000


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


def test_database_unavailable_mid_stream_is_retried_and_nothing_dead_lettered(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL stops taking connections while events flow (its connections terminated, new ones
    refused). That is an unavailable store, not a refused message: the consumer keeps its batch
    un-PUBACKed and retries it, and once the database is back every event is stored once and not one
    is dead-lettered."""
    admin_url = urlsplit(require_env(DATABASE_URL_VAR, "PostgreSQL"))
    admin_dsn = urlunsplit(admin_url._replace(scheme="postgresql"))
    database = urlsplit(postgres_url).path.lstrip("/")
    server = ServerRig(tmp_path, postgres_url, private_mosquitto.url)
    edge = EdgeRig(tmp_path, f"edge-{uuid.uuid4().hex[:8]}", private_mosquitto.url)
    messages = punch_messages(edge.edge_id, "SN0", 4_000)
    plant(edge.outbox_path, messages)
    expected = {m.event_id for m in messages}
    try:
        server.start()
        edge.start()
        wait_until(lambda: len(stored_punch_ids(postgres_url)) >= 400, 60, "delivery to start")
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
            )
            try:
                wait_until(
                    lambda: "the database is unavailable" in server.output(),
                    60,
                    "the server to hit the outage",
                )
            finally:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert_exactly_once(postgres_url, expected, [edge], timeout=120)
        assert dead_letter_rows(postgres_url) == [], "an event was dead-lettered for a database outage"
    finally:
        edge.stop()
        server.stop()
        print(server.output()[-3000:])
