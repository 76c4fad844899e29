"""Database side of incidents (with their decision log and attachments) and efficiency warnings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from server.adapters import tables_attendance as t
from server.adapters.attendance_store import NotFoundError


@dataclass(frozen=True)
class IncidentQuery:
    prohibition: str | None = None
    state: str | None = None
    department_id: str | None = None
    staff_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    limit: int = 100
    offset: int = 0


class IncidentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ incidents
    def staff_department(self, connection: Connection, staff_id: str) -> str:
        row = connection.execute(
            select(t.staff.c.department_id).where(t.staff.c.staff_id == staff_id)
        ).first()
        if row is None:
            raise NotFoundError(f"staff_id: no such staff member {staff_id!r}")
        return str(row.department_id)

    def insert_incidents(
        self, connection: Connection, rows: list[dict[str, Any]], actor_events: list[dict[str, Any]]
    ) -> None:
        if rows:
            connection.execute(insert(t.incidents), rows)
        if actor_events:
            connection.execute(insert(t.incident_events), actor_events)

    def incident(self, incident_id: str, connection: Connection | None = None) -> dict[str, Any]:
        def load(c: Connection) -> dict[str, Any]:
            row = (
                c.execute(select(t.incidents).where(t.incidents.c.incident_id == incident_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(f"incident_id: no such incident {incident_id!r}")
            result = dict(row)
            events = c.execute(
                select(t.incident_events)
                .where(t.incident_events.c.incident_id == incident_id)
                .order_by(t.incident_events.c.id)
            ).mappings()
            result["history"] = [
                {k: v for k, v in e.items() if k not in ("id", "incident_id")} for e in events
            ]
            attachments = c.execute(
                select(
                    t.incident_attachments.c.attachment_id,
                    t.incident_attachments.c.filename,
                    t.incident_attachments.c.content_type,
                    t.incident_attachments.c.uploaded_by,
                    t.incident_attachments.c.uploaded_at,
                    func.length(t.incident_attachments.c.content).label("size"),
                )
                .where(t.incident_attachments.c.incident_id == incident_id)
                .order_by(t.incident_attachments.c.uploaded_at, t.incident_attachments.c.attachment_id)
            ).mappings()
            result["attachments"] = [dict(a) for a in attachments]
            return result

        if connection is not None:
            return load(connection)
        with self.engine.connect() as c:
            return load(c)

    def incidents(self, query: IncidentQuery) -> tuple[list[dict[str, Any]], int]:
        i = t.incidents
        statement = select(i)
        for column, value in (
            (i.c.prohibition, query.prohibition),
            (i.c.state, query.state),
            (i.c.department_id, query.department_id),
            (i.c.staff_id, query.staff_id),
            (i.c.source, query.source),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if query.since is not None:
            statement = statement.where(i.c.occurred_at >= query.since)
        if query.until is not None:
            statement = statement.where(i.c.occurred_at < query.until)
        count = select(func.count()).select_from(statement.subquery())
        statement = (
            statement.order_by(i.c.occurred_at.desc(), i.c.incident_id)
            .limit(query.limit)
            .offset(query.offset)
        )
        with self.engine.connect() as c:
            total = int(c.execute(count).scalar_one())
            return [dict(r) for r in c.execute(statement).mappings()], total

    def set_state(
        self, c: Connection, incident_id: str, state: str, now: datetime, event: dict[str, Any]
    ) -> None:
        c.execute(
            update(t.incidents)
            .where(t.incidents.c.incident_id == incident_id)
            .values(state=state, updated_at=now)
        )
        c.execute(insert(t.incident_events).values(incident_id=incident_id, at=now, to_state=state, **event))

    def detected_in(self, c: Connection, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
        """Incidents raised by rules for findings in [since, until), by detection key."""
        i = t.incidents
        rows = c.execute(
            select(i.c.incident_id, i.c.detection_key, i.c.state, i.c.staff_id).where(
                i.c.detection_key.is_not(None), i.c.occurred_at >= since, i.c.occurred_at < until
            )
        ).mappings()
        return {r["detection_key"]: dict(r) for r in rows}

    def detected_by_keys(self, c: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Incidents raised by rules under these detection keys, wherever their day lies."""
        i = t.incidents
        found: dict[str, dict[str, Any]] = {}
        for chunk in range(0, len(keys), 500):
            rows = c.execute(
                select(i.c.incident_id, i.c.detection_key, i.c.state, i.c.staff_id).where(
                    i.c.detection_key.in_(keys[chunk : chunk + 500])
                )
            ).mappings()
            found |= {r["detection_key"]: dict(r) for r in rows}
        return found

    def add_attachment(self, row: dict[str, Any], connection: Connection | None = None) -> None:
        """Store an attachment of an existing incident (in ``connection``'s transaction if given)."""
        if connection is not None:
            self.incident(row["incident_id"], connection)
            connection.execute(insert(t.incident_attachments).values(**row))
            return
        with self.engine.begin() as c:
            self.add_attachment(row, c)

    def attachment(self, incident_id: str, attachment_id: str) -> dict[str, Any]:
        a = t.incident_attachments
        with self.engine.connect() as c:
            row = (
                c.execute(select(a).where(a.c.incident_id == incident_id, a.c.attachment_id == attachment_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"attachment_id: no such attachment {attachment_id!r} on incident {incident_id!r}"
            )
        return dict(row)

    # ------------------------------------------------------------------ warnings
    def warnings(
        self, year: int | None, staff_id: str | None, department_id: str | None, c: Connection | None = None
    ) -> list[dict[str, Any]]:
        w = t.efficiency_warnings
        statement = select(w).order_by(w.c.issued_at, w.c.warning_id)
        for column, value in ((w.c.year, year), (w.c.staff_id, staff_id), (w.c.department_id, department_id)):
            if value is not None:
                statement = statement.where(column == value)
        if c is not None:
            return [dict(r) for r in c.execute(statement).mappings()]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(statement).mappings()]

    def warning(self, c: Connection, warning_id: str) -> dict[str, Any]:
        row = (
            c.execute(select(t.efficiency_warnings).where(t.efficiency_warnings.c.warning_id == warning_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"warning_id: no such warning {warning_id!r}")
        return dict(row)

    def standing_warning_for(self, c: Connection, incident_id: str) -> str | None:
        """The id of the incident's warning that is not withdrawn, if any."""
        w = t.efficiency_warnings
        row = c.execute(
            select(w.c.warning_id).where(w.c.incident_id == incident_id, w.c.withdrawn_at.is_(None))
        ).first()
        return None if row is None else str(row.warning_id)

    def insert_warning(self, c: Connection, row: dict[str, Any]) -> None:
        c.execute(insert(t.efficiency_warnings).values(**row))

    def update_warning(self, c: Connection, warning_id: str, **values: Any) -> None:
        c.execute(
            update(t.efficiency_warnings)
            .where(t.efficiency_warnings.c.warning_id == warning_id)
            .values(**values)
        )

    def head_of(self, c: Connection, department_id: str) -> str | None:
        row = c.execute(
            select(t.departments.c.head_staff_id).where(t.departments.c.department_id == department_id)
        ).first()
        return None if row is None else row.head_staff_id
