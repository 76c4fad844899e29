"""Efficiency warnings (效能告诫) and the head's collective responsibility.

Within one calendar year, every second warning to the staff of a department gives its head one
warning: the 2nd and 4th staff warnings give the head warnings one and two. The head's own warnings
do not count, and counts restart each year (shared/docs/domain.md, from the 2014 directive).

The head's escalation warnings are kept equal to floor(active staff warnings / 2): when a staff
warning is withdrawn and the count no longer reaches a head warning, the newest head warning goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class StaffWarningRef:
    warning_id: str
    order: tuple[str, str]  # (issued_at iso, warning_id): the order warnings were issued in


@dataclass(frozen=True)
class HeadWarningRef:
    warning_id: str
    ordinal: int  # 1 for the head's first escalation warning of the year, ...


@dataclass(frozen=True)
class EscalationPlan:
    issue: tuple[tuple[int, tuple[str, str]], ...]  # (ordinal, the two staff warnings causing it)
    withdraw: tuple[str, ...]  # head warning ids whose count is no longer reached
    relink: tuple[tuple[str, tuple[str, str]], ...]  # kept head warnings whose causes changed


def plan_escalation(
    active_staff_warnings: Iterable[StaffWarningRef],
    active_head_warnings: Iterable[HeadWarningRef],
    current_causes: dict[str, tuple[str, ...]] | None = None,
) -> EscalationPlan:
    """What to change so that one department's head has exactly one escalation warning per two
    active staff warnings of the year, each linked to the pair that caused it."""
    staff = sorted(active_staff_warnings, key=lambda w: w.order)
    pairs = [(staff[2 * k].warning_id, staff[2 * k + 1].warning_id) for k in range(len(staff) // 2)]
    heads = sorted(active_head_warnings, key=lambda h: (h.ordinal, h.warning_id))
    keep, withdraw = heads[: len(pairs)], heads[len(pairs) :]
    causes = current_causes or {}
    relink = tuple(
        (head.warning_id, pairs[index])
        for index, head in enumerate(keep)
        if tuple(causes.get(head.warning_id, ())) != pairs[index]
    )
    used = {h.ordinal for h in keep}
    issue = []
    next_ordinal = 1
    for pair in pairs[len(keep) :]:
        while next_ordinal in used:
            next_ordinal += 1
        used.add(next_ordinal)
        issue.append((next_ordinal, pair))
    return EscalationPlan(tuple(issue), tuple(h.warning_id for h in withdraw), relink)
