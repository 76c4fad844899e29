"""Queries behind the read API: plain rows as dictionaries, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select

from server.adapters import tables


@dataclass(frozen=True)
class PunchQuery:
    """Filters of the punch list; ``since`` is inclusive and ``until`` exclusive."""

    user_id: str | None = None
    device_serial: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class Page:
    """One page of rows and how many rows match in all."""

    items: list[dict[str, Any]]
    total: int


class ReadStore:
    """Read-only access to what ingest stored."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _page(self, query: Select[Any], limit: int, offset: int) -> Page:
        count = select(func.count()).select_from(query.order_by(None).subquery())
        with self._engine.connect() as connection:
            total = connection.execute(count).scalar_one()
            rows = connection.execute(query.limit(limit).offset(offset)).mappings().all()
        return Page([dict(row) for row in rows], int(total))

    def punches(self, query: PunchQuery) -> Page:
        punches = tables.punches
        statement = select(punches)
        if query.user_id is not None:
            statement = statement.where(punches.c.user_id == query.user_id)
        if query.device_serial is not None:
            statement = statement.where(punches.c.device_serial == query.device_serial)
        if query.since is not None:
            statement = statement.where(punches.c.occurred_at >= query.since)
        if query.until is not None:
            statement = statement.where(punches.c.occurred_at < query.until)
        statement = statement.order_by(punches.c.occurred_at.desc(), punches.c.event_id)
        return self._page(statement, query.limit, query.offset)

    def devices(self) -> list[dict[str, Any]]:
        statement = select(tables.devices).order_by(tables.devices.c.device_id)
        with self._engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def edges(self) -> list[dict[str, Any]]:
        statement = select(tables.edges).order_by(tables.edges.c.edge_id)
        with self._engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    def dead_letters(self, limit: int, offset: int) -> Page:
        letters = tables.dead_letters
        statement = select(letters).order_by(letters.c.received_at.desc(), letters.c.id.desc())
        return self._page(statement, limit, offset)
