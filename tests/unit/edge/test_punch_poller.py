from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from contracts import EventKind, parse_topic
from edge.outbox import Outbox
from edge.punch_poller import PunchPoller, record_id
from edge.record_checks import log_change
from edge.settings import TerminalSettings
from tests.unit.edge.fakes import FakeClock, FakeTerminal


def make_poller(
    tmp_path: Path, terminal: FakeTerminal, outbox: Outbox | None = None, clock: FakeClock | None = None
) -> tuple[PunchPoller, Outbox]:
    box = outbox or Outbox(tmp_path / "outbox.sqlite3")
    settings = TerminalSettings(serial="SN1", host="10.0.0.5", timezone="Asia/Shanghai")
    poller = PunchPoller(
        edge_id="edge-1",
        terminal=settings,
        open_terminal=lambda _: terminal,
        outbox=box,
        clock=clock or FakeClock(),
        poll_interval=1,
        retry_max=10,
        status_interval=60,
    )
    return poller, box


def queued(box: Outbox, kind: EventKind) -> list[dict[str, object]]:
    due = box.due(resend_after=60, limit=10_000, max_unacked=10_000)
    return [json.loads(m.payload) for m in due if parse_topic(m.topic).kind == kind]


def test_each_record_becomes_one_event_across_polls_and_restarts(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=5)
    poller, box = make_poller(tmp_path, terminal)
    assert poller.poll_once().new_events == 5
    assert poller.poll_once().new_events == 0
    terminal.punch("9", datetime(2026, 11, 2, 9, 30))
    assert poller.poll_once().new_events == 1

    # A restarted agent (new poller, same outbox file) re-reads the log and emits nothing twice.
    box.close()
    restarted, box = make_poller(tmp_path, terminal, Outbox(tmp_path / "outbox.sqlite3"))
    assert restarted.poll_once().new_events == 0
    punches = queued(box, EventKind.PUNCH)
    assert len(punches) == 6
    assert len({p["event_id"] for p in punches}) == 6
    assert punches[0]["occurred_at"].endswith("+08:00")
    assert punches[0]["verify_method"] == "fingerprint"


def test_acknowledged_records_are_not_emitted_again_after_restart(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=3)
    poller, box = make_poller(tmp_path, terminal)
    poller.poll_once()
    box.remove([m.event_id for m in box.due(resend_after=60, limit=100, max_unacked=100)])
    restarted, box = make_poller(tmp_path, terminal, box)
    assert restarted.poll_once().new_events == 0
    assert queued(box, EventKind.PUNCH) == []


def test_a_cleared_log_is_reported_not_taken_for_no_news(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=4)
    poller, _ = make_poller(tmp_path, terminal)
    poller.poll_once()
    terminal.log.clear()
    terminal.punch("3", datetime(2026, 11, 3, 8, 0))
    result = poller.poll_once()
    assert result.new_events == 1
    assert result.note is not None
    assert "shrank from 4 to 1 records" in result.note


def test_log_change_tells_append_from_shrink_overwrite_and_replacement() -> None:
    terminal = FakeTerminal(punches=6)
    ids = [record_id("SN1", p) for p in terminal.log]
    assert log_change(0, None, ids) is None  # first read
    assert log_change(4, ids[3], ids) is None  # appended
    shrank = log_change(6, ids[5], ids[:2])
    assert shrank is not None
    assert "shrank from 6 to 2" in shrank
    overwritten = log_change(4, ids[3], [*ids[2:], "x", "y"])
    assert overwritten is not None
    assert "overwritten" in overwritten
    replaced = log_change(4, ids[3], ["a", "b", "c", "d", "e"])
    assert replaced is not None
    assert "no longer holds" in replaced


def test_unreachable_terminal_is_reported_and_retried_without_crashing(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=2)
    terminal.reachable = False
    clock = FakeClock()
    poller, box = make_poller(tmp_path, terminal, clock=clock)
    with pytest.raises(Exception, match="timed out"):
        poller.poll_once()
    poller._fail("10.0.0.5:4370: timed out")
    statuses = queued(box, EventKind.DEVICE_STATUS)
    assert statuses[-1]["reachable"] is False
    assert "timed out" in str(statuses[-1]["error"])
    terminal.reachable = True
    clock.advance(5)
    assert poller.poll_once().new_events == 2
    latest = queued(box, EventKind.DEVICE_STATUS)[-1]
    assert latest["reachable"] is True
    assert latest["records"] == 2
    assert latest["clock_offset_seconds"] is not None


def test_a_terminal_answering_with_another_serial_is_refused(tmp_path: Path) -> None:
    poller, _ = make_poller(tmp_path, FakeTerminal(serial="SOMEONE-ELSE", punches=1))
    with pytest.raises(Exception, match="registered as 'SN1'"):
        poller.poll_once()


def test_corrupt_records_are_reported_with_device_and_offset(tmp_path: Path) -> None:
    from devices.errors import BadRecordError

    terminal = FakeTerminal(punches=3)
    terminal.problems = [BadRecordError("10.0.0.5:4370", 80, "record #2: day is out of range for month")]
    poller, box = make_poller(tmp_path, terminal)
    assert poller.poll_once().new_events == 3
    status = queued(box, EventKind.DEVICE_STATUS)[-1]
    assert status["record_problems"] == [
        "10.0.0.5:4370: record at offset 80: record #2: day is out of range for month"
    ]


def test_the_loop_backs_off_up_to_retry_max_and_recovers(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=2)
    terminal.reachable = False
    box = Outbox(tmp_path / "outbox.sqlite3")
    stop = threading.Event()
    clock = FakeClock()
    pauses: list[float] = []

    def wait(seconds: float) -> None:  # the loop's pause: recorded, and the fake clock moved on
        pauses.append(seconds)
        clock.advance(seconds)
        if len(pauses) == 6:
            terminal.reachable = True  # the terminal comes back after six failed passes
        if len(pauses) == 8:
            stop.set()

    poller = PunchPoller(
        edge_id="edge-1",
        terminal=TerminalSettings(
            serial="SN1", host="10.0.0.5", timezone="Asia/Shanghai", live_capture=False
        ),
        open_terminal=lambda _: terminal,
        outbox=box,
        clock=clock,
        poll_interval=1,
        retry_max=10,
        status_interval=60,
        wait=wait,
    )
    poller.run(stop)  # returns: nothing escaped the loop

    assert pauses == [2, 4, 8, 10, 10, 10, 1, 1]
    statuses = queued(box, EventKind.DEVICE_STATUS)
    assert statuses[0]["reachable"] is False
    assert str(statuses[0]["error"]).startswith("unreachable: 10.0.0.5:4370")
    assert statuses[-1]["reachable"] is True
    assert len(queued(box, EventKind.PUNCH)) == 2
