"""The server reaches its broker over TLS (mqtts://): the deployed Mosquitto's TLS listener, which
wants our CA, a client certificate and a password. An edge on the same listener gets its punch
stored and acknowledged; a server without a client certificate or trusting another CA is refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from contracts import EventKind, PunchEvent, PunchSource, VerifyMethod, encode, event_topic
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox, OutboxMessage
from edge.ports import SystemClock
from edge.settings import EdgeSettings
from server.adapters.db import create_db_engine
from server.adapters.mqtt_consumer import MqttConsumer, MqttTls
from server.adapters.tables import punches
from server.app import create_app
from server.services.ingest import IngestBatch, IngestService
from server.settings import ServerSettings
from tests.support.secure_broker import BrokerPki, SecureMosquitto, add_password, make_test_pki
from tests.support.services import free_port

pytestmark = pytest.mark.integration

SERVER = ("kaoqin-server", "server-password-for-tls-tests-0123456789")
EDGE = ("edge-a", "edge-a-password-for-tls-tests-987654")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[SecureMosquitto, BrokerPki]]:
    pki = make_test_pki(tmp_path / "pki")
    passwords = tmp_path / "kaoqin.passwd"
    for user, password in (SERVER, EDGE):
        add_password(passwords, user, password)
    mosquitto = SecureMosquitto(tmp_path / "broker", passwords, pki)
    mosquitto.start()
    try:
        yield mosquitto, pki
    finally:
        mosquitto.stop()


def _punch() -> OutboxMessage:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    event = PunchEvent.create(
        edge_id=EDGE[0],
        device_serial="SN-TLS",
        user_id="42",
        device_time=(at + timedelta(hours=8)).replace(tzinfo=None),
        occurred_at=at,
        observed_at=at,
        verify_mode=1,
        verify_method=VerifyMethod.FINGERPRINT,
        punch_state=0,
        source=PunchSource.LIVE,
    )
    return OutboxMessage(event.event_id, event_topic(EDGE[0], EventKind.PUNCH, "SN-TLS"), encode(event))


def _stored(database_url: str) -> int:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(punches)).scalar_one())
    finally:
        engine.dispose()


def test_server_over_tls_stores_and_acknowledges_an_edges_punch(
    broker: tuple[SecureMosquitto, BrokerPki], tmp_path: Path, sqlite_url: str
) -> None:
    mosquitto, pki = broker
    url = f"mqtts://127.0.0.1:{mosquitto.tls_port}"
    password_file = tmp_path / "server-mqtt-password"
    password_file.write_text(SERVER[1] + "\n")
    settings = ServerSettings(
        database_url=sqlite_url,
        mqtt_url=url,
        mqtt_client_id="kaoqin-server-tls-test",
        mqtt_username=SERVER[0],
        mqtt_password_file=password_file,
        mqtt_ca_file=pki.ca,
        # Any certificate of our CA passes the listener; the password says who the client is.
        mqtt_cert_file=pki.edge.cert,
        mqtt_key_file=pki.edge.key,
    )
    edge_settings = EdgeSettings(
        edge_id=EDGE[0],
        mqtt_url=url,
        mqtt_username=EDGE[0],
        mqtt_password=EDGE[1],  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        mqtt_ca_file=pki.ca,
        mqtt_cert_file=pki.edge.cert,
        mqtt_key_file=pki.edge.key,
        outbox_path=tmp_path / "outbox.sqlite3",
        status_interval_seconds=3600,
    )
    outbox = Outbox(edge_settings.outbox_path)
    outbox.add([_punch()])
    with TestClient(create_app(settings)) as api:
        health = api.get("/healthz").json()
        assert health["broker"] is True, health
        link = MqttLink(edge_settings, outbox, SystemClock(), devices=[], on_command=lambda _c: None)
        stop = threading.Event()
        link.start()
        publisher = threading.Thread(target=link.run_publisher, args=(stop,), daemon=True)
        publisher.start()
        try:
            deadline = time.monotonic() + 30
            while outbox.depth() > 0:  # empty only once the server's ack came back over TLS
                assert time.monotonic() < deadline, "the punch was never acknowledged"
                time.sleep(0.05)
        finally:
            stop.set()
            link.wake()
            publisher.join(timeout=10)
            link.stop()
            outbox.close()
    assert _stored(sqlite_url) == 1
    assert "kaoqin-server-tls-test" in mosquitto.log()


class _NoStore:
    def store_batch(self, batch: IngestBatch, stored_at: datetime) -> set[str]:
        raise AssertionError("nothing should arrive")


@pytest.mark.parametrize("problem", ["no client certificate", "another CA"])
def test_server_without_what_the_tls_listener_wants_is_refused(
    broker: tuple[SecureMosquitto, BrokerPki], tmp_path: Path, problem: str
) -> None:
    mosquitto, pki = broker
    tls = (
        MqttTls(ca_file=pki.ca)
        if problem == "no client certificate"
        else MqttTls(ca_file=pki.stranger_ca, cert_file=pki.edge.cert, key_file=pki.edge.key)
    )
    consumer = MqttConsumer(
        f"mqtts://127.0.0.1:{mosquitto.tls_port}",
        f"kaoqin-server-refused-{free_port()}",
        IngestService(_NoStore()),
        mqtt5=True,
        username=SERVER[0],
        password=SERVER[1],
        tls=tls,
    )
    consumer.start()
    try:
        assert not consumer.wait_until_connected(5)
    finally:
        consumer.stop()


def test_tls_settings_that_cannot_work_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="need an mqtts://"):
        ServerSettings(mqtt_url="mqtt://broker:1883", mqtt_ca_file=tmp_path / "ca.crt")
    with pytest.raises(ValidationError, match="need an mqtts://"):  # the embedded broker has no TLS
        ServerSettings(mqtt_ca_file=tmp_path / "ca.crt")
    with pytest.raises(ValidationError, match="together"):
        ServerSettings(mqtt_url="mqtts://broker:8883", mqtt_cert_file=tmp_path / "server.crt")
    with pytest.raises(ValueError, match="use an mqtts:// URL"):
        MqttConsumer("mqtt://broker:1883", "c", IngestService(_NoStore()), tls=MqttTls(ca_file=tmp_path))
