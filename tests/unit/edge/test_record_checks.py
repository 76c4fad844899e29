"""Pure edge judgements: punch flags, clock drift, fill levels, the off-peak window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import CapacityAlert, PunchFlag
from devices.terminal import Punch, TerminalInfo
from edge.reconcile_schedule import in_window, parse_window
from edge.record_checks import ClockReading, FlagRules, capacity_alert, punch_flags

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
RULES = FlagRules(timedelta(minutes=2), timedelta(minutes=10))


def punch(local: datetime, *, verify: int = 1, state: int = 0, enrolled: bool | None = True) -> Punch:
    return Punch("7", 7, local, local.replace(tzinfo=SHANGHAI), verify, state, 0, enrolled)


def flags(p: Punch, *, absent: datetime | None = NOW, unreliable: bool = False) -> list[PunchFlag]:
    return punch_flags(
        p,
        edge_now=NOW,
        known_absent_at=absent,
        rules=RULES,
        clock_unreliable=unreliable,
        verify_codes={1, 15},
        punch_states={0, 1},
        user_enrolled=p.user_enrolled,
    )


def test_an_honest_punch_has_no_flags() -> None:
    assert flags(punch(datetime(2026, 11, 2, 8, 59))) == []


def test_future_backfill_and_tolerances() -> None:
    assert flags(punch(datetime(2026, 11, 2, 9, 1, 59))) == []  # within 2 minutes ahead
    assert flags(punch(datetime(2026, 11, 2, 9, 3))) == [PunchFlag.DEVICE_TIME_IN_FUTURE]
    assert flags(punch(datetime(2026, 11, 2, 8, 51))) == []  # within 10 minutes before
    assert flags(punch(datetime(2026, 11, 1, 9, 0))) == [PunchFlag.DEVICE_TIME_FAR_BEFORE_OBSERVED]
    assert flags(punch(datetime(2026, 11, 1, 9, 0)), absent=None) == []  # first import


def test_codes_users_and_clock_flags() -> None:
    odd = punch(datetime(2026, 11, 2, 8, 59), verify=2, state=7, enrolled=False)
    assert flags(odd, unreliable=True) == [
        PunchFlag.CLOCK_UNRELIABLE,
        PunchFlag.UNKNOWN_VERIFY_CODE,
        PunchFlag.UNKNOWN_PUNCH_STATE,
        PunchFlag.USER_NOT_ENROLLED,
    ]
    assert flags(punch(datetime(2026, 11, 2, 8, 59), enrolled=None)) == []  # not known: no flag


def test_clock_reading_alert_names_direction_and_policy() -> None:
    assert ClockReading(12.0, 30).alert(corrected=False) is None
    behind = ClockReading(-3600.4, 30).alert(corrected=False)
    assert (
        behind
        == "clock 3600 s behind the edge (threshold 30 s); not corrected: the terminal's policy forbids it"
    )
    ahead = ClockReading(95, 30).alert(corrected=True)
    assert ahead is not None
    assert ahead.startswith("clock 95 s ahead of the edge")
    assert ahead.endswith("set to the edge clock")


def info(records: int, users: int = 10, fingers: int = 10) -> TerminalInfo:
    return TerminalInfo("SN", "fw", "p", "n", "m", users, records, 1000, fingers, 100, 100)


@pytest.mark.parametrize(
    ("records", "users", "level"),
    [
        (799, 10, CapacityAlert.OK),
        (800, 10, CapacityAlert.WARNING),
        (950, 10, CapacityAlert.CRITICAL),
        (10, 96, CapacityAlert.CRITICAL),
    ],
)
def test_capacity_levels(records: int, users: int, level: CapacityAlert) -> None:
    got, messages = capacity_alert(info(records, users))
    assert got is level
    assert (messages == []) == (level is CapacityAlert.OK)


def test_capacity_messages_name_what_is_full() -> None:
    _, messages = capacity_alert(info(850, users=96))
    assert messages == ["records 850 of 1000 (85%) used", "users 96 of 100 (96%) used"]


def test_off_peak_window_in_the_terminal_zone_wraps_midnight() -> None:
    assert parse_window("01:00-05:00")
    assert in_window(datetime(2026, 11, 1, 18, 30, tzinfo=UTC), "01:00-05:00", "Asia/Shanghai")  # 02:30 local
    assert not in_window(NOW, "01:00-05:00", "Asia/Shanghai")
    assert in_window(datetime(2026, 11, 1, 15, 0, tzinfo=UTC), "22:00-05:00", "Asia/Shanghai")  # 23:00 local
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_window("1am-5am")


def test_each_resource_gets_its_own_message_whatever_the_worst_level() -> None:
    level, messages = capacity_alert(info(960, users=85, fingers=81))
    assert level is CapacityAlert.CRITICAL
    assert messages == [
        "records 960 of 1000 (96%) used",
        "users 85 of 100 (85%) used",
        "fingerprints 81 of 100 (81%) used",
    ]
