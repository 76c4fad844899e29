"""ZKTecoTerminal (the FingerprintTerminal adapter over pyzk) against the simulator."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from devices.errors import BadRecordError, DeviceAuthError, DeviceProtocolError, DeviceUnreachable
from devices.terminal import FingerprintTerminal
from devices.zkteco import TerminalSimulator, ZKTecoConfig, ZKTecoTerminal

pytestmark = pytest.mark.integration

ZONE = "Asia/Shanghai"


def terminal(sim_port: int, transport: str, **overrides: object) -> ZKTecoTerminal:
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": sim_port,
        "transport": transport,
        "timezone": ZONE,
        "timeout": 2,
    }
    fields.update(overrides)
    return ZKTecoTerminal(ZKTecoConfig.model_validate(fields))


@pytest.fixture
def sim() -> Iterator[TerminalSimulator]:
    with TerminalSimulator(
        udp=True, users=8, records=120, comm_key=2468, timezone=ZONE, serial="ADAPT001"
    ) as s:
        yield s


@pytest.fixture(params=["tcp", "udp"])
def device(sim: TerminalSimulator, request: pytest.FixtureRequest) -> Iterator[ZKTecoTerminal]:
    t = terminal(sim.port, request.param, comm_key=2468)
    yield t
    t.close()


def test_adapter_satisfies_the_port(device: ZKTecoTerminal) -> None:
    port: FingerprintTerminal = device
    assert port.address.startswith("127.0.0.1:")


def test_read_info(device: ZKTecoTerminal) -> None:
    info = device.read_info()
    assert (info.serial, info.firmware, info.platform) == (
        "ADAPT001",
        "Ver 6.60 Apr 28 2017",
        "ZMM220_TFT",
    )
    assert (info.device_name, info.mac) == ("K40", "00:17:61:11:45:08")
    assert (info.users, info.records, info.record_capacity, info.user_capacity) == (
        8,
        120,
        100000,
        10000,
    )


def test_read_punches_are_aware_in_the_configured_zone(
    device: ZKTecoTerminal, sim: TerminalSimulator
) -> None:
    punches = device.read_punches()
    records = sim.state.records
    assert len(punches) == 120
    assert [p.log_index for p in punches] == list(range(120))
    for punch, record in zip(punches, records, strict=True):
        assert punch.device_time == record.timestamp
        assert punch.occurred_at.tzinfo == ZoneInfo(ZONE)
        assert punch.occurred_at.replace(tzinfo=None) == record.timestamp
        assert (punch.user_id, punch.device_uid) == (record.user_id, record.uid)
        assert (punch.verify_mode, punch.punch_state) == (record.verify_mode, record.punch_state)
    assert device.last_problems == []


def test_new_punch_appears_on_the_next_read(device: ZKTecoTerminal, sim: TerminalSimulator) -> None:
    assert len(device.read_punches()) == 120
    sim.add_punch("5", punch_state=1)
    last = device.read_punches()[-1]
    assert (last.user_id, last.punch_state, last.log_index) == ("5", 1, 120)


def test_clock_and_set_clock(device: ZKTecoTerminal, sim: TerminalSimulator) -> None:
    now = datetime.now(UTC)
    assert abs(device.read_clock() - now) < timedelta(seconds=3)
    target = datetime(2030, 3, 4, 1, 2, 3, tzinfo=UTC)  # 09:02:03 in Shanghai
    device.set_clock(target)
    assert abs(sim.state.now() - datetime(2030, 3, 4, 9, 2, 3)) < timedelta(seconds=3)
    assert abs(device.read_clock() - target) < timedelta(seconds=3)
    with pytest.raises(ValueError, match="aware"):
        device.set_clock(datetime(2030, 3, 4))


@pytest.mark.parametrize("record_size", [8, 16])
def test_short_record_layouts_resolve_users(record_size: int) -> None:
    with TerminalSimulator(users=4, records=30, record_size=record_size, timezone=ZONE) as sim:
        with terminal(sim.port, "tcp") as device:
            punches = device.read_punches()
        assert [(p.user_id, p.device_uid) for p in punches] == [(r.user_id, r.uid) for r in sim.state.records]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_corrupt_record_is_reported_and_the_rest_come_back(transport: str) -> None:
    with TerminalSimulator(udp=True, users=3, records=50, corrupt_records=[17], timezone=ZONE) as sim:
        with terminal(sim.port, transport) as device:
            punches = device.read_punches()
            problems = device.last_problems
        assert len(punches) == 49
        assert 17 not in [p.log_index for p in punches]
        assert [p.device_time for p in punches] == [
            r.timestamp for i, r in enumerate(sim.state.records) if i != 17
        ]
        assert len(problems) == 1
        problem = problems[0]
        assert isinstance(problem, BadRecordError)
        assert problem.offset == 17 * 40
        assert problem.device == f"127.0.0.1:{sim.port}"
        assert "offset 680" in str(problem)
        assert "#17" in str(problem)


@pytest.mark.parametrize("user_size", [28, 72])
def test_a_disabled_user_keeps_their_fingerprints_and_is_refused_until_enabled(user_size: int) -> None:
    """The privilege's bit 0 (zk-protocol.md §2.5), written in the device's own user layout."""
    from devices.terminal import EnrolledUser

    with TerminalSimulator(users=3, user_size=user_size, timezone=ZONE) as sim:
        sim.state.enroll_finger(2, 6, b"\x5a" * 400)
        with terminal(sim.port, "tcp") as device:
            assert device.disable_user("2") is True
            assert device.disable_user("99") is False
            users = {u.user_id: u for u in device.read_users()}
            assert (users["2"].enabled, users["1"].enabled) == (False, True)
            assert sim.state.templates == {(2, 6): b"\x5a" * 400}
            sim.add_punch("2")
            assert sim.state.records == []  # refused at the terminal
            device.write_user(EnrolledUser("2", users["2"].name))
            assert all(u.enabled for u in device.read_users())
            assert sim.state.templates == {(2, 6): b"\x5a" * 400}
            sim.add_punch("2")
            assert [r.user_id for r in sim.state.records] == ["2"]


def test_device_without_users_still_serves_its_log() -> None:
    with TerminalSimulator(users=0, records=6, timezone=ZONE) as sim, terminal(sim.port, "tcp") as device:
        assert [p.user_id for p in device.read_punches()] == ["1"] * 6


def test_device_refusing_a_read_is_a_protocol_error() -> None:
    # A 16-byte-record device cannot store an alphanumeric PIN: the simulator answers the
    # attendance read with ACK_ERROR, and pyzk raises "RWB Not supported".
    with TerminalSimulator(users=2, records=2, record_size=16, timezone=ZONE) as sim:
        sim.add_punch("A7")
        with terminal(sim.port, "tcp") as device:
            with pytest.raises(DeviceProtocolError, match="RWB Not supported") as caught:
                device.read_punches()
            assert not isinstance(caught.value, DeviceUnreachable | DeviceAuthError)
            assert device.read_info().records == 3  # reconnected and usable again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_unreachable_device(transport: str) -> None:
    port = free_port()
    device = terminal(port, transport, timeout=0.5)
    with pytest.raises(DeviceUnreachable) as caught:
        device.read_info()
    assert caught.value.device == f"127.0.0.1:{port}"
    assert f"127.0.0.1:{port}" in str(caught.value)
    device.close()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_wrong_comm_key(sim: TerminalSimulator, transport: str) -> None:
    device = terminal(sim.port, transport, comm_key=1357)
    with pytest.raises(DeviceAuthError, match="comm key refused") as caught:
        device.read_punches()
    assert caught.value.device == f"127.0.0.1:{sim.port}"


def test_reconnects_after_the_device_comes_back() -> None:
    first = TerminalSimulator(users=2, records=5, timezone=ZONE).start()
    port = first.port
    device = terminal(port, "tcp", timeout=1)
    assert device.read_info().records == 5
    first.stop()
    with pytest.raises(DeviceUnreachable):
        device.read_info()
    with TerminalSimulator(port=port, users=2, records=7, timezone=ZONE):
        assert device.read_info().records == 7
    device.close()


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        ZKTecoConfig(host="h", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ZKTecoConfig.model_validate({"host": "h", "timezone": ZONE, "password": 1})
    config = ZKTecoConfig(host="10.0.0.9", timezone=ZONE)
    assert (config.kind, config.port, config.transport, config.address) == (
        "zkteco",
        4370,
        "tcp",
        "10.0.0.9:4370",
    )
