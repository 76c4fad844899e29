"""What the devices page shows: every terminal, camera and edge, registered or only reported, with
its latest status and what about it needs attention.

A device is *online* when its latest report says it was reached and that report is recent
(``SILENT_AFTER``); the problems are the dashboard's (offline, silent, clock drift, log filling,
capacity alert) plus "registered but never reported" for a registration no edge has picked up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from server.adapters import tables
from server.adapters.edge_credential_store import SqlCredentialStore
from server.adapters.registry_store import SqlRegistryStore
from server.web.today import devices_needing_attention

Problem = tuple[str, dict[str, Any]]  # (message key, values)


@dataclass
class DeviceRow:
    device_id: str
    kind: str  # terminal / camera
    registered: dict[str, Any] | None  # the registration's fields, if registered
    status: dict[str, Any] | None  # the latest `devices` row, if any edge reported it
    stored_punches: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def online(self) -> bool:
        return bool(self.status and self.status["reachable"] and "device.silent" not in self.problem_keys)

    @property
    def problem_keys(self) -> set[str]:
        return {key for key, _ in self.problems}

    @property
    def edge_id(self) -> str:
        source = self.registered or self.status or {}
        return str(source.get("edge_id", ""))

    @property
    def log_percent(self) -> int | None:
        if not self.status or self.status.get("records") is None or not self.status.get("record_capacity"):
            return None
        return int(100 * self.status["records"] / self.status["record_capacity"])


@dataclass
class EdgeRow:
    edge_id: str
    registered: bool
    revoked: bool
    state: str | None  # online / offline as the edge last said (its retained status), None: never
    status_at: datetime | None
    software_version: str | None
    devices: int  # registered to it


@dataclass
class Overview:
    terminals: list[DeviceRow]
    cameras: list[DeviceRow]
    edges: list[EdgeRow]

    @property
    def needing_attention(self) -> int:
        return sum(1 for row in self.terminals + self.cameras if row.problems)


def _punch_counts(engine: Engine) -> dict[str, int]:
    query = select(tables.punches.c.device_serial, func.count()).group_by(tables.punches.c.device_serial)
    with engine.connect() as c:
        return {serial: int(count) for serial, count in c.execute(query)}


def device_overview(engine: Engine, registry: SqlRegistryStore, now: datetime) -> Overview:
    reported = [dict(row) for row in _reported(engine)]
    problems = {
        item["device"]["device_id"]: item["problems"] for item in devices_needing_attention(reported, now)
    }
    by_id = {row["device_id"]: row for row in reported}
    counts = _punch_counts(engine)

    def row(device_id: str, kind: str, registration: dict[str, Any] | None) -> DeviceRow:
        status = by_id.get(device_id)
        found = list(problems.get(device_id, []))
        if status is None and registration is not None:
            found.append(("devices.never_reported", {}))
        return DeviceRow(device_id, kind, registration, status, counts.get(device_id, 0), found)

    terminals = {t.serial: row(t.serial, "terminal", t.__dict__) for t in registry.terminals()}
    cameras = {c.camera_id: row(c.camera_id, "camera", c.__dict__) for c in registry.cameras()}
    for status in reported:
        target = cameras if status["device_kind"] == "camera" else terminals
        if status["device_id"] not in target:
            target[status["device_id"]] = row(status["device_id"], status["device_kind"], None)
    return Overview(
        terminals=sorted(terminals.values(), key=lambda r: r.device_id),
        cameras=sorted(cameras.values(), key=lambda r: r.device_id),
        edges=_edges(engine, registry),
    )


def _reported(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(tables.devices).order_by(tables.devices.c.device_id)).mappings())


def _edges(engine: Engine, registry: SqlRegistryStore) -> list[EdgeRow]:
    credentials = {c.edge_id: c for c in SqlCredentialStore(engine).list_all()}
    with engine.connect() as c:
        statuses = {row.edge_id: row for row in c.execute(select(tables.edges))}
    registered_devices: dict[str, int] = {}
    edge_of_each = [t.edge_id for t in registry.terminals()] + [c.edge_id for c in registry.cameras()]
    for edge_id in edge_of_each:
        registered_devices[edge_id] = registered_devices.get(edge_id, 0) + 1
    rows = []
    for edge_id in sorted(credentials.keys() | statuses.keys()):
        credential, status = credentials.get(edge_id), statuses.get(edge_id)
        rows.append(
            EdgeRow(
                edge_id=edge_id,
                registered=credential is not None,
                revoked=credential is not None and credential.revoked_at is not None,
                state=status.state if status is not None else None,
                status_at=status.status_at if status is not None else None,
                software_version=status.software_version if status is not None else None,
                devices=registered_devices.get(edge_id, 0),
            )
        )
    return rows
