"""The dashboard's live feed: new punches and face check-ins as server-sent events.

The generator polls the database once a second for rows stored after its cursor (stored_at, then
event id), so it sees whatever any ingest process stored, on SQLite or PostgreSQL alike. It is
bounded: at most ``BATCH`` rows per poll, a comment line as keep-alive, and each stream ends after
``STREAM_SECONDS`` (the browser's EventSource reconnects at once with ``Last-Event-ID``, so
nothing is missed and a server shutdown never waits long on an open page). It stops as soon as
the client goes away.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, literal, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from server.adapters import tables

POLL_SECONDS = 1.0
BATCH = 100
STREAM_SECONDS = 60.0
KEEPALIVE_SECONDS = 15.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedCursor:
    """Position in the feed: the last row sent, ordered by (stored_at, event_id)."""

    stored_at: datetime
    event_id: str

    @classmethod
    def start(cls) -> FeedCursor:
        return cls(_EPOCH, "")

    def encode(self) -> str:
        return f"{self.stored_at.astimezone(UTC).isoformat()}|{self.event_id}"

    @classmethod
    def parse(cls, text: str | None) -> FeedCursor | None:
        """The cursor in ``text`` (an SSE id), or None when it is absent or not one of ours."""
        if not text or "|" not in text:
            return None
        when, _, event_id = text.partition("|")
        try:
            stored_at = datetime.fromisoformat(when)
        except ValueError:
            return None
        if stored_at.tzinfo is None:
            return None
        return cls(stored_at, event_id)


def _after(table: Any, cursor: FeedCursor, newest: bool) -> Any:
    if newest:
        return literal(True)
    return or_(
        table.c.stored_at > cursor.stored_at,
        and_(table.c.stored_at == cursor.stored_at, table.c.event_id > cursor.event_id),
    )


def check_ins_after(
    engine: Engine, cursor: FeedCursor, limit: int, newest: bool = False
) -> list[dict[str, Any]]:
    """Punches and face observations stored after ``cursor``, oldest first (``newest``: the latest
    ``limit`` regardless of the cursor, newest first)."""
    p, f = tables.punches, tables.face_observations
    punches = select(
        literal("punch").label("kind"),
        p.c.event_id,
        p.c.stored_at,
        p.c.occurred_at,
        p.c.user_id.label("who"),
        p.c.device_serial.label("device"),
        p.c.verify_method.label("how"),
    ).where(_after(p, cursor, newest))
    faces = select(
        literal("face").label("kind"),
        f.c.event_id,
        f.c.stored_at,
        f.c.occurred_at,
        f.c.staff_id.label("who"),
        f.c.camera_id.label("device"),
        f.c.outcome.label("how"),
    ).where(_after(f, cursor, newest))
    rows: list[dict[str, Any]] = []
    with engine.connect() as c:
        for query, table in ((punches, p), (faces, f)):
            order = (
                (table.c.stored_at.desc(), table.c.event_id.desc())
                if newest
                else (
                    table.c.stored_at,
                    table.c.event_id,
                )
            )
            rows += [dict(r) for r in c.execute(query.order_by(*order).limit(limit)).mappings()]
    rows.sort(key=lambda r: (r["stored_at"], r["event_id"]), reverse=newest)
    return rows[:limit]


def latest_cursor(engine: Engine) -> FeedCursor:
    newest = check_ins_after(engine, FeedCursor.start(), 1, newest=True)
    return FeedCursor(newest[0]["stored_at"], newest[0]["event_id"]) if newest else FeedCursor.start()


def sse_message(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


async def check_in_stream(
    request: Request,
    engine: Engine,
    cursor: FeedCursor,
    describe: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """The SSE body: ``checkin`` events (``describe`` turns a row into what the page shows)."""
    started = last_sent = clock()
    yield "retry: 2000\n\n"
    while clock() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        rows = await run_in_threadpool(check_ins_after, engine, cursor, BATCH)
        for row in rows:
            cursor = FeedCursor(row["stored_at"], row["event_id"])
            yield sse_message("checkin", describe(row), cursor.encode())
            last_sent = clock()
        if not rows and clock() - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = clock()
        if len(rows) < BATCH:
            await asyncio.sleep(POLL_SECONDS)
