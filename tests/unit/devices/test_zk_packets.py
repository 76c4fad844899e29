"""Golden bytes for the ZKTeco framing codec, from real captures quoted in zk-protocol.md."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zk.base import make_commkey as pyzk_make_commkey

from devices.zkteco.packets import (
    CommandCode,
    FrameSplitter,
    FramingError,
    ReplyCode,
    build_packet,
    checksum,
    checksum_matches,
    decode_time,
    decode_timehex,
    encode_time,
    encode_timehex,
    make_commkey,
    pack_time_fields,
    parse_packet,
    tcp_unwrap,
    tcp_wrap,
)

CONNECT_ON_WIRE = bytes.fromhex("50 50 82 7d 08 00 00 00 e8 03 17 fc 00 00 00 00")


@pytest.mark.parametrize(
    ("unsigned", "expected"),
    [
        ("e8 03 00 00 00 00 00 00", 0xFC17),  # pyzk CMD_CONNECT
        ("d0 07 00 00 2f fb 00 00", 0xFCFF),  # device ACK_OK, session 0xFB2F
        ("e9 03 00 00 2f fb 01 00", 0x00E6),  # pyzk CMD_EXIT
        ("0b 00 00 00 f3 8d 03 00 5a4b4661636556657273696f6e00", 0x175A),  # ADRO, odd length
        ("d0 07 00 00 f3 8d 0a 00 09", 0x6A29),
    ],
)
def test_checksum_matches_captured_packets(unsigned: str, expected: int) -> None:
    assert checksum(bytes.fromhex(unsigned)) == expected


def test_connect_packet_is_byte_identical_to_pyzk_capture() -> None:
    packet = build_packet(CommandCode.CONNECT, 0, 0)
    assert tcp_wrap(packet) == CONNECT_ON_WIRE
    assert tcp_unwrap(CONNECT_ON_WIRE) == packet


def test_device_replies_match_captures() -> None:
    assert build_packet(ReplyCode.ACK_OK, 0xFB2F, 0) == bytes.fromhex("d0 07 ff fc 2f fb 00 00")
    assert build_packet(ReplyCode.ACK_UNAUTH, 0x45CF, 0) == bytes.fromhex("d5 07 5b b2 cf 45 00 00")
    assert build_packet(CommandCode.EXIT, 0xFB2F, 1) == bytes.fromhex("e9 03 e6 00 2f fb 01 00")


def test_auth_packet_with_comm_key_12_matches_capture() -> None:
    captured = bytes.fromhex("4e 04 4e 2c cf 45 01 00 61 4d 32 3c")
    assert build_packet(CommandCode.AUTH, 0x45CF, 1, make_commkey(12, 0x45CF)) == captured
    header, payload = parse_packet(captured)
    assert (header.command, header.session_id, header.reply_id) == (1102, 0x45CF, 1)
    assert payload == bytes.fromhex("61 4d 32 3c")


def test_checksum_comparison_treats_zero_and_ffff_alike() -> None:
    packet = build_packet(CommandCode.CONNECT, 0, 0)
    assert checksum_matches(packet)
    assert not checksum_matches(packet[:2] + b"\x00\x00" + packet[4:])
    # A header whose standard checksum is 0xFFFF may arrive carrying 0 (§1.3).
    zero_sum = bytes.fromhex("00 00 00 00 00 00 00 00")
    assert checksum(zero_sum) == 0xFFFF
    assert checksum_matches(zero_sum)


@pytest.mark.parametrize(
    ("key", "session", "expected"),
    [
        (12, 0x45CF, "61 4d 32 3c"),
        (45, 0x45CF, "61 c9 32 3c"),
        (0, 0x45CF, "61 7d 32 3c"),
        (1234, 0x1F2E, "41 36 32 66"),
        (1234, 0x1F99, "41 36 32 66"),
    ],
)
def test_commkey_vectors(key: int, session: int, expected: str) -> None:
    assert make_commkey(key, session) == bytes.fromhex(expected)


@given(key=st.integers(0, 999_999), session=st.integers(1, 0xFFFE))
def test_commkey_agrees_with_pyzk(key: int, session: int) -> None:
    assert make_commkey(key, session) == pyzk_make_commkey(key, session)


@pytest.mark.parametrize(
    ("when", "packed"),
    [
        (datetime(2024, 1, 2, 8, 0, 0), 771494400),
        (datetime(2000, 1, 1, 0, 0, 0), 0),
        (datetime(2099, 12, 31, 23, 59, 59), 3214079999),
    ],
)
def test_packed_time_vectors(when: datetime, packed: int) -> None:
    assert encode_time(when) == packed
    assert decode_time(packed) == when


def test_packed_time_wire_bytes() -> None:
    assert encode_time(datetime(2024, 1, 2, 8)).to_bytes(4, "little") == bytes.fromhex("00 12 fc 2d")


def test_impossible_date_is_representable_but_does_not_decode() -> None:
    feb30 = pack_time_fields(2024, 2, 30, 9, 0, 0)
    with pytest.raises(ValueError, match="day is out of range"):
        decode_time(feb30)


def test_year_outside_device_range_is_refused() -> None:
    with pytest.raises(ValueError, match="2000-2099"):
        encode_time(datetime(2100, 1, 1))


def test_timehex_capture() -> None:
    raw = bytes.fromhex("12 06 19 11 29 05")
    assert decode_timehex(raw) == datetime(2018, 6, 25, 17, 41, 5)
    assert encode_timehex(datetime(2018, 6, 25, 17, 41, 5)) == raw


def test_frame_splitter_reassembles_frames_split_anywhere() -> None:
    frames = [tcp_wrap(build_packet(CommandCode.GET_TIME, 7, n, bytes(n))) for n in range(5)]
    stream = b"".join(frames)
    splitter = FrameSplitter()
    out: list[bytes] = []
    for i in range(0, len(stream), 3):
        out += splitter.feed(stream[i : i + 3])
    assert out == [tcp_unwrap(f) for f in frames]
    assert splitter.pending == 0


def test_frame_splitter_returns_several_frames_from_one_read() -> None:
    frames = [tcp_wrap(build_packet(CommandCode.EXIT, 1, n)) for n in range(3)]
    splitter = FrameSplitter()
    assert len(splitter.feed(b"".join(frames) + frames[0][:5])) == 3
    assert splitter.pending == 5


def test_frame_splitter_rejects_garbage() -> None:
    with pytest.raises(FramingError, match="magic"):
        FrameSplitter().feed(b"GET / HTTP/1.1\r\n")


def test_parse_packet_rejects_short_input() -> None:
    with pytest.raises(FramingError):
        parse_packet(b"\x00\x01")
