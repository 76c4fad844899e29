"""/metrics on the server and on an edge, read while real events flow through the chain.

Simulator -> edge agent (in this process, metrics on a free port) -> broker -> server process ->
database, on the embedded defaults (amqtt, SQLite) and on Mosquitto + PostgreSQL. The edge starts
before the server, so its outbox fills first; the test then watches the counters climb on both
sides and the outbox depth gauge fall to 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import EventKind, event_topic
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings, TerminalSettings
from tests.support.brokers import Probe
from tests.support.processes import KaoqinProcess, wait_until
from tests.support.services import PrivateMosquitto, free_port

ZONE = "Asia/Shanghai"
SERIAL = "MET0001"
EDGE = "edge-metrics"
RECORDS = 60


@dataclass
class Setup:
    database_url: str
    mqtt_url: str | None  # None: the server runs the embedded broker on embedded_port
    embedded_port: int

    @property
    def broker_url(self) -> str:
        return self.mqtt_url or f"mqtt://127.0.0.1:{self.embedded_port}"


@pytest.fixture(params=["embedded", "mosquitto+postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "embedded":
        yield Setup(f"sqlite:///{tmp_path / 'server.sqlite3'}", None, free_port())
        return
    database_url = str(request.getfixturevalue("postgres_url"))
    broker = PrivateMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield Setup(database_url, broker.url, 0)
    finally:
        broker.stop()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at ``url``, keyed by (sample name, sorted labels)."""
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{name}{labels} not in /metrics (have {sorted(n for n, _ in samples)})"
    return samples[key]


def test_counters_follow_events_and_outbox_depth_drops_to_zero(setup: Setup, tmp_path: Path) -> None:
    sim = TerminalSimulator(serial=SERIAL, users=20, records=RECORDS, timezone=ZONE, seed=5)
    sim.start()
    agent = EdgeAgent(
        EdgeSettings(
            edge_id=EDGE,
            mqtt_url=setup.broker_url,
            outbox_path=tmp_path / "outbox.sqlite3",
            poll_interval_seconds=0.5,
            ack_timeout_seconds=2,
            metrics_port=0,
            terminals=[TerminalSettings(serial=SERIAL, host="127.0.0.1", port=sim.port, timezone=ZONE)],
        )
    )
    agent.start()
    assert agent.metrics is not None
    edge_url = f"http://127.0.0.1:{agent.metrics.port}/metrics"
    http_port = free_port()
    config = tmp_path / "server.yaml"
    broker_line = (
        f"mqtt_url: {setup.mqtt_url}" if setup.mqtt_url else f"embedded_broker_port: {setup.embedded_port}"
    )
    config.write_text(
        f"database_url: {setup.database_url}\nhttp_port: {http_port}\n"
        f"ingest_batch_wait_seconds: 0.05\n{broker_line}\n"
    )
    server = KaoqinProcess(["server", "--config", str(config)], tmp_path / "server.log")
    server_url = f"http://127.0.0.1:{http_port}/metrics"
    try:
        # No server yet: the whole log is read into the outbox and waits there.
        wait_until(
            lambda: value(scrape(edge_url), "kaoqin_edge_outbox_depth", edge_id=EDGE) >= RECORDS,
            60,
            "the outbox to hold the terminal's log",
        )
        edge = scrape(edge_url)
        assert value(edge, "kaoqin_edge_outbox_oldest_age_seconds", edge_id=EDGE) >= 0
        assert value(edge, "kaoqin_edge_events_acknowledged_total", edge_id=EDGE) == 0
        labels = {"edge_id": EDGE, "device_id": SERIAL, "device_kind": "terminal"}
        assert value(edge, "kaoqin_edge_device_reachable", **labels) == 1

        server.start()
        wait_until(lambda: httpx.get(server_url, timeout=5).status_code == 200, 60, "the server's /metrics")
        wait_until(
            lambda: value(scrape(edge_url), "kaoqin_edge_outbox_depth", edge_id=EDGE) == 0,
            90,
            "the outbox depth gauge to drop to 0",
        )
        edge = scrape(edge_url)
        assert ("kaoqin_edge_outbox_oldest_age_seconds", (("edge_id", EDGE),)) not in edge
        acked = value(edge, "kaoqin_edge_events_acknowledged_total", edge_id=EDGE)
        published = value(edge, "kaoqin_edge_events_published_total", edge_id=EDGE)
        assert acked >= RECORDS + 1  # every punch and at least one device status
        assert published >= acked
        if setup.mqtt_url is not None:
            # Mosquitto took the first publishes while no server was subscribed and kept none:
            # the overdue acknowledgements made the edge publish them again.
            assert value(edge, "kaoqin_edge_events_resent_total", edge_id=EDGE) > 0

        wait_until(
            lambda: value(scrape(server_url), "kaoqin_server_events_acknowledged_total") >= acked,
            30,
            "the server's ack counter",
        )
        before = scrape(server_url)
        stored = value(before, "kaoqin_server_events_stored_total")
        assert stored >= RECORDS + 1
        assert value(before, "kaoqin_server_messages_received_total") >= stored
        assert value(before, "kaoqin_server_events_duplicate_total") >= 0
        assert value(before, "kaoqin_server_consumer_backlog_messages") >= 0
        assert value(before, "kaoqin_server_ingest_lag_seconds") >= 0
        assert value(before, "kaoqin_server_broker_connected") == 1
        assert value(before, "kaoqin_device_reachable", **labels) == 1
        assert value(before, "kaoqin_device_log_records", **labels) == RECORDS
        capacity = sim.state.faults.record_capacity
        assert value(before, "kaoqin_device_log_usage_ratio", **labels) == pytest.approx(RECORDS / capacity)
        assert ("kaoqin_device_clock_offset_seconds", tuple(sorted(labels.items()))) in before

        # More punches flow: both sides count them; a malformed message is counted as a dead letter.
        for n in range(5):
            sim.add_punch(str(n + 1), punch_state=n % 2)
        probe = Probe(setup.broker_url)
        try:
            probe.publish(event_topic(EDGE, EventKind.PUNCH, SERIAL), b"{not json")
        finally:
            probe.close()
        wait_until(
            lambda: value(scrape(server_url), "kaoqin_server_events_stored_total") >= stored + 5,
            60,
            "five more events stored",
        )
        wait_until(
            lambda: (
                value(scrape(server_url), "kaoqin_server_dead_letters_total")
                == value(before, "kaoqin_server_dead_letters_total") + 1
            ),
            30,
            "the dead letter counted",
        )
        wait_until(
            lambda: value(scrape(edge_url), "kaoqin_edge_outbox_depth", edge_id=EDGE) == 0, 60, "the outbox"
        )
        after = scrape(server_url)
        assert (
            value(after, "kaoqin_server_dead_letters_stored")
            == value(before, "kaoqin_server_dead_letters_stored") + 1
        )
        assert (
            value(after, "kaoqin_server_messages_received_total")
            >= value(before, "kaoqin_server_messages_received_total") + 6
        )
        assert value(scrape(edge_url), "kaoqin_edge_events_acknowledged_total", edge_id=EDGE) >= acked + 5
    finally:
        agent.stop()
        sim.stop()
        server.stop()
        print(server.output()[-3000:])
