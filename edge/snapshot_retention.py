"""A stranger's snapshot does not wait at the edge longer than the server would keep it.

While the server is unreachable, check-ins stay in the edge's outbox. The snapshot of an unknown
face (someone who never consented) is dropped from a queued check-in once it has waited longer than
``face.unknown_snapshot_hours``; the observation itself (camera, time, distance, liveness) is still
delivered, as the server keeps it after its own purge (``faces.unknown_snapshot_hours``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from contracts import (
    ContractError,
    EventKind,
    FaceObservation,
    FaceOutcome,
    decode_event,
    encode,
    parse_topic,
)
from contracts.topics import TopicError
from edge.outbox import Outbox

logger = logging.getLogger(__name__)

# Often enough that a snapshot outlives its retention by at most a tenth of it (and ten minutes).
_MAX_INTERVAL_SECONDS = 600.0


def without_unknown_snapshot(topic: str, payload: bytes) -> bytes | None:
    """The payload of an unknown face's check-in without its snapshot; None for anything else."""
    try:
        if parse_topic(topic).kind is not EventKind.FACE:
            return None
        event = decode_event(topic, payload)
    except (TopicError, ContractError):
        return None  # not ours to judge: it is delivered (or dead-lettered) as it is
    if not isinstance(event, FaceObservation) or event.outcome is not FaceOutcome.UNKNOWN:
        return None
    if event.snapshot_jpeg_b64 is None:
        return None
    return encode(event.model_copy(update={"snapshot_jpeg_b64": None}))


class SnapshotRetention:
    """Drops stale unknown-face snapshots from the outbox, now and then."""

    def __init__(self, outbox: Outbox, hours: float, wall_clock: Callable[[], float] = time.time) -> None:
        self._outbox = outbox
        self._seconds = hours * 3600
        self._wall_clock = wall_clock

    def run_once(self) -> int:
        """Strip what is due now; returns how many queued check-ins lost their snapshot."""
        stripped = self._outbox.rewrite_older(self._wall_clock() - self._seconds, without_unknown_snapshot)
        if stripped:
            logger.info("dropped the snapshots of %d queued unknown-face check-ins (retention)", stripped)
        return stripped

    def run(self, stop: threading.Event) -> None:
        interval = min(_MAX_INTERVAL_SECONDS, self._seconds / 10)
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("snapshot retention failed; next try in %.0f s", interval)
            stop.wait(interval)
