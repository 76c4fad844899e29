"""When a full read of a terminal log may run: inside an off-peak window of the terminal's day."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo


def parse_window(window: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` as start and end times; raises ValueError naming the bad part."""
    start_text, _, end_text = window.partition("-")
    try:
        return time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        raise ValueError(f"reconcile window {window!r} must be HH:MM-HH:MM, e.g. 01:00-05:00") from None


def in_window(now: datetime, window: str, zone: str) -> bool:
    """Whether ``now`` (aware) falls in ``window`` on the terminal's wall clock; windows may wrap
    past midnight (``"22:00-05:00"``)."""
    start, end = parse_window(window)
    local = now.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    if start <= end:
        return start <= local < end
    return local >= start or local < end
