"""Response models of the attendance, incident and warning endpoints: what a client gets back,
documented in the OpenAPI with an example of each (the request models live beside their routes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


_AT = "2025-06-10T00:17:00Z"
_EVENT = "6f1c2a9e-0a51-5d7c-9a53-2b1f6c4e8d10"
_FACE = "0b6e7d52-91a4-5c33-8f0e-7d2a4c1b9e55"


# ---------------------------------------------------------------- working time
class SiteDeviceOut(BaseModel):
    device_id: str
    kind: str
    linked_terminal: str | None = None


class SiteOut(BaseModel):
    model_config = _example(
        {
            "site_id": "main",
            "name": "Main building",
            "devices": [
                {"device_id": "SN-GATE-1", "kind": "terminal", "linked_terminal": None},
                {"device_id": "cam-gate-1", "kind": "camera", "linked_terminal": "SN-GATE-1"},
            ],
            "travel_minutes": {"annex": 40},
        }
    )

    site_id: str
    name: str
    devices: list[SiteDeviceOut]
    travel_minutes: dict[str, int]


class DepartmentOut(BaseModel):
    model_config = _example(
        {"department_id": "d-social", "name": "Social assistance division", "head_staff_id": "s-0001"}
    )

    department_id: str
    name: str
    head_staff_id: str | None


class StaffOut(BaseModel):
    model_config = _example(
        {
            "staff_id": "s-0007",
            "name": "Zhao Min",
            "department_id": "d-social",
            "site_id": "main",
            "timetable_id": "standard",
            "substitute_staff_id": "s-0002",
            "active": True,
            "terminal_user_ids": ["1007"],
        }
    )

    staff_id: str
    name: str
    department_id: str
    site_id: str
    timetable_id: str
    substitute_staff_id: str | None
    active: bool
    terminal_user_ids: list[str]


class TimetableOut(BaseModel):
    model_config = _example(
        {
            "timetable_id": "standard",
            "name": "Bureau standard",
            "policy": "four_punches",
            "require_biometric": True,
            "versions": [
                {
                    "name": "summer",
                    "valid_from": "05-01",
                    "valid_to": "09-30",
                    "grace_minutes": 5,
                    "in_window_minutes": 120,
                    "out_window_minutes": 240,
                    "sessions": [
                        {"name": "morning", "start": "08:00:00", "end": "12:00:00", "ends_next_day": False},
                        {"name": "afternoon", "start": "15:00:00", "end": "18:00:00", "ends_next_day": False},
                    ],
                }
            ],
            "updated_at": "2025-04-20T02:00:00Z",
        }
    )

    timetable_id: str
    name: str
    policy: str
    require_biometric: bool
    versions: list[dict[str, Any]]
    updated_at: datetime


class HolidayOut(BaseModel):
    model_config = _example({"day": "2025-10-11", "kind": "workday", "name": "国庆节", "source": "national"})

    day: date
    kind: str
    name: str | None
    source: str  # national (chinese-calendar) or override (the office's own)


class AbsenceCreated(BaseModel):
    model_config = _example({"absence_id": "3c1d9a8e-4f7b-4c2a-9e51-0d6b2a7c8e13"})

    absence_id: str


class AbsenceOut(BaseModel):
    model_config = _example(
        {
            "absence_id": "3c1d9a8e-4f7b-4c2a-9e51-0d6b2a7c8e13",
            "staff_id": "s-0007",
            "kind": "leave",
            "starts_at": "2025-06-09T16:00:00Z",
            "ends_at": "2025-06-10T16:00:00Z",
            "reason": "sick",
            "approved_by": "hr-li",
            "created_at": "2025-06-09T01:12:00Z",
        }
    )

    absence_id: str
    staff_id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    approved_by: str
    created_at: datetime


# ---------------------------------------------------------------- decided days
class SessionDetailOut(BaseModel):
    session: str
    in_mark: str | None  # event id of the punch or face check-in that was the in
    out_mark: str | None
    late_minutes: int
    early_minutes: int
    excused_by: str | None  # absence id


class DayDetailOut(BaseModel):
    sessions: list[SessionDetailOut]
    marks: list[str]  # every punch and (live) face check-in of the day, by event id
    absences: list[str]


class AttendanceDayOut(BaseModel):
    model_config = _example(
        {
            "staff_id": "s-0007",
            "day": "2025-06-10",
            "status": "late",
            "late_minutes": 17,
            "early_minutes": 0,
            "missing_punches": 0,
            "absent_sessions": 0,
            "detail": {
                "sessions": [
                    {
                        "session": "morning",
                        "in_mark": _EVENT,
                        "out_mark": "9a7e...",
                        "late_minutes": 17,
                        "early_minutes": 0,
                        "excused_by": None,
                    }
                ],
                "marks": [_EVENT, _FACE, "9a7e..."],
                "absences": [],
            },
            "decided_at": "2025-06-11T01:00:00Z",
        }
    )

    staff_id: str
    day: date
    status: str
    late_minutes: int
    early_minutes: int
    missing_punches: int
    absent_sessions: int
    detail: DayDetailOut
    decided_at: datetime


class MonthDayOut(BaseModel):
    day: date
    status: str
    late_minutes: int
    early_minutes: int
    missing_punches: int


class MonthStaffOut(BaseModel):
    staff_id: str
    name: str
    days: list[MonthDayOut]
    totals: dict[str, int]  # days per status, and late_minutes / early_minutes summed


class DepartmentMonthOut(BaseModel):
    model_config = _example(
        {
            "department_id": "d-social",
            "month": "2025-06",
            "staff": [
                {
                    "staff_id": "s-0007",
                    "name": "Zhao Min",
                    "days": [
                        {
                            "day": "2025-06-10",
                            "status": "late",
                            "late_minutes": 17,
                            "early_minutes": 0,
                            "missing_punches": 0,
                        }
                    ],
                    "totals": {"late": 1, "late_minutes": 17, "early_minutes": 0},
                }
            ],
        }
    )

    department_id: str
    month: str
    staff: list[MonthStaffOut]


class DayChangeOut(BaseModel):
    staff_id: str
    day: date
    before: str | None  # None: the day was pending
    after: str


class WithdrawnOut(BaseModel):
    key: str
    reason: str


class RunReportOut(BaseModel):
    model_config = _example(
        {
            "decided": 90,
            "pending": 3,
            "changes": [{"staff_id": "s-0007", "day": "2025-06-10", "before": "absent", "after": "normal"}],
            "raised": ["P6:backfill:" + _EVENT],
            "withdrawn": [
                {
                    "key": "P1:absence:s-0007:2025-06-10",
                    "reason": "re-decided: 2025-06-10 is now normal for s-0007",
                }
            ],
            "reinstated": [],
            "dry_run": False,
        }
    )

    decided: int
    pending: int  # days waiting for a device of the site to report past them
    changes: list[DayChangeOut]
    raised: list[str]  # detection keys
    withdrawn: list[WithdrawnOut]
    reinstated: list[str]
    dry_run: bool
