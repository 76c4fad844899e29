"""Incidents under the six prohibitions (六个不准): codes, the review workflow, and P1 from days.

An incident is a suspicion for a human to review; nothing here sanctions anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from server.domain.day_decision import DayResult, DayStatus


class Prohibition(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"
    P6 = "P6"


# Restated from the 2014 directive (shared/docs/domain.md).
PROHIBITION_TEXT = {
    Prohibition.P1: "不准擅自脱离工作岗位 (leaving the post without permission)",
    Prohibition.P2: "不准在工作时间打牌、下棋、打麻将、玩电脑游戏和从事股票、证券交易等与公务无关的活动 (activities unrelated to duty)",
    Prohibition.P3: "不准对工作推诿扯皮、拖延懈怠 (passing the buck, stalling)",
    Prohibition.P4: "不准以冷、横、硬等简单粗暴的工作方法对待群众 (treating the public rudely)",
    Prohibition.P5: "不准利用职务便利吃、拿、卡、要 (using the position for favours)",
    Prohibition.P6: "不准弄虚作假、谎报项目进度和工作业绩 (falsifying records or results)",
}


class IncidentState(StrEnum):
    REPORTED = "reported"
    UNDER_REVIEW = "under_review"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"  # its cause went away (a re-decided day), not a human's verdict


class IncidentAction(StrEnum):
    REVIEW = "review"  # reported -> under_review
    CONFIRM = "confirm"  # under_review -> confirmed
    DISMISS = "dismiss"  # under_review -> dismissed
    EXPLAIN = "explain"  # the staff member's explanation; the state stays
    APPEAL = "appeal"  # confirmed -> under_review again
    WITHDRAW = "withdraw"  # a detector's incident whose evidence no longer holds


class IncidentStateError(ValueError):
    """An action that the incident's state does not allow; the message says which would."""


_TRANSITIONS: dict[IncidentAction, dict[IncidentState, IncidentState]] = {
    IncidentAction.REVIEW: {IncidentState.REPORTED: IncidentState.UNDER_REVIEW},
    IncidentAction.CONFIRM: {IncidentState.UNDER_REVIEW: IncidentState.CONFIRMED},
    IncidentAction.DISMISS: {IncidentState.UNDER_REVIEW: IncidentState.DISMISSED},
    IncidentAction.EXPLAIN: {
        s: s for s in (IncidentState.REPORTED, IncidentState.UNDER_REVIEW, IncidentState.CONFIRMED)
    },
    IncidentAction.APPEAL: {IncidentState.CONFIRMED: IncidentState.UNDER_REVIEW},
    IncidentAction.WITHDRAW: dict.fromkeys(
        (IncidentState.REPORTED, IncidentState.UNDER_REVIEW, IncidentState.CONFIRMED), IncidentState.WITHDRAWN
    ),
}


def next_state(state: IncidentState, action: IncidentAction) -> IncidentState:
    """The state after ``action``, or an error naming the states that allow it."""
    allowed = _TRANSITIONS[action]
    if state not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise IncidentStateError(
            f"action {action.value!r} is not allowed on a {state.value} incident (only on: {names})"
        )
    return allowed[state]


@dataclass(frozen=True)
class DetectedIncident:
    """What a rule found. ``key`` is stable for the same finding, so a re-run finds it again
    instead of raising it twice, and a finding that disappears can be withdrawn."""

    key: str
    staff_id: str
    prohibition: Prohibition
    rule: str
    day: date
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0


_ABSENT = DayStatus.ABSENT  # bound once: enum lookups are slow in Python 3.11, and this runs per day
_AWAY = frozenset({DayStatus.LEAVE, DayStatus.TRIP, DayStatus.DUTY})
_UNCOVERED = _AWAY | {DayStatus.ABSENT}


@dataclass(frozen=True)
class P1Thresholds:
    early_departure_minutes: int = 1  # leaving at least this early is reported


def p1_incidents(
    days: Iterable[DayResult],
    substitutes: Mapping[str, str],
    thresholds: P1Thresholds,
    substitute_days: Mapping[tuple[str, date], DayResult] | None = None,
) -> list[DetectedIncident]:
    """P1 from decided days: unexcused absence, early departure, and a post left uncovered (the
    person is on approved leave and their designated substitute (同岗替代) is away as well)."""
    days = list(days)
    by_key = dict(substitute_days or {})
    by_key.update({(d.staff_id, d.day): d for d in days})
    found = []
    for result in days:
        base = {"day": result.day.isoformat(), "status": result.status.value, "marks": list(result.marks)}
        if result.status is _ABSENT:
            found.append(
                DetectedIncident(
                    f"P1:absence:{result.staff_id}:{result.day.isoformat()}",
                    result.staff_id,
                    Prohibition.P1,
                    "unexcused_absence",
                    result.day,
                    f"absent without approved leave for {result.absent_sessions} session(s)",
                    base | {"absent_sessions": result.absent_sessions},
                )
            )
        if result.early_minutes >= thresholds.early_departure_minutes and result.early_minutes > 0:
            found.append(
                DetectedIncident(
                    f"P1:early:{result.staff_id}:{result.day.isoformat()}",
                    result.staff_id,
                    Prohibition.P1,
                    "early_departure",
                    result.day,
                    f"left {result.early_minutes} minute(s) early",
                    base
                    | {
                        "early_minutes": result.early_minutes,
                        "threshold": thresholds.early_departure_minutes,
                    },
                )
            )
        substitute = substitutes.get(result.staff_id)
        if substitute and result.status in _AWAY:
            cover = by_key.get((substitute, result.day))
            if cover is not None and cover.status in _UNCOVERED:
                found.append(
                    DetectedIncident(
                        f"P1:uncovered:{result.staff_id}:{result.day.isoformat()}",
                        result.staff_id,
                        Prohibition.P1,
                        "post_uncovered",
                        result.day,
                        f"on {result.status.value}; designated substitute {substitute} was {cover.status.value}",
                        base | {"substitute": substitute, "substitute_status": cover.status.value},
                    )
                )
    return sorted(found, key=lambda i: i.key)
