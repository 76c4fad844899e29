"""Terminal records to punch events, the same way for every path (pull, live capture, ADMS push)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from contracts import PunchEvent, PunchSource, VerifyMethod, punch_event_id
from devices.terminal import Punch
from edge.record_checks import FlagRules, punch_flags, verify_method


def record_id(serial: str, punch: Punch) -> str:
    """The event id of a terminal record: derived from its content only, never from how it came."""
    return punch_event_id(serial, punch.user_id, punch.device_time, punch.punch_state, punch.verify_mode)


@dataclass(frozen=True)
class PunchContext:
    """What turning one terminal's records into events needs to know about the terminal."""

    edge_id: str
    serial: str
    verify_map: dict[int, VerifyMethod]
    punch_states: Container[int]
    rules: FlagRules


def build_punch_event(
    context: PunchContext,
    punch: Punch,
    *,
    observed_at: datetime,
    known_absent_at: datetime | None,
    source: PunchSource,
    clock_unreliable: bool,
    uid_reused: bool = False,
) -> PunchEvent:
    """The punch event of one record, with the edge's doubts as flags."""
    return PunchEvent.create(
        edge_id=context.edge_id,
        device_serial=context.serial,
        user_id=punch.user_id,
        device_uid=punch.device_uid,
        device_time=punch.device_time,
        occurred_at=punch.occurred_at,
        observed_at=observed_at,
        verify_mode=punch.verify_mode,
        verify_method=verify_method(punch.verify_mode, context.verify_map),
        punch_state=punch.punch_state,
        source=source,
        log_index=punch.log_index,
        flags=punch_flags(
            punch,
            edge_now=observed_at,
            known_absent_at=known_absent_at,
            rules=context.rules,
            clock_unreliable=clock_unreliable,
            verify_codes=context.verify_map,
            punch_states=context.punch_states,
            user_enrolled=punch.user_enrolled,
            uid_reused=uid_reused,
        ),
    )
