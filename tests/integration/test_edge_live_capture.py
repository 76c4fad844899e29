"""Live capture, reconciliation and reconnects: the edge's poller with pyzk against the simulator."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.simulator import TerminalSimulator
from tests.support.processes import wait_until
from tests.support.terminal_rig import ZONE, PollerRig

pytestmark = pytest.mark.integration


def ids(rig: PollerRig) -> list[str]:
    return [p["event_id"] for p in rig.punches()]


def test_live_punches_arrive_as_live_events_and_reconciliation_never_duplicates(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-LIVE", users=5, records=30, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim).start() as rig,
    ):
        wait_until(lambda: len(rig.punches()) == 30, 20, "the initial full read")
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture to register")
        for n in range(5):
            sim.add_punch(str(n + 1), punch_state=n % 2)
        wait_until(lambda: len(rig.punches()) == 35, 20, "five live punches")
        live = [p for p in rig.punches() if p["source"] == "live"]
        assert len(live) == 5
        assert all(p["log_index"] is None and p["flags"] == [] for p in live)

        before = rig.poller._last_full_read_at
        rig.poller.wake()  # a reconciliation reads the whole log again
        wait_until(lambda: rig.poller._last_full_read_at != before, 20, "a reconciliation")
        assert len(ids(rig)) == len(set(ids(rig))) == 35


def test_punches_made_while_live_capture_was_down_are_reconciled_once(tmp_path: Path) -> None:
    with TerminalSimulator(serial="SN-GAP", users=5, records=3, timezone=ZONE) as sim:
        with PollerRig(tmp_path, sim).start() as rig:
            wait_until(lambda: len(rig.punches()) == 3, 20, "the initial read")
            rig.ack_all()
        sim.add_punch("2")
        sim.add_punch("3")  # nobody listening: only a full read finds these
        with PollerRig(tmp_path, sim).start() as again:
            wait_until(lambda: len(again.punches()) == 2, 20, "the missed punches")
            assert {p["source"] for p in again.punches()} == {"pull"}
            wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture")
            sim.add_punch("4")
            wait_until(lambda: len(again.punches()) == 3, 20, "a live punch after the gap")


@pytest.mark.parametrize("silent", [False, True], ids=["connection-closed", "power-cut"])
def test_the_poller_reconnects_after_the_terminal_reboots(silent: bool, tmp_path: Path) -> None:
    # A power cut leaves pyzk's live capture waiting forever: only the health check notices.
    with (
        TerminalSimulator(serial="SN-BOOT", users=5, records=2, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_check_seconds=1).start() as rig,
    ):
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture")
        sim.reboot(silent=silent)
        sim.add_punch("1")  # made while nobody listens
        wait_until(lambda: len(rig.punches()) == 3, 30, "reconciliation after the reboot")
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture again")
        sim.add_punch("2")
        wait_until(lambda: len(rig.punches()) == 4, 20, "a live punch after the reboot")
        assert rig.punches()[-1]["source"] == "live"


def test_live_rate_generator_punches_on_the_device_clock(tmp_path: Path) -> None:
    faults = SimFaults(clock_offset_seconds=-7200)  # the device clock is two hours behind
    with TerminalSimulator(serial="SN-RATE", users=4, timezone=ZONE, faults=faults) as sim:
        live = sim.start_live_punches(per_minute=600)
        wait_until(lambda: live.made >= 3, 10, "three generated punches")
        sim.stop_live_punches()
        records = sim.state.records
        device_now = sim.state.now()
        host_wall = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)
        for record in records:
            assert abs((record.timestamp - device_now).total_seconds()) < 60
            assert abs((host_wall - record.timestamp).total_seconds() - 7200) < 60
