"""The unmodified pyzk 0.9 client against the terminal simulator over real TCP and UDP sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from zk import ZK
from zk.exception import ZKErrorResponse

from devices.zkteco.simulator import TerminalSimulator

pytestmark = pytest.mark.integration

TRANSPORTS = ["tcp", "udp"]


def connect(sim: TerminalSimulator, transport: str, password: int = 0) -> Any:
    zk = ZK(
        "127.0.0.1",
        port=sim.port,
        timeout=5,
        password=password,
        ommit_ping=True,
        force_udp=transport == "udp",
    )
    return zk.connect()


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


@pytest.fixture
def sim() -> Iterator[TerminalSimulator]:
    with TerminalSimulator(udp=True, users=20, records=200, serial="SIMTEST01", seed=1) as s:
        yield s


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_connect_without_key_and_disconnect(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    assert conn.is_connect
    assert conn.disconnect()
    conn = connect(sim, transport)  # the simulator keeps serving after an EXIT
    conn.disconnect()


@pytest.mark.parametrize("key", [1234, 999999])
def test_connect_with_comm_key(transport: str, key: int) -> None:
    with TerminalSimulator(udp=True, comm_key=key, users=2) as sim:
        conn = connect(sim, transport, password=key)
        assert conn.get_serialnumber() == "KQSIM0001"
        conn.disconnect()


@pytest.mark.parametrize("wrong", [0, 4321])
def test_wrong_comm_key_is_unauthenticated(transport: str, wrong: int) -> None:
    with (
        TerminalSimulator(udp=True, comm_key=1234, users=2) as sim,
        pytest.raises(ZKErrorResponse, match="Unauthenticated"),
    ):
        connect(sim, transport, password=wrong)


def test_identity(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    assert conn.get_firmware_version() == "Ver 6.60 Apr 28 2017"
    assert conn.get_serialnumber() == "SIMTEST01"
    assert conn.get_platform() == "ZMM220_TFT"
    assert conn.get_device_name() == "K40"
    assert conn.get_mac() == "00:17:61:11:45:08"
    assert conn.get_fp_version() == 10
    assert conn.get_pin_width() == 9
    conn.disconnect()


def test_unsupported_option_then_normal_traffic(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    # ACK_ERROR, then pyzk's _clear_error sends 2001 + 3x 0xFFFF and waits for each reply.
    assert conn.get_extend_fmt() is None
    assert conn.get_serialnumber() == "SIMTEST01"
    conn.disconnect()


def test_read_sizes(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    conn.read_sizes()
    assert (conn.users, conn.records, conn.fingers) == (20, 200, 0)
    assert (conn.users_cap, conn.rec_cap, conn.rec_av) == (10000, 100000, 99800)
    conn.disconnect()


def test_get_users(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    users = conn.get_users()
    assert [u.user_id for u in users] == [str(n) for n in range(1, 21)]
    assert users[0].uid == 1
    assert users[0].name == sim.state.users[0].name
    conn.disconnect()


def test_get_users_28_byte_layout(transport: str) -> None:
    with TerminalSimulator(udp=True, users=60, user_size=28) as sim:
        conn = connect(sim, transport)
        users = conn.get_users()
        assert len(users) == 60
        assert conn.user_packet_size == 28
        assert users[59].user_id == "60"
        conn.disconnect()


def test_get_attendance_matches_device_log(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    got = conn.get_attendance()
    want = sim.state.records
    assert len(got) == 200
    for a, r in zip(got, want, strict=True):
        assert (a.user_id, a.timestamp, a.status, a.punch, a.uid) == (
            r.user_id,
            r.timestamp,
            r.verify_mode,
            r.punch_state,
            r.uid,
        )
    conn.disconnect()


@pytest.mark.parametrize("record_size", [8, 16])
def test_get_attendance_short_layouts(transport: str, record_size: int) -> None:
    with TerminalSimulator(udp=True, users=5, records=40, record_size=record_size) as sim:
        conn = connect(sim, transport)
        got = conn.get_attendance()
        assert [(a.user_id, a.timestamp) for a in got] == [
            (r.user_id, r.timestamp) for r in sim.state.records
        ]
        conn.disconnect()


def test_get_attendance_50000_records_in_chunks(transport: str) -> None:
    with TerminalSimulator(udp=True, users=50, records=50_000, seed=7) as sim:
        conn = connect(sim, transport)
        got = conn.get_attendance()
        want = sim.state.records
        assert len(got) == 50_000
        for i in (0, 1, 16_383, 32_767, 49_999):
            assert (got[i].user_id, got[i].timestamp, got[i].punch) == (
                want[i].user_id,
                want[i].timestamp,
                want[i].punch_state,
            )
        assert got == sorted(got, key=lambda a: a.timestamp)
        conn.disconnect()


def test_get_and_set_time(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    assert abs(conn.get_time() - sim.state.now()) < timedelta(seconds=2)
    target = datetime(2031, 5, 6, 7, 8, 9)
    assert conn.set_time(target)
    assert abs(conn.get_time() - target) < timedelta(seconds=2)
    conn.disconnect()


def test_disable_and_enable(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    conn.disable_device()
    assert not sim.state.enabled
    conn.enable_device()
    assert sim.state.enabled
    conn.disconnect()


def test_live_capture_receives_injected_punches(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    received: list[Any] = []
    failure: list[BaseException] = []

    def capture() -> None:
        try:
            for event in conn.live_capture(new_timeout=0.2):
                if event is not None:
                    received.append(event)
                if len(received) >= 3:
                    conn.end_live_capture = True
        except BaseException as exc:  # surfaced in the main thread below
            failure.append(exc)

    thread = threading.Thread(target=capture)
    thread.start()
    wait_until(lambda: sim.state.live_listeners == 1)
    punched = [
        sim.add_punch("3", punch_state=0),
        sim.add_punch("7", verify_mode=15, punch_state=1),
        sim.add_punch("12"),
    ]
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert failure == []
    assert [(e.user_id, e.timestamp, e.status, e.punch, e.uid) for e in received] == [
        (p.user_id, p.timestamp, p.verify_mode, p.punch_state, p.uid) for p in punched
    ]
    assert sim.state.live_listeners == 0  # pyzk sent REG_EVENT 0 on the way out
    assert len(conn.get_attendance()) == 203  # the session is usable afterwards
    conn.disconnect()


def test_clear_attendance(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    assert conn.clear_attendance()
    conn.read_sizes()
    assert conn.records == 0
    assert conn.get_attendance() == []
    conn.disconnect()


def test_set_and_delete_user(sim: TerminalSimulator, transport: str) -> None:
    conn = connect(sim, transport)
    conn.get_users()  # learn the 72-byte layout, as an application would
    conn.set_user(uid=21, name="Zhou Tao", privilege=14, password="9", user_id="A021", card=77)
    added = next(u for u in conn.get_users() if u.uid == 21)
    assert (added.name, added.user_id, added.privilege, added.card) == ("Zhou Tao", "A021", 14, 77)
    conn.delete_user(uid=21)
    assert 21 not in [u.uid for u in conn.get_users()]
    conn.disconnect()
