"""Evidence files shown from the pages: an incident's attachments and the face check-in snapshots
its evidence names. Their routes are ``biometric_view`` in the access policy, so every view is in
the audit log exactly as on the API."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import Response

from server.adapters.attendance_store import NotFoundError

# Shown in the browser (an <img>); anything else is offered as a download.
_INLINE = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def attachment_response(request: Request, incident_id: str, attachment_id: str) -> Response:
    try:
        row = request.app.state.attendance.incidents.store.attachment(incident_id, attachment_id)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    disposition = "inline" if row["content_type"] in _INLINE else "attachment"
    filename = str(row["filename"]).replace('"', "")
    return Response(
        row["content"],
        media_type=row["content_type"],
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def snapshot_response(request: Request, incident_id: str, event_id: str) -> Response:
    """Only a snapshot the incident's evidence names: the incident is what gives the right to see it."""
    try:
        incident = request.app.state.attendance.incidents.store.incident(incident_id)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if event_id not in [str(f) for f in (incident["evidence"] or {}).get("faces", [])]:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"event_id: {event_id!r} is not in this incident's evidence"
        )
    jpeg = request.app.state.faces.store.snapshot(event_id)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"event_id: no snapshot of {event_id} (purged)")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
