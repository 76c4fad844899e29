"""Protocol rules pyzk does not exercise, checked with our own codec on raw sockets (§7)."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from devices.zkteco.packets import (
    CommandCode,
    FrameSplitter,
    ReplyCode,
    build_packet,
    make_commkey,
    parse_packet,
    tcp_wrap,
)
from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.sim_runner import SimulatorOptions, serve_forever
from devices.zkteco.simulator import TerminalSimulator

pytestmark = pytest.mark.integration


class RawClient:
    """A bare-bones TCP client speaking header packets through the framing codec."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.splitter = FrameSplitter()
        self.pending: list[bytes] = []
        self.session = 0
        self.reply_id = 0

    def send(self, command: int, payload: bytes = b"", reply_id: int | None = None) -> None:
        rid = self.reply_id if reply_id is None else reply_id
        self.sock.sendall(tcp_wrap(build_packet(command, self.session, rid, payload)))
        self.reply_id += 1

    def receive(self) -> tuple[int, int, int, bytes]:
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "simulator hung up"
            self.pending += self.splitter.feed(data)
        header, payload = parse_packet(self.pending.pop(0))
        return header.command, header.session_id, header.reply_id, payload

    def call(self, command: int, payload: bytes = b"") -> tuple[int, bytes]:
        self.send(command, payload)
        code, _session, _rid, data = self.receive()
        return code, data

    def nothing_arrives(self) -> bool:
        self.sock.settimeout(0.3)
        try:
            return not self.pending and not self.sock.recv(1)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(2)


@pytest.fixture
def sim() -> Iterator[TerminalSimulator]:
    with TerminalSimulator(users=3, records=100, comm_key=55) as s:
        yield s


@pytest.fixture
def client(sim: TerminalSimulator) -> Iterator[RawClient]:
    c = RawClient(sim.port)
    yield c
    c.sock.close()


def test_unauthenticated_session_gets_unauth_for_everything_but_connect_auth_exit(
    client: RawClient,
) -> None:
    client.send(CommandCode.CONNECT)
    code, session, rid, payload = client.receive()
    assert (code, rid, payload) == (ReplyCode.ACK_UNAUTH, 0, b"")
    assert session != 0
    client.session = session
    assert client.call(CommandCode.GET_VERSION)[0] == ReplyCode.ACK_UNAUTH
    assert client.call(CommandCode.GET_FREE_SIZES)[0] == ReplyCode.ACK_UNAUTH
    assert client.call(CommandCode.EXIT)[0] == ReplyCode.ACK_OK


def test_authenticated_session_rules(client: RawClient) -> None:
    client.send(CommandCode.CONNECT)
    client.session = client.receive()[1]
    assert client.call(CommandCode.AUTH, make_commkey(55, client.session))[0] == ReplyCode.ACK_OK
    # Replies echo the request's reply id.
    client.send(CommandCode.GET_TIME, reply_id=4242)
    code, _session, rid, payload = client.receive()
    assert (code, rid, len(payload)) == (ReplyCode.ACK_OK, 4242, 4)
    # Unknown commands → ACK_UNKNOWN; incoming 2001/0xFFFF are answered, 2000 never.
    assert client.call(4321)[0] == ReplyCode.ACK_UNKNOWN
    assert client.call(ReplyCode.ACK_ERROR, b"~ExtendFmt\x00")[0] == ReplyCode.ACK_UNKNOWN
    assert client.call(ReplyCode.ACK_UNKNOWN, b"~ExtendFmt\x00")[0] == ReplyCode.ACK_UNKNOWN
    client.send(ReplyCode.ACK_OK)
    assert client.nothing_arrives()
    # Default-size commands get header-only replies (§1.6).
    for command in (CommandCode.DISABLEDEVICE, CommandCode.ENABLEDEVICE, CommandCode.REFRESHDATA):
        assert client.call(command) == (ReplyCode.ACK_OK, b"")


def test_buffered_read_protocol(client: RawClient) -> None:
    client.send(CommandCode.CONNECT)
    client.session = client.receive()[1]
    client.call(CommandCode.AUTH, make_commkey(55, client.session))
    code, stat = client.call(CommandCode.PREPARE_BUFFER, struct.pack("<bhii", 1, 13, 0, 0))
    assert code == ReplyCode.ACK_OK
    assert len(stat) == 13
    size = struct.unpack_from("<I", stat, 1)[0]
    assert size == 4 + 100 * 40
    client.send(CommandCode.READ_BUFFER, struct.pack("<ii", 0, size))
    prepare = client.receive()
    assert prepare[0] == CommandCode.PREPARE_DATA
    assert len(prepare[3]) == 8
    assert struct.unpack_from("<I", prepare[3])[0] == size
    data = client.receive()
    assert (data[0], len(data[3])) == (CommandCode.DATA, size)
    assert client.receive()[0] == ReplyCode.ACK_OK
    assert client.call(CommandCode.FREE_DATA) == (ReplyCode.ACK_OK, b"")
    # Small sets come inline as CMD_DATA (3 users x 72 bytes).
    code, blob = client.call(CommandCode.PREPARE_BUFFER, struct.pack("<bhii", 1, 9, 5, 0))
    assert (code, len(blob)) == (CommandCode.DATA, 4 + 3 * 72)


def test_realistic_packets_split_a_chunk_into_counted_1008_byte_frames() -> None:
    """§2.4: PREPARE_DATA, then CMD_DATA frames of at most 1008 data bytes whose session slot is a
    packet counter, then ACK_OK; the frames put together are the whole chunk."""
    with TerminalSimulator(users=3, records=100, faults=SimFaults(realistic_packets=True)) as sim:
        expected = sim.state.attendance_blob()
        client = RawClient(sim.port)
        try:
            client.send(CommandCode.CONNECT)
            client.session = client.receive()[1]
            code, stat = client.call(CommandCode.PREPARE_BUFFER, struct.pack("<bhii", 1, 13, 0, 0))
            assert code == ReplyCode.ACK_OK
            size = struct.unpack_from("<I", stat, 1)[0]
            assert size == len(expected) == 4 + 100 * 40
            client.send(CommandCode.READ_BUFFER, struct.pack("<ii", 0, size), reply_id=777)
            command, _session, rid, payload = client.receive()
            assert (command, rid, struct.unpack("<II", payload)[0]) == (CommandCode.PREPARE_DATA, 777, size)
            frames = []
            while True:
                command, session, rid, payload = client.receive()
                if command != CommandCode.DATA:
                    break
                frames.append((session, rid, payload))
            assert (command, rid, payload) == (ReplyCode.ACK_OK, 777, b"")
            assert len(frames) == -(-size // 1008) > 1
            assert all(len(data) <= 1008 for _s, _r, data in frames)
            assert [s for s, _r, _d in frames] == list(range(1, len(frames) + 1))
            assert {r for _s, r, _d in frames} == {777}
            assert b"".join(data for _s, _r, data in frames) == expected
        finally:
            client.sock.close()


def test_probe_connection_without_data_is_tolerated(sim: TerminalSimulator) -> None:
    for _ in range(3):
        socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()
    client = RawClient(sim.port)
    client.send(CommandCode.CONNECT)
    assert client.receive()[0] == ReplyCode.ACK_UNAUTH
    client.sock.close()


def test_garbage_gets_the_connection_closed(sim: TerminalSimulator) -> None:
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(100) == b""
    sock.close()


def test_udp_unknown_sender_is_unauthenticated() -> None:
    with TerminalSimulator(udp=True, users=1) as sim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        sock.sendto(build_packet(CommandCode.GET_TIME, 0, 0), ("127.0.0.1", sim.port))
        header, _ = parse_packet(sock.recv(1024))
        assert header.command == ReplyCode.ACK_UNAUTH
        sock.close()


def test_serve_forever_prints_one_ready_line_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    options = SimulatorOptions(port=0, users=4, records=9, serial="CLI0001", udp=True)
    thread = threading.Thread(target=serve_forever, args=(options,), kwargs={"stop": stop})
    thread.start()
    out = ""
    deadline = time.monotonic() + 5
    while "\n" not in out and time.monotonic() < deadline:
        out += capsys.readouterr().out
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert re.fullmatch(
        r"kaoqin terminal simulator SN=CLI0001 listening on tcp\+udp 127\.0\.0\.1:\d+ "
        r"\(users=4, records=9\)\n",
        out,
    )
