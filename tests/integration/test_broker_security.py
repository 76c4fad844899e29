"""deploy/mosquitto/ as shipped (ports, paths and test certificates rewritten) refuses what it must.

Refused: anonymous clients, wrong passwords, TLS clients without our CA, without a client
certificate or with a stranger's certificate, an edge publishing under another edge's id or
subscribing to another edge's commands or events. Allowed: each edge on its own subtree, the server
on every edge's events and status and on commands, acks and the gallery, over plain loopback and TLS.

A refused PUBLISH on MQTT 3.1.1 is dropped without a word, so the test shows it never reaches the
server's subscriber: the edge publishes a legitimate marker right after it on the same connection,
and the broker delivers one publisher's messages to a subscriber in order, so the marker arriving
first proves the refused message is not coming.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from contracts import (
    EdgeState,
    ack_topic,
    command_topic,
    decode_edge_status,
    edge_status_topic,
    server_event_filter,
    server_status_filter,
)
from contracts.topics import EventKind, edge_config_topic, event_topic, gallery_bucket_topic, gallery_filter
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.settings import EdgeSettings
from tests.support.secure_broker import (
    DEPLOY_DIR,
    BrokerPki,
    SecureMosquitto,
    add_password,
    make_test_pki,
    new_client,
    try_connect,
    use_tls,
)

pytestmark = pytest.mark.integration

SERVER = ("kaoqin-server", "server-password-for-tests-0123456789")
EDGE_A = ("edge-a", "edge-a-password-9876543210")
EDGE_B = ("edge-b", "edge-b-password-5555555555")
NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


@dataclass
class Broker:
    mosquitto: SecureMosquitto
    pki: BrokerPki


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    workdir = tmp_path_factory.mktemp("secure-mosquitto")
    pki = make_test_pki(workdir / "pki")
    passwords = workdir / "kaoqin.passwd"
    for user, password in (SERVER, EDGE_A, EDGE_B):
        add_password(passwords, user, password)
    mosquitto = SecureMosquitto(workdir / "broker", passwords, pki)
    mosquitto.start()
    try:
        yield Broker(mosquitto, pki)
    finally:
        mosquitto.stop()


class Client:
    """A connected paho client that records its messages, SUBACKs and PUBACK reason codes."""

    def __init__(self, raw: mqtt.Client) -> None:
        self.raw = raw
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.pubacks: dict[int, int] = {}
        self.acked: queue.Queue[int] = queue.Queue()
        raw.on_message = lambda _c, _u, msg: self.messages.put(msg)
        raw.on_subscribe = lambda _c, _u, _mid, reasons, _p: self.subacks.put(list(reasons))
        raw.on_publish = self._on_publish
        raw.loop_start()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        self.pubacks[mid] = reason.value
        self.acked.put(mid)

    def subscribe(self, *filters: str) -> list[ReasonCode]:
        self.raw.subscribe([(f, 1) for f in filters])
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        info = self.raw.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"no PUBACK for {topic}"
        return info.mid

    def next_message(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=10)

    def close(self) -> None:
        self.raw.disconnect()
        self.raw.loop_stop()


def connect(
    broker: Broker,
    user: tuple[str, str] | None,
    *,
    tls: bool = False,
    mqtt5: bool = False,
    client_id: str | None = None,
    clean: bool = True,
) -> Client:
    raw = _raw(user, mqtt5=mqtt5, client_id=client_id, clean=clean)
    if tls:
        use_tls(raw, ca=broker.pki.ca, pair=broker.pki.edge)
    outcome = try_connect(raw, broker.mosquitto.tls_port if tls else broker.mosquitto.plain_port)
    assert outcome.connected, f"{user and user[0]} should be let in, was refused: {outcome.reason}"
    return Client(raw)


def _raw(
    user: tuple[str, str] | None, *, mqtt5: bool, client_id: str | None, clean: bool = True
) -> mqtt.Client:
    name = client_id or f"{user[0] if user else 'anonymous'}-{uuid.uuid4().hex[:8]}"
    raw = (
        new_client(name, mqtt5=True)
        if mqtt5
        else mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311, clean_session=clean
        )
    )
    if user is not None:
        raw.username_pw_set(*user)
    return raw


def refused(broker: Broker, user: tuple[str, str] | None, **tls: object) -> str:
    raw = _raw(user, mqtt5=False, client_id=None)
    port = broker.mosquitto.plain_port
    if tls:
        use_tls(raw, **tls)  # type: ignore[arg-type]
        port = broker.mosquitto.tls_port
    outcome = try_connect(raw, port)
    raw.disconnect()
    assert not outcome.connected, f"{user and user[0]} with {tls or 'no TLS'} was let in"
    return outcome.reason


def test_anonymous_clients_are_refused_on_both_listeners(broker: Broker) -> None:
    assert "authoris" in refused(broker, None).lower() or "authoriz" in refused(broker, None).lower()
    # A valid client certificate does not stand in for a password (use_identity_as_username false).
    assert refused(broker, None, ca=broker.pki.ca, pair=broker.pki.edge)


def test_wrong_password_and_unknown_user_are_refused(broker: Broker) -> None:
    assert refused(broker, (EDGE_A[0], "not-the-password"))
    assert refused(broker, ("edge-nobody", EDGE_A[1]))
    assert refused(broker, (EDGE_A[0], "not-the-password"), ca=broker.pki.ca, pair=broker.pki.edge)


def test_tls_refuses_a_client_without_our_ca_without_a_certificate_or_with_a_strangers(
    broker: Broker,
) -> None:
    without_ca = refused(broker, EDGE_A, ca=None, pair=broker.pki.edge)
    assert "CERTIFICATE_VERIFY_FAILED" in without_ca, without_ca  # the client cannot trust the broker
    assert refused(broker, EDGE_A, ca=broker.pki.stranger_ca, pair=broker.pki.edge)
    assert refused(broker, EDGE_A, ca=broker.pki.ca, pair=None)  # no client certificate
    assert refused(broker, EDGE_A, ca=broker.pki.ca, pair=broker.pki.stranger_edge)


def test_edge_over_tls_reaches_the_server_on_loopback(broker: Broker) -> None:
    server = connect(broker, SERVER)
    edge = connect(broker, EDGE_A, tls=True)
    try:
        assert not any(r.is_failure for r in server.subscribe(server_event_filter()))
        topic = event_topic(EDGE_A[0], EventKind.PUNCH, "SN-TLS")
        edge.publish(topic, b"over tls")
        message = server.next_message()
        assert (message.topic, message.payload) == (topic, b"over tls")
    finally:
        edge.close()
        server.close()


def test_edge_publishing_under_another_edges_id_never_reaches_the_server(broker: Broker) -> None:
    server = connect(broker, SERVER)
    edge_a = connect(broker, EDGE_A)
    try:
        server.subscribe(server_event_filter(), server_status_filter())
        forged = [
            event_topic(EDGE_B[0], EventKind.PUNCH, "SN-B"),
            edge_status_topic(EDGE_B[0]),
            "kaoqin/v1/edges/edge-a-not-quite/events/punch/SN-A",  # a prefix of its id is not its id
        ]
        for topic in forged:
            edge_a.publish(topic, b"forged")
        edge_a.publish(event_topic(EDGE_A[0], EventKind.PUNCH, "SN-A"), b"marker")
        first = server.next_message()
        assert (first.topic, first.payload) == (event_topic(EDGE_A[0], EventKind.PUNCH, "SN-A"), b"marker")
        assert server.messages.empty()
    finally:
        edge_a.close()
        server.close()


def test_mqtt5_edge_is_told_not_authorized_for_another_edges_topics(broker: Broker) -> None:
    edge_a = connect(broker, EDGE_A, mqtt5=True)
    try:
        forged = edge_a.publish(event_topic(EDGE_B[0], EventKind.PUNCH, "SN-B"), b"forged")
        acks = edge_a.publish(ack_topic(EDGE_A[0]), b"an edge may not write its own acks")
        gallery = edge_a.publish(gallery_bucket_topic(3), b"nor the gallery")
        own = edge_a.publish(event_topic(EDGE_A[0], EventKind.FACE, "CAM-1"), b"allowed")
        assert edge_a.pubacks[forged] == NOT_AUTHORIZED
        assert edge_a.pubacks[acks] == NOT_AUTHORIZED
        assert edge_a.pubacks[gallery] == NOT_AUTHORIZED
        assert edge_a.pubacks[own] in (0, 16)  # success, or success with "no matching subscribers"
    finally:
        edge_a.close()


@pytest.mark.parametrize("mqtt5", [False, True], ids=["mqtt3.1.1", "mqtt5"])
def test_edge_cannot_read_another_edges_commands_acks_or_events(broker: Broker, mqtt5: bool) -> None:
    """Mosquitto 2.0.11 grants such a SUBACK (the ACL is applied to each message delivered, not to
    the filter), so what counts is that nothing of another edge's ever arrives."""
    server = connect(broker, SERVER)
    edge_a = connect(broker, EDGE_A, mqtt5=mqtt5)
    try:
        edge_a.subscribe(
            command_topic(EDGE_B[0]), ack_topic(EDGE_B[0]), server_event_filter(), "kaoqin/v1/edges/#"
        )
        assert not any(r.is_failure for r in edge_a.subscribe(command_topic(EDGE_A[0])))
        server.publish(command_topic(EDGE_B[0]), b"for edge-b only")
        server.publish(ack_topic(EDGE_B[0]), b"ack for edge-b only")
        edge_b = connect(broker, EDGE_B)
        edge_b.publish(event_topic(EDGE_B[0], EventKind.PUNCH, "SN-B"), b"edge-b's event")
        edge_b.close()
        server.publish(command_topic(EDGE_A[0]), b"for edge-a")
        first = edge_a.next_message()
        assert (first.topic, first.payload) == (command_topic(EDGE_A[0]), b"for edge-a")
        # Its own command may come once more (MQTT 5 delivers once per matching subscription), and
        # anything of edge-b's would have come before it.
        rest = [(m.topic, m.payload) for m in list(edge_a.messages.queue)]
        assert set(rest) <= {(command_topic(EDGE_A[0]), b"for edge-a")}, rest
    finally:
        edge_a.close()
        server.close()


def test_server_and_edge_each_do_their_whole_job(broker: Broker) -> None:
    """The server: events and status of every edge, in a shared subscription too; commands, acks
    and the retained gallery to edges. The edge: its events, status and last will; its commands,
    acks and the gallery."""
    server = connect(broker, SERVER, mqtt5=True)
    edge_b = connect(broker, EDGE_B)
    try:
        reasons = server.subscribe(
            server_event_filter(share_group="kaoqin-server"), server_status_filter(), gallery_filter()
        )
        assert not any(r.is_failure for r in reasons), reasons
        server.publish(gallery_bucket_topic(7), b"bucket 7", retain=True)
        assert server.next_message().topic == gallery_bucket_topic(7)

        reasons = edge_b.subscribe(command_topic(EDGE_B[0]), ack_topic(EDGE_B[0]), gallery_filter())
        assert not any(r.is_failure for r in reasons), reasons
        retained = edge_b.next_message()
        assert (retained.topic, retained.payload, retained.retain) == (
            gallery_bucket_topic(7),
            b"bucket 7",
            True,
        )

        edge_b.publish(edge_status_topic(EDGE_B[0]), b"online", retain=True)
        every_kind = [event_topic(EDGE_B[0], kind, "SN-B") for kind in EventKind]  # as contracts has them
        for topic in every_kind:
            edge_b.publish(topic, b"event")
        assert [server.next_message().topic for _ in range(1 + len(every_kind))] == [
            edge_status_topic(EDGE_B[0]),
            *every_kind,
        ]
        server.publish(ack_topic(EDGE_B[0]), b"ack")
        server.publish(command_topic(EDGE_B[0]), b"command")
        assert [edge_b.next_message().payload for _ in range(2)] == [b"ack", b"command"]
        edge_b.subscribe(
            "kaoqin/v1/edges/+/config"
        )  # every edge's config matches; the ACL lets its own through
        server.publish(edge_config_topic(EDGE_A[0]), b"edge-a's devices")  # not for edge-b
        server.publish(edge_config_topic(EDGE_B[0]), b"edge-b's devices", retain=True)
        assert edge_b.next_message().payload == b"edge-b's devices"
        server.publish(edge_config_topic(EDGE_B[0]), b"", retain=True)
        server.publish(gallery_bucket_topic(7), b"", retain=True)  # clear the retained bucket
    finally:
        edge_b.close()
        server.close()


def test_last_will_of_an_edge_is_published_on_its_own_status(broker: Broker) -> None:
    server = connect(broker, SERVER)
    raw = _raw(EDGE_A, mqtt5=False, client_id=None)
    raw.will_set(edge_status_topic(EDGE_A[0]), b"offline", qos=1, retain=True)
    assert try_connect(raw, broker.mosquitto.plain_port).connected
    try:
        server.subscribe(server_status_filter())
        raw.socket().close()  # gone without DISCONNECT: the broker sends the will
        while (message := server.next_message()).payload != b"offline":
            pass
        assert message.topic == edge_status_topic(EDGE_A[0])
    finally:
        server.close()


def _received_after_absence(broker: Broker, count: int) -> list[int]:
    """The server subscribes with a persistent session and goes away; an edge publishes ``count``
    events; the server comes back and reads until a marker the edge publishes once it is back."""
    client_id = f"kaoqin-server-{uuid.uuid4().hex[:6]}"
    server = connect(broker, SERVER, client_id=client_id, clean=False)
    server.subscribe(server_event_filter())
    server.close()  # away, with its persistent session holding the subscription

    edge = connect(broker, EDGE_A)
    topic = event_topic(EDGE_A[0], EventKind.PUNCH, "SN-QUEUE")
    try:
        infos = [edge.raw.publish(topic, str(i).encode(), qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(timeout=30)
        server = connect(broker, SERVER, client_id=client_id, clean=False)
        edge.publish(topic, b"marker")  # queued behind whatever the broker kept for the server
    finally:
        edge.close()
    try:
        received = []
        while (payload := server.next_message().payload) != b"marker":
            received.append(int(payload))
        return received
    finally:
        server.close()


def test_a_subscriber_far_behind_loses_none_of_its_queued_messages(broker: Broker) -> None:
    assert sorted(_received_after_absence(broker, 3000)) == list(range(3000))
    assert "Outgoing messages are being dropped" not in broker.mosquitto.log()


def test_with_mosquittos_default_queue_limit_the_same_absence_drops_messages(
    broker: Broker, tmp_path: Path
) -> None:
    """The contrast that makes the test above mean something: the shipped file without its
    max_queued_* lines (Mosquitto's defaults) loses all but about 1000."""
    shipped = (DEPLOY_DIR / "mosquitto.conf").read_text().splitlines()
    defaults = "\n".join(line for line in shipped if not line.startswith("max_queued_"))
    mosquitto = SecureMosquitto(
        tmp_path / "defaults", broker.mosquitto.password_file, broker.pki, config_text=defaults
    )
    mosquitto.start()
    try:
        received = _received_after_absence(Broker(mosquitto, broker.pki), 3000)
    finally:
        mosquitto.stop()
    assert len(received) < 1100, len(received)
    assert "Outgoing messages are being dropped" in mosquitto.log()


def test_the_edge_agents_own_link_logs_in_over_tls_with_ca_certificate_and_password(
    broker: Broker, tmp_path: Path
) -> None:
    pki = broker.pki
    settings = EdgeSettings(
        edge_id=EDGE_A[0],
        mqtt_url=f"mqtts://127.0.0.1:{broker.mosquitto.tls_port}",
        mqtt_username=EDGE_A[0],
        mqtt_password=EDGE_A[1],  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        mqtt_ca_file=pki.ca,
        mqtt_cert_file=pki.edge.cert,
        mqtt_key_file=pki.edge.key,
        outbox_path=tmp_path / "outbox.sqlite3",
    )
    server = connect(broker, SERVER)
    server.subscribe(edge_status_topic(EDGE_A[0]))
    link = MqttLink(
        settings, Outbox(settings.outbox_path), SystemClock(), devices=[], on_command=lambda _: None
    )
    link.start()
    try:
        while True:  # a retained status of an earlier test may come first
            message = server.next_message()
            if (
                message.payload.startswith(b"{")
                and decode_edge_status(message.payload).state == EdgeState.ONLINE
            ):
                break
    finally:
        link.stop()
        server.close()


def test_edge_tls_settings_are_refused_when_they_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="need an mqtts://"):
        EdgeSettings(edge_id="edge-a", mqtt_url="mqtt://broker:1883", mqtt_ca_file=tmp_path / "ca.crt")
    with pytest.raises(ValidationError, match="together"):
        EdgeSettings(edge_id="edge-a", mqtt_url="mqtts://broker:8883", mqtt_cert_file=tmp_path / "edge.crt")
