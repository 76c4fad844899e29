"""The timetable form's one-line-a-version text: parsed into what TimetableIn takes, written back
from what is stored, and each mistake named by its line."""

from __future__ import annotations

import pytest

from server.services.working_time_models import TimetableIn
from server.web.timetable_text import TimetableTextError, format_versions, parse_versions
from tests.support.attendance_world import TIMETABLE

TEXT = (
    "summer 05-01..09-30 grace=5: morning 08:00-12:00, afternoon 15:00-18:00\n"
    "\n"
    "winter 10-01..04-30 grace=5 in=30 out=120: morning 8:30-12:00, night 22:00-06:00+1\n"
)


def test_the_text_becomes_the_versions_the_api_takes() -> None:
    versions = parse_versions(TEXT)
    assert [v["name"] for v in versions] == ["summer", "winter"]
    assert versions[0] == {
        "name": "summer",
        "valid_from": "05-01",
        "valid_to": "09-30",
        "grace_minutes": 5,
        "sessions": [
            {"name": "morning", "start": "08:00", "end": "12:00", "ends_next_day": False},
            {"name": "afternoon", "start": "15:00", "end": "18:00", "ends_next_day": False},
        ],
    }
    assert versions[1]["in_window_minutes"] == 30
    assert versions[1]["out_window_minutes"] == 120
    assert versions[1]["sessions"][0]["start"] == "08:30"
    assert versions[1]["sessions"][1]["ends_next_day"] is True


def test_stored_versions_written_as_text_parse_back_to_the_same_timetable() -> None:
    stored = TimetableIn.model_validate(TIMETABLE)
    dumped = [v.model_dump(mode="json") for v in stored.versions]
    again = TimetableIn.model_validate({**TIMETABLE, "versions": parse_versions(format_versions(dumped))})
    assert again == stored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("summer 05-01 to 09-30: morning 08:00-12:00", "line 1: write 'name MM-DD..MM-DD"),
        ("summer 05-01..09-30 grace=5 morning 08:00-12:00", "line 1: write"),
        (
            "a 01-01..12-31: day 09:00-17:00\nb 01-01..12-31 lunch=60: x 12:00-13:00",
            "line 2: unknown setting 'lunch'",
        ),
        ("a 01-01..12-31: day 9-17", "line 1: 'day 9-17' is not 'name HH:MM-HH:MM'"),
        ("  \n", "write at least one version"),
    ],
)
def test_each_mistake_is_named_by_its_line(text: str, message: str) -> None:
    with pytest.raises(TimetableTextError) as refused:
        parse_versions(text)
    assert str(refused.value).startswith(message)
