"""Scale-out: two server processes on one PostgreSQL split the event stream through an MQTT 5 shared
subscription on Mosquitto. Each event is stored once and acknowledged once, and both did work.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from contracts import AckStatus
from tests.faults.mqtt_tap import MqttTap
from tests.faults.rig import EdgeRig, ServerRig, assert_exactly_once, plant, punch_messages
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.e2e

PER_EDGE = 3_000


def _stored_by(server: ServerRig) -> float:
    """The server's own count of events it stored first (its /metrics counter)."""
    text = httpx.get(f"http://127.0.0.1:{server.http_port}/metrics", timeout=5).text
    match = re.search(r"^kaoqin_server_events_stored(?:_total)? (\S+)$", text, re.MULTILINE)
    assert match, "no kaoqin_server_events_stored in /metrics"
    return float(match.group(1))


def test_two_servers_share_the_stream_each_event_stored_and_acknowledged_once(
    private_mosquitto: PrivateMosquitto, postgres_url: str, tmp_path: Path
) -> None:
    servers = [
        ServerRig(
            tmp_path,
            postgres_url,
            private_mosquitto.url,
            name=f"server-{n}",
            extra={
                "mqtt_protocol": "5",
                "mqtt_shared_group": "ingest",
                "mqtt_client_id": f"kaoqin-server-{n}",
            },
        )
        for n in range(2)
    ]
    # A long ack timeout: in a healthy run no event is published twice, so any second ack would be
    # the shared subscription delivering one event to both servers.
    edges = [
        EdgeRig(tmp_path, f"edge-{uuid.uuid4().hex[:8]}", private_mosquitto.url, ack_timeout_seconds=120)
        for _ in range(2)
    ]
    expected: set[str] = set()
    for n, edge in enumerate(edges):
        messages = punch_messages(edge.edge_id, f"SN{n}", PER_EDGE)
        plant(edge.outbox_path, messages)
        expected |= {m.event_id for m in messages}
    tap = MqttTap(private_mosquitto.url, "kaoqin/v1/edges/+/acks")
    try:
        for server in servers:
            server.start()
        for edge in edges:
            edge.start()
        assert_exactly_once(postgres_url, expected, edges, timeout=120)
        acks = tap.acks()
        assert set(acks) == expected, "an event was never acknowledged (or one not sent was)"
        twice = {event_id: statuses for event_id, statuses in acks.items() if statuses != [AckStatus.STORED]}
        assert not twice, (
            f"{len(twice)} events acknowledged other than once as stored, e.g. {next(iter(twice.items()))}"
        )
        shares = [_stored_by(server) for server in servers]
        assert sum(shares) == len(expected), f"the servers' own counts {shares} do not add up"
        assert all(share > 0 for share in shares), f"one server stored nothing: {shares}"
    finally:
        tap.close()
        for edge in edges:
            edge.stop()
        for server in servers:
            server.stop()
            print(server.output()[-1500:])
