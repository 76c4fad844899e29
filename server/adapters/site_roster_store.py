"""What pushing a site's staff to its terminals reads: the site's terminals with the edge each
one last reported through, and the site's staff with their terminal user ids (PINs)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Engine, select

from server.adapters import tables
from server.adapters import tables_attendance as t
from server.services.terminal_sync import SiteStaffMember, SiteTerminal


class SqlSiteRoster:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def site_exists(self, site_id: str) -> bool:
        with self.engine.connect() as c:
            return (
                c.execute(select(t.sites.c.site_id).where(t.sites.c.site_id == site_id)).first() is not None
            )

    def site_of(self, serial: str) -> str | None:
        query = select(t.site_devices.c.site_id).where(t.site_devices.c.device_id == serial)
        with self.engine.connect() as c:
            row = c.execute(query).first()
        return None if row is None else str(row[0])

    def site_terminals(self, site_id: str) -> list[SiteTerminal]:
        query = (
            select(t.site_devices.c.device_id, tables.devices.c.edge_id)
            .select_from(
                t.site_devices.outerjoin(
                    tables.devices, tables.devices.c.device_id == t.site_devices.c.device_id
                )
            )
            .where(t.site_devices.c.site_id == site_id, t.site_devices.c.kind == "terminal")
            .order_by(t.site_devices.c.device_id)
        )
        with self.engine.connect() as c:
            return [SiteTerminal(serial, edge_id) for serial, edge_id in c.execute(query)]

    def site_staff(self, site_id: str) -> list[SiteStaffMember]:
        people = select(t.staff.c.staff_id, t.staff.c.name, t.staff.c.active).where(
            t.staff.c.site_id == site_id
        )
        pins = (
            select(t.staff_terminal_ids.c.staff_id, t.staff_terminal_ids.c.user_id)
            .join(t.staff, t.staff.c.staff_id == t.staff_terminal_ids.c.staff_id)
            .where(t.staff.c.site_id == site_id)
        )
        with self.engine.connect() as c:
            rows = c.execute(people.order_by(t.staff.c.staff_id)).all()
            by_staff: dict[str, list[str]] = defaultdict(list)
            for staff_id, user_id in c.execute(pins):
                by_staff[staff_id].append(user_id)
        return [
            SiteStaffMember(staff_id, name, bool(active), sorted(by_staff[staff_id]))
            for staff_id, name, active in rows
        ]
