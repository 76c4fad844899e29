"""A stranger's snapshot queued at the edge longer than face.unknown_snapshot_hours is dropped from
its check-in (on a real SQLite outbox); identified faces and everything else stay as queued."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path

from contracts import (
    EventKind,
    FaceLiveness,
    FaceObservation,
    FaceOutcome,
    decode_event,
    encode,
    event_topic,
)
from edge.outbox import Outbox, OutboxMessage
from edge.snapshot_retention import SnapshotRetention, without_unknown_snapshot

JPEG = base64.b64encode(b"\xff\xd8\xff\xe0 a face").decode()
AT = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
TOPIC = event_topic("edge-s", EventKind.FACE, "cam-s")


def _face(track: int, staff_id: str | None) -> FaceObservation:
    return FaceObservation.create(
        edge_id="edge-s",
        camera_id="cam-s",
        track_id=track,
        occurred_at=AT,
        outcome=FaceOutcome.KNOWN if staff_id else FaceOutcome.UNKNOWN,
        staff_id=staff_id,
        distance=0.7 if staff_id is None else 0.35,
        liveness=FaceLiveness.PASSED,
        snapshot_jpeg_b64=JPEG,
    )


def _queued(outbox: Outbox) -> dict[str, FaceObservation]:
    due = outbox.due(resend_after=0, limit=100, max_unacked=100)
    return {m.event_id: decode_event(m.topic, m.payload) for m in due}  # type: ignore[misc]


def test_only_stale_unknown_snapshots_are_dropped_and_the_check_ins_stay(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    stranger, colleague = _face(1, None), _face(2, "S-1")
    outbox.add([OutboxMessage(e.event_id, TOPIC, encode(e)) for e in (stranger, colleague)])
    queued_at = time.time()

    assert SnapshotRetention(outbox, hours=6, wall_clock=lambda: queued_at + 5 * 3600).run_once() == 0
    assert _queued(outbox)[stranger.event_id].snapshot_jpeg_b64 == JPEG

    later = SnapshotRetention(outbox, hours=6, wall_clock=lambda: queued_at + 7 * 3600)
    assert later.run_once() == 1
    queued = _queued(outbox)
    assert queued[stranger.event_id].snapshot_jpeg_b64 is None  # the same event id, still to deliver
    assert queued[stranger.event_id].outcome is FaceOutcome.UNKNOWN
    assert queued[colleague.event_id].snapshot_jpeg_b64 == JPEG
    assert later.run_once() == 0
    assert outbox.depth() == 2
    outbox.close()


def test_other_events_and_unreadable_payloads_are_left_alone() -> None:
    punch_topic = event_topic("edge-s", EventKind.PUNCH, "SN1")
    assert without_unknown_snapshot(punch_topic, b"{}") is None
    assert without_unknown_snapshot(TOPIC, b"not json") is None
    assert without_unknown_snapshot("not/a/topic", encode(_face(3, None))) is None
    assert without_unknown_snapshot(TOPIC, encode(_face(4, "S-2"))) is None
