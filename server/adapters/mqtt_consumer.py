"""The server's MQTT consumer: the only server module that imports paho.

Delivery rule: a message is PUBACKed (paho ``manual_ack``) only after the batch holding it is
committed, and only then is the edge sent its :class:`contracts.EventAck`. If the server dies in
between, the broker still holds the message for the persistent session (Mosquitto redelivers it;
amqtt does not, see server.adapters.embedded_broker) and the edge still holds it in its outbox.

paho runs its network loop in its own thread and calls ``on_message`` there; messages go through a
queue to one worker thread that batches, stores, acknowledges and publishes the acks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contracts import EdgeCommand, ack_topic, command_topic, encode, server_event_filter, server_status_filter
from contracts.broker_url import parse_broker_url
from server.services.ingest import InboundMessage, IngestResult, IngestService, StoreUnavailable

logger = logging.getLogger(__name__)

_KEEPALIVE_SECONDS = 30
_RETRY_MAX_SECONDS = 5.0
# MQTT 5 session expiry: the broker keeps the server's session (and queues for it) this long while
# it is away; the largest value means "never expire", the MQTT 3.1.1 clean_session=False meaning.
_SESSION_NEVER_EXPIRES = 0xFFFFFFFF


class MqttUrlError(ValueError):
    """The broker URL is not mqtt://host[:port] or mqtts://host[:port]."""


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Host and port of ``mqtt://host[:port]`` (port 1883 when omitted) or ``mqtts://host[:port]``
    (TLS, port 8883 when omitted)."""
    try:
        address = parse_broker_url(url)
    except ValueError as exc:
        raise MqttUrlError(str(exc)) from None
    return address.host, address.port


@dataclass(frozen=True)
class MqttTls:
    """Files for an mqtts:// broker: the CA its certificate must chain to (None: the system's CAs)
    and, for a broker that requires one (deploy/mosquitto does), our client certificate and key."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class _Received(NamedTuple):
    """One message from paho's thread to the worker (a tuple: built for every message)."""

    message: InboundMessage
    mid: int
    qos: int
    # Which connection delivered it: a packet id is only meaningful on the connection that sent
    # it, so a message from an earlier connection is never PUBACKed on a later one.
    connection: int


class MqttConsumer:
    """Subscribes to every edge's events and status, and feeds batches to the ingest service."""

    def __init__(
        self,
        broker_url: str,
        client_id: str,
        ingest: IngestService,
        *,
        batch_size: int = 200,
        batch_wait_seconds: float = 0.2,
        mqtt5: bool = False,
        shared_group: str | None = None,
        receive_maximum: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: MqttTls | None = None,
    ) -> None:
        """``mqtt5`` speaks MQTT 5 (needed for ``shared_group``, an MQTT 5 shared subscription that
        several server processes split the event stream through). ``receive_maximum`` (MQTT 5) is how
        many unacknowledged messages the broker may send us: PUBACK follows the commit, so it bounds
        the batch size; it defaults to twice ``batch_size``. An mqtts:// ``broker_url`` speaks TLS with
        ``tls`` (default: the system's CAs, no client certificate)."""
        if shared_group is not None and not mqtt5:
            raise ValueError("a shared subscription needs MQTT 5 (mqtt5=True)")
        self._host, self._port = parse_mqtt_url(broker_url)
        self._scheme = "mqtts" if parse_broker_url(broker_url).tls else "mqtt"
        self._mqtt5 = mqtt5
        self._shared_group = shared_group
        self._receive_maximum = min(receive_maximum or 2 * batch_size, 65535)
        self._ingest = ingest
        self._batch_size = batch_size
        self._batch_wait = batch_wait_seconds
        # SimpleQueue (C, one lock) rather than Queue (Python, two conditions): one put and one get
        # per message, and the worker needs neither task_done nor a bound.
        self._queue: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._connection = 0
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        if mqtt5:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
            )
        else:
            self._client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=False,
                protocol=mqtt.MQTTv311,
                manual_ack=True,
            )
        if username is not None:
            self._client.username_pw_set(username, password)  # the broker's password file + ACL
        if self._scheme == "mqtts":
            tls = tls or MqttTls()
            self._client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
            )
        elif tls is not None and (tls.ca_file or tls.cert_file):
            raise ValueError(f"TLS files given for {broker_url!r}: use an mqtts:// URL")
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """Connected to the broker with both subscriptions confirmed."""
        return self._client.is_connected() and self._subscribed.is_set()

    @property
    def queued(self) -> int:
        """Messages received from the broker and not yet taken into a batch (the consumer's backlog)."""
        return self._queue.qsize()

    def wait_until_connected(self, timeout: float) -> bool:
        """Block until :attr:`connected` (for start-up and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            self._subscribed.wait(timeout=0.05)
        return True

    def publish_command(self, command: EdgeCommand) -> None:
        """Send ``command`` to its edge at QoS 1 (the edge's persistent session keeps it while away).

        Implements ``server.services.terminal_sync.CommandSender``; raises ConnectionError when
        the broker is not connected, so the caller can say so instead of losing the command.
        """
        if not self._client.is_connected():
            raise ConnectionError("not connected to the MQTT broker: command not sent")
        info = self._client.publish(command_topic(command.edge_id), encode(command), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"command {command.command_id} not sent: {mqtt.error_string(info.rc)}")

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish a retained message at QoS 1 (the face gallery; an empty payload clears it).

        Implements ``server.services.face_enrolment.GalleryPublisher``; raises ConnectionError when
        the broker is not connected (the face schedule republishes later)."""
        if not self._client.is_connected():
            raise ConnectionError("not connected to the MQTT broker: gallery not published")
        info = self._client.publish(topic, payload, qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"{topic} not published: {mqtt.error_string(info.rc)}")

    def start(self) -> None:
        """Connect in the background (retrying until the broker is up) and start the worker."""
        self._worker = threading.Thread(target=self._work, name="kaoqin-ingest", daemon=True)
        self._worker.start()
        if self._mqtt5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = _SESSION_NEVER_EXPIRES
            properties.ReceiveMaximum = self._receive_maximum
            self._client.connect_async(
                self._host,
                self._port,
                keepalive=_KEEPALIVE_SECONDS,
                clean_start=False,
                properties=properties,
            )
        else:
            self._client.connect_async(self._host, self._port, keepalive=_KEEPALIVE_SECONDS)
        self._client.loop_start()
        logger.info("MQTT consumer connecting to %s://%s:%s", self._scheme, self._host, self._port)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, disconnect, and stop both threads."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout=timeout)
            self._worker = None
        self._client.disconnect()
        self._client.loop_stop()
        logger.info("MQTT consumer stopped")

    # -- paho callbacks (paho's network thread) ---------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("broker refused the connection: %s", reason)
            return
        with self._lock:
            self._connection += 1
        # Subscribe every time: a restarted broker without persistence has forgotten the session.
        client.subscribe(
            [(server_event_filter(share_group=self._shared_group), 1), (server_status_filter(), 1)]
        )
        logger.info(
            "connected to %s://%s:%s (session present: %s)",
            self._scheme,
            self._host,
            self._port,
            flags.session_present,
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        failures = [reason for reason in reasons if reason.is_failure]
        if failures:
            logger.error("broker refused the subscriptions: %s", failures)
            return
        self._subscribed.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._subscribed.clear()
        if not self._stopping.is_set():
            logger.warning("lost the broker connection (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # paho calls this and _on_connect on the same thread, so the connection number cannot change
        # under it: no lock needed to read it here.
        self._queue.put(
            _Received(InboundMessage(msg.topic, bytes(msg.payload)), msg.mid, msg.qos, self._connection)
        )

    # -- worker thread ----------------------------------------------------------------------

    def _next_batch(self) -> list[_Received]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._batch_wait
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        while not self._stopping.is_set():
            batch = self._next_batch()
            if batch:
                self._process(batch)

    def _store(self, messages: list[InboundMessage]) -> list[IngestResult] | None:
        """Store a batch, retrying while the database is out of reach; None if stopping first.

        Nothing is PUBACKed before this returns, so retrying loses nothing. Only an unavailable
        database is worth retrying as is: a batch the database refuses (one message holding a value
        it cannot store) would be refused forever and block all ingest, so it is stored one message
        at a time instead, and the refused message is dead-lettered with the database's reason."""
        delay = 0.5
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    return self._ingest.ingest_each(messages)
                return [self._ingest.ingest(messages)]
            except StoreUnavailable as exc:
                logger.warning("the database is unavailable (%s); retrying %d messages", exc, len(messages))
            except Exception:
                if not one_by_one:
                    logger.warning("the database refused a batch of %d; storing it one by one", len(messages))
                    one_by_one = True
                    continue
                logger.exception("storing %d messages one by one failed; retrying", len(messages))
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, _RETRY_MAX_SECONDS)

    def _process(self, batch: list[_Received]) -> None:
        results = self._store([item.message for item in batch])
        if results is None:
            return
        with self._lock:
            connection = self._connection
        for item in batch:
            if item.qos > 0 and item.connection == connection:
                self._client.ack(item.mid, item.qos)
        for result in results:
            for ack in result.acks:
                self._client.publish(ack_topic(ack.edge_id), encode(ack), qos=1)
        logger.debug(
            "batch of %d: %d stored, %d duplicates, %d dead-lettered",
            len(batch),
            sum(result.stored for result in results),
            sum(result.duplicates for result in results),
            sum(result.dead_lettered for result in results),
        )
