from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from server.domain.day_decision import DayStatus, Mark, decide_day, is_day_complete
from server.domain.working_time import (
    Absence,
    AbsenceKind,
    CalendarDay,
    DayKind,
    PunchPolicy,
    Session,
    Timetable,
    TimetableVersion,
)
from tests.unit.server.domain.conftest import ZONE, at, mark, split_day

WORKDAY = CalendarDay(DayKind.WORKDAY)
DAY = date(2025, 6, 10)  # summer: 08:00-12:00, 15:00-18:00, grace 5


def decide(
    marks: list[Mark],
    timetable: Timetable | None = None,
    absences: list[Absence] | None = None,
    kind: CalendarDay = WORKDAY,
    day: date = DAY,
):
    return decide_day("s1", day, timetable or split_day(), kind, marks, absences or [], ZONE)


def test_four_punches_in_time_is_normal() -> None:
    result = decide([mark(DAY, h) for h in ("07:55", "12:01", "14:50", "18:02")])
    assert result.status is DayStatus.NORMAL
    assert (result.late_minutes, result.early_minutes, result.missing_punches) == (0, 0, 0)
    assert len(result.marks) == 4


def test_late_within_grace_is_not_late_and_past_grace_counts_from_the_start() -> None:
    assert decide([mark(DAY, h) for h in ("08:05", "12:00", "15:00", "18:00")]).status is DayStatus.NORMAL
    result = decide([mark(DAY, h) for h in ("08:17", "12:00", "15:00", "18:00")])
    assert result.status is DayStatus.LATE
    assert result.late_minutes == 17


def test_leaving_early_counts_minutes_and_outranks_late() -> None:
    result = decide([mark(DAY, h) for h in ("08:10", "12:00", "15:00", "17:20")])
    assert result.status is DayStatus.LEFT_EARLY
    assert (result.late_minutes, result.early_minutes) == (10, 40)


def test_a_missing_out_punch_is_a_missing_punch() -> None:
    result = decide([mark(DAY, h) for h in ("07:58", "14:55", "18:00")])
    assert result.status is DayStatus.MISSING_PUNCH
    assert result.missing_punches == 1


def test_no_mark_on_a_workday_is_absent_and_a_missing_afternoon_is_half_absent() -> None:
    assert decide([]).status is DayStatus.ABSENT
    assert decide([]).absent_sessions == 2
    half = decide([mark(DAY, "07:58"), mark(DAY, "12:00")])
    assert (half.status, half.absent_sessions) == (DayStatus.ABSENT, 1)


def test_approved_leave_excuses_the_sessions_it_covers() -> None:
    leave = Absence("L1", "s1", AbsenceKind.LEAVE, at(DAY, "00:00"), at(DAY + timedelta(days=1), "00:00"))
    assert decide([], absences=[leave]).status is DayStatus.LEAVE
    morning = Absence("L2", "s1", AbsenceKind.TRIP, at(DAY, "07:00"), at(DAY, "13:00"))
    result = decide([mark(DAY, "14:59"), mark(DAY, "18:00")], absences=[morning])
    assert result.status is DayStatus.NORMAL
    assert result.absences == ("L2",)


def test_holidays_and_rest_days_are_not_working_days_even_with_punches() -> None:
    holiday = decide([mark(DAY, "09:00")], kind=CalendarDay(DayKind.HOLIDAY, "National Day"))
    assert holiday.status is DayStatus.HOLIDAY
    assert decide([], kind=CalendarDay(DayKind.REST_DAY)).status is DayStatus.REST_DAY


def test_winter_version_applies_by_date() -> None:
    winter_day = date(2025, 12, 2)  # 08:30 start
    result = decide([mark(winter_day, h) for h in ("08:33", "12:00", "14:30", "17:30")], day=winter_day)
    assert result.status is DayStatus.NORMAL
    late = decide([mark(winter_day, h) for h in ("08:45", "12:00", "14:30", "17:30")], day=winter_day)
    assert late.late_minutes == 15


def test_first_last_policy_ignores_the_lunch_punches() -> None:
    table = split_day(PunchPolicy.FIRST_LAST)
    assert decide([mark(DAY, "07:59"), mark(DAY, "18:01")], table).status is DayStatus.NORMAL
    assert decide([mark(DAY, "07:59")], table).status is DayStatus.MISSING_PUNCH


def test_an_overnight_shift_takes_the_next_mornings_punch() -> None:
    night = Timetable(
        "n",
        "night",
        PunchPolicy.FIRST_LAST,
        (TimetableVersion("all", (1, 1), (12, 31), (Session("night", time(22), time(6), True),)),),
    )
    marks = [mark(DAY, "21:55"), mark(DAY + timedelta(days=1), "05:40")]
    result = decide(marks, night)
    assert (result.status, result.early_minutes) == (DayStatus.LEFT_EARLY, 20)


def test_the_same_marks_in_any_order_give_the_same_result() -> None:
    marks = [mark(DAY, h) for h in ("07:40", "08:20", "12:00", "12:30", "14:10", "15:02", "17:55", "19:00")]
    first = decide(marks)
    for seed in range(5):
        shuffled = marks[:]
        random.Random(seed).shuffle(shuffled)
        assert decide(shuffled) == first


def test_a_day_is_complete_only_when_every_device_reported_past_it() -> None:
    horizon = datetime.combine(DAY, time(22), ZONE)
    seen = {"T1": horizon + timedelta(minutes=1), "CAM1": horizon - timedelta(minutes=1)}
    assert not is_day_complete(horizon, ["T1", "CAM1"], seen)
    assert not is_day_complete(horizon, ["T1", "T2"], seen)  # T2 never reported
    assert is_day_complete(horizon, ["T1"], seen)
