"""The edge's MQTT side (the only edge module that imports paho): drain the outbox, take acks and commands.

Delivery rule: publish at QoS 1; delete an outbox entry only when the server's acknowledgement
for its id arrives; after a reconnect, or when an acknowledgement is overdue, publish again (the
server recognises the id and answers "duplicate").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cache
from importlib.metadata import version

import paho.mqtt.client as mqtt
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contracts import (
    ContractError,
    EdgeCommand,
    EdgeState,
    EdgeStatus,
    ack_topic,
    command_topic,
    decode_ack,
    decode_command,
    edge_config_topic,
    edge_status_topic,
    encode,
)
from contracts.broker_url import parse_broker_url
from contracts.topics import gallery_filter
from edge.outbox import Outbox
from edge.ports import Clock
from edge.settings import EdgeSettings

logger = logging.getLogger(__name__)


@cache
def software_version() -> str:
    """The installed kaoqin distribution's version: what the retained edge status reports."""
    return version("kaoqin")


_BATCH = 500


class MqttLink:
    """Connects the edge to the broker; :meth:`run_publisher` drains the outbox until stopped."""

    def __init__(
        self,
        settings: EdgeSettings,
        outbox: Outbox,
        clock: Clock,
        *,
        devices: list[str] | Callable[[], list[str]],
        on_command: Callable[[EdgeCommand], None],
        on_gallery: Callable[[str, bytes], None] | None = None,
        on_config: Callable[[bytes], None] | None = None,
    ) -> None:
        self._on_gallery = on_gallery  # face gallery messages (topic, payload), if this edge has cameras
        self._on_config = on_config  # the server's retained config of this edge's registered devices
        self._settings = settings
        self._outbox = outbox
        self._clock = clock
        # The devices named in the retained status: the YAML's, and (a callable) the registered ones.
        self._devices = devices
        self._on_command = on_command
        self._wake = threading.Event()
        self._edge_id = settings.edge_id
        # Counters for the edge's /metrics (edge.metrics): written here, read at scrape time.
        self.published = 0  # events handed to paho at QoS 1, resends included
        self.resent = 0  # of which published again (after a reconnect or an overdue ack)
        self.acked = 0  # outbox entries removed by the server's acknowledgements
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"kaoqin-edge-{self._edge_id}",
            clean_session=False,  # the broker keeps acks and commands for us while we are away
        )
        username = self._settings.mqtt_username
        if username:
            client.username_pw_set(username, self._settings.resolved_mqtt_password())
        if parse_broker_url(self._settings.mqtt_url).tls:
            settings = self._settings
            client.tls_set(
                ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,  # None: system CAs
                certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
                keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
            )
        client.will_set(edge_status_topic(self._edge_id), self._status(EdgeState.OFFLINE), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _status(self, state: EdgeState) -> bytes:
        return encode(
            EdgeStatus.create(
                edge_id=self._edge_id,
                state=state,
                occurred_at=self._clock.now(),
                software_version=software_version(),
                devices=self._devices() if callable(self._devices) else self._devices,
            )
        )

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def start(self) -> None:
        """Start connecting in the background; paho reconnects by itself after any failure."""
        address = parse_broker_url(self._settings.mqtt_url)
        self._client.connect_async(address.host, address.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        """Say goodbye with a retained "offline" status, then disconnect."""
        if self._client.is_connected():
            info = self._client.publish(
                edge_status_topic(self._edge_id),
                self._status(EdgeState.OFFLINE),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def publish_online_status(self) -> None:
        """Publish the retained "online" status again, e.g. after the registered devices changed."""
        if self._client.is_connected():
            self._client.publish(
                edge_status_topic(self._edge_id), self._status(EdgeState.ONLINE), qos=1, retain=True
            )

    def wake(self) -> None:
        """New events are in the outbox: publish them without waiting."""
        self._wake.set()

    def run_publisher(self, stop: threading.Event) -> None:
        while not stop.is_set():
            sent = self.publish_due() if self._client.is_connected() else 0
            if sent < _BATCH:
                self._wake.wait(0.5)
                self._wake.clear()

    def publish_due(self) -> int:
        """Publish what the outbox says is due; returns how many messages were handed to paho."""
        due = self._outbox.due(
            resend_after=self._settings.ack_timeout_seconds,
            limit=_BATCH,
            max_unacked=self._settings.max_unacked,
        )
        sent: list[str] = []
        for message in due:
            info = self._client.publish(message.topic, message.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                logger.info("publish paused: %s", mqtt.error_string(info.rc))
                break
            sent.append(message.event_id)
        self.resent += self._outbox.mark_sent(sent)
        self.published += len(sent)
        return len(sent)

    # -- paho callbacks (run on paho's network thread) ---------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            logger.warning("broker %s refused the connection: %s", self._settings.mqtt_url, reason)
            return
        logger.info("connected to broker %s", self._settings.mqtt_url)
        client.subscribe([(ack_topic(self._edge_id), 1), (command_topic(self._edge_id), 1)])
        if self._on_gallery is not None:
            client.subscribe(gallery_filter(), 1)  # retained: every (re)connect brings the whole gallery
        if self._on_config is not None:
            client.subscribe(edge_config_topic(self._edge_id), 1)  # retained: the current one on connect
        client.publish(edge_status_topic(self._edge_id), self._status(EdgeState.ONLINE), qos=1, retain=True)
        # What was in flight on the old connection may never have reached the server.
        self._outbox.mark_all_unsent()
        self._wake.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        logger.warning("disconnected from broker %s: %s", self._settings.mqtt_url, reason)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == ack_topic(self._edge_id):
                ack = decode_ack(bytes(message.payload))
                removed = self._outbox.remove([item.event_id for item in ack.items])
                self.acked += removed
                self._wake.set()  # room in the unacknowledged window
            elif message.topic == command_topic(self._edge_id):
                self._on_command(decode_command(bytes(message.payload)))
            elif self._on_config is not None and message.topic == edge_config_topic(self._edge_id):
                self._on_config(bytes(message.payload))
            elif self._on_gallery is not None and topic_matches_sub(gallery_filter(), message.topic):
                self._on_gallery(message.topic, bytes(message.payload))
        except ContractError as exc:
            logger.warning("ignored a malformed message on %s: %s", message.topic, exc.reason)
        except Exception:
            logger.exception("failed to handle a message on %s", message.topic)
