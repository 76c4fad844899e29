from __future__ import annotations

import time
from pathlib import Path

from edge.outbox import Outbox, OutboxMessage, ReadCursor


def msgs(*ids: str) -> list[OutboxMessage]:
    return [OutboxMessage(i, f"t/{i}", i.encode()) for i in ids]


def test_messages_survive_reopening_and_leave_only_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.add(msgs("a", "b", "c"), cursor=("SN1", ReadCursor(3, "c"))) == 3
    assert box.add(msgs("b", "d")) == 1  # an id already queued is not queued twice
    box.close()

    box = Outbox(tmp_path / "o.sqlite3")
    assert box.cursor("SN1") == ReadCursor(3, "c")
    assert box.cursor("unknown") == ReadCursor()
    assert [m.event_id for m in box.due(resend_after=30, limit=10, max_unacked=100)] == ["a", "b", "c", "d"]
    assert box.remove(["a", "c", "zzz"]) == 2
    assert box.depth() == 2


def test_sent_messages_wait_for_their_ack_then_are_sent_again(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.add(msgs("a", "b"))
    box.mark_sent(["a"])
    assert [m.event_id for m in box.due(resend_after=30, limit=10, max_unacked=100)] == ["b"]
    time.sleep(0.05)
    assert [m.event_id for m in box.due(resend_after=0.01, limit=10, max_unacked=100)] == ["a", "b"]
    box.mark_sent(["a", "b"])
    box.mark_all_unsent()  # after a reconnect everything in flight is due again
    assert len(box.due(resend_after=30, limit=10, max_unacked=100)) == 2


def test_in_flight_window_limits_what_is_due(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.add(msgs(*[f"e{i}" for i in range(10)]))
    first = box.due(resend_after=30, limit=100, max_unacked=4)
    assert len(first) == 4
    box.mark_sent([m.event_id for m in first])
    assert box.due(resend_after=30, limit=100, max_unacked=4) == []
    box.remove([first[0].event_id])
    assert len(box.due(resend_after=30, limit=100, max_unacked=4)) == 1
    assert box.oldest_age_seconds() is not None


def test_mark_sent_says_how_many_were_resends(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.add(msgs("a", "b", "c"))
    assert box.mark_sent(["a"]) == 0
    assert box.mark_sent(["a", "b"]) == 1  # "a" was published before, "b" was not
    assert box.mark_sent(["a", "b", "c", "gone"]) == 2
