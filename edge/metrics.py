"""The edge's ``/metrics`` endpoint (Prometheus text format) on ``metrics_host:metrics_port``.

Values are read when Prometheus scrapes: the outbox's depth and the age of its oldest entry from
the outbox itself, publish / resend / acknowledgement counters from the MQTT link, and whether each
terminal and camera was reachable at its latest check. The registry belongs to this one agent
(built in the composition root, edge.agent), never the process-global one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class OutboxGauges(Protocol):
    """What the collector asks the outbox (edge.outbox.Outbox satisfies it)."""

    def depth(self) -> int: ...

    def oldest_age_seconds(self) -> float | None: ...


class LinkCounters(Protocol):
    """What the collector reads from the MQTT link (edge.mqtt_link.MqttLink has these)."""

    published: int
    resent: int
    acked: int

    @property
    def connected(self) -> bool: ...


@dataclass(frozen=True)
class DeviceReachability:
    """One terminal or camera and a way to ask whether it was reachable at its latest check."""

    device_id: str
    kind: str  # "terminal" or "camera"
    reachable: Callable[[], bool | None]


@dataclass(frozen=True)
class EdgeMetricSources:
    edge_id: str
    outbox: OutboxGauges
    link: LinkCounters
    # The YAML's devices and the registered ones running now: asked at every scrape.
    devices: Callable[[], Sequence[DeviceReachability]] = field(default=lambda: [])


class EdgeCollector(Collector):
    """Outbox, delivery and device metrics of one edge agent, labelled with its edge id."""

    def __init__(self, sources: EdgeMetricSources) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        sources = self._sources
        edge = [sources.edge_id]

        def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, documentation, labels=["edge_id"])
            family.add_metric(edge, value)
            return family

        def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, documentation, labels=["edge_id"])
            family.add_metric(edge, value)
            return family

        yield gauge(
            "kaoqin_edge_outbox_depth",
            "events in the outbox waiting for the server's ack",
            sources.outbox.depth(),
        )
        oldest = GaugeMetricFamily(
            "kaoqin_edge_outbox_oldest_age_seconds",
            "age of the oldest event in the outbox (absent when the outbox is empty)",
            labels=["edge_id"],
        )
        age = sources.outbox.oldest_age_seconds()
        if age is not None:
            oldest.add_metric(edge, age)
        yield oldest
        link = sources.link
        yield counter(
            "kaoqin_edge_events_published", "events published at QoS 1 (resends included)", link.published
        )
        yield counter(
            "kaoqin_edge_events_resent",
            "events published again after a reconnect or an overdue acknowledgement",
            link.resent,
        )
        yield counter(
            "kaoqin_edge_events_acknowledged",
            "outbox entries the server acknowledged (then deleted from the outbox)",
            link.acked,
        )
        yield gauge(
            "kaoqin_edge_broker_connected", "1 when connected to the broker", 1.0 if link.connected else 0.0
        )
        reachable = GaugeMetricFamily(
            "kaoqin_edge_device_reachable",
            "1 if the terminal or camera was reachable at its latest check (absent before the first)",
            labels=["edge_id", "device_id", "device_kind"],
        )
        for device in sources.devices():
            state = device.reachable()
            if state is not None:
                reachable.add_metric([sources.edge_id, device.device_id, device.kind], 1.0 if state else 0.0)
        yield reachable


class MetricsEndpoint:
    """Serves ``registry`` over HTTP in a background thread until :meth:`stop`."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._server: WSGIServer | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose when the setting is 0)."""
        if self._server is None:
            raise RuntimeError("the metrics endpoint is not started")
        return int(self._server.server_port)

    def start(self) -> None:
        try:
            self._server, _thread = start_http_server(self._requested_port, self._host, self._registry)
        except OSError as exc:
            raise OSError(
                f"cannot serve edge metrics on {self._host}:{self._requested_port}: {exc.strerror}"
                " (change metrics_port in the edge settings, or unset it)"
            ) from exc
        logger.info("edge metrics on http://%s:%d/metrics", self._host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def build_metrics_endpoint(sources: EdgeMetricSources, host: str, port: int) -> MetricsEndpoint:
    """A registry of this agent's own with the edge collector, served on ``host:port`` once started."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EdgeCollector(sources))
    return MetricsEndpoint(registry, host, port)
