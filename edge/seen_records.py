"""The ids of every record of one terminal ever queued, so no read ever queues a record twice.

Kept in the outbox database (``seen_records``) and cached in memory; once a day the ids of
records that have left the device (cleared or overwritten) and are older than the retention
are forgotten, so the file does not grow for ever.
"""

from __future__ import annotations

import logging
from datetime import datetime

from edge.outbox import Outbox

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 86400.0


class SeenRecords:
    def __init__(self, outbox: Outbox, serial: str, retention_days: float) -> None:
        self._outbox = outbox
        self._serial = serial
        self._retention_seconds = retention_days * 86400
        self._ids: set[str] | None = None
        self._last_prune_at: datetime | None = None

    def ids(self) -> set[str]:
        """The ids queued so far (the caller adds to it what it queues)."""
        if self._ids is None:
            self._ids = self._outbox.seen_ids(self._serial)
        return self._ids

    def prune(self, on_device: list[str], now: datetime) -> None:
        """Forget old ids no longer on the device, at most once every ``PRUNE_EVERY_SECONDS``."""
        if (
            self._last_prune_at is not None
            and (now - self._last_prune_at).total_seconds() < PRUNE_EVERY_SECONDS
        ):
            return
        self._last_prune_at = now
        cutoff = now.timestamp() - self._retention_seconds
        forgotten = self._outbox.forget_seen(self._serial, still_on_device=on_device, seen_before=cutoff)
        if forgotten:
            logger.info(
                "terminal %s: forgot %d ids of records no longer on the device", self._serial, forgotten
            )
            self._ids = None  # reloaded on next use
