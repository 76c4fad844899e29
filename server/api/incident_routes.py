"""Incidents under the six prohibitions and efficiency warnings under /api/v1.

Whoever decides, explains or appeals is named in the request body (``decided_by``, ``by``), and
every step is recorded with who, when and why; the signed-in user who sent it is in the audit log
(docs/security.md), and the access policy says which roles may send it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.adapters.incident_store import IncidentQuery
from server.api.attendance_deps import Services, refusals
from server.api.incident_schemas import (
    AttachmentCreated,
    IncidentListOut,
    IncidentOut,
    ProhibitionOut,
    WarningOut,
)
from server.domain.incidents import PROHIBITION_TEXT, IncidentAction, IncidentState, Prohibition
from server.services.incidents import MAX_ATTACHMENT_BYTES, NewAttachment
from server.services.working_time_models import Id

incident_router = APIRouter(prefix="/api/v1", tags=["incidents and warnings"])

Person = Annotated[str, Field(min_length=1, max_length=255)]
Reason = Annotated[str, Field(min_length=1, max_length=5000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_In):
    """An incident reported by an inspector (明察暗访), under any of the six prohibitions."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "staff_id": "s-0007",
                    "prohibition": "P2",
                    "summary": "playing a computer game at the service window at 10:20",
                    "occurred_at": "2025-06-12T10:20:00+08:00",
                    "reported_by": "inspector-wang",
                    "evidence": {"place": "window 3"},
                }
            ]
        },
    )

    staff_id: Id
    prohibition: Prohibition = Field(description="P1..P6 (六个不准)")
    summary: Reason
    occurred_at: AwareDatetime
    reported_by: Person
    evidence: dict[str, Any] = Field(default_factory=dict)


class DecisionIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action": "confirm", "decided_by": "hr-li", "reason": "camera snapshot clear"}]
        },
    )

    action: Literal["review", "confirm", "dismiss"]
    decided_by: Person = Field(description="who decides (recorded; the signed-in sender is in the audit log)")
    reason: Reason


class StatementIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"by": "s-0007", "text": "I was at the archive on duty"}]},
    )

    by: Person = Field(description="who writes it: the staff member, or someone for them")
    text: Reason


class WarningIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"incident_id": "…", "issued_by": "discipline-office", "reason": "P1 confirmed"}]
        },
    )

    incident_id: str
    issued_by: Person
    reason: Reason


class WithdrawalIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"withdrawn_by": "discipline-office", "reason": "appeal upheld"}]},
    )

    withdrawn_by: Person
    reason: Reason


@incident_router.get("/prohibitions")
def list_prohibitions() -> list[ProhibitionOut]:
    """The six prohibitions (六个不准) and their codes."""
    return [ProhibitionOut(code=code.value, text=text) for code, text in PROHIBITION_TEXT.items()]


@incident_router.post("/incidents", status_code=status.HTTP_201_CREATED)
def report_incident(body: IncidentIn, services: Services) -> IncidentOut:
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        incident_id = services.incidents.report(body.model_dump())
    return IncidentOut.model_validate(services.incidents.store.incident(incident_id))


@incident_router.get("/incidents")
def list_incidents(
    services: Services,
    prohibition: Prohibition | None = None,
    state: IncidentState | None = None,
    department: str | None = None,
    staff: str | None = None,
    source: Annotated[Literal["rule", "inspector"] | None, Query()] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # the databases' largest OFFSET
) -> IncidentListOut:
    """Incidents, newest first, filtered by prohibition, state, department, person, source and time."""
    items, total = services.incidents.store.incidents(
        IncidentQuery(
            prohibition=prohibition.value if prohibition else None,
            state=state.value if state else None,
            department_id=department,
            staff_id=staff,
            source=source,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    )
    return IncidentListOut.model_validate({"items": items, "total": total, "limit": limit, "offset": offset})


@incident_router.get("/incidents/{incident_id}")
def get_incident(incident_id: str, services: Services) -> IncidentOut:
    """One incident with its evidence, its full history (who, when, why) and its attachments."""
    with refusals():
        return IncidentOut.model_validate(services.incidents.store.incident(incident_id))


@incident_router.post("/incidents/{incident_id}/decision")
def decide_incident(incident_id: str, body: DecisionIn, services: Services) -> IncidentOut:
    """reported → under_review (review) → confirmed or dismissed."""
    with refusals():
        incident = services.incidents.act(
            incident_id, IncidentAction(body.action), body.decided_by, body.reason
        )
    return IncidentOut.model_validate(incident)


@incident_router.post("/incidents/{incident_id}/explanation")
def explain_incident(incident_id: str, body: StatementIn, services: Services) -> IncidentOut:
    """The staff member's explanation; recorded in the history, the state stays."""
    with refusals():
        incident = services.incidents.act(incident_id, IncidentAction.EXPLAIN, body.by, body.text)
    return IncidentOut.model_validate(incident)


@incident_router.post("/incidents/{incident_id}/appeal")
def appeal_incident(incident_id: str, body: StatementIn, services: Services) -> IncidentOut:
    """An appeal against a confirmed incident puts it back under review."""
    with refusals():
        incident = services.incidents.act(incident_id, IncidentAction.APPEAL, body.by, body.text)
    return IncidentOut.model_validate(incident)


@incident_router.post("/incidents/{incident_id}/attachments", status_code=status.HTTP_201_CREATED)
async def attach(
    incident_id: str,
    services: Services,
    file: Annotated[UploadFile, File(description="a photo, a document, a recording")],
    uploaded_by: Annotated[str, Form(min_length=1, max_length=255)],
) -> AttachmentCreated:
    content = await file.read(MAX_ATTACHMENT_BYTES + 1)
    new = NewAttachment(
        file.filename or "attachment", file.content_type or "application/octet-stream", content
    )
    with refusals():
        attachment_id = services.incidents.attach(incident_id, new, uploaded_by)
    return AttachmentCreated(attachment_id=attachment_id, size=len(content))


@incident_router.get(
    "/incidents/{incident_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "description": "the file as uploaded, with its content type",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def get_attachment(incident_id: str, attachment_id: str, services: Services) -> Response:
    with refusals():
        row = services.incidents.store.attachment(incident_id, attachment_id)
    return Response(
        row["content"],
        media_type=row["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{row["filename"]}"'},
    )


@incident_router.post("/warnings", status_code=status.HTTP_201_CREATED)
def issue_warning(body: WarningIn, services: Services) -> WarningOut:
    """An efficiency warning (效能告诫) for a confirmed incident; every second staff warning of a
    department in a year gives its head one automatically."""
    with refusals(status.HTTP_422_UNPROCESSABLE_CONTENT):
        return WarningOut.model_validate(
            services.warnings.issue(body.incident_id, body.issued_by, body.reason)
        )


@incident_router.post("/warnings/{warning_id}/withdrawal")
def withdraw_warning(warning_id: str, body: WithdrawalIn, services: Services) -> WarningOut:
    """Withdraw a staff warning; a head's warning it caused goes too if the count no longer reaches it."""
    with refusals():
        return WarningOut.model_validate(
            services.warnings.withdraw(warning_id, body.withdrawn_by, body.reason)
        )


@incident_router.get("/warnings")
def list_warnings(
    services: Services,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    staff: str | None = None,
    department: str | None = None,
) -> list[WarningOut]:
    """Warnings in issue order; a head's escalation shows ``kind: escalation`` and ``caused_by``."""
    return [WarningOut.model_validate(w) for w in services.incidents.store.warnings(year, staff, department)]
