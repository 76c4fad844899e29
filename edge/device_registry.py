"""Applies the server's config of this edge's registered devices (contracts.EdgeConfig, retained).

Each config is the edge's whole registered set, so it is applied by difference: a poller starts for
each pull terminal that appeared, stops for each that disappeared, and restarts for one whose
address or model changed; the push terminals' serials become the ADMS endpoint's allow-list (beside
``adms.terminals``); each registered camera gets a face check-in loop (edge/registered_cameras.py),
stopped when it disappears and restarted when its source or terminal changed. Devices in the edge's
YAML are kept as they are and **the YAML wins**: a registered serial or camera id that the YAML lists
too is ignored here (with a warning), so a device can always be pinned locally, e.g. on a site
without a reachable server.

Configs arrive on paho's network thread and are applied on this module's own thread: stopping a
poller waits for it to close its connection, which must not hold up acks and commands.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from contracts import (
    ConfiguredTerminal,
    ContractError,
    DeviceKind,
    DeviceStatus,
    EdgeConfig,
    EventKind,
    decode_edge_config,
    encode,
    event_topic,
)
from edge.adms_server import AdmsEndpoint
from edge.adms_settings import AdmsTerminalSettings
from edge.camera_settings import CameraSettings
from edge.face_checkin import FaceCheckInLoop
from edge.firmware import resolve_adms_terminals, resolve_terminals
from edge.outbox import Outbox, OutboxMessage
from edge.ports import Clock
from edge.punch_poller import PunchPoller
from edge.registered_cameras import RegisteredCameras
from edge.settings import EdgeSettings, TerminalSettings

logger = logging.getLogger(__name__)

_STOP_WAIT_SECONDS = 30.0


@dataclass
class _Running:
    poller: PunchPoller
    source: ConfiguredTerminal
    stop: threading.Event
    thread: threading.Thread


class RegisteredDevices:
    """The pollers of registered terminals and the loops of registered cameras; ``make_poller`` and
    ``make_camera_loop`` (None without a ``face:`` section) build them like the agent's own. A
    registered device this edge cannot take is reported (a device status, ``reachable: false``,
    error ``not configured: ...``) so the devices page says why, not only this edge's log.
    ``on_changed`` is called after a config changed what runs (the edge's status lists its devices)."""

    def __init__(
        self,
        settings: EdgeSettings,
        make_poller: Callable[[TerminalSettings], PunchPoller],
        adms: AdmsEndpoint | None,
        *,
        outbox: Outbox,
        clock: Clock,
        on_queued: Callable[[], None],
        make_camera_loop: Callable[[CameraSettings], FaceCheckInLoop] | None = None,
        on_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._outbox = outbox
        self._on_changed = on_changed
        self._clock = clock
        self._on_queued = on_queued
        self._settings = settings
        self._make_poller = make_poller
        self._adms = adms
        self._yaml_serials = {t.serial for t in settings.terminals} | {
            t.serial for t in (settings.adms.terminals if settings.adms else [])
        }
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        yaml_cameras = {c.camera_id for c in (settings.face.cameras if settings.face else [])}
        self.cameras = RegisteredCameras(
            make_camera_loop,
            yaml_cameras,
            lambda camera_id, why: self._not_configured(
                camera_id, DeviceKind.CAMERA, f"registered camera {camera_id} {why}"
            ),
        )
        self._configs: queue.Queue[EdgeConfig | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="device-registry", daemon=True)
        self.applied_version: int | None = None

    @property
    def pollers(self) -> list[PunchPoller]:
        with self._lock:
            return [running.poller for running in self._running.values()]

    def on_config(self, payload: bytes) -> None:
        """The retained config arrived (paho's thread): check it and hand it to the registry thread."""
        if not payload:
            return  # a cleared retained message: nothing registered is known, keep what runs
        try:
            config = decode_edge_config(payload)
        except ContractError as exc:
            logger.error("ignored an unusable device config from the server: %s", exc.reason)
            return
        if config.edge_id != self._settings.edge_id:
            logger.error(
                "ignored a device config for edge %s (this is %s)", config.edge_id, self._settings.edge_id
            )
            return
        self._configs.put(config)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._configs.put(None)
        self._thread.join(timeout=_STOP_WAIT_SECONDS)
        with self._lock:
            serials = list(self._running)
        for serial in serials:
            self._stop_poller(serial)
        self.cameras.stop_all()

    def _run(self) -> None:
        while (config := self._configs.get()) is not None:
            try:
                self.apply(config)
            except Exception:  # a bad config must not end the registry thread
                logger.exception("applying device config version %d failed", config.version)

    # ------------------------------------------------------------ applying a config

    def device_ids(self) -> list[str]:
        """The registered terminals and cameras this edge runs (polled, accepted or watched)."""
        accepted = set(self._adms.serials) if self._adms is not None else set()
        with self._lock:
            polled = list(self._running)
        pushed = sorted(accepted - self._yaml_serials)
        return polled + pushed + [loop.camera_id for loop in self.cameras.loops]

    def apply(self, config: EdgeConfig) -> None:
        """Make the running registered pollers, camera loops and the ADMS allow-list match ``config``."""
        before = self.device_ids()
        pinned = [t.serial for t in config.terminals if t.serial in self._yaml_serials]
        if pinned:
            logger.warning(
                "registered terminals %s are in this edge's YAML too: the YAML settings are used",
                ", ".join(pinned),
            )
        wanted = {t.serial: t for t in config.terminals if t.serial not in self._yaml_serials}
        pulled = {s: t for s, t in wanted.items() if t.connection == "pull"}
        with self._lock:
            running = dict(self._running)
        for serial, current in running.items():
            if pulled.get(serial) != current.source:
                self._stop_poller(serial)
        for serial, terminal in pulled.items():
            if serial not in self._running:
                self._start_poller(terminal)
        self._apply_push([t for t in wanted.values() if t.connection == "push"])
        self.cameras.apply(config.cameras)
        self.applied_version = config.version
        logger.info(
            "device config version %d applied: %d registered pull terminal(s) polled, %d push, %d camera(s)",
            config.version,
            len(self._running),
            len(wanted) - len(pulled),
            len(self.cameras.loops),
        )
        if self.device_ids() != before:
            self._on_changed()

    def _start_poller(self, terminal: ConfiguredTerminal) -> None:
        try:
            settings = TerminalSettings(
                serial=terminal.serial,
                host=terminal.host or "",
                port=terminal.port,
                transport=terminal.transport,
                comm_key=terminal.comm_key,
                timezone=terminal.timezone,
                profile=terminal.profile,
            )
            (settings,) = resolve_terminals([settings], self._settings.firmware_configs_dir)
        except (ValueError, OSError) as exc:
            self._terminal_not_configured(terminal.serial, f"cannot be polled by this edge: {exc}")
            return
        poller = self._make_poller(settings)
        stop = threading.Event()
        thread = threading.Thread(
            target=poller.run, args=(stop,), name=f"poller-{terminal.serial}", daemon=True
        )
        with self._lock:
            self._running[terminal.serial] = _Running(poller, terminal, stop, thread)
        thread.start()
        logger.info("registered terminal %s: polling %s:%d", terminal.serial, terminal.host, terminal.port)

    def _stop_poller(self, serial: str) -> None:
        with self._lock:
            running = self._running.pop(serial, None)
        if running is None:
            return
        running.stop.set()
        running.poller.wake(full_read=False)
        running.thread.join(timeout=_STOP_WAIT_SECONDS)
        if running.thread.is_alive():
            logger.warning(
                "registered terminal %s: poller still closing after %.0f s", serial, _STOP_WAIT_SECONDS
            )
        logger.info("registered terminal %s: no longer registered to this edge, polling stopped", serial)

    def _apply_push(self, terminals: list[ConfiguredTerminal]) -> None:
        if self._adms is None:
            for terminal in terminals:
                self._terminal_not_configured(
                    terminal.serial,
                    "a push (ADMS) terminal, but this edge has no adms: section to take its uploads",
                )
            return
        usable: list[AdmsTerminalSettings] = []
        for terminal in terminals:
            try:
                settings = AdmsTerminalSettings(
                    serial=terminal.serial, timezone=terminal.timezone, profile=terminal.profile
                )
                usable += resolve_adms_terminals([settings], self._settings.firmware_configs_dir)
            except (ValueError, OSError) as exc:
                self._terminal_not_configured(terminal.serial, f"cannot be accepted by this edge: {exc}")
        accepted = self._adms.set_registered(usable)
        logger.info("ADMS endpoint accepts %s", ", ".join(accepted) or "no terminal")

    def _terminal_not_configured(self, serial: str, why: str) -> None:
        self._not_configured(serial, DeviceKind.TERMINAL, f"registered terminal {serial} {why}")

    def _not_configured(self, device_id: str, kind: DeviceKind, what: str) -> None:
        error = f"not configured: {what}"
        logger.error("%s", error)
        now = self._clock.now()
        status = DeviceStatus.create(
            edge_id=self._settings.edge_id,
            device_id=device_id,
            occurred_at=now,
            device_kind=kind,
            reachable=False,
            error=error[:2000],
        )
        topic = event_topic(self._settings.edge_id, EventKind.DEVICE_STATUS, device_id)
        self._outbox.add([OutboxMessage(status.event_id, topic, encode(status))])
        self._on_queued()
