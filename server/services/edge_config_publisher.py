"""Sends each edge its registered devices: a retained config message after every change.

A change raises the edge's config version in the database (in the change's own transaction); this
publisher sends every edge whose version the broker has not taken yet, right after the change and
again every ``retry_seconds`` while the broker is away, so a registration made while the broker is
down reaches the edge once it is back. At start-up every edge's config is published once, because
an embedded broker starts without retained messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from contracts import edge_config_topic, encode
from server.services.device_registry import DeviceRegistry

logger = logging.getLogger(__name__)


class RetainedPublisher(Protocol):
    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish retained at QoS 1; ConnectionError when the broker is not connected."""


class PublicationLog(Protocol):
    def unpublished(self) -> list[tuple[str, int]]: ...

    def configured_edges(self) -> list[str]: ...

    def mark_published(self, edge_id: str, version: int, now: datetime) -> None: ...


class EdgeConfigPublisher:
    def __init__(
        self,
        registry: DeviceRegistry,
        log: PublicationLog,
        publisher: RetainedPublisher | None,
        clock: Callable[[], datetime],
        *,
        retry_seconds: float = 2.0,
    ) -> None:
        self._registry = registry
        self._log = log
        self._publisher = publisher
        self._clock = clock
        self._retry = retry_seconds
        self._lock = threading.Lock()  # one publication at a time: versions go out in order
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kaoqin-edge-config", daemon=True)

    def _publish(self, edge_id: str) -> None:
        if self._publisher is None:
            raise ConnectionError("no MQTT publisher")
        config = self._registry.edge_config(edge_id, self._clock())
        self._publisher.publish_retained(edge_config_topic(edge_id), encode(config))
        self._log.mark_published(edge_id, config.version, self._clock())
        logger.info("edge %s: config version %d published", edge_id, config.version)

    def publish_pending(self) -> bool:
        """Publish every config the broker has not taken; False if the broker could not be reached."""
        with self._lock:
            try:
                for edge_id, _version in self._log.unpublished():
                    self._publish(edge_id)
            except ConnectionError as exc:
                logger.warning("edge config not published yet (%s); retrying", exc)
                return False
        return True

    def publish_all(self) -> bool:
        with self._lock:
            try:
                for edge_id in self._log.configured_edges():
                    self._publish(edge_id)
            except ConnectionError as exc:
                logger.warning("edge configs not published yet (%s); retrying", exc)
                return False
        return True

    def changed(self) -> None:
        """A registration changed: publish now if the broker is there, else the thread retries."""
        if not self.publish_pending():
            self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        published_all = False
        while not self._stop.is_set():
            try:
                if not published_all:
                    published_all = self.publish_all()
                else:
                    self.publish_pending()
            except Exception:  # the database away must not end the thread
                logger.exception("publishing edge configs failed; retrying")
            self._wake.wait(self._retry)
            self._wake.clear()
