"""Clocks, backfill flags, log shrink, clearing, capacity and address changes, with pyzk and the simulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.simulator import TerminalSimulator
from tests.support.processes import wait_until
from tests.support.services import free_port
from tests.support.terminal_rig import ZONE, PollerRig

pytestmark = pytest.mark.integration


def host_wall() -> datetime:
    return datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)


def by_user(rig: PollerRig, user_id: str) -> dict[str, object]:
    (punch,) = [p for p in rig.punches() if p["user_id"] == user_id]
    return punch


def test_drift_is_reported_and_corrected_only_when_the_policy_allows(tmp_path: Path) -> None:
    faults = SimFaults(clock_offset_seconds=-3600)
    with TerminalSimulator(serial="SN-DRIFT", users=3, timezone=ZONE, faults=faults) as sim:
        rig = PollerRig(tmp_path, sim, live_capture=False, clock_drift_threshold_seconds=60)
        with rig:
            rig.poller.poll_once()
            status = rig.statuses()[-1]
            assert status["clock_offset_seconds"] == pytest.approx(-3600, abs=5)
            assert any("s behind the edge" in a and "not corrected" in a for a in status["alerts"])
            assert abs((sim.state.now() - host_wall()).total_seconds() + 3600) < 5  # left alone

        fixing = PollerRig(tmp_path / "fix", sim, live_capture=False, correct_clock=True)
        with fixing:
            fixing.poller.poll_once()
            assert any("set to the edge clock" in a for a in fixing.statuses()[-1]["alerts"])
            assert abs((sim.state.now() - host_wall()).total_seconds()) < 5


def test_a_clock_set_back_and_a_future_record_are_flagged(tmp_path: Path) -> None:
    with TerminalSimulator(serial="SN-FLAG", users=10, records=2, timezone=ZONE) as sim:
        rig = PollerRig(tmp_path, sim, live_capture=False, backfill_tolerance_seconds=600)
        with rig:
            rig.poller.poll_once()  # the initial import: history is not flagged
            assert all(p["flags"] == [] for p in rig.punches())
            sim.state.set_time(host_wall() - timedelta(days=2))  # someone sets the clock back
            sim.add_punch("5")  # 补签: a punch that claims to be two days old
            sim.add_punch("6", when=host_wall() + timedelta(days=1))  # a record from tomorrow
            sim.state.set_time(host_wall())
            sim.add_punch("7")  # an honest punch
            rig.poller.poll_once()
            assert "device_time_far_before_observed" in by_user(rig, "5")["flags"]
            assert by_user(rig, "6")["flags"] == ["device_time_in_future"]
            assert by_user(rig, "7")["flags"] == []


def test_a_punch_pushed_live_from_a_clock_set_back_is_flagged(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-LIVEBACK", users=5, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim).start() as rig,
    ):
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture")
        sim.state.set_time(host_wall() - timedelta(hours=3))
        sim.add_punch("1")
        wait_until(lambda: len(rig.punches()) == 1, 20, "the live punch")
        assert "device_time_far_before_observed" in rig.punches()[0]["flags"]


def test_a_log_cleared_on_the_device_is_reported_not_taken_for_no_news(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-SHRINK", users=5, records=20, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        rig.poller.poll_once()
        sim.state.clear_attendance()  # someone cleared it at the device's menu
        sim.add_punch("1")
        result = rig.poller.poll_once()
        assert result.new_events == 1
        assert any("shrank from 20 to 1 records" in a for a in rig.statuses()[-1]["alerts"])


def test_the_log_is_cleared_only_after_the_server_acknowledged_every_record(tmp_path: Path) -> None:
    with TerminalSimulator(serial="SN-CLEAR", users=5, records=10, timezone=ZONE) as sim:
        never = PollerRig(tmp_path / "never", sim, live_capture=False)
        with never:
            never.poller.request_clear()
            never.poller.poll_once()
            assert len(sim.state.records) == 10
            assert any("policy is clear_log: never" in a for a in never.statuses()[-1]["alerts"])

        rig = PollerRig(tmp_path, sim, live_capture=False, clear_log="when_acknowledged", clear_log_at_fill=1)
        with rig:
            rig.poller.request_clear()
            rig.poller.poll_once()  # read, but nothing acknowledged yet
            assert len(sim.state.records) == 10
            assert any("10 punch event(s) still await" in a for a in rig.statuses()[-1]["alerts"])
            rig.ack_all()
            sim.add_punch("3")  # a new punch the server has not seen: still no clearing
            rig.poller.request_clear()
            rig.poller.poll_once()
            assert len(sim.state.records) == 11
            rig.ack_all()
            rig.poller.request_clear()
            rig.poller.poll_once()
            assert sim.state.records == []
            assert any("all 11 records in it were acknowledged" in a for a in rig.statuses()[-1]["alerts"])
            sim.add_punch("4")
            rig.poller.poll_once()  # our own clear is no "shrink"
            assert [p["user_id"] for p in rig.punches()] == ["4"]
            assert not any("shrank" in a for a in rig.statuses()[-1]["alerts"])


def test_a_log_with_an_undecodable_record_is_cleared_only_once_its_raw_bytes_were_acknowledged(
    tmp_path: Path,
) -> None:
    with (
        TerminalSimulator(serial="SN-RAW", users=5, records=10, corrupt_records=[2], timezone=ZONE) as sim,
        PollerRig(
            tmp_path, sim, live_capture=False, clear_log="when_acknowledged", clear_log_at_fill=1
        ) as rig,
    ):
        raw = sim.state.attendance_blob()[4 + 80 : 4 + 120]  # record #2, Feb 30, as the device serves it
        rig.poller.request_clear()
        rig.poller.poll_once()
        assert len(sim.state.records) == 10
        status = rig.statuses()[-1]
        assert any("not cleared: 1 undecodable record(s) not yet sent raw" in a for a in status["alerts"])
        (problem,) = status["record_problems"]
        assert "record at offset 80: record #2: 40-byte record:" in problem
        assert problem.endswith(f"; raw {raw.hex()}")

        punch_ids = [p["event_id"] for p in rig.punches()]
        rig.outbox.remove(punch_ids)  # the punches are acknowledged, the status carrying the raw record not
        rig.poller.request_clear()
        rig.poller.poll_once()
        assert len(sim.state.records) == 10
        assert any("awaits the server's acknowledgement" in a for a in rig.statuses()[-1]["alerts"])

        rig.ack_all()
        rig.poller.request_clear()
        rig.poller.poll_once()
        assert sim.state.records == []
        assert any(
            "all 9 records in it were acknowledged by the server (1 undecodable, delivered raw)" in a
            for a in rig.statuses()[-1]["alerts"]
        )


def test_a_full_log_that_overwrites_raises_capacity_alerts_and_no_duplicates(tmp_path: Path) -> None:
    faults = SimFaults(record_capacity=100)
    with (
        TerminalSimulator(serial="SN-FULL", users=5, records=85, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        rig.poller.poll_once()
        status = rig.statuses()[-1]
        assert status["capacity_alert"] == "warning"
        assert "records 85 of 100 (85%) used" in status["alerts"]
        for n in range(20):
            sim.add_punch(str(n % 5 + 1), when=host_wall() - timedelta(seconds=100 - n))
        assert len(sim.state.records) == 100
        rig.poller.poll_once()
        status = rig.statuses()[-1]
        assert status["capacity_alert"] == "critical"
        assert any("overwritten" in a for a in status["alerts"])
        ids = [p["event_id"] for p in rig.punches()]
        assert len(ids) == len(set(ids)) == 105


def test_a_terminal_is_found_by_serial_at_a_new_address(tmp_path: Path) -> None:
    with TerminalSimulator(serial="SN-MOVED", users=3, records=2, timezone=ZONE) as sim:
        old_port = free_port()
        rig = PollerRig(
            tmp_path,
            sim,
            live_capture=False,
            port=old_port,
            timeout_seconds=1,
            candidate_hosts=[f"127.0.0.1:{sim.port}"],
        )
        with rig:
            rig.poller.poll_once()
            status = rig.statuses()[-1]
            assert status["address"] == f"127.0.0.1:{sim.port}"
            assert status["previous_address"] == f"127.0.0.1:{old_port}"
            assert any("found at a new address" in a for a in status["alerts"])
            assert len(rig.punches()) == 2
        # The new address is remembered across restarts.
        again = PollerRig(tmp_path, sim, live_capture=False, port=old_port, timeout_seconds=1)
        with again:
            again.poller.poll_once()
            assert again.statuses()[-1]["address"] == f"127.0.0.1:{sim.port}"
