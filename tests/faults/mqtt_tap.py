"""A plain paho client beside the system under test: sees what the broker carries, publishes raw bytes.

Fault tests use it to tell what really happened on the wire: which events reached the broker, and
which acknowledgements (with which status) the server sent for each event id.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import defaultdict

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts import AckStatus, ContractError, decode_ack
from contracts.broker_url import parse_broker_url
from tests.support.services import PrivateMosquitto, wait_for_port


class MqttTap:
    """Subscribes to ``filters`` (QoS 1) and records acks by event id and events by topic."""

    def __init__(self, url: str, *filters: str) -> None:
        self._lock = threading.Lock()
        self._acks: dict[str, list[AckStatus]] = defaultdict(list)
        self._event_payloads: list[bytes] = []
        self._filters = filters
        self.connections = 0
        self._subscribed = threading.Event()
        address = parse_broker_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tap-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_disconnect = lambda *_args: self._subscribed.clear()
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        if filters and not self._subscribed.wait(10):
            raise AssertionError(f"the tap was not subscribed to {filters} within 10 s")

    def wait_resubscribed(self, connections_before: int, timeout: float = 30) -> None:
        """Until the tap has connected again since ``connections_before`` and subscribed anew."""
        deadline = time.monotonic() + timeout
        while self.connections <= connections_before:
            if time.monotonic() > deadline:
                raise AssertionError(f"the tap did not reconnect within {timeout} s")
            time.sleep(0.05)
        if not self._subscribed.wait(max(0.0, deadline - time.monotonic())):
            raise AssertionError(f"the tap was not subscribed again within {timeout} s")

    def _on_connect(self, client: mqtt.Client, *_args: object) -> None:
        self.connections += 1
        if self._filters:  # again after every reconnect: the tap's session is a clean one
            client.subscribe([(topic, 1) for topic in self._filters])

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/acks"):
            try:
                ack = decode_ack(bytes(message.payload))
            except ContractError as exc:
                raise AssertionError(f"the server sent a malformed ack: {exc.reason}") from None
            with self._lock:
                for item in ack.items:
                    self._acks[item.event_id].append(item.status)
        elif "/events/" in message.topic:
            with self._lock:
                self._event_payloads.append(bytes(message.payload))

    def acks(self) -> dict[str, list[AckStatus]]:
        """Every status the server acknowledged, by event id, in arrival order."""
        with self._lock:
            return {event_id: list(statuses) for event_id, statuses in self._acks.items()}

    def event_ids_seen(self) -> set[str]:
        """The distinct event ids the broker delivered to the tap."""
        with self._lock:
            payloads = list(self._event_payloads)
        ids = set()
        for payload in payloads:
            try:
                ids.add(json.loads(payload)["event_id"])
            except (ValueError, KeyError, TypeError):
                continue
        return ids

    def events_seen(self) -> int:
        return len(self.event_ids_seen())

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 and wait until the broker has it."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=30)
        if not info.is_published():
            raise AssertionError(f"the broker did not take a message on {topic} within 30 s")

    def publish_all(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish many at QoS 1 (pipelined), then wait until the broker has every one."""
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=60)
            if not info.is_published():
                raise AssertionError("the broker did not take every message within 60 s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def kill_and_restart(broker: PrivateMosquitto) -> None:
    """SIGKILL Mosquitto and start it again: whatever it held only in memory (queues for offline
    sessions since its last save) is gone, as after a power cut."""
    assert broker.process is not None, "the broker is not running"
    broker.process.send_signal(signal.SIGKILL)
    broker.process.wait(timeout=10)
    broker.process = None
    broker.start()
    wait_for_port("127.0.0.1", broker.port)
