"""Each simulator quirk (zk-protocol.md §6): pyzk 0.9 talks to the simulator and the edge copes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from zk import ZK
from zk.exception import ZKErrorResponse

from devices.errors import DeviceAuthError, DeviceUnreachable
from devices.zkteco.records import UserRecord
from devices.zkteco.sim_faults import SimFaults, load_faults
from devices.zkteco.simulator import TerminalSimulator
from tests.support.processes import wait_until
from tests.support.terminal_rig import ZONE, PollerRig

pytestmark = pytest.mark.integration


def event_ids(rig: PollerRig) -> list[str]:
    return [p["event_id"] for p in rig.punches()]


def test_realistic_1008_byte_packets_carry_a_large_log(tmp_path: Path) -> None:
    """pyzk 0.9 reads a train of 1008-byte frames only while they trickle in (zk-protocol.md §2.4):
    if it falls behind, its blocking ``recv`` waits for bytes that already came and the transfer
    times out, as it does on a real device. The edge reports that and reads again on its next poll,
    so the whole log arrives, once, even on a loaded machine."""
    faults = SimFaults(realistic_packets=True)
    with (
        TerminalSimulator(serial="SN-PKT", users=50, records=5000, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False, timeout_seconds=3).start() as rig,
    ):
        wait_until(lambda: len(rig.punches()) >= 5000, 120, "the whole log over 1008-byte frames")
        ids = event_ids(rig)
        assert len(ids) == len(set(ids)) == 5000


def test_udp_only_firmware_is_read_over_udp_and_tcp_fails_clearly(tmp_path: Path) -> None:
    faults = SimFaults(udp_only=True)
    with TerminalSimulator(
        serial="SN-UDP", users=5, records=30, udp=True, timezone=ZONE, faults=faults
    ) as sim:
        with (
            PollerRig(tmp_path / "tcp", sim, live_capture=False, timeout_seconds=1) as tcp,
            pytest.raises(DeviceUnreachable, match="connect over tcp"),
        ):
            tcp.poller.poll_once()
        with PollerRig(tmp_path, sim, live_capture=False, transport="udp") as udp:
            assert udp.poller.poll_once().new_events == 30


def test_a_busy_device_is_reported_and_read_once_it_answers(tmp_path: Path) -> None:
    faults = SimFaults(busy_commands={1503})  # CMD_PREPARE_BUFFER answered with ACK_ERROR
    with (
        TerminalSimulator(serial="SN-BUSY", users=5, records=12, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False).start() as rig,
    ):
        wait_until(lambda: any(s["error"] for s in rig.statuses()), 20, "a busy status")
        assert "device refused" in rig.statuses()[-1]["error"]
        assert rig.punches() == []
        sim.state.faults.busy_commands = set()
        wait_until(lambda: len(rig.punches()) == 12, 20, "the log once the device answers")
        wait_until(lambda: rig.statuses()[-1]["reachable"], 20, "a reachable status")


def test_a_second_client_is_refused_while_the_edge_holds_the_connection(tmp_path: Path) -> None:
    faults = SimFaults(single_client=True)
    with (
        TerminalSimulator(serial="SN-ONE", users=5, records=3, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        rig.poller.poll_once()  # the edge keeps its connection open between reads
        other = ZK("127.0.0.1", port=sim.port, timeout=2, ommit_ping=True)
        with pytest.raises(ZKErrorResponse, match="Can't connect"):
            other.connect()
        sim.add_punch("1")
        assert rig.poller.poll_once().new_events == 1  # and the edge's session still works


@pytest.mark.parametrize("silently", [False, True], ids=["closed", "silent"])
def test_a_connection_dropped_mid_transfer_is_retried_without_duplicates(
    silently: bool, tmp_path: Path
) -> None:
    faults = SimFaults(drop_after_chunks=1, drop_silently=silently)
    with (
        TerminalSimulator(serial="SN-DROP", users=20, records=6000, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False, timeout_seconds=2).start() as rig,
    ):
        wait_until(lambda: len(rig.punches()) == 6000, 60, "the log after the drop")
        assert any(not s["reachable"] for s in rig.statuses())
        assert len(set(event_ids(rig))) == 6000
        assert sim.state.faults.drops == 0


def test_duplicate_punches_become_one_event_per_distinct_record(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-DUP", users=5, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        when = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0) - timedelta(minutes=5)
        sim.add_punch("1", when=when)
        sim.add_punch("1", when=when)  # the same punch logged twice in one second
        sim.add_punch("1", when=when + timedelta(seconds=4))  # the user pressed again
        rig.poller.poll_once()
        assert sorted(p["device_time"] for p in rig.punches()) == [
            when.isoformat(),
            (when + timedelta(seconds=4)).isoformat(),
        ]


@pytest.mark.parametrize("record_size", [40, 8], ids=["pin-in-record", "slot-only"])
def test_pin_oddities_and_deleted_users_keep_their_identity(record_size: int, tmp_path: Path) -> None:
    """Leading zeros, alphanumeric PINs, a deleted user's records and a reused slot. 8-byte records
    name only the slot (§2.7, §6 item 13): the terminal says who holds it now, so the edge keeps each
    record's PIN from when it first saw it; ids stay stable and the person stays right."""
    roster = [
        UserRecord(uid=1, user_id="0042", name="Lead Zero"),
        UserRecord(uid=2, user_id="42", name="Plain"),
        UserRecord(uid=3, user_id="A17", name="Alpha"),
        UserRecord(uid=4, user_id="77", name="Leaver"),
    ]
    with (
        TerminalSimulator(serial="SN-PIN", users=roster, record_size=record_size, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        before = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0) - timedelta(minutes=10)
        for pin in ("0042", "42", "A17", "77"):
            sim.add_punch(pin, when=before)
        sim.add_punch("90")  # a PIN nobody holds: an orphan record (its slot number is 90)
        assert rig.poller.poll_once().new_events == 5
        sim.state.delete_user(4)  # 77 leaves: their record stays in the log
        assert rig.poller.poll_once().new_events == 0
        sim.state.put_user(UserRecord(uid=4, user_id="78", name="Newcomer"))  # the slot is reused
        sim.add_punch("78")
        assert rig.poller.poll_once().new_events == 1
        assert rig.poller.poll_once().new_events == 0
        users = {p["user_id"]: p for p in rig.punches()}
        assert set(users) == {"0042", "42", "A17", "77", "78", "90"}
        assert len(rig.punches()) == 6
        assert users["0042"]["event_id"] != users["42"]["event_id"]
        assert users["77"]["flags"] == []
        assert users["77"]["device_uid"] == 4
        assert users["90"]["flags"] == ["user_not_enrolled"]
        # The newcomer's record names a slot that changed owners since the edge last read it.
        assert users["78"]["flags"] == (["uid_reused"] if record_size == 8 else [])
        assert users["A17"]["device_uid"] == 3


def test_live_capture_survives_an_unknown_alphanumeric_pin(tmp_path: Path) -> None:
    # pyzk 0.9 raises ValueError on int("X9") inside live capture (§2.10); the edge reconnects and
    # the full read after the failure brings the record in.
    with (
        TerminalSimulator(serial="SN-ALNUM", users=3, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim).start() as rig,
    ):
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture")
        sim.add_punch("X9")
        wait_until(lambda: len(rig.punches()) == 1, 20, "the record via reconciliation")
        punch = rig.punches()[0]
        assert punch["source"] == "pull"
        assert punch["flags"] == ["user_not_enrolled"]
        wait_until(lambda: sim.state.live_listeners == 1, 20, "live capture again")
        sim.add_punch("2")
        wait_until(lambda: len(rig.punches()) == 2, 20, "the next live punch")


def test_a_fault_profile_file_switches_quirks_and_refuses_unknown_keys(tmp_path: Path) -> None:
    profile = tmp_path / "faults.yaml"
    profile.write_text("single_client: true\nbusy_commands: [1503]\nrecord_capacity: 500\n")
    faults = load_faults(profile)
    assert faults.single_client
    assert faults.busy_commands == {1503}
    assert faults.record_capacity == 500
    profile.write_text("singel_client: true\n")
    with pytest.raises(ValueError, match="singel_client"):
        load_faults(profile)


def test_wrong_comm_key_is_named_in_the_error(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-KEY2", users=2, comm_key=4321, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_capture=False, comm_key=1) as rig,
    ):
        with pytest.raises(DeviceAuthError, match="comm key refused"):
            rig.poller.poll_once()
        assert rig.punches() == []


def test_the_cli_simulator_runs_a_fault_profile_and_live_punches(tmp_path: Path) -> None:
    from tests.support.processes import KaoqinProcess
    from tests.support.services import free_port, wait_for_port

    profile = tmp_path / "faults.yaml"
    profile.write_text("single_client: true\nclock_offset_seconds: -600\n")
    port = free_port()
    args = ["sim", "terminal", "--port", str(port), "--users", "3", "--records", "0"]
    process = KaoqinProcess(
        [*args, "--faults", str(profile), "--live-rate", "600", "--timezone", ZONE], tmp_path / "sim.log"
    )
    process.start()
    try:
        wait_for_port("127.0.0.1", port)
        conn = ZK("127.0.0.1", port=port, timeout=5, ommit_ping=True).connect()
        try:
            with pytest.raises(ZKErrorResponse, match="Can't connect"):  # single_client from the file
                ZK("127.0.0.1", port=port, timeout=2, ommit_ping=True).connect()
            wait_until(lambda: len(conn.get_attendance()) >= 3, 20, "three generated punches")
            device_now = conn.get_time()
            host_now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)
            assert abs((host_now - device_now).total_seconds() - 600) < 30  # clock offset from the file
        finally:
            conn.disconnect()
    finally:
        assert process.stop() == 0, process.output()


def test_a_clock_that_runs_away_shows_growing_drift_to_the_edge(tmp_path: Path) -> None:
    faults = SimFaults(drift_seconds_per_hour=36_000)  # ten device seconds per real second
    with (
        TerminalSimulator(serial="SN-RUN", users=2, timezone=ZONE, faults=faults) as sim,
        PollerRig(tmp_path, sim, live_capture=False, clock_drift_threshold_seconds=5) as rig,
    ):
        rig.poller.poll_once()
        first = rig.statuses()[-1]["clock_offset_seconds"]
        wait_until(
            lambda: (sim.state.now() - datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)).total_seconds() > 8,
            10,
            "drift",
        )
        rig.poller.poll_once()
        status = rig.statuses()[-1]
        assert status["clock_offset_seconds"] > first + 5
        assert any("ahead of the edge" in a for a in status["alerts"])


def test_an_unknown_verify_code_is_kept_raw_and_flagged_on_the_pull_path(tmp_path: Path) -> None:
    with (
        TerminalSimulator(serial="SN-VER", users=3, timezone=ZONE) as sim,
        PollerRig(tmp_path, sim, live_capture=False) as rig,
    ):
        sim.add_punch("1", verify_mode=99)  # a code no firmware profile maps
        sim.add_punch("2", verify_mode=1)
        assert rig.poller.poll_once().new_events == 2
        by_user = {p["user_id"]: p for p in rig.punches()}
        assert by_user["1"]["source"] == "pull"
        assert (by_user["1"]["verify_mode"], by_user["1"]["verify_method"]) == (99, "unknown")
        assert by_user["1"]["flags"] == ["unknown_verify_code"]
        assert (by_user["2"]["verify_method"], by_user["2"]["flags"]) == ("fingerprint", [])


def test_the_cli_simulator_takes_the_data_quirks_from_a_profile_file(tmp_path: Path) -> None:
    """One ``kaoqin sim terminal`` process, every data quirk switched on from the file; udp_only
    alone makes it serve UDP. pyzk reads it through our adapter, which keeps what pyzk cannot."""
    from devices.zkteco.client import ZKTecoTerminal
    from devices.zkteco.config import ZKTecoConfig
    from tests.support.processes import KaoqinProcess
    from tests.support.services import free_port, wait_for_port

    profile = tmp_path / "faults.yaml"
    profile.write_text(
        "udp_only: true\n"
        "corrupt_records: [3]\n"
        "duplicate_every: 5\n"
        "odd_pins: ['0042', 'A17']\n"
        "deleted_users: ['2']\n"
        "reuse_deleted_slots: true\n"
        "future_records: 2\n"
        "clock_set_back_seconds: 7200\n"
        "clock_set_back_after_seconds: 1\n"
    )
    port = free_port()
    args = ["sim", "terminal", "--port", str(port), "--users", "3", "--records", "20"]
    process = KaoqinProcess([*args, "--faults", str(profile), "--timezone", ZONE], tmp_path / "sim.log")
    process.start()
    try:
        wait_for_port("127.0.0.1", port)
        with pytest.raises(DeviceUnreachable, match="connect over tcp"):  # TCP closed: UDP-only firmware
            ZKTecoTerminal(ZKTecoConfig(host="127.0.0.1", port=port, timezone=ZONE, timeout=2)).read_info()
        config = ZKTecoConfig(host="127.0.0.1", port=port, timezone=ZONE, transport="udp", timeout=5)
        with ZKTecoTerminal(config) as terminal:
            assert {u.user_id for u in terminal.read_users()} == {"1", "3", "0042", "A17", "90002"}
            punches, problems = terminal.read_log()
            assert len(punches) + len(problems) == 20 + 20 // 5 + 2
            (problem,) = problems
            assert "record #3" in str(problem)
            assert len(problem.raw) == 40
            keys = [(p.user_id, p.device_time, p.punch_state, p.verify_mode) for p in punches]
            assert len(keys) - len(set(keys)) == 4  # records 5, 10, 15 and 20 logged twice
            assert {"0042", "A17"} <= {p.user_id for p in punches}
            orphans = [p for p in punches if p.user_id == "2"]
            assert orphans
            assert all(p.user_enrolled is False for p in orphans)
            host = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None)
            assert len([p for p in punches if p.device_time > host + timedelta(days=1)]) == 2
            wait_until(
                lambda: (
                    terminal.read_clock().replace(tzinfo=None)
                    < datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None) - timedelta(seconds=3600)
                ),
                20,
                "the device clock set back",
            )
    finally:
        assert process.stop() == 0, process.output()
