"""``GET /metrics``: the server's state in the Prometheus text format.

Values are read when Prometheus scrapes, not pushed as things happen: counters come from the
ingest service's :class:`IngestStats`, the backlog from the MQTT consumer, and device status from
the ``devices`` table (the latest report of every terminal and camera). The registry is built per
process in the composition root (:func:`build_metrics_registry`), so two apps in one process (as in
tests) never share or double-register metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.adapters.read_store import ReadStore
from server.services.ingest import IngestStats, utc_now

METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class ServerMetricSources:
    """Where each metric's value comes from; all are read at scrape time."""

    stats: IngestStats
    read_store: ReadStore
    consumer_backlog: Callable[[], int]
    broker_connected: Callable[[], bool]
    clock: Callable[[], datetime] = utc_now


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


class ServerCollector(Collector):
    """Ingest counters, consumer lag and device status, for one server process."""

    def __init__(self, sources: ServerMetricSources) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        sources = self._sources
        stats = sources.stats.snapshot()
        yield _counter(
            "kaoqin_server_messages_received",
            "MQTT messages this process took from the broker into ingest batches",
            stats.received,
        )
        yield _counter("kaoqin_server_events_stored", "events stored for the first time", stats.events_stored)
        yield _counter(
            "kaoqin_server_events_duplicate",
            "events received again and recognised by event_id (acknowledged, not stored twice)",
            stats.duplicates_ignored,
        )
        yield _counter(
            "kaoqin_server_events_acknowledged",
            "event ids acknowledged back to their edges (stored, duplicate or dead-lettered)",
            stats.acknowledged,
        )
        yield _counter(
            "kaoqin_server_dead_letters",
            "messages this process put in the dead-letter store because they broke the contract",
            stats.dead_letters,
        )
        yield _counter("kaoqin_server_ingest_batches", "ingest batches committed", stats.batches)
        yield GaugeMetricFamily(
            "kaoqin_server_dead_letters_stored",
            "dead letters in the database, from every server process (see GET /api/v1/dead-letters)",
            value=sources.read_store.dead_letters(limit=0, offset=0).total,
        )
        yield GaugeMetricFamily(
            "kaoqin_server_consumer_backlog_messages",
            "messages received from the broker and waiting for the next ingest batch",
            value=sources.consumer_backlog(),
        )
        yield GaugeMetricFamily(
            "kaoqin_server_broker_connected",
            "1 when the consumer is connected and subscribed",
            value=1.0 if sources.broker_connected() else 0.0,
        )
        yield from self._lag(stats.last_batch_lag_seconds, stats.newest_occurred_at)
        yield from self._devices()

    def _lag(self, last_batch_lag: float | None, newest: datetime | None) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "kaoqin_server_ingest_lag_seconds",
            "age of the freshest event of the last batch when it was stored (occurred_at to commit)",
        )
        newest_ts = GaugeMetricFamily(
            "kaoqin_server_newest_event_timestamp_seconds",
            "occurred_at of the freshest event stored so far (alert on time() minus this)",
        )
        newest_age = GaugeMetricFamily(
            "kaoqin_server_newest_event_age_seconds", "now minus the freshest occurred_at stored so far"
        )
        if last_batch_lag is not None:
            lag.add_metric([], last_batch_lag)
        if newest is not None:
            newest_ts.add_metric([], newest.timestamp())
            newest_age.add_metric([], max(0.0, (self._sources.clock() - newest).total_seconds()))
        yield from (lag, newest_ts, newest_age)

    def _devices(self) -> Iterator[Metric]:
        labels = ["edge_id", "device_id", "device_kind"]
        reachable = GaugeMetricFamily(
            "kaoqin_device_reachable", "1 if the device's latest status said reachable", labels=labels
        )
        offset = GaugeMetricFamily(
            "kaoqin_device_clock_offset_seconds", "terminal clock minus the edge's clock", labels=labels
        )
        records = GaugeMetricFamily(
            "kaoqin_device_log_records", "records in the terminal's log", labels=labels
        )
        usage = GaugeMetricFamily(
            "kaoqin_device_log_usage_ratio", "records in the log over its capacity (1 = full)", labels=labels
        )
        last_seen = GaugeMetricFamily(
            "kaoqin_device_last_status_timestamp_seconds", "occurred_at of the latest status", labels=labels
        )
        for row in self._sources.read_store.devices():
            key = [row["edge_id"], row["device_id"], row["device_kind"]]
            reachable.add_metric(key, 1.0 if row["reachable"] else 0.0)
            last_seen.add_metric(key, row["last_seen_at"].timestamp())
            if row["clock_offset_seconds"] is not None:
                offset.add_metric(key, row["clock_offset_seconds"])
            if row["records"] is not None:
                records.add_metric(key, row["records"])
                if row["record_capacity"]:
                    usage.add_metric(key, row["records"] / row["record_capacity"])
        yield from (reachable, offset, records, usage, last_seen)


def build_metrics_registry(sources: ServerMetricSources) -> CollectorRegistry:
    """A registry of this process's own, holding only the server collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(sources))
    return registry


metrics_router = APIRouter()


@metrics_router.get(
    METRICS_PATH,
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics: ingest counters, consumer lag, device status",
)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
