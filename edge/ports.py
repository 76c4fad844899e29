"""What edge logic needs from the outside world, as small Protocols (fakes implement them in tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from devices.terminal import FingerprintTerminal
from edge.settings import TerminalSettings


class Clock(Protocol):
    def now(self) -> datetime:
        """The edge's current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# Opens a connection to one configured terminal (the ZKTeco adapter in production).
TerminalFactory = Callable[[TerminalSettings], FingerprintTerminal]
