from __future__ import annotations

from datetime import date

import pytest

from server.domain.day_decision import DayResult, DayStatus
from server.domain.incidents import (
    IncidentAction,
    IncidentState,
    IncidentStateError,
    P1Thresholds,
    next_state,
    p1_incidents,
)
from server.domain.warnings_chain import HeadWarningRef, StaffWarningRef, plan_escalation

DAY = date(2025, 6, 10)


def test_p1_from_absence_early_departure_and_an_uncovered_post() -> None:
    days = [
        DayResult("a", DAY, DayStatus.ABSENT, absent_sessions=2),
        DayResult("b", DAY, DayStatus.LEFT_EARLY, early_minutes=30),
        DayResult("c", DAY, DayStatus.LATE, late_minutes=12),
        DayResult("d", DAY, DayStatus.LEAVE),  # substitute a is absent: post uncovered
        DayResult("e", DAY, DayStatus.LEAVE),  # substitute c is present: covered
    ]
    found = p1_incidents(days, {"d": "a", "e": "c"}, P1Thresholds(early_departure_minutes=15))
    assert [(f.rule, f.staff_id) for f in found] == [
        ("unexcused_absence", "a"),
        ("early_departure", "b"),
        ("post_uncovered", "d"),
    ]
    assert found[2].evidence["substitute_status"] == "absent"
    assert p1_incidents(days[1:2], {}, P1Thresholds(early_departure_minutes=31)) == []


def test_review_workflow_and_refusals_name_the_allowed_states() -> None:
    state = next_state(IncidentState.REPORTED, IncidentAction.REVIEW)
    assert state is IncidentState.UNDER_REVIEW
    assert next_state(state, IncidentAction.EXPLAIN) is IncidentState.UNDER_REVIEW
    confirmed = next_state(state, IncidentAction.CONFIRM)
    assert next_state(confirmed, IncidentAction.APPEAL) is IncidentState.UNDER_REVIEW
    assert next_state(IncidentState.UNDER_REVIEW, IncidentAction.DISMISS) is IncidentState.DISMISSED
    with pytest.raises(IncidentStateError, match="only on: under_review"):
        next_state(IncidentState.REPORTED, IncidentAction.CONFIRM)
    with pytest.raises(IncidentStateError):
        next_state(IncidentState.DISMISSED, IncidentAction.APPEAL)


def staff(n: int) -> list[StaffWarningRef]:
    return [StaffWarningRef(f"w{i}", (f"2025-01-{i:02d}", f"w{i}")) for i in range(1, n + 1)]


def test_every_second_staff_warning_gives_the_head_one() -> None:
    assert plan_escalation(staff(1), []).issue == ()
    assert plan_escalation(staff(2), []).issue == ((1, ("w1", "w2")),)
    plan = plan_escalation(staff(4), [HeadWarningRef("h1", 1)], {"h1": ("w1", "w2")})
    assert plan.issue == ((2, ("w3", "w4")),)
    assert plan.withdraw == ()
    assert plan.relink == ()
    assert plan_escalation(staff(3), [HeadWarningRef("h1", 1)], {"h1": ("w1", "w2")}).issue == ()


def test_withdrawing_a_staff_warning_withdraws_the_head_warning_no_longer_reached() -> None:
    heads = [HeadWarningRef("h1", 1), HeadWarningRef("h2", 2)]
    causes = {"h1": ("w1", "w2"), "h2": ("w3", "w4")}
    remaining = [w for w in staff(4) if w.warning_id != "w2"]
    plan = plan_escalation(remaining, heads, causes)
    assert plan.withdraw == ("h2",)
    assert plan.issue == ()
    assert plan.relink == (("h1", ("w1", "w3")),)
    assert plan_escalation([], heads, causes).withdraw == ("h1", "h2")
