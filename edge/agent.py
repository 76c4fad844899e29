"""Composition root of the edge agent: builds the outbox, the MQTT link and one poller per terminal."""

from __future__ import annotations

import logging
import threading

from contracts import (
    ClearLogCommand,
    CopyTemplatesCommand,
    DisableUsersCommand,
    EdgeCommand,
    ReadNowCommand,
    SetTimeCommand,
    UpsertUsersCommand,
    UserTemplates,
    WriteTemplatesCommand,
)
from devices.terminal import FingerprintTerminal
from edge.adms_server import AdmsEndpoint
from edge.device_registry import RegisteredDevices
from edge.face_checkin import FaceCheckIn, FaceCheckInLoop
from edge.firmware import resolve_adms_terminals, resolve_terminals
from edge.metrics import DeviceReachability, EdgeMetricSources, MetricsEndpoint, build_metrics_endpoint
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.ports import Clock, SystemClock, TerminalFactory
from edge.punch_poller import PunchPoller
from edge.settings import EdgeSettings, TerminalSettings
from edge.snapshot_retention import SnapshotRetention
from edge.template_events import queue_templates_events
from edge.user_sync import adms_user_lines, copy_templates, disable_task, upsert_task, write_templates

logger = logging.getLogger(__name__)


def open_zkteco_terminal(terminal: TerminalSettings) -> FingerprintTerminal:
    """The production terminal factory: a ZKTeco terminal over pyzk."""
    from devices.zkteco import ZKTecoConfig, ZKTecoTerminal  # imported here: pyzk only when used

    return ZKTecoTerminal(
        ZKTecoConfig(
            host=terminal.host,
            port=terminal.port,
            transport=terminal.transport,
            comm_key=terminal.comm_key,
            timezone=terminal.timezone,
            timeout=terminal.timeout_seconds,
        )
    )


def _terminal_reachability(poller: PunchPoller) -> DeviceReachability:
    return DeviceReachability(poller.serial, "terminal", lambda: poller.reachable)


def _camera_reachability(loop: FaceCheckInLoop) -> DeviceReachability:
    return DeviceReachability(loop.camera_id, "camera", lambda: loop.camera.health().connected)


class EdgeAgent:
    """A running edge agent; :meth:`start` returns at once, :meth:`stop` joins every thread."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        open_terminal: TerminalFactory = open_zkteco_terminal,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        # Profiles first: a terminal set up for what its model cannot do stops the agent here.
        terminals = resolve_terminals(settings.terminals, settings.firmware_configs_dir)
        adms = settings.adms
        if adms is not None:
            adms_terminals = resolve_adms_terminals(adms.terminals, settings.firmware_configs_dir)
            adms = adms.model_copy(update={"terminals": adms_terminals})
        self.outbox = Outbox(settings.outbox_path)
        self._yaml_device_ids = (
            [t.serial for t in settings.terminals]
            + [t.serial for t in (settings.adms.terminals if settings.adms else [])]
            + [c.camera_id for c in (settings.face.cameras if settings.face else [])]
        )
        self.face = (
            FaceCheckIn(
                settings.face,
                edge_id=settings.edge_id,
                outbox=self.outbox,
                clock=self.clock,
                status_interval=settings.status_interval_seconds,
                on_queued=lambda: self.link.wake(),
            )
            if settings.face is not None
            else None
        )
        self.link = MqttLink(
            settings,
            self.outbox,
            self.clock,
            devices=self.device_ids,
            on_command=self._on_command,
            on_gallery=self.face.on_gallery if self.face is not None else None,
            on_config=lambda payload: self.registered.on_config(payload),
        )
        self._open_terminal = open_terminal
        self.pollers = [self._new_poller(terminal) for terminal in terminals]
        self.adms = (
            AdmsEndpoint(
                adms,
                edge_id=settings.edge_id,
                outbox=self.outbox,
                clock=self.clock,
                on_queued=self.link.wake,
            )
            if adms is not None
            else None
        )
        # Terminals and cameras registered on the server (edge/device_registry.py; the YAML wins on
        # conflict). Registered cameras need the face: section's engine and gallery.
        self.registered = RegisteredDevices(
            settings,
            self._new_poller,
            self.adms,
            outbox=self.outbox,
            clock=self.clock,
            on_queued=self.link.wake,
            make_camera_loop=self.face.new_loop if self.face is not None else None,
            on_changed=self.link.publish_online_status,
        )
        self.metrics = self._metrics_endpoint()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _new_poller(self, terminal: TerminalSettings) -> PunchPoller:
        return PunchPoller(
            edge_id=self.settings.edge_id,
            terminal=terminal,
            open_terminal=self._open_terminal,
            outbox=self.outbox,
            clock=self.clock,
            poll_interval=self.settings.poll_interval_seconds,
            retry_max=self.settings.retry_max_seconds,
            status_interval=self.settings.status_interval_seconds,
            on_queued=self.link.wake,
        )

    def device_ids(self) -> list[str]:
        """The devices the edge's status names: the YAML's and the registered ones running now."""
        # The link builds its last will before the registry exists: the YAML's devices then.
        registered = self.__dict__.get("registered")
        return self._yaml_device_ids + (registered.device_ids() if registered is not None else [])

    def all_pollers(self) -> list[PunchPoller]:
        """The YAML's terminals' pollers and the registered ones' (commands reach both)."""
        return self.pollers + self.registered.pollers

    def _metrics_endpoint(self) -> MetricsEndpoint | None:
        if self.settings.metrics_port is None:
            return None
        sources = EdgeMetricSources(self.settings.edge_id, self.outbox, self.link, self._reachability)
        return build_metrics_endpoint(sources, self.settings.metrics_host, self.settings.metrics_port)

    def _reachability(self) -> list[DeviceReachability]:
        """The YAML's devices and the registered ones running now (asked at every scrape)."""
        devices = [_terminal_reachability(poller) for poller in self.all_pollers()]
        yaml_loops = self.face.loops if self.face is not None else []
        devices += [_camera_reachability(loop) for loop in yaml_loops + self.registered.cameras.loops]
        return devices

    def start(self) -> None:
        if self.metrics is not None:
            self.metrics.start()
        self.registered.start()
        self.link.start()
        self._spawn("publisher", self.link.run_publisher)
        for poller in self.pollers:
            self._spawn(f"poller-{poller.serial}", poller.run)
        if self.adms is not None:
            self.adms.start()
        for loop in self.face.loops if self.face is not None else []:
            self._spawn(f"camera-{loop.camera_id}", loop.run)
        if self.settings.face is not None:
            retention = SnapshotRetention(self.outbox, self.settings.face.unknown_snapshot_hours)
            self._spawn("snapshot-retention", retention.run)
        logger.info(
            "edge %s started: %d terminal(s), broker %s, outbox %s",
            self.settings.edge_id,
            len(self.pollers),
            self.settings.mqtt_url,
            self.settings.outbox_path,
        )

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for poller in self.pollers:
            poller.wake()
        self.link.wake()
        if self.adms is not None:
            self.adms.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self.registered.stop()
        self.link.stop()
        if self.metrics is not None:
            self.metrics.stop()
        if self.face is not None:
            self.face.close()
        self.outbox.close()
        logger.info("edge %s stopped", self.settings.edge_id)

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread (or a signal handler)."""
        self._stop.wait()

    def _poller(self, serial: str, command_id: str) -> PunchPoller | None:
        for poller in self.all_pollers():
            if poller.serial == serial:
                return poller
        logger.warning("command %s names unknown terminal %s", command_id, serial)
        return None

    def _on_command(self, command: EdgeCommand) -> None:
        action = command.command
        if isinstance(action, ReadNowCommand):
            for each in self.all_pollers():
                if action.device_serial in (None, each.serial):
                    each.wake()
        elif isinstance(action, ClearLogCommand):
            target = self._poller(action.device_serial, command.command_id)
            if target is not None:
                target.request_clear()
        elif isinstance(action, SetTimeCommand):
            target = self._poller(action.device_serial, command.command_id)
            if target is not None:
                target.submit(lambda device: device.set_clock(self.clock.now()))
        elif isinstance(action, UpsertUsersCommand | DisableUsersCommand):
            self._sync_users(command.command_id, action)
        elif isinstance(action, CopyTemplatesCommand):
            copy_templates(
                action,
                self.all_pollers(),
                lambda serial: logger.warning(
                    "command %s names unknown terminal %s", command.command_id, serial
                ),
                self._templates_to_server,
            )
        elif isinstance(action, WriteTemplatesCommand):
            target = self._poller(action.device_serial, command.command_id)
            if target is not None:
                write_templates(action, target)

    def _templates_to_server(self, serial: str, items: list[UserTemplates]) -> None:
        queue_templates_events(
            self.outbox, edge_id=self.settings.edge_id, serial=serial, items=items, now=self.clock.now()
        )
        self.link.wake()

    def _sync_users(self, command_id: str, action: UpsertUsersCommand | DisableUsersCommand) -> None:
        task = (
            upsert_task(action.users)
            if isinstance(action, UpsertUsersCommand)
            else disable_task(action.user_ids)
        )
        targets = [p for p in self.all_pollers() if action.device_serial in (None, p.serial)]
        for poller in targets:
            poller.submit(task)
        adms_serials = self.adms.serials if self.adms is not None else []  # the YAML's and registered
        adms_targets = [s for s in adms_serials if action.device_serial in (None, s)]
        if self.adms is not None:
            for serial in adms_targets:
                for line in adms_user_lines(action):
                    self.adms.queue_command(serial, line)
        if not targets and not adms_targets:
            logger.warning("command %s names unknown terminal %s", command_id, action.device_serial)
