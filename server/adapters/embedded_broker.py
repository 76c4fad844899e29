"""An in-process MQTT broker (amqtt) for the one-office setup: no Mosquitto to install.

amqtt runs on asyncio; the server's MQTT consumer and FastAPI do not share its loop, so the broker
gets a thread and an event loop of its own. Gaps of amqtt 0.12.1 that matter to Kaoqin (checked by
tests/integration/test_server_embedded_broker.py):

* Its ``AnonymousAuthPlugin`` marks every session anonymous, and amqtt neither queues QoS 1
  messages for an offline anonymous session nor keeps its subscriptions (its session monitor deletes
  a disconnected anonymous session within a second). Persistent sessions would silently not exist,
  so the broker authenticates with :class:`TrustedClientsAuthPlugin`, which accepts every client
  without marking it anonymous. The embedded broker therefore must only listen on a trusted
  interface (127.0.0.1 by default); use Mosquitto with ACLs when edges connect over a network.
* A QoS 1 message delivered to a subscriber that has not PUBACKed it when the connection drops is
  not redelivered when that persistent session reconnects (Mosquitto redelivers it), and amqtt
  waits only 5 s for a PUBACK before giving up on a delivery. The server still PUBACKs only after
  storing, but with amqtt the guarantee rests on the edge: it keeps every event in its outbox and
  publishes it again until the server's ack arrives.
* Messages queued for an offline persistent session arrive with the retain flag set, and on every
  reconnect amqtt resends (at QoS 0) the retained messages matching *any* client's subscriptions.
  Consumers must therefore tolerate unexpected topics and repeated retained messages.
* Retained messages and offline queues live in memory only: a restart of the embedded broker loses
  them. The edge's durable outbox and the server's acks make that harmless for events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

logger = logging.getLogger(__name__)

# amqtt logs every packet and connection at INFO/DEBUG; keep the server's log readable.
_NOISY_LOGGERS = ("amqtt", "transitions")


class TrustedClientsAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Accept every client *without* flagging its session anonymous (see the module docstring)."""

    @dataclass
    class Config:
        """No options: the broker trusts whoever can reach its (loopback) listener."""

    async def authenticate(self, *, session: Any) -> bool:
        return True


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start (for example, its port is taken)."""


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` served from a background thread.

    ``start()`` returns once the listener accepts TCP connections; ``stop()`` shuts it down and
    joins the thread. One instance may be started and stopped once.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 18830) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The broker's address in the ``mqtt://host:port`` form the settings use."""
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # No $SYS publisher and no packet loggers: only the authentication we need.
            "plugins": {f"{__name__}.TrustedClientsAuthPlugin": {}},
        }

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker thread and block until the listener accepts connections."""
        if self._thread is not None:
            raise EmbeddedBrokerError("the embedded broker was already started")
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        started: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="kaoqin-embedded-broker", daemon=True
        )
        self._thread.start()
        try:
            started.result(timeout=timeout)
        except Exception as exc:
            self._thread.join(timeout=timeout)
            self._thread = None
            raise EmbeddedBrokerError(
                f"embedded MQTT broker could not listen on {self.host}:{self.port}: {exc}"
                " (set mqtt_url to use another broker, or embedded_broker_port to a free port)"
            ) from exc
        # Broker.start() returns after asyncio.start_server() bound and listened on the socket, so
        # the kernel accepts connections from here on (probing with a bare TCP connect would only
        # make amqtt log an error about a client that sent no CONNECT).
        logger.info("embedded MQTT broker listening on %s", self.url)

    def _run(self, started: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(started))
        finally:
            with contextlib.suppress(Exception):
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _serve(self, started: Future[None]) -> None:
        self._stopped = asyncio.Event()
        try:
            broker = Broker(self._config(), loop=asyncio.get_running_loop())
            await broker.start()
        except Exception as exc:
            started.set_exception(exc)
            return
        self._broker = broker
        started.set_result(None)
        await self._stopped.wait()
        try:
            await broker.shutdown()
        except Exception:
            logger.exception("embedded MQTT broker did not shut down cleanly")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and wait for its thread; a no-op if it is not running."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None:
            return
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stopped.set)
        thread.join(timeout=timeout)
        if thread.is_alive():
            logger.warning("embedded MQTT broker thread did not stop within %.0fs", timeout)
        self._thread = None
        logger.info("embedded MQTT broker on %s stopped", self.url)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
