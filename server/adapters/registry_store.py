"""The registry tables behind :class:`server.services.device_registry.RegistryStore`.

Each change and the raise of its edge's config version are one transaction (``engine.begin()``):
a registration that fails part-way leaves neither the row nor a version nobody will publish. The
same transaction places the device at its site (``site_devices``, the attendance engine's list of
what a site's day waits for): a registered terminal or camera stands at its site until deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters import tables_attendance as attendance
from server.adapters.tables_edge_credentials import edge_credentials
from server.adapters.tables_registry import registered_cameras, registered_terminals, registry_edges
from server.services.device_registry import (
    AlreadyRegistered,
    CameraEntry,
    RegisteredCamera,
    RegisteredTerminal,
    RegistrationRefused,
    StillInUse,
)

_T, _C, _E = registered_terminals, registered_cameras, registry_edges


def _terminal(row: Any) -> RegisteredTerminal:
    return RegisteredTerminal(
        **{name: getattr(row, name) for name in RegisteredTerminal.__dataclass_fields__}
    )


def _camera_query() -> Any:
    return select(*_C.c, _T.c.site_id).join(_T, _T.c.serial == _C.c.linked_terminal)


def _camera(row: Any) -> RegisteredCamera:
    return RegisteredCamera(**{name: getattr(row, name) for name in RegisteredCamera.__dataclass_fields__})


def _raise_version(c: Connection, *edge_ids: str) -> None:
    for edge_id in dict.fromkeys(edge_ids):
        changed = c.execute(update(_E).where(_E.c.edge_id == edge_id).values(version=_E.c.version + 1))
        if changed.rowcount == 0:
            c.execute(insert(_E).values(edge_id=edge_id, version=1, published_version=0))


def _place(
    c: Connection, device_id: str, site_id: str, kind: str, linked_terminal: str | None = None
) -> None:
    """Stand ``device_id`` at ``site_id`` in the attendance engine's device list (wherever it stood)."""
    sd = attendance.site_devices
    c.execute(delete(sd).where(sd.c.device_id == device_id))
    c.execute(
        insert(sd).values(device_id=device_id, site_id=site_id, kind=kind, linked_terminal=linked_terminal)
    )


def _place_camera(c: Connection, camera: CameraEntry) -> None:
    site_id = c.execute(select(_T.c.site_id).where(_T.c.serial == camera.linked_terminal)).scalar()
    if site_id is None:  # the terminal was deleted meanwhile: the insert's foreign key refuses too
        raise IntegrityError("linked terminal gone", None, Exception(camera.linked_terminal))
    _place(c, camera.camera_id, site_id, "camera", camera.linked_terminal)


def _unplace(c: Connection, device_id: str) -> None:
    c.execute(delete(attendance.site_devices).where(attendance.site_devices.c.device_id == device_id))


class SqlRegistryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ reads

    def edge_state(self, edge_id: str) -> Literal["active", "revoked"] | None:
        query = select(edge_credentials.c.revoked_at).where(edge_credentials.c.edge_id == edge_id)
        with self.engine.connect() as c:
            row = c.execute(query).first()
        if row is None:
            return None
        return "active" if row.revoked_at is None else "revoked"

    def active_edges(self) -> list[str]:
        query = select(edge_credentials.c.edge_id).where(edge_credentials.c.revoked_at.is_(None))
        with self.engine.connect() as c:
            return [row.edge_id for row in c.execute(query.order_by(edge_credentials.c.edge_id))]

    def site_exists(self, site_id: str) -> bool:
        query = select(attendance.sites.c.site_id).where(attendance.sites.c.site_id == site_id)
        with self.engine.connect() as c:
            return c.execute(query).first() is not None

    def sites(self) -> list[tuple[str, str]]:
        with self.engine.connect() as c:
            query = select(attendance.sites.c.site_id, attendance.sites.c.name)
            return [(row.site_id, row.name) for row in c.execute(query.order_by(attendance.sites.c.site_id))]

    def terminal(self, serial: str) -> RegisteredTerminal | None:
        with self.engine.connect() as c:
            row = c.execute(select(_T).where(_T.c.serial == serial)).first()
        return _terminal(row) if row is not None else None

    def terminals(self, edge_id: str | None = None) -> list[RegisteredTerminal]:
        query = select(_T).order_by(_T.c.serial)
        if edge_id is not None:
            query = query.where(_T.c.edge_id == edge_id)
        with self.engine.connect() as c:
            return [_terminal(row) for row in c.execute(query)]

    def camera(self, camera_id: str) -> RegisteredCamera | None:
        with self.engine.connect() as c:
            row = c.execute(_camera_query().where(_C.c.camera_id == camera_id)).first()
        return _camera(row) if row is not None else None

    def cameras(self, edge_id: str | None = None) -> list[RegisteredCamera]:
        query = _camera_query().order_by(_C.c.camera_id)
        if edge_id is not None:
            query = query.where(_C.c.edge_id == edge_id)
        with self.engine.connect() as c:
            return [_camera(row) for row in c.execute(query)]

    def config_version(self, edge_id: str) -> int:
        with self.engine.connect() as c:
            version = c.execute(select(_E.c.version).where(_E.c.edge_id == edge_id)).scalar()
        return int(version or 0)

    def unpublished(self) -> list[tuple[str, int]]:
        """(edge, version) of every edge whose latest config the broker has not taken yet."""
        query = select(_E.c.edge_id, _E.c.version).where(_E.c.version > _E.c.published_version)
        with self.engine.connect() as c:
            return [(row.edge_id, row.version) for row in c.execute(query.order_by(_E.c.edge_id))]

    def configured_edges(self) -> list[str]:
        with self.engine.connect() as c:
            return [row.edge_id for row in c.execute(select(_E.c.edge_id).order_by(_E.c.edge_id))]

    def mark_published(self, edge_id: str, version: int, now: datetime) -> None:
        with self.engine.begin() as c:
            c.execute(
                update(_E)
                .where(_E.c.edge_id == edge_id, _E.c.published_version < version)
                .values(published_version=version, published_at=now)
            )

    # ------------------------------------------------------------ writes (one transaction each)

    def add_terminal(self, terminal: RegisteredTerminal) -> None:
        try:
            with self.engine.begin() as c:
                c.execute(insert(_T).values(**terminal.__dict__))
                _place(c, terminal.serial, terminal.site_id, "terminal")
                _raise_version(c, terminal.edge_id)
        except IntegrityError:
            if self.terminal(terminal.serial) is not None:
                raise AlreadyRegistered(
                    {
                        "serial": (
                            "serial_taken",
                            f"terminal {terminal.serial} is already registered: change or delete it instead",
                        )
                    }
                ) from None
            raise RegistrationRefused(
                {
                    "edge_id": (
                        "unknown_edge",
                        "the edge or the site was removed meanwhile: reload and choose again",
                    )
                }
            ) from None

    def replace_terminal(self, terminal: RegisteredTerminal, previous_edge: str) -> None:
        values = {k: v for k, v in terminal.__dict__.items() if k not in ("serial", "registered_at")}
        with self.engine.begin() as c:
            c.execute(update(_T).where(_T.c.serial == terminal.serial).values(**values))
            _place(c, terminal.serial, terminal.site_id, "terminal")
            # Its cameras stand where it stands (a camera's site is its linked terminal's).
            linked = select(_C.c.camera_id).where(_C.c.linked_terminal == terminal.serial)
            for camera_id in c.execute(linked).scalars().all():
                _place(c, camera_id, terminal.site_id, "camera", terminal.serial)
            _raise_version(c, previous_edge, terminal.edge_id)

    def remove_terminal(self, serial: str, edge_id: str) -> None:
        with self.engine.begin() as c:
            linked = c.execute(select(_C.c.camera_id).where(_C.c.linked_terminal == serial)).scalars().all()
            if linked:
                raise StillInUse(
                    {
                        "serial": (
                            "cameras_linked",
                            f"cameras {', '.join(linked)} are linked to terminal {serial}: delete them first",
                        )
                    }
                )
            c.execute(delete(_T).where(_T.c.serial == serial))
            _unplace(c, serial)
            _raise_version(c, edge_id)

    def add_camera(self, camera: CameraEntry, now: datetime) -> None:
        try:
            with self.engine.begin() as c:
                c.execute(insert(_C).values(**camera.__dict__, registered_at=now, updated_at=now))
                _place_camera(c, camera)
                _raise_version(c, camera.edge_id)
        except IntegrityError:
            if self.camera(camera.camera_id) is not None:
                raise AlreadyRegistered(
                    {"camera_id": ("camera_taken", f"camera {camera.camera_id} is already registered")}
                ) from None
            raise RegistrationRefused(
                {
                    "linked_terminal": (
                        "unknown_terminal",
                        "the terminal or the edge was removed meanwhile: reload and choose again",
                    )
                }
            ) from None

    def replace_camera(self, camera: CameraEntry, previous_edge: str, now: datetime) -> None:
        values = {k: v for k, v in camera.__dict__.items() if k != "camera_id"}
        with self.engine.begin() as c:
            c.execute(update(_C).where(_C.c.camera_id == camera.camera_id).values(**values, updated_at=now))
            _place_camera(c, camera)
            _raise_version(c, previous_edge, camera.edge_id)

    def remove_camera(self, camera_id: str, edge_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(_C).where(_C.c.camera_id == camera_id))
            _unplace(c, camera_id)
            _raise_version(c, edge_id)
