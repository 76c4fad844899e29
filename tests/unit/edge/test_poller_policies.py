"""Poller policies with a fake terminal: live capture, clearing, commands, clock correction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import EventKind
from devices.errors import DeviceUnreachable
from edge.outbox import Outbox
from edge.punch_poller import TASK_ATTEMPTS, PunchPoller
from edge.settings import TerminalSettings
from tests.support.processes import wait_until
from tests.unit.edge.fakes import FakeClock, FakeTerminal
from tests.unit.edge.test_punch_poller import queued


def poller(
    tmp_path: Path, terminal: FakeTerminal, clock: Any = None, **fields: object
) -> tuple[PunchPoller, Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3")
    settings = TerminalSettings.model_validate(
        {"serial": "SN1", "host": "10.0.0.5", "timezone": "Asia/Shanghai", "live_idle_seconds": 0.01} | fields
    )
    return (
        PunchPoller(
            edge_id="edge-1",
            terminal=settings,
            open_terminal=lambda _: terminal,
            outbox=box,
            clock=clock or FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC)),
            poll_interval=0.05,
            retry_max=0.1,
            status_interval=3600,
        ),
        box,
    )


def test_live_punches_are_queued_once_and_the_run_loop_stops(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=3)
    terminal.live.clear()  # history: read by the first full read, not pushed live
    p, box = poller(tmp_path, terminal)
    stop = threading.Event()
    thread = threading.Thread(target=p.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: len(queued(box, EventKind.PUNCH)) == 3, 10, "the first full read")
        terminal.punch("5", datetime(2026, 11, 2, 9, 59))
        wait_until(lambda: len(queued(box, EventKind.PUNCH)) == 4, 10, "the live punch")
        p.wake()  # reconcile: the live punch is in the log too, and is not queued again
        wait_until(lambda: p._full_read_requested is False, 10, "the reconciliation")
    finally:
        stop.set()
        p.wake()
        thread.join(10)
    assert not thread.is_alive()
    sources = sorted(e["source"] for e in queued(box, EventKind.PUNCH))
    assert sources == ["live", "pull", "pull", "pull"]


def test_clear_needs_policy_and_acknowledgements(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=4)
    p, box = poller(tmp_path, terminal, clear_log="when_acknowledged", clear_log_at_fill=0.5)
    p.request_clear()
    p.poll_once()
    assert terminal.clears == 0  # 4 events wait for the server
    box.remove([m.event_id for m in box.due(resend_after=0, limit=100, max_unacked=100)])
    p.request_clear()
    p.poll_once()
    assert terminal.clears == 1
    assert terminal.log == []


def test_a_drifted_clock_is_corrected_only_when_allowed(tmp_path: Path) -> None:
    terminal = FakeTerminal()
    terminal.clock_offset = timedelta(minutes=5)

    class Wall:
        def now(self) -> datetime:
            return datetime.now(UTC)

    p, box = poller(tmp_path, terminal, clock=Wall(), correct_clock=True)
    p.poll_once()
    assert len(terminal.clock_sets) == 1
    status = queued(box, EventKind.DEVICE_STATUS)[-1]
    assert any("ahead of the edge" in a and "set to the edge clock" in a for a in status["alerts"])


def test_a_failing_command_is_retried_then_given_up_and_reported(tmp_path: Path) -> None:
    terminal = FakeTerminal()
    p, box = poller(tmp_path, terminal)
    calls: list[int] = []

    def task(device: object) -> str:
        calls.append(1)
        terminal.reachable = False
        raise DeviceUnreachable("x", "gone")

    p.submit(task)
    for _ in range(TASK_ATTEMPTS):
        with pytest.raises(DeviceUnreachable):
            p._run_tasks()
    assert len(calls) == TASK_ATTEMPTS
    terminal.reachable = True
    p.poll_once()
    assert any("given up after 3 attempts" in a for a in queued(box, EventKind.DEVICE_STATUS)[-1]["alerts"])


def test_a_record_inserted_after_a_complete_health_check_is_flagged(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=2)
    clock = FakeClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    p, box = poller(tmp_path, terminal, clock=clock, backfill_tolerance_seconds=600)
    p.poll_once()  # full read at 10:00
    clock.advance(3600)
    p.check_once()  # 11:00: the log holds exactly what is known
    clock.advance(60)
    terminal.punch("9", datetime(2026, 11, 2, 10, 30))  # 补签 at 11:01 for 10:30, no live event
    terminal.punch("8", datetime(2026, 11, 2, 11, 0, 30))  # a real punch after the check
    terminal.live.clear()
    p.poll_once()
    flags = {e["user_id"]: e["flags"] for e in queued(box, EventKind.PUNCH)}
    assert "device_time_far_before_observed" in flags["9"]  # the full read was at 10:00, the check at 11:00
    assert "device_time_far_before_observed" not in flags["8"]


def test_a_corrupt_record_does_not_make_every_health_check_reconcile(tmp_path: Path) -> None:
    from devices.errors import BadRecordError

    terminal = FakeTerminal(punches=3)
    terminal.problems = [BadRecordError("10.0.0.5:4370", 40, "record #1: day is out of range for month")]
    real_info = terminal.read_info

    def info_counting_the_corrupt_record() -> object:
        info = real_info()
        return info.__class__(**{**info.__dict__, "records": len(terminal.log) + len(terminal.problems)})

    terminal.read_info = info_counting_the_corrupt_record  # type: ignore[method-assign]
    p, _ = poller(tmp_path, terminal)
    p.poll_once()
    p.check_once()
    assert p._full_read_requested is False
    terminal.punch("4", datetime(2026, 11, 2, 9, 59))  # missed by live capture
    p.check_once()
    assert p._full_read_requested is True


def test_ids_of_records_long_gone_from_the_device_are_forgotten(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=3)
    clock = FakeClock(datetime.now(UTC))  # the outbox stamps first-seen times with the host clock
    p, box = poller(tmp_path, terminal, clock=clock, seen_retention_days=90)
    p.poll_once()
    box.remove([m.event_id for m in box.due(resend_after=0, limit=100, max_unacked=100)])  # acknowledged
    gone = terminal.log[:2]
    del terminal.log[:2]  # overwritten on the device
    clock.advance(91 * 86400)
    p.poll_once()
    assert len(box.seen_ids("SN1")) == 1  # only the record still on the device is remembered
    terminal.log[:0] = gone  # a record that comes back after its id was forgotten is read again
    clock.advance(60)
    assert p.poll_once().new_events == 2


def test_a_full_overwriting_log_does_not_make_every_health_check_reconcile(tmp_path: Path) -> None:
    terminal = FakeTerminal(punches=5)
    terminal.record_capacity = 5  # full: each new punch overwrites the oldest record
    p, box = poller(tmp_path, terminal)
    p.poll_once()
    for minute in range(3):  # three punches arrive by live capture; the log still holds 5
        p._on_live_punch(terminal.punch("2", datetime(2026, 11, 2, 9, minute)))
    assert len(terminal.log) == 5
    p.check_once()
    assert p._full_read_requested is False
    assert len(queued(box, EventKind.PUNCH)) == 8
    p.poll_once()
    terminal.record_capacity = 100  # not full: a punch live capture missed shows in the count
    terminal.punch("3", datetime(2026, 11, 2, 9, 11))
    p.check_once()
    assert p._full_read_requested is True
