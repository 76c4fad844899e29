from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from server.domain.working_time import (
    Absence,
    AbsenceKind,
    DayKind,
    PunchPolicy,
    Session,
    Timetable,
    TimetableVersion,
    WorkCalendar,
    WorkingTimeError,
    validate_timetable,
)
from tests.unit.server.domain.conftest import split_day


def test_seasonal_versions_cover_the_year_and_winter_wraps_the_new_year() -> None:
    table = split_day()
    validate_timetable(table)
    assert table.version_for(date(2025, 7, 1)).name == "summer"
    assert table.version_for(date(2025, 12, 31)).name == "winter"
    assert table.version_for(date(2025, 1, 2)).name == "winter"
    assert table.version_for(date(2025, 10, 1)).name == "winter"


def test_overlapping_sessions_are_refused_naming_the_session() -> None:
    version = TimetableVersion(
        "all",
        (1, 1),
        (12, 31),
        (Session("morning", time(8), time(12, 30)), Session("afternoon", time(12), time(17))),
    )
    with pytest.raises(WorkingTimeError, match=r"versions\[0\]\.sessions\[1\]: overlaps sessions\[0\]"):
        validate_timetable(Timetable("x", "x", PunchPolicy.FOUR_PUNCHES, (version,)))


def test_a_session_ending_before_it_starts_needs_the_overnight_flag() -> None:
    night = TimetableVersion("all", (1, 1), (12, 31), (Session("night", time(22), time(6)),))
    with pytest.raises(WorkingTimeError, match=r"sessions\[0\]\.end.*ends_next_day"):
        validate_timetable(Timetable("x", "x", PunchPolicy.FIRST_LAST, (night,)))
    overnight = TimetableVersion("all", (1, 1), (12, 31), (Session("night", time(22), time(6), True),))
    validate_timetable(Timetable("x", "x", PunchPolicy.FIRST_LAST, (overnight,)))


def test_a_gap_in_the_seasons_is_refused() -> None:
    summer = TimetableVersion("summer", (5, 1), (9, 30), (Session("m", time(8), time(12)),))
    with pytest.raises(WorkingTimeError, match="no version covers 01-01"):
        validate_timetable(Timetable("x", "x", PunchPolicy.FOUR_PUNCHES, (summer,)))


def test_calendar_defaults_to_weekdays_and_keeps_given_days() -> None:
    from server.domain.working_time import CalendarDay

    calendar = WorkCalendar({date(2025, 9, 28): CalendarDay(DayKind.WORKDAY, "make-up")})
    assert calendar.day(date(2025, 9, 27)).kind is DayKind.REST_DAY  # Saturday
    assert calendar.day(date(2025, 9, 28)).kind is DayKind.WORKDAY  # Sunday, made up
    assert calendar.day(date(2025, 9, 29)).kind is DayKind.WORKDAY


def test_a_leave_that_ends_before_it_starts_is_refused_naming_the_field() -> None:
    start = datetime(2025, 3, 3, tzinfo=UTC)
    with pytest.raises(WorkingTimeError, match="ends_at"):
        Absence("a", "s", AbsenceKind.LEAVE, start, start)
