"""Shared builders for the pure attendance rules' tests."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from server.domain.day_decision import Mark
from server.domain.working_time import PunchPolicy, Session, Timetable, TimetableVersion

ZONE = ZoneInfo("Asia/Shanghai")


def at(day: date, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), ZONE)


def mark(day: date, hhmm: str, name: str | None = None) -> Mark:
    return Mark(at(day, hhmm), name or f"m-{day.isoformat()}-{hhmm}", "punch", "T1")


def split_day(policy: PunchPolicy = PunchPolicy.FOUR_PUNCHES, grace: int = 5) -> Timetable:
    summer = TimetableVersion(
        "summer",
        (5, 1),
        (9, 30),
        (Session("morning", time(8, 0), time(12, 0)), Session("afternoon", time(15, 0), time(18, 0))),
        grace_minutes=grace,
    )
    winter = TimetableVersion(
        "winter",
        (10, 1),
        (4, 30),
        (Session("morning", time(8, 30), time(12, 0)), Session("afternoon", time(14, 30), time(17, 30))),
        grace_minutes=grace,
    )
    return Timetable("std", "standard", policy, (summer, winter))


@pytest.fixture
def timetable() -> Timetable:
    return split_day()
