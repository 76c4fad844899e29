"""Registering terminals and cameras to edges: what makes a registration usable, and the config
each edge gets from it.

Every field is checked before anything is written, and every problem is reported at once with the
field it belongs to (:class:`RegistrationRefused`), so an API client or a form can show each message
next to its field. The store writes a registration and the raise of its edge's config version in
one transaction: a refused or failed registration leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts import ConfiguredCamera, ConfiguredTerminal, EdgeConfig
from contracts.topics import TopicError, check_id

# What ZKTeco prints on the label and answers to ~SerialNumber: capital letters and digits
# (AIOR192960031, CDQ9192960002). Anything else is a typo or a field mixed up with another.
SERIAL_PATTERN = re.compile(r"^[A-Z0-9]{6,20}$")
SERIAL_RULE = "6-20 capital letters and digits, as on the terminal's label (e.g. AIOR192960031)"
# A video file on the edge (file:///path) stands in for a stream in demos and tests.
_CAMERA_SOURCE = re.compile(r"^(\d{1,3}|(rtsp|rtsps|http|https)://\S+|file:///\S+)$")

Connection = Literal["pull", "push"]


# (code, text): the code names the kind of problem (pages show it in their language), the text
# says in English what to fix (the API's answer).
Problem = tuple[str, str]


class RegistryError(ValueError):
    """A registration, change or removal refused: ``problems`` maps each field to what is wrong,
    ``codes`` each field to the kind of problem."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__("; ".join(f"{field}: {text}" for field, (_code, text) in problems.items()))
        self.problems = {field: text for field, (_code, text) in problems.items()}
        self.codes = {field: code for field, (code, _text) in problems.items()}


class RegistrationRefused(RegistryError):
    """Values that cannot be used (HTTP 422)."""


class AlreadyRegistered(RegistryError):
    """The serial or camera id is registered already (HTTP 409)."""


class NotRegistered(RegistryError):
    """No such terminal or camera (HTTP 404)."""


class StillInUse(RegistryError):
    """A terminal that cameras are still linked to (HTTP 409)."""


@dataclass(frozen=True)
class TerminalModel:
    """A firmware config a terminal may be registered as (firmware_configs/<name>.yaml)."""

    name: str
    description: str
    pull_transports: tuple[str, ...]
    adms: bool

    @property
    def connection(self) -> Connection:
        return "pull" if self.pull_transports else "push"


@dataclass(frozen=True)
class TerminalEntry:
    """A terminal as given by an admin (nothing checked yet)."""

    serial: str
    model: str
    site_id: str
    edge_id: str
    host: str | None = None
    port: int = 4370
    transport: str = "tcp"
    timezone: str = "Asia/Shanghai"
    comm_key: int = 0


@dataclass(frozen=True)
class RegisteredTerminal:
    serial: str
    model: str
    connection: Connection
    site_id: str
    edge_id: str
    host: str | None
    port: int
    transport: str
    comm_key: int
    timezone: str
    registered_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CameraEntry:
    camera_id: str
    source: str
    linked_terminal: str
    edge_id: str


@dataclass(frozen=True)
class RegisteredCamera:
    camera_id: str
    source: str
    linked_terminal: str
    edge_id: str
    site_id: str  # the linked terminal's
    registered_at: datetime
    updated_at: datetime


class RegistryStore(Protocol):
    def edge_state(self, edge_id: str) -> Literal["active", "revoked"] | None:
        """``None`` when no edge of that id is registered."""

    def site_exists(self, site_id: str) -> bool: ...

    def terminal(self, serial: str) -> RegisteredTerminal | None: ...

    def camera(self, camera_id: str) -> RegisteredCamera | None: ...

    def terminals(self, edge_id: str | None = None) -> list[RegisteredTerminal]: ...

    def cameras(self, edge_id: str | None = None) -> list[RegisteredCamera]: ...

    def add_terminal(self, terminal: RegisteredTerminal) -> None:
        """Insert and raise the edge's config version; AlreadyRegistered if the serial exists."""

    def replace_terminal(self, terminal: RegisteredTerminal, previous_edge: str) -> None:
        """Update and raise the config version of its edge (and of ``previous_edge``)."""

    def remove_terminal(self, serial: str, edge_id: str) -> None:
        """Delete (refusing with StillInUse when a camera links to it) and raise the version."""

    def add_camera(self, camera: CameraEntry, now: datetime) -> None: ...

    def replace_camera(self, camera: CameraEntry, previous_edge: str, now: datetime) -> None: ...

    def remove_camera(self, camera_id: str, edge_id: str) -> None: ...

    def config_version(self, edge_id: str) -> int: ...


def _zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai"
    return None


class DeviceRegistry:
    """Registration of terminals and cameras, and the retained config each edge is sent."""

    def __init__(self, store: RegistryStore, models: list[TerminalModel]) -> None:
        self.store = store
        self.models = {model.name: model for model in models}
        # Called after every stored change, whoever made it (API or page): the composition root
        # points it at the edge config publisher, so no caller can forget to publish.
        self.on_change: Callable[[], None] = lambda: None

    # ------------------------------------------------------------ checks

    def _edge_problem(self, edge_id: str) -> Problem | None:
        state = self.store.edge_state(edge_id)
        if state is None:
            return "unknown_edge", f"no edge {edge_id!r} is registered: register the edge first"
        if state == "revoked":
            return "edge_revoked", f"edge {edge_id!r} was revoked: choose an edge that may connect"
        return None

    def _check_terminal(
        self, entry: TerminalEntry, *, new: bool
    ) -> tuple[dict[str, Problem], TerminalModel | None]:
        problems: dict[str, Problem] = {}
        if new and not SERIAL_PATTERN.fullmatch(entry.serial):
            problems["serial"] = (
                "serial_form",
                f"serial number {entry.serial!r} is not in the right form: {SERIAL_RULE}",
            )
        model = self.models.get(entry.model)
        if model is None:
            known = ", ".join(sorted(self.models)) or "none"
            problems["model"] = "unknown_model", f"no firmware config {entry.model!r} (known: {known})"
        if not self.store.site_exists(entry.site_id):
            problems["site_id"] = (
                "unknown_site",
                f"no site {entry.site_id!r}: define the site first (PUT /api/v1/sites/{{site}})",
            )
        if (edge := self._edge_problem(entry.edge_id)) is not None:
            problems["edge_id"] = edge
        if (zone := _zone_problem(entry.timezone)) is not None:
            problems["timezone"] = "unknown_zone", zone
        if model is not None and model.connection == "push":
            if entry.host:
                problems["host"] = (
                    "host_for_push",
                    f"{entry.model} is push-only (ADMS): leave the host empty, the terminal uploads to its edge",
                )
        elif model is not None:
            if not entry.host:
                problems["host"] = (
                    "host_needed",
                    f"{entry.model} is polled over the network: give its IP address or host name",
                )
            elif not re.fullmatch(r"[A-Za-z0-9.:_-]{1,255}", entry.host):
                problems["host"] = "host_form", f"host {entry.host!r} is not an IP address or host name"
            if entry.transport not in model.pull_transports:
                spoken = " or ".join(model.pull_transports)
                problems["transport"] = (
                    "transport",
                    f"{entry.model} does not speak {entry.transport!r}: use {spoken}",
                )
        if not 1 <= entry.port <= 65535:
            problems["port"] = "port", f"port {entry.port} is not between 1 and 65535"
        if not 0 <= entry.comm_key <= 999999:
            problems["comm_key"] = "comm_key", f"comm key {entry.comm_key} is not between 0 and 999999"
        return problems, model

    def _terminal(self, entry: TerminalEntry, now: datetime, *, new: bool) -> RegisteredTerminal:
        problems, model = self._check_terminal(entry, new=new)
        if problems or model is None:
            raise RegistrationRefused(problems)
        push = model.connection == "push"
        return RegisteredTerminal(
            serial=entry.serial,
            model=entry.model,
            connection=model.connection,
            site_id=entry.site_id,
            edge_id=entry.edge_id,
            host=None if push else entry.host,
            port=entry.port,
            transport="tcp" if push else entry.transport,
            comm_key=entry.comm_key,
            timezone=entry.timezone,
            registered_at=now,
            updated_at=now,
        )

    # ------------------------------------------------------------ terminals

    def register_terminal(self, entry: TerminalEntry, now: datetime) -> RegisteredTerminal:
        terminal = self._terminal(entry, now, new=True)
        if self.store.terminal(entry.serial) is not None:
            raise AlreadyRegistered({"serial": ("serial_taken", self._registered_already(entry.serial))})
        self.store.add_terminal(terminal)  # AlreadyRegistered too if another request won the race
        self.on_change()
        return terminal

    def _registered_already(self, serial: str) -> str:
        existing = self.store.terminal(serial)
        where = f" (to edge {existing.edge_id}, site {existing.site_id})" if existing else ""
        return f"terminal {serial} is already registered{where}: change or delete that registration instead"

    def update_terminal(self, entry: TerminalEntry, now: datetime) -> RegisteredTerminal:
        current = self._existing_terminal(entry.serial)
        terminal = replace(self._terminal(entry, now, new=False), registered_at=current.registered_at)
        self.store.replace_terminal(terminal, current.edge_id)
        self.on_change()
        return terminal

    def delete_terminal(self, serial: str) -> RegisteredTerminal:
        current = self._existing_terminal(serial)
        self.store.remove_terminal(serial, current.edge_id)
        self.on_change()
        return current

    def _existing_terminal(self, serial: str) -> RegisteredTerminal:
        current = self.store.terminal(serial)
        if current is None:
            raise NotRegistered({"serial": ("not_registered", f"no terminal {serial!r} is registered")})
        return current

    # ------------------------------------------------------------ cameras

    def _check_camera(self, entry: CameraEntry, *, new: bool) -> None:
        problems: dict[str, Problem] = {}
        if new:
            try:
                check_id(entry.camera_id, "camera id")
            except TopicError as exc:
                problems["camera_id"] = "camera_id_form", str(exc)
        if not _CAMERA_SOURCE.fullmatch(entry.source.strip()):
            problems["source"] = (
                "source_form",
                f"{entry.source!r} is neither a stream URL (rtsp://, http://, https://), a video file on the edge"
                " (file:///path) nor a device index (0, 1, ...)",
            )
        if self.store.terminal(entry.linked_terminal) is None:
            problems["linked_terminal"] = (
                "unknown_terminal",
                f"no terminal {entry.linked_terminal!r} is registered: register it first",
            )
        if (edge := self._edge_problem(entry.edge_id)) is not None:
            problems["edge_id"] = edge
        if problems:
            raise RegistrationRefused(problems)

    def register_camera(self, entry: CameraEntry, now: datetime) -> RegisteredCamera:
        entry = replace(entry, source=entry.source.strip())
        self._check_camera(entry, new=True)
        if (existing := self.store.camera(entry.camera_id)) is not None:
            raise AlreadyRegistered(
                {
                    "camera_id": (
                        "camera_taken",
                        f"camera {entry.camera_id} is already registered (to edge {existing.edge_id})",
                    )
                }
            )
        self.store.add_camera(entry, now)
        self.on_change()
        return self._existing_camera(entry.camera_id)

    def update_camera(self, entry: CameraEntry, now: datetime) -> RegisteredCamera:
        current = self._existing_camera(entry.camera_id)
        entry = replace(entry, source=entry.source.strip())
        self._check_camera(entry, new=False)
        self.store.replace_camera(entry, current.edge_id, now)
        self.on_change()
        return self._existing_camera(entry.camera_id)

    def delete_camera(self, camera_id: str) -> RegisteredCamera:
        current = self._existing_camera(camera_id)
        self.store.remove_camera(camera_id, current.edge_id)
        self.on_change()
        return current

    def _existing_camera(self, camera_id: str) -> RegisteredCamera:
        current = self.store.camera(camera_id)
        if current is None:
            raise NotRegistered({"camera_id": ("not_registered", f"no camera {camera_id!r} is registered")})
        return current

    # ------------------------------------------------------------ the edges' config

    def edge_config(self, edge_id: str, now: datetime) -> EdgeConfig:
        """What ``edge_id`` is sent (its whole registered configuration at the current version)."""
        return EdgeConfig(
            edge_id=edge_id,
            version=max(self.store.config_version(edge_id), 1),
            terminals=[
                ConfiguredTerminal(
                    serial=t.serial,
                    profile=t.model,
                    site_id=t.site_id,
                    timezone=t.timezone,
                    connection=t.connection,
                    host=t.host,
                    port=t.port,
                    transport="udp" if t.transport == "udp" else "tcp",
                    comm_key=t.comm_key,
                )
                for t in self.store.terminals(edge_id)
            ],
            cameras=[
                ConfiguredCamera(
                    camera_id=c.camera_id,
                    source=c.source,
                    linked_terminal=c.linked_terminal,
                    site_id=c.site_id,
                )
                for c in self.store.cameras(edge_id)
            ],
            published_at=now,
        )
