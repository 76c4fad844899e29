"""Broker fixtures: the embedded amqtt broker and the machine's Mosquitto, plus a small MQTT probe."""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts.broker_url import parse_broker_url
from tests.support.services import free_port


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each broker test runs against the embedded amqtt broker and against the machine's Mosquitto."""
    if request.param == "mosquitto":
        yield str(request.getfixturevalue("mosquitto_url"))
        return
    from server.adapters.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


class Probe:
    """A plain paho client that records what arrives on its subscriptions."""

    def __init__(self, url: str, *topics: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        address = parse_broker_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        subscribed = queue.Queue[bool]()
        self.client.on_subscribe = lambda *_: subscribed.put(True)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        if topics:
            self.client.subscribe([(t, 1) for t in topics])
            subscribed.get(timeout=10)

    def get(self, timeout: float = 10) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
