"""A poller with the real ZKTeco adapter (pyzk) against a simulator, run in a thread, for edge tests."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from contracts import EventKind, parse_topic
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import open_zkteco_terminal
from edge.outbox import Outbox
from edge.ports import Clock, SystemClock
from edge.punch_poller import PunchPoller
from edge.settings import TerminalSettings

ZONE = "Asia/Shanghai"


class PollerRig:
    """One poller on one simulator; ``events()`` reads what it queued (nothing is published)."""

    def __init__(
        self, tmp_path: Path, sim: TerminalSimulator, *, clock: Clock | None = None, **settings: Any
    ) -> None:
        fields: dict[str, Any] = {
            "serial": sim.serial,
            "host": "127.0.0.1",
            "port": sim.port,
            "timezone": ZONE,
            "timeout_seconds": 3,
            "live_idle_seconds": 0.2,
        }
        fields.update(settings)
        self.settings = TerminalSettings(**fields)
        self.outbox = Outbox(tmp_path / f"outbox-{self.settings.serial}.sqlite3")
        self.poller = PunchPoller(
            edge_id="edge-rig",
            terminal=self.settings,
            open_terminal=open_zkteco_terminal,
            outbox=self.outbox,
            clock=clock or SystemClock(),
            poll_interval=0.3,
            retry_max=0.6,
            status_interval=3600,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PollerRig:
        self._thread = threading.Thread(target=self.poller.run, args=(self._stop,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.poller.wake()
        if self._thread is not None:
            self._thread.join(timeout=20)
            assert not self._thread.is_alive(), "poller thread did not stop"

    def __enter__(self) -> PollerRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.outbox.close()

    def events(self, kind: EventKind) -> list[dict[str, Any]]:
        due = self.outbox.due(resend_after=3600, limit=1_000_000, max_unacked=1_000_000)
        return [json.loads(m.payload) for m in due if parse_topic(m.topic).kind == kind]

    def punches(self) -> list[dict[str, Any]]:
        return self.events(EventKind.PUNCH)

    def statuses(self) -> list[dict[str, Any]]:
        return self.events(EventKind.DEVICE_STATUS)

    def alerts(self) -> list[str]:
        return [alert for status in self.statuses() for alert in status.get("alerts", [])]

    def ack_all(self) -> None:
        """What the server's acknowledgements do: forget every queued event."""
        due = self.outbox.due(resend_after=3600, limit=1_000_000, max_unacked=1_000_000)
        self.outbox.remove([m.event_id for m in due])
