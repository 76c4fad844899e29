"""Clearing a terminal's log, only when the server has acknowledged every record in it.

Terminals fill up (100 000 records is typical) and then overwrite or refuse punches, so a log
must be cleared now and then; clearing one record the server has not stored loses it for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from devices.errors import BadRecordError
from devices.terminal import FingerprintTerminal, Punch, TerminalInfo
from edge.outbox import Outbox

logger = logging.getLogger(__name__)


def clearing_due(policy: str, at_fill: float, info: TerminalInfo, requested: bool) -> tuple[bool, str | None]:
    """Whether to try clearing now (the log is ``at_fill`` full, or a command asked), and why not
    when a command asked and the policy forbids it."""
    if policy == "never":
        refusal = "clear_log refused: the terminal's policy is clear_log: never" if requested else None
        return False, refusal
    full = info.record_capacity > 0 and info.records >= at_fill * info.record_capacity
    return info.records > 0 and (full or requested), None


def clear_if_acknowledged(
    device: FingerprintTerminal,
    outbox: Outbox,
    punch_topic: str,
    all_queued: Callable[[list[Punch]], bool],
    problems_undelivered: Callable[[list[str]], str | None],
) -> tuple[bool, str]:
    """Clear ``device``'s log if each of its records was queued and no queued punch still waits
    for the server's acknowledgement. Returns whether it was cleared and a message saying why.

    A record that cannot be decoded exists nowhere but on the device and, raw, in the device
    status that reported it: ``problems_undelivered`` says why not yet (None once every one was
    sent raw in a status the server acknowledged), and until then the log stays.

    The check runs on the log as read with the terminal kept from logging (``clear_log``), so a
    punch made meanwhile cannot slip in between the check and the clear.
    """
    reasons: list[str] = []

    def may_clear(log: list[Punch], problems: list[BadRecordError]) -> bool:
        if not all_queued(log):
            reasons.append("some records in it were never read")
            return False
        undelivered = problems_undelivered([str(p) for p in problems]) if problems else None
        if undelivered:
            reasons.append(undelivered)
            return False
        waiting = outbox.pending_on(punch_topic)
        if waiting:
            reasons.append(f"{waiting} punch event(s) still await the server's acknowledgement")
            return False
        raw = f" ({len(problems)} undecodable, delivered raw)" if problems else ""
        reasons.append(f"all {len(log)} records in it were acknowledged by the server{raw}")
        return True

    cleared = device.clear_log(may_clear)
    why = "; ".join(reasons) or "nothing to check"
    message = f"device log cleared: {why}" if cleared else f"device log not cleared: {why}"
    logger.info("%s: %s", device.address, message)
    return cleared, message
