"""Incidents and efficiency warnings: the review workflow, rule findings kept in step with the
data, and the head's escalation warnings kept in step with their staff's warnings."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from server.adapters.incident_store import IncidentStore
from server.domain.incidents import (
    DetectedIncident,
    IncidentAction,
    IncidentState,
    IncidentStateError,
    Prohibition,
    next_state,
)
from server.domain.warnings_chain import HeadWarningRef, StaffWarningRef, plan_escalation

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class NewAttachment:
    """A file attached to an incident: a photo, a document, a recording."""

    filename: str
    content_type: str
    content: bytes

    def check(self) -> None:
        """Refuse an empty or oversized file (ValueError naming the ``file`` field)."""
        if len(self.content) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"file: {self.filename} is larger than {MAX_ATTACHMENT_BYTES} bytes")
        if not self.content:
            raise ValueError(f"file: {self.filename} is empty")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reconciliation:
    """What bringing rule findings in step with the data did (or, in a dry run, would do)."""

    raised: list[DetectedIncident] = field(default_factory=list)
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (detection key, reason)
    reinstated: list[str] = field(default_factory=list)
    unchanged: int = 0


class IncidentService:
    def __init__(self, store: IncidentStore, zone: ZoneInfo, clock: Clock = utc_now) -> None:
        self.store = store
        self.zone = zone
        self.clock = clock

    # ------------------------------------------------------------------ reported by people
    def report(self, values: dict[str, Any], attachments: Iterable[NewAttachment] = ()) -> str:
        """An incident reported by an inspector (any prohibition), in state ``reported``, with its
        attachments in the same transaction (a refused file leaves no incident behind)."""
        files = list(attachments)
        for file in files:
            file.check()
        incident_id = str(uuid.uuid4())
        now = self.clock()
        with self.store.engine.begin() as c:
            department = self.store.staff_department(c, values["staff_id"])
            row = {
                "incident_id": incident_id,
                "detection_key": None,
                "staff_id": values["staff_id"],
                "department_id": department,
                "prohibition": Prohibition(values["prohibition"]).value,
                "state": IncidentState.REPORTED.value,
                "source": "inspector",
                "rule": None,
                "summary": values["summary"],
                "occurred_at": values["occurred_at"],
                "evidence": values.get("evidence") or {},
                "confidence": None,
                "reported_by": values["reported_by"],
                "created_at": now,
                "updated_at": now,
            }
            event = {
                "incident_id": incident_id,
                "action": "report",
                "from_state": None,
                "to_state": IncidentState.REPORTED.value,
                "actor": values["reported_by"],
                "reason": values["summary"],
                "at": now,
            }
            self.store.insert_incidents(c, [row], [event])
            for file in files:
                self._store_attachment(c, incident_id, file, values["reported_by"], now)
        return incident_id

    def attach(self, incident_id: str, file: NewAttachment, uploaded_by: str) -> str:
        """Attach a file to an existing incident; returns the attachment's id."""
        file.check()
        with self.store.engine.begin() as c:
            return self._store_attachment(c, incident_id, file, uploaded_by, self.clock())

    def _store_attachment(
        self, c: Connection, incident_id: str, file: NewAttachment, uploaded_by: str, now: datetime
    ) -> str:
        attachment_id = str(uuid.uuid4())
        self.store.add_attachment(
            {
                "attachment_id": attachment_id,
                "incident_id": incident_id,
                "filename": file.filename or "attachment",
                "content_type": file.content_type or "application/octet-stream",
                "content": file.content,
                "uploaded_by": uploaded_by,
                "uploaded_at": now,
            },
            c,
        )
        return attachment_id

    def act(self, incident_id: str, action: IncidentAction, actor: str, reason: str) -> dict[str, Any]:
        """Review, confirm, dismiss, explain or appeal; every step records who, when and why."""
        now = self.clock()
        with self.store.engine.begin() as c:
            incident = self.store.incident(incident_id, c)
            state = IncidentState(incident["state"])
            new = next_state(state, action)
            event = {"action": action.value, "from_state": state.value, "actor": actor, "reason": reason}
            self.store.set_state(c, incident_id, new.value, now, event)
            if action in (IncidentAction.DISMISS, IncidentAction.WITHDRAW):
                WarningService(self.store, self.zone, self.clock).withdraw_for_incident(
                    c, incident_id, actor, reason
                )
            return self.store.incident(incident_id, c)

    # ------------------------------------------------------------------ found by rules
    def reconcile(
        self,
        found: Iterable[DetectedIncident],
        since: datetime,
        until: datetime,
        departments: dict[str, str],
        *,
        dry_run: bool,
        why_gone: Callable[[str], str] = lambda key: "the rule no longer finds it in the current data",
    ) -> Reconciliation:
        """Make rule-raised incidents of [since, until) match ``found``: raise new findings,
        withdraw those whose cause went away (with the reason), reinstate ones that came back."""
        result = Reconciliation()
        now = self.clock()
        wanted = {f.key: f for f in found}
        with self.store.engine.begin() as c:
            existing = self.store.detected_in(c, since, until)
            # A finding already raised on a day outside this range (a pattern found again on a
            # later day of it) is the same incident, not a new one.
            elsewhere = self.store.detected_by_keys(c, [k for k in wanted if k not in existing])
            rows, events = [], []
            for key, finding in sorted(wanted.items()):
                current = existing.get(key) or elsewhere.get(key)
                if current is None:
                    result.raised.append(finding)
                    incident_id = str(uuid.uuid4())
                    rows.append(self._row(incident_id, finding, departments[finding.staff_id], now))
                    events.append(
                        {
                            "incident_id": incident_id,
                            "action": "detect",
                            "from_state": None,
                            "to_state": IncidentState.REPORTED.value,
                            "actor": f"rule:{finding.rule}",
                            "reason": finding.summary,
                            "at": now,
                        }
                    )
                elif current["state"] == IncidentState.WITHDRAWN.value:
                    result.reinstated.append(key)
                    if not dry_run:
                        event = {
                            "action": "reinstate",
                            "from_state": IncidentState.WITHDRAWN.value,
                            "actor": f"rule:{finding.rule}",
                            "reason": "the rule finds it again in the current data",
                        }
                        self.store.set_state(
                            c, current["incident_id"], IncidentState.REPORTED.value, now, event
                        )
                else:
                    result.unchanged += 1
            for key, current in sorted(existing.items()):
                if key in wanted or current["state"] in (
                    IncidentState.WITHDRAWN.value,
                    IncidentState.DISMISSED.value,
                ):
                    continue
                reason = why_gone(key)
                result.withdrawn.append((key, reason))
                if not dry_run:
                    event = {
                        "action": "withdraw",
                        "from_state": current["state"],
                        "actor": "rule",
                        "reason": reason,
                    }
                    self.store.set_state(c, current["incident_id"], IncidentState.WITHDRAWN.value, now, event)
                    WarningService(self.store, self.zone, self.clock).withdraw_for_incident(
                        c, current["incident_id"], "rule", reason
                    )
            if not dry_run:
                self.store.insert_incidents(c, rows, events)
        return result

    def _row(
        self, incident_id: str, finding: DetectedIncident, department_id: str, now: datetime
    ) -> dict[str, Any]:
        occurred = finding.evidence.get("at")
        occurred_at = (
            datetime.fromisoformat(str(occurred))
            if occurred
            else datetime.combine(finding.day, time(0), self.zone)
        )
        return {
            "incident_id": incident_id,
            "detection_key": finding.key,
            "staff_id": finding.staff_id,
            "department_id": department_id,
            "prohibition": finding.prohibition.value,
            "state": IncidentState.REPORTED.value,
            "source": "rule",
            "rule": finding.rule,
            "summary": finding.summary,
            "occurred_at": occurred_at,
            "evidence": finding.evidence,
            "confidence": finding.confidence,
            "reported_by": f"rule:{finding.rule}",
            "created_at": now,
            "updated_at": now,
        }


class WarningService:
    def __init__(self, store: IncidentStore, zone: ZoneInfo, clock: Clock = utc_now) -> None:
        self.store = store
        self.zone = zone
        self.clock = clock

    def issue(self, incident_id: str, issued_by: str, reason: str) -> dict[str, Any]:
        """A warning for a confirmed incident's person; the head's escalation follows by itself."""
        now = self.clock()
        with self.store.engine.begin() as c:
            incident = self.store.incident(incident_id, c)
            if incident["state"] != IncidentState.CONFIRMED.value:
                raise ValueError(
                    f"incident_id: incident {incident_id!r} is {incident['state']}; only a confirmed incident can give a warning"
                )
            standing = self.store.standing_warning_for(c, incident_id)
            if standing is not None:
                raise IncidentStateError(
                    f"incident_id: incident {incident_id!r} already has warning {standing!r}; "
                    "one incident gives one warning (withdraw it first to issue another)"
                )
            staff_id = incident["staff_id"]
            department = self.store.staff_department(c, staff_id)
            year = now.astimezone(self.zone).year
            warning_id = str(uuid.uuid4())
            self.store.insert_warning(
                c,
                {
                    "warning_id": warning_id,
                    "staff_id": staff_id,
                    "department_id": department,
                    "year": year,
                    "kind": "personal",
                    # The head's own warnings do not count toward the head's chain.
                    "counts_for_department": self.store.head_of(c, department) != staff_id,
                    "ordinal": None,
                    "incident_id": incident_id,
                    "caused_by": [],
                    "reason": reason,
                    "issued_by": issued_by,
                    "issued_at": now,
                },
            )
            self.escalate(c, department, year, issued_by)
            return self.store.warning(c, warning_id)

    def withdraw(self, warning_id: str, withdrawn_by: str, reason: str) -> dict[str, Any]:
        with self.store.engine.begin() as c:
            warning = self.store.warning(c, warning_id)
            if warning["withdrawn_at"] is not None:
                raise ValueError(f"warning_id: warning {warning_id!r} is already withdrawn")
            if warning["kind"] != "personal":
                raise ValueError(
                    f"warning_id: {warning_id!r} is a head's escalation warning; withdraw the staff warning that caused it"
                )
            self._withdraw(c, warning, withdrawn_by, reason)
            return self.store.warning(c, warning_id)

    def withdraw_for_incident(self, c: Connection, incident_id: str, actor: str, reason: str) -> None:
        for warning in self.store.warnings(None, None, None, c):
            if warning["incident_id"] == incident_id and warning["withdrawn_at"] is None:
                self._withdraw(c, warning, actor, f"its incident was withdrawn or dismissed: {reason}")

    def _withdraw(self, c: Connection, warning: dict[str, Any], actor: str, reason: str) -> None:
        now = self.clock()
        self.store.update_warning(
            c, warning["warning_id"], withdrawn_at=now, withdrawn_by=actor, withdrawn_reason=reason
        )
        if warning["counts_for_department"]:
            self.escalate(c, warning["department_id"], warning["year"], actor)

    def escalate(self, c: Connection, department_id: str, year: int, actor: str) -> None:
        """Bring the head's escalation warnings of ``year`` in step with the staff's warnings."""
        warnings = [w for w in self.store.warnings(year, None, department_id, c) if w["withdrawn_at"] is None]
        staff = [
            StaffWarningRef(w["warning_id"], (w["issued_at"].isoformat(), w["warning_id"]))
            for w in warnings
            if w["kind"] == "personal" and w["counts_for_department"]
        ]
        heads = [w for w in warnings if w["kind"] == "escalation"]
        plan = plan_escalation(
            staff,
            [HeadWarningRef(w["warning_id"], w["ordinal"]) for w in heads],
            {w["warning_id"]: tuple(w["caused_by"]) for w in heads},
        )
        now = self.clock()
        for warning_id in plan.withdraw:
            self.store.update_warning(
                c,
                warning_id,
                withdrawn_at=now,
                withdrawn_by=actor,
                withdrawn_reason="the staff warnings of the year no longer reach this escalation",
            )
        for warning_id, causes in plan.relink:
            self.store.update_warning(c, warning_id, caused_by=list(causes))
        if not plan.issue:
            return
        head = self.store.head_of(c, department_id)
        if head is None:
            logger.warning("department %s has no head to receive escalation warnings", department_id)
            return
        for ordinal, causes in plan.issue:
            self.store.insert_warning(
                c,
                {
                    "warning_id": str(uuid.uuid4()),
                    "staff_id": head,
                    "department_id": department_id,
                    "year": year,
                    "kind": "escalation",
                    "counts_for_department": False,
                    "ordinal": ordinal,
                    "incident_id": None,
                    "caused_by": list(causes),
                    "reason": f"head's responsibility: staff warnings {2 * ordinal - 1} and {2 * ordinal} of {year}",
                    "issued_by": "rule:head_responsibility",
                    "issued_at": now,
                },
            )
