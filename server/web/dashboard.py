"""The dashboard of today and its live feed of check-ins (server-sent events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from server.web.i18n import Translator
from server.web.live_feed import FeedCursor, check_in_stream, latest_cursor
from server.web.rendering import local_time, office_zone, page_router, render, today_in_office, translator
from server.web.today import attendance_today, devices_needing_attention, recent_check_ins, staff_names

dashboard_router = page_router()

RECENT = 20  # check-ins shown when the page opens; the feed adds new ones above


@dashboard_router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    services = request.app.state.attendance
    context = request.app.state.kaoqin
    day = today_in_office(request, services.engine.clock())
    today = await run_in_threadpool(attendance_today, services, context.engine, day)
    devices = await run_in_threadpool(context.read_store.devices)
    recent = await run_in_threadpool(recent_check_ins, context.engine, RECENT)
    describe = await _describer(request)
    return render(
        request,
        "dashboard.html",
        {
            "today": today,
            "attention": devices_needing_attention(devices, datetime.now(UTC)),
            "recent": [describe(row) for row in reversed(recent)],
            "feed_after": (
                FeedCursor(recent[-1]["stored_at"], recent[-1]["event_id"]).encode()
                if recent
                else (await run_in_threadpool(latest_cursor, context.engine)).encode()
            ),
        },
    )


async def _describer(request: Request) -> Any:
    """Turns a feed row into what the page shows: local time, the person's name, the device."""
    services = request.app.state.attendance
    names, by_pin = await run_in_threadpool(staff_names, services)
    zone = office_zone(request)
    t: Translator = translator(request)

    def describe(row: dict[str, Any]) -> dict[str, Any]:
        staff_id = by_pin.get(row["who"]) if row["kind"] == "punch" else row["who"]
        who = names.get(staff_id or "", "") or (row["who"] if row["kind"] == "punch" else "")
        return {
            "time": local_time(row["occurred_at"], zone, "%H:%M:%S"),
            "date": local_time(row["occurred_at"], zone, "%Y-%m-%d"),
            "who": who or t("feed.unknown_person"),
            "staff_id": staff_id or "",
            "device": row["device"],
            "kind": t(f"feed.kind.{row['kind']}"),
            "how": row["how"],
        }

    return describe


@dashboard_router.get("/live/checkins")
async def live_check_ins(request: Request) -> Response:
    """``text/event-stream`` of ``checkin`` events after ``Last-Event-ID`` (a reconnect) or
    ``?after=`` (the cursor the page was rendered with), else after the newest stored."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise HTTPException(
            status.HTTP_406_NOT_ACCEPTABLE, "this is an event stream: Accept text/event-stream"
        )
    engine = request.app.state.kaoqin.engine
    cursor = FeedCursor.parse(request.headers.get("last-event-id")) or FeedCursor.parse(
        request.query_params.get("after")
    )
    if cursor is None:
        cursor = await run_in_threadpool(latest_cursor, engine)
    describe = await _describer(request)
    return StreamingResponse(
        check_in_stream(request, engine, cursor, describe),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
