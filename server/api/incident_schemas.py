"""Response models of the incident and warning endpoints, each with an example in the OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

_INCIDENT = "5d0f3b7a-2c9e-4a61-8e4d-1f7a9c2b6e30"
_PUNCH = "6f1c2a9e-0a51-5d7c-9a53-2b1f6c4e8d10"
_FACE = "0b6e7d52-91a4-5c33-8f0e-7d2a4c1b9e55"

_ROW_EXAMPLE: dict[str, Any] = {
    "incident_id": _INCIDENT,
    "detection_key": f"P6:face_mismatch:{_PUNCH}",
    "staff_id": "s-0008",
    "department_id": "d-social",
    "prohibition": "P6",
    "state": "under_review",
    "source": "rule",
    "rule": "face_mismatch",
    "summary": "camera saw s-0007, not s-0008, at the punch",
    "occurred_at": "2025-06-10T00:02:20Z",
    "evidence": {
        "punches": [_PUNCH],
        "at": "2025-06-10T08:02:20+08:00",
        "device": "SN-GATE-1",
        "faces": [_FACE],
        "snapshots": [f"/api/v1/faces/observations/{_FACE}/snapshot"],
        "seen_staff": ["s-0007"],
        "cameras": ["cam-gate-1"],
        "thresholds": {"face_window_seconds": 30},
    },
    "confidence": 0.8,
    "reported_by": "rule:face_mismatch",
    "created_at": "2025-06-11T01:00:00Z",
    "updated_at": "2025-06-11T02:30:00Z",
}


class ProhibitionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"code": "P6", "text": "不准弄虚作假、谎报项目进度和工作业绩 (falsifying records or results)"}
            ]
        }
    )

    code: str
    text: str


class IncidentRowOut(BaseModel):
    """An incident as listed: what, who, the evidence and the current state."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ROW_EXAMPLE]})

    incident_id: str
    detection_key: str | None  # set when a rule raised it: stable for the same finding
    staff_id: str
    department_id: str
    prohibition: str
    state: str
    source: str  # rule / inspector
    rule: str | None
    summary: str
    occurred_at: datetime
    evidence: dict[str, Any]  # records, snapshot links, the rule's thresholds
    confidence: float | None
    reported_by: str
    created_at: datetime
    updated_at: datetime


class IncidentEventOut(BaseModel):
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str
    at: datetime


class AttachmentOut(BaseModel):
    attachment_id: str
    filename: str
    content_type: str
    uploaded_by: str
    uploaded_at: datetime
    size: int


class IncidentOut(IncidentRowOut):
    """One incident with its whole history (who, when, why) and its attachments."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _ROW_EXAMPLE
                | {
                    "history": [
                        {
                            "action": "detect",
                            "from_state": None,
                            "to_state": "reported",
                            "actor": "rule:face_mismatch",
                            "reason": "camera saw s-0007, not s-0008, at the punch",
                            "at": "2025-06-11T01:00:00Z",
                        },
                        {
                            "action": "review",
                            "from_state": "reported",
                            "to_state": "under_review",
                            "actor": "hr-li",
                            "reason": "checking the snapshot",
                            "at": "2025-06-11T02:30:00Z",
                        },
                    ],
                    "attachments": [
                        {
                            "attachment_id": "a1b2c3d4-0000-4000-8000-000000000001",
                            "filename": "statement.pdf",
                            "content_type": "application/pdf",
                            "uploaded_by": "inspector-wang",
                            "uploaded_at": "2025-06-11T03:00:00Z",
                            "size": 48213,
                        }
                    ],
                }
            ]
        }
    )

    history: list[IncidentEventOut]
    attachments: list[AttachmentOut]


class IncidentListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_ROW_EXAMPLE], "total": 1, "limit": 100, "offset": 0}]}
    )

    items: list[IncidentRowOut]
    total: int  # matching incidents, of which ``items`` is the page at ``offset``
    limit: int
    offset: int


class AttachmentCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"attachment_id": "a1b2c3d4-0000-4000-8000-000000000001", "size": 48213}]
        }
    )

    attachment_id: str
    size: int


class WarningOut(BaseModel):
    """An efficiency warning (效能告诫): ``personal`` for the person's own confirmed incident, or
    ``escalation`` to a head for every second staff warning of the year, linked by ``caused_by``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "warning_id": "c0ffee00-1111-4222-8333-444455556666",
                    "staff_id": "s-0001",
                    "department_id": "d-social",
                    "year": 2025,
                    "kind": "escalation",
                    "counts_for_department": False,
                    "ordinal": 1,
                    "incident_id": None,
                    "caused_by": [
                        "9e8d7c6b-0000-4000-8000-000000000001",
                        "9e8d7c6b-0000-4000-8000-000000000002",
                    ],
                    "reason": "head's responsibility: staff warnings 1 and 2 of 2025",
                    "issued_by": "rule:head_responsibility",
                    "issued_at": "2025-06-12T06:00:00Z",
                    "withdrawn_at": None,
                    "withdrawn_by": None,
                    "withdrawn_reason": None,
                }
            ]
        }
    )

    warning_id: str
    staff_id: str
    department_id: str
    year: int
    kind: str  # personal / escalation
    counts_for_department: bool  # false for a head's own warnings
    ordinal: int | None  # an escalation's number in the year
    incident_id: str | None
    caused_by: list[str]  # an escalation's two staff warnings
    reason: str
    issued_by: str
    issued_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawn_reason: str | None
