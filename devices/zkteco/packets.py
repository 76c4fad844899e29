"""Pure framing codec of the ZKTeco "pull" protocol (port 4370), as pyzk 0.9 speaks it.

Everything here is a function of bytes: command codes, the 8-byte header and its checksum, the
TCP prefix and an incremental frame splitter, the comm-key scrambler and the two time encodings.
Section numbers (§) refer to ``docs/zk-protocol.md``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

HEADER_SIZE = 8
TCP_PREFIX_SIZE = 8
# §1.1: the prefix is packed '<HHI' from 0x5050 and 0x7D82, so the wire starts 50 50 82 7D.
TCP_MAGIC = b"\x50\x50\x82\x7d"
_HEADER = struct.Struct("<4H")
_TCP_PREFIX = struct.Struct("<4sI")
# A frame longer than this is garbage, not a record train (pyzk's largest chunk is 65472 bytes).
MAX_FRAME_LENGTH = 1 << 20
USHRT_MAX = 0xFFFF


class CommandCode(IntEnum):
    """Request codes pyzk 0.9 sends, plus the data codes used in both directions (§1.5)."""

    DB_RRQ = 7
    USER_WRQ = 8
    USERTEMP_RRQ = 9
    OPTIONS_RRQ = 11
    OPTIONS_WRQ = 12
    ATTLOG_RRQ = 13
    CLEAR_DATA = 14
    CLEAR_ATTLOG = 15
    DELETE_USER = 18
    DELETE_USERTEMP = 19
    UNLOCK = 31
    STARTVERIFY = 60
    STARTENROLL = 61
    CANCELCAPTURE = 62
    GET_PINWIDTH = 69
    GET_USERTEMP = 88
    SAVE_USERTEMPS = 110
    DELETE_USERTEMP_BY_ID = 134
    GET_FREE_SIZES = 50
    GET_TIME = 201
    SET_TIME = 202
    REG_EVENT = 500
    CONNECT = 1000
    EXIT = 1001
    ENABLEDEVICE = 1002
    DISABLEDEVICE = 1003
    RESTART = 1004
    POWEROFF = 1005
    REFRESHDATA = 1013
    TESTVOICE = 1017
    GET_VERSION = 1100
    AUTH = 1102
    PREPARE_DATA = 1500
    DATA = 1501
    FREE_DATA = 1502
    PREPARE_BUFFER = 1503
    READ_BUFFER = 1504


class ReplyCode(IntEnum):
    """Reply codes (§1.5). pyzk counts only ACK_OK (and PREPARE_DATA/DATA) as success."""

    ACK_OK = 2000
    ACK_ERROR = 2001
    ACK_DATA = 2002
    ACK_RETRY = 2003
    ACK_REPEAT = 2004
    ACK_UNAUTH = 2005
    ACK_ERROR_DATA = 0xFFFB
    ACK_ERROR_INIT = 0xFFFC
    ACK_ERROR_CMD = 0xFFFD
    ACK_UNKNOWN = 0xFFFF


class EventFlag(IntEnum):
    """CMD_REG_EVENT mask bits; an event packet carries its flag in the session slot (§1.5)."""

    ATTLOG = 1
    FINGER = 2
    ENROLLUSER = 4
    ENROLLFINGER = 8
    BUTTON = 16
    UNLOCK = 32
    VERIFY = 128
    FPFTR = 256
    ALARM = 512


class FramingError(ValueError):
    """Bytes that are not a well-formed packet or TCP frame."""


@dataclass(frozen=True)
class Header:
    """The 8-byte command header (§1.2)."""

    command: int
    checksum: int
    session_id: int
    reply_id: int


def checksum(data: bytes) -> int:
    """Standard ZK checksum of header-with-zero-checksum + payload (§1.3).

    Sum of u16 LE words (odd trailing byte added as-is), end-around carry, ones' complement.
    """
    words = len(data) // 2
    total: int = sum(struct.unpack_from(f"<{words}H", data))
    if len(data) % 2:
        total += data[-1]
    while total > USHRT_MAX:
        total = (total & USHRT_MAX) + (total >> 16)
    return ~total & USHRT_MAX


def build_packet(command: int, session_id: int, reply_id: int, payload: bytes = b"") -> bytes:
    """Header + payload with the standard checksum filled in (no TCP prefix)."""
    unsigned = _HEADER.pack(command, 0, session_id, reply_id) + payload
    return _HEADER.pack(command, checksum(unsigned), session_id, reply_id) + payload


def parse_packet(packet: bytes) -> tuple[Header, bytes]:
    """Split a packet (header + payload, no TCP prefix) into its header and payload."""
    if len(packet) < HEADER_SIZE:
        raise FramingError(f"packet of {len(packet)} bytes is shorter than the 8-byte header")
    return Header(*_HEADER.unpack_from(packet)), packet[HEADER_SIZE:]


def checksum_matches(packet: bytes) -> bool:
    """Whether a packet's checksum is right, comparing modulo 65535 (§1.3: 0 and 0xFFFF agree)."""
    header, payload = parse_packet(packet)
    expected = checksum(_HEADER.pack(header.command, 0, header.session_id, header.reply_id) + payload)
    return header.checksum % USHRT_MAX == expected % USHRT_MAX


def tcp_wrap(packet: bytes) -> bytes:
    """Prefix a packet with the TCP framing of §1.1 (magic + u32 length of header+payload)."""
    return _TCP_PREFIX.pack(TCP_MAGIC, len(packet)) + packet


def tcp_unwrap(frame: bytes) -> bytes:
    """Strip and check the TCP prefix of one complete frame; return header + payload."""
    if len(frame) < TCP_PREFIX_SIZE or frame[:4] != TCP_MAGIC:
        raise FramingError("TCP frame does not start with 50 50 82 7D")
    (_, length) = _TCP_PREFIX.unpack_from(frame)
    if len(frame) != TCP_PREFIX_SIZE + length:
        raise FramingError(f"TCP frame says {length} bytes but carries {len(frame) - 8}")
    return frame[TCP_PREFIX_SIZE:]


class FrameSplitter:
    """Incremental TCP de-framer: feed received bytes, get whole packets (header + payload).

    TCP gives no message boundaries, so one ``recv`` may hold half a frame or several frames.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data`` and return every packet now complete, in order.

        Raises ``FramingError`` when the stream does not start with the magic or a length is
        absurd; the stream cannot be resynchronised after that, so the caller should hang up.
        """
        self._buffer += data
        packets: list[bytes] = []
        while len(self._buffer) >= TCP_PREFIX_SIZE:
            if bytes(self._buffer[:4]) != TCP_MAGIC:
                raise FramingError(f"bad TCP magic {bytes(self._buffer[:4]).hex(' ')}")
            (_, length) = _TCP_PREFIX.unpack_from(self._buffer)
            if length < HEADER_SIZE or length > MAX_FRAME_LENGTH:
                raise FramingError(f"implausible TCP frame length {length}")
            end = TCP_PREFIX_SIZE + length
            if len(self._buffer) < end:
                break
            packets.append(bytes(self._buffer[TCP_PREFIX_SIZE:end]))
            del self._buffer[:end]
        return packets

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)


def make_commkey(key: int, session_id: int, ticks: int = 50) -> bytes:
    """Scramble the comm key for CMD_AUTH exactly as pyzk/ZK's MakeKey does (§1.8)."""
    reversed_bits = int(f"{key & 0xFFFFFFFF:032b}"[::-1], 2)
    k = (reversed_bits + session_id) & 0xFFFFFFFF
    b = bytes(x ^ m for x, m in zip(struct.pack("<I", k), b"ZKSO", strict=True))
    swapped = b[2:4] + b[0:2]
    tick = ticks & 0xFF
    return bytes((swapped[0] ^ tick, swapped[1] ^ tick, tick, swapped[3] ^ tick))


def pack_time_fields(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """Packed u32 time from raw fields, unvalidated (§1.7); lets tests build an impossible date."""
    days = (year % 100) * 12 * 31 + (month - 1) * 31 + (day - 1)
    return days * 86400 + (hour * 60 + minute) * 60 + second


def encode_time(when: datetime) -> int:
    """Packed u32 of a naive device wall-clock time (§1.7). Years 2000-2099 only."""
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"year {when.year} is outside the device range 2000-2099")
    return pack_time_fields(when.year, when.month, when.day, when.hour, when.minute, when.second)


def decode_time(value: int) -> datetime:
    """Naive datetime from a packed u32 (§1.7); ``ValueError`` for impossible dates (Feb 30)."""
    second = value % 60
    value //= 60
    minute = value % 60
    value //= 60
    hour = value % 24
    value //= 24
    day = value % 31 + 1
    value //= 31
    month = value % 12 + 1
    year = value // 12 + 2000
    return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - device wall clock


def encode_timehex(when: datetime) -> bytes:
    """6-byte live-event time: YY-2000, MM, DD, hh, mm, ss (§1.7)."""
    return bytes((when.year - 2000, when.month, when.day, when.hour, when.minute, when.second))


def decode_timehex(raw: bytes) -> datetime:
    """Naive datetime from the 6-byte live-event time (§1.7)."""
    if len(raw) != 6:
        raise ValueError(f"timehex must be 6 bytes, got {len(raw)}")
    y, mo, d, h, mi, s = raw
    return datetime(2000 + y, mo, d, h, mi, s)  # noqa: DTZ001 - device wall clock
