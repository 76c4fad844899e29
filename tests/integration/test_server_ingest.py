"""The server end to end over a real broker and database: publish as an edge, read acks and the API.

Runs on SQLite with the embedded amqtt broker, and on PostgreSQL with the machine's Mosquitto.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from contracts import (
    AckStatus,
    DeviceKind,
    DeviceStatus,
    EdgeState,
    EdgeStatus,
    EventAck,
    EventKind,
    PunchEvent,
    PunchSource,
    VerifyMethod,
    ack_topic,
    decode_ack,
    edge_status_topic,
    encode,
    event_topic,
)
from server.adapters.mqtt_consumer import parse_mqtt_url
from server.app import create_app
from server.settings import ServerSettings
from tests.support.auth import sign_in
from tests.support.services import free_port

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))
WAIT = 15.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll until ``condition()`` is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class FakeEdge:
    """An edge agent reduced to a paho client: publishes events, collects the server's acks."""

    url: str
    edge_id: str = field(default_factory=lambda: f"edge-{uuid.uuid4().hex[:8]}")
    acks: list[EventAck] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.edge_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()

    def _on_message(self, _client: object, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.acks.append(decode_ack(msg.payload))

    def start(self) -> None:
        host, port = parse_mqtt_url(self.url)
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(ack_topic(self.edge_id), qos=1)
        assert self._subscribed.wait(WAIT), "the fake edge could not subscribe to its acks"

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT)

    def publish_punch(self, event: PunchEvent) -> None:
        self.publish(event_topic(self.edge_id, EventKind.PUNCH, event.device_serial), encode(event))

    def statuses(self) -> dict[str, list[AckStatus]]:
        """Every status acked so far, per event id, in arrival order."""
        with self._lock:
            result: dict[str, list[AckStatus]] = {}
            for ack in self.acks:
                assert ack.edge_id == self.edge_id
                for item in ack.items:
                    result.setdefault(item.event_id, []).append(item.status)
            return result

    def wait_acked(self, event_id: str, status: AckStatus, times: int = 1) -> None:
        wait_for(
            lambda: self.statuses().get(event_id, []).count(status) >= times,
            f"ack {status.value} x{times} for {event_id}",
        )


def make_punch(
    edge_id: str,
    user_id: str = "1001",
    serial: str = "CQZ7232460001",
    at: datetime = datetime(2024, 5, 1, 8, 58, 12),
    state: int = 0,
) -> PunchEvent:
    return PunchEvent.create(
        edge_id=edge_id,
        device_serial=serial,
        user_id=user_id,
        device_time=at,
        occurred_at=at.replace(tzinfo=CST),
        observed_at=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=state,
        source=PunchSource.PULL,
        device_uid=7,
        log_index=42,
    )


@dataclass
class RunningServer:
    client: TestClient
    broker_url: str
    settings: ServerSettings


def _clear_persistent_session(url: str, client_id: str) -> None:
    """Drop the server's persistent session from a shared broker (clean start, same id)."""
    host, port = parse_mqtt_url(url)
    cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    cleaner.connect(host, port)
    cleaner.loop_start()
    wait_for(cleaner.is_connected, "the session cleaner to connect")
    cleaner.disconnect()
    cleaner.loop_stop()


@pytest.fixture(params=["sqlite+embedded", "postgresql+mosquitto"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """The app under its lifespan: SQLite with its own embedded broker, or PostgreSQL + Mosquitto."""
    client_id = f"kaoqin-server-test-{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite+embedded":
        port = free_port()
        settings = ServerSettings(
            database_url=request.getfixturevalue("sqlite_url"),
            embedded_broker_port=port,
            mqtt_client_id=client_id,
        )
    else:
        settings = ServerSettings(
            database_url=request.getfixturevalue("postgres_url"),
            mqtt_url=request.getfixturevalue("mosquitto_url"),
            mqtt_client_id=client_id,
        )
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/healthz").status_code == 200, "the server to become healthy")
        sign_in(client, settings.database_url)
        yield RunningServer(client, settings.broker_url, settings)
    if settings.mqtt_url is not None:
        _clear_persistent_session(settings.mqtt_url, client_id)


@pytest.fixture
def edge(server: RunningServer) -> Iterator[FakeEdge]:
    fake = FakeEdge(server.broker_url)
    fake.start()
    yield fake
    fake.stop()


def test_punches_are_stored_acked_and_listed(server: RunningServer, edge: FakeEdge) -> None:
    morning = make_punch(edge.edge_id, "1001", at=datetime(2024, 5, 1, 8, 58, 12))
    evening = make_punch(edge.edge_id, "1001", at=datetime(2024, 5, 1, 18, 2, 0), state=1)
    other = make_punch(edge.edge_id, "1002", serial="CQZ7232460002")
    for event in (morning, evening, other):
        edge.publish_punch(event)
    for event in (morning, evening, other):
        edge.wait_acked(event.event_id, AckStatus.STORED)

    body = server.client.get("/api/v1/punches").json()
    assert body["total"] == 3
    assert body["items"][0]["event_id"] == evening.event_id  # newest first
    row = next(item for item in body["items"] if item["event_id"] == morning.event_id)
    assert row["device_time"] == "2024-05-01T08:58:12"
    assert datetime.fromisoformat(row["occurred_at"]) == morning.occurred_at
    stored_at = datetime.fromisoformat(row["stored_at"])
    assert stored_at.tzinfo is not None
    assert abs(datetime.now(UTC) - stored_at) < timedelta(minutes=5)
    assert row["verify_method"] == "fingerprint"
    assert (row["device_uid"], row["log_index"], row["source"]) == (7, 42, "pull")

    def ids(**params: object) -> set[str]:
        response = server.client.get("/api/v1/punches", params=params)
        assert response.status_code == 200, response.text
        return {item["event_id"] for item in response.json()["items"]}

    assert ids(staff="1001") == {morning.event_id, evening.event_id}
    assert ids(device="CQZ7232460002") == {other.event_id}
    assert ids(since="2024-05-01T12:00:00+08:00") == {evening.event_id}
    assert ids(until="2024-05-01T01:00:00Z") == {morning.event_id, other.event_id}
    assert ids(since="2024-05-01T08:58:12+08:00", until="2024-05-01T08:58:13+08:00") == {
        morning.event_id,
        other.event_id,
    }
    assert len(ids(limit=2)) == 2
    assert ids(limit=2, offset=2) | ids(limit=2) == ids()


def test_redelivered_event_is_acked_as_duplicate_and_stored_once(
    server: RunningServer, edge: FakeEdge
) -> None:
    event = make_punch(edge.edge_id)
    edge.publish_punch(event)
    edge.wait_acked(event.event_id, AckStatus.STORED)
    edge.publish_punch(event)
    edge.publish_punch(event)
    # Both copies may land in one batch, which acks the event once: count them in the stats.
    edge.wait_acked(event.event_id, AckStatus.DUPLICATE)
    wait_for(
        lambda: server.client.get("/api/v1/ingest/stats").json()["duplicates_ignored"] == 2,
        "two duplicates counted",
    )

    assert server.client.get("/api/v1/punches").json()["total"] == 1
    stats = server.client.get("/api/v1/ingest/stats").json()
    assert stats["events_stored"] == 1
    assert edge.statuses()[event.event_id][0] == AckStatus.STORED
    assert stats["broker_connected"] is True


def test_malformed_messages_are_dead_lettered_and_serving_goes_on(
    server: RunningServer, edge: FakeEdge
) -> None:
    good = make_punch(edge.edge_id)
    punch_topic = event_topic(edge.edge_id, EventKind.PUNCH, good.device_serial)
    as_json = json.loads(encode(good))
    wrong_id = dict(as_json, event_id="0" * 36)
    wrong_schema = {"kind": "punch", "event_id": "claimed-1", "edge_id": edge.edge_id}
    wrong_topic = event_topic(edge.edge_id, EventKind.FACE, good.device_serial)

    edge.publish(punch_topic, b"\xff\xfenot json at all")
    edge.publish(punch_topic, json.dumps(wrong_schema).encode())
    edge.publish(punch_topic, json.dumps(wrong_id).encode())
    edge.publish(wrong_topic, encode(good))  # a punch published on a face topic

    edge.wait_acked("claimed-1", AckStatus.DEAD_LETTERED)
    edge.wait_acked("0" * 36, AckStatus.DEAD_LETTERED)
    edge.wait_acked(good.event_id, AckStatus.DEAD_LETTERED)
    wait_for(
        lambda: server.client.get("/api/v1/dead-letters").json()["total"] == 4,
        "four dead letters",
    )
    letters = server.client.get("/api/v1/dead-letters").json()["items"]
    reasons = " | ".join(letter["reason"] for letter in letters)
    assert "not UTF-8 JSON" in reasons
    assert "does not match the record" in reasons
    assert "published on a 'face' topic" in reasons
    assert "Field required" in reasons
    garbage = next(letter for letter in letters if "not UTF-8 JSON" in letter["reason"])
    assert garbage["claimed_event_id"] is None
    assert garbage["edge_id"] == edge.edge_id
    assert garbage["payload_size"] == len(b"\xff\xfenot json at all")

    # The consumer is still there: a good event afterwards is stored as usual.
    edge.publish_punch(good)
    wait_for(lambda: server.client.get("/api/v1/punches").json()["total"] == 1, "the good punch")
    assert server.client.get("/api/v1/ingest/stats").json()["dead_letters"] == 4
    assert server.client.get("/healthz").status_code == 200


def test_device_and_edge_status_keep_the_latest_report(server: RunningServer, edge: FakeEdge) -> None:
    serial = "CQZ7232460009"
    at = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    newer = DeviceStatus.create(
        edge_id=edge.edge_id,
        device_id=serial,
        occurred_at=at + timedelta(minutes=1),
        device_kind=DeviceKind.TERMINAL,
        reachable=False,
        error="timed out after 5s",
        clock_offset_seconds=-2.5,
    )
    older = DeviceStatus.create(
        edge_id=edge.edge_id,
        device_id=serial,
        occurred_at=at,
        device_kind=DeviceKind.TERMINAL,
        reachable=True,
        firmware="Ver 6.60",
        records=1200,
    )
    topic = event_topic(edge.edge_id, EventKind.DEVICE_STATUS, serial)
    edge.publish(topic, encode(newer))
    edge.wait_acked(newer.event_id, AckStatus.STORED)
    edge.publish(topic, encode(older))  # arrives late: history, but not the latest state
    edge.wait_acked(older.event_id, AckStatus.STORED)

    status = EdgeStatus.create(
        edge_id=edge.edge_id,
        state=EdgeState.ONLINE,
        occurred_at=at,
        software_version="0.1.0",
        devices=[serial],
    )
    edge.publish(edge_status_topic(edge.edge_id), encode(status), retain=True)
    try:
        wait_for(
            lambda: any(e["edge_id"] == edge.edge_id for e in server.client.get("/api/v1/edges").json()),
            "the edge status",
        )
    finally:
        edge.publish(edge_status_topic(edge.edge_id), b"", retain=True)  # clear the retained one

    devices = {d["device_id"]: d for d in server.client.get("/api/v1/devices").json()}
    device = devices[serial]
    assert device["reachable"] is False
    assert device["error"] == "timed out after 5s"
    assert device["clock_offset_seconds"] == -2.5
    assert datetime.fromisoformat(device["last_seen_at"]) == newer.occurred_at
    assert device["edge_id"] == edge.edge_id
    edges = {e["edge_id"]: e for e in server.client.get("/api/v1/edges").json()}
    assert edges[edge.edge_id]["state"] == "online"
    assert edges[edge.edge_id]["devices"] == [serial]
    assert datetime.fromisoformat(edges[edge.edge_id]["status_at"]) == at


def test_health_and_clear_query_errors(server: RunningServer) -> None:
    health = server.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] is True
    assert health.json()["broker"] is True

    naive = server.client.get("/api/v1/punches", params={"since": "2024-05-01T08:00:00"})
    assert naive.status_code == 422
    assert "'since'" in naive.json()["message"]
    assert "zone" in naive.json()["message"]
    garbage = server.client.get("/api/v1/punches", params={"until": "yesterday"})
    assert garbage.status_code == 422
    assert "'until'" in garbage.json()["message"]
    assert "ISO 8601" in garbage.json()["message"]
    backwards = server.client.get(
        "/api/v1/punches",
        params={"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
    )
    assert backwards.status_code == 422
    assert "must be earlier" in backwards.json()["detail"]
    assert server.client.get("/api/v1/punches", params={"limit": 0}).status_code == 422
