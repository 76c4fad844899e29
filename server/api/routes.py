"""The read API under /api/v1: punches, devices, dead letters, ingest counters, health.
(Edges, their status and credentials: server/api/edge_routes.py.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import AwareDatetime

from server.adapters.db import database_reachable
from server.adapters.read_store import PunchQuery
from server.api.dependencies import ApiContext, api_context
from server.api.schemas import (
    DeadLetterPagePublic,
    DeadLetterPublic,
    DevicePublic,
    HealthPublic,
    IngestStatsPublic,
    PunchPagePublic,
    PunchPublic,
)

router = APIRouter(prefix="/api/v1")
Context = Annotated[ApiContext, Depends(api_context)]
_AWARE_HINT = "an ISO 8601 time with its zone, e.g. 2024-05-01T08:00:00+08:00"
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
# The largest OFFSET both databases take (a signed 64-bit integer); beyond the rows it gives an empty page.
MAX_OFFSET = 2**63 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


@router.get("/punches", response_model=PunchPagePublic)
def list_punches(
    context: Context,
    staff: Annotated[str | None, Query(description="terminal user id (PIN)")] = None,
    device: Annotated[str | None, Query(description="terminal serial number")] = None,
    since: Annotated[AwareDatetime | None, Query(description=f"occurred at or after; {_AWARE_HINT}")] = None,
    until: Annotated[AwareDatetime | None, Query(description=f"occurred before; {_AWARE_HINT}")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PunchPagePublic:
    """Stored punches, newest first."""
    if since is not None and until is not None and since >= until:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"'since' ({since.isoformat()}) must be earlier than 'until' ({until.isoformat()})",
        )
    page = context.read_store.punches(
        PunchQuery(
            user_id=staff,
            device_serial=device,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    )
    return PunchPagePublic(
        items=[PunchPublic.model_validate(row) for row in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/devices", response_model=list[DevicePublic])
def list_devices(context: Context) -> list[DevicePublic]:
    """Every device an edge has reported on, with its latest status."""
    return [DevicePublic.model_validate(row) for row in context.read_store.devices()]


@router.get("/dead-letters", response_model=DeadLetterPagePublic)
def list_dead_letters(context: Context, limit: Limit = 100, offset: Offset = 0) -> DeadLetterPagePublic:
    """Messages that did not fit the contract, newest first, with the reason."""
    page = context.read_store.dead_letters(limit=limit, offset=offset)
    return DeadLetterPagePublic(
        items=[DeadLetterPublic.from_row(row) for row in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/ingest/stats", response_model=IngestStatsPublic)
def ingest_stats(context: Context) -> IngestStatsPublic:
    """What ingest has done since this process started."""
    snapshot = context.ingest_stats.snapshot()
    return IngestStatsPublic(
        events_stored=snapshot.events_stored,
        duplicates_ignored=snapshot.duplicates_ignored,
        dead_letters=snapshot.dead_letters,
        batches=snapshot.batches,
        last_batch_at=snapshot.last_batch_at,
        broker_connected=context.broker_connected(),
    )


health_router = APIRouter()


@health_router.get("/healthz", response_model=HealthPublic)
def healthz(context: Context, response: Response) -> HealthPublic:
    """200 when the database answers and the consumer is subscribed on the broker, else 503."""
    database_ok, database_error = database_reachable(context.engine)
    broker_ok = context.broker_connected()
    healthy = database_ok and broker_ok
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(
        status="ok" if healthy else "degraded",
        database=database_ok,
        database_error=database_error,
        broker=broker_ok,
        broker_url=context.broker_url,
    )
