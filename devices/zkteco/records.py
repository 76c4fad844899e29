"""Pure codecs for ZKTeco data records: users, attendance, the sizes block and live events.

Layouts follow ``docs/zk-protocol.md`` §2.3 (sizes), §2.5/§2.6 (users), §2.7 (attendance) and
§2.10 (live events), byte for byte as pyzk 0.9 reads them. Decoding a whole attendance log never
aborts on one bad record: the good records come back with a list of problems.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from devices.zkteco.packets import decode_time, decode_timehex, encode_time, encode_timehex

USER_SIZES = (28, 72)
ATTENDANCE_SIZES = (8, 16, 40)
LIVE_EVENT_SIZES = (12, 32, 36, 52)

_USER_28 = struct.Struct("<HB5s8sIxBhI")
_USER_72 = struct.Struct("<HB8s24sIx7sx24s")
_ATT_8 = struct.Struct("<HBIB")  # pyzk 0.9's 'HB4sB': the time sits unaligned at bytes 3-6
_ATT_16 = struct.Struct("<IIBB2sI")
_ATT_40 = struct.Struct("<H24sBIB8s")
# §2.7: where the packed time starts inside each attendance layout.
ATTENDANCE_TIME_OFFSET = {8: 3, 16: 4, 40: 27}
# §2.7 [ADRO]: the last 8 bytes of a 40-byte record as real devices fill them.
_ATT_40_TRAILER = b"\x00\x00\x00\x00\xff\x00\x00\x00"
_SIZES = struct.Struct("<20i3i")
_U32 = struct.Struct("<I")


def _cstr(raw: bytes) -> str:
    """Text up to the first NUL, decoded like pyzk (UTF-8, undecodable bytes dropped)."""
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="ignore")


def _fixed(text: str, size: int) -> bytes:
    """UTF-8 text cut/zero-padded to ``size`` bytes."""
    return text.encode("utf-8")[:size].ljust(size, b"\x00")


# ---------------------------------------------------------------- users (§2.5, §2.6)


@dataclass(frozen=True)
class UserRecord:
    """One enrolled user: ``uid`` is the device slot, ``user_id`` the enrolment number (PIN)."""

    uid: int
    user_id: str
    name: str = ""
    privilege: int = 0
    password: str = ""
    group_id: str = ""
    card: int = 0


def encode_user(user: UserRecord, size: int = 72) -> bytes:
    """One user record in the 28-byte (numeric PIN) or 72-byte (ASCII PIN) layout."""
    if size == 28:
        group = int(user.group_id) if user.group_id.isdigit() else 0
        return _USER_28.pack(
            user.uid,
            user.privilege,
            _fixed(user.password, 5),
            _fixed(user.name, 8),
            user.card,
            group,
            0,
            int(user.user_id),
        )
    if size == 72:
        return _USER_72.pack(
            user.uid,
            user.privilege,
            _fixed(user.password, 8),
            _fixed(user.name, 24),
            user.card,
            _fixed(user.group_id, 7),
            _fixed(user.user_id, 24),
        )
    raise ValueError(f"user record size must be 28 or 72, not {size}")


def decode_user(raw: bytes) -> UserRecord:
    """Decode one 28- or 72-byte user record (chosen by its length)."""
    if len(raw) == 28:
        uid, priv, pw, name, card, group, _tz, user_id = _USER_28.unpack(raw)
        return UserRecord(uid, str(user_id), _cstr(name).strip(), priv, _cstr(pw), str(group), card)
    if len(raw) == 72:
        uid, priv, pw, name, card, group, user_id = _USER_72.unpack(raw)
        return UserRecord(
            uid, _cstr(user_id), _cstr(name).strip(), priv, _cstr(pw), _cstr(group).strip(), card
        )
    raise ValueError(f"user record must be 28 or 72 bytes, got {len(raw)}")


def encode_users_blob(users: Sequence[UserRecord], size: int = 72) -> bytes:
    """The dataset a device serves for CMD_USERTEMP_RRQ: u32 byte count + records (§2.4)."""
    body = b"".join(encode_user(u, size) for u in users)
    return _U32.pack(len(body)) + body


def decode_users_blob(blob: bytes, count: int) -> list[UserRecord]:
    """Decode a users dataset; like pyzk, the size is ``total / count`` (exactly 28, else 72)."""
    if len(blob) <= 4 or count <= 0:
        return []
    (total,) = _U32.unpack_from(blob)
    size = 28 if total / count == 28 else 72
    body = blob[4:]
    return [decode_user(body[i : i + size]) for i in range(0, len(body) - size + 1, size)]


# ---------------------------------------------------------------- attendance (§2.7)


@dataclass(frozen=True)
class AttendanceRecord:
    """One attendance log entry in the device's naive wall-clock time.

    ``uid`` is None when the layout has no slot and the user list does not know the PIN
    (16-byte records). ``verify_mode`` is pyzk's ``status``, ``punch_state`` its ``punch``.
    """

    uid: int | None
    user_id: str
    timestamp: datetime
    verify_mode: int = 1
    punch_state: int = 0
    workcode: int = 0


@dataclass(frozen=True)
class RecordProblem:
    """A record that could not be decoded: its index, byte offset in the record area, why, and
    its bytes as served."""

    index: int
    offset: int
    cause: str
    raw: bytes = b""


@dataclass
class AttendanceLog:
    """Result of decoding an attendance dataset: the good records and the problems."""

    record_size: int
    records: list[AttendanceRecord] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)

    def numbered(self) -> Iterator[tuple[int, AttendanceRecord]]:
        """The good records with their index in the device log (problem indexes skipped)."""
        bad = {p.index for p in self.problems}
        indexes = (i for i in itertools.count() if i not in bad)
        return zip(indexes, self.records, strict=False)


def encode_attendance(record: AttendanceRecord, size: int = 40) -> bytes:
    """One attendance record in the 8-, 16- or 40-byte layout (pyzk 0.9's view of each)."""
    packed = encode_time(record.timestamp)
    if size == 8:
        return _ATT_8.pack(record.uid or 0, record.verify_mode, packed, record.punch_state)
    if size == 16:
        return _ATT_16.pack(
            int(record.user_id),
            packed,
            record.verify_mode,
            record.punch_state,
            b"\x00\x00",
            record.workcode,
        )
    if size == 40:
        return _ATT_40.pack(
            record.uid or 0,
            _fixed(record.user_id, 24),
            record.verify_mode,
            packed,
            record.punch_state,
            _ATT_40_TRAILER,
        )
    raise ValueError(f"attendance record size must be 8, 16 or 40, not {size}")


def encode_attendance_blob(
    records: Sequence[AttendanceRecord],
    size: int = 40,
    raw_times: dict[int, int] | None = None,
) -> bytes:
    """u32 byte count + records. ``raw_times`` overrides the packed time of chosen indexes.

    The override exists so a simulator can serve an impossible date (Feb 30) like a real
    device with a corrupted log does (§6 item 11).
    """
    parts = []
    for index, record in enumerate(records):
        raw = encode_attendance(record, size)
        if raw_times and index in raw_times:
            at = ATTENDANCE_TIME_OFFSET[size]
            raw = raw[:at] + _U32.pack(raw_times[index]) + raw[at + 4 :]
        parts.append(raw)
    body = b"".join(parts)
    return _U32.pack(len(body)) + body


def attendance_record_size(total_bytes: int, count: int) -> int:
    """pyzk 0.9's size rule (§2.7): ``total / count`` == 8 → 8, == 16 → 16, otherwise 40."""
    if count <= 0:
        return 40
    ratio = total_bytes / count
    if ratio == 8:
        return 8
    if ratio == 16:
        return 16
    return 40


def decode_attendance(
    raw: bytes, users_by_uid: dict[int, UserRecord], users_by_pin: dict[str, UserRecord]
) -> AttendanceRecord:
    """Decode one record (layout chosen by its length); ``ValueError`` when it is unreadable.

    8-byte records carry only the uid and 16-byte ones only a numeric PIN; the other identifier
    comes from the user list, falling back to ``str(uid)`` / ``None`` as pyzk does.
    """
    if len(raw) == 8:
        uid, verify, packed, punch = _ATT_8.unpack(raw)
        user = users_by_uid.get(uid)
        user_id = user.user_id if user else str(uid)
        return AttendanceRecord(uid, user_id, decode_time(packed), verify, punch)
    if len(raw) == 16:
        pin, packed, verify, punch, _reserved, workcode = _ATT_16.unpack(raw)
        user = users_by_pin.get(str(pin))
        return AttendanceRecord(
            user.uid if user else None, str(pin), decode_time(packed), verify, punch, workcode
        )
    if len(raw) == 40:
        uid, pin, verify, packed, punch, _trailer = _ATT_40.unpack(raw)
        return AttendanceRecord(uid, _cstr(pin), decode_time(packed), verify, punch)
    raise ValueError(f"attendance record must be 8, 16 or 40 bytes, got {len(raw)}")


def decode_attendance_blob(blob: bytes, count: int, users: Sequence[UserRecord] = ()) -> AttendanceLog:
    """Decode a whole attendance dataset (u32 byte count + records) as served for CMD_ATTLOG_RRQ.

    ``count`` is the record count from GET_FREE_SIZES, which selects the layout like pyzk does.
    A record that cannot be decoded (e.g. Feb 30) becomes a ``RecordProblem`` naming its index
    and its byte offset in the record area (after the 4-byte count); the others still decode.
    """
    if len(blob) < 4:
        return AttendanceLog(record_size=40)
    (total,) = _U32.unpack_from(blob)
    size = attendance_record_size(total, count)
    log = AttendanceLog(record_size=size)
    body = blob[4:]
    by_uid = {u.uid: u for u in users}
    by_pin = {u.user_id: u for u in users}
    whole = len(body) - len(body) % size
    for index, offset in enumerate(range(0, whole, size)):
        raw = body[offset : offset + size]
        try:
            record = decode_attendance(raw, by_uid, by_pin)
        except (ValueError, struct.error) as exc:
            log.problems.append(RecordProblem(index, offset, f"{size}-byte record: {exc}", raw))
        else:
            log.records.append(record)
    if whole != len(body):
        log.problems.append(
            RecordProblem(whole // size, whole, f"{len(body) - whole} trailing bytes", body[whole:])
        )
    return log


# ---------------------------------------------------------------- sizes (§2.3)


@dataclass(frozen=True)
class DeviceSizes:
    """Counts and capacities from CMD_GET_FREE_SIZES (field names say what they are)."""

    users: int = 0
    fingers: int = 0
    records: int = 0
    oplogs: int = 0
    admins: int = 0
    passwords: int = 0
    finger_capacity: int = 3000
    user_capacity: int = 10000
    record_capacity: int = 100000
    faces: int = 0
    face_capacity: int = 0

    @property
    def fingers_available(self) -> int:
        """Remaining fingerprint slots."""
        return max(0, self.finger_capacity - self.fingers)

    @property
    def users_available(self) -> int:
        """Remaining user slots."""
        return max(0, self.user_capacity - self.users)

    @property
    def records_available(self) -> int:
        """Remaining attendance slots."""
        return max(0, self.record_capacity - self.records)


def encode_sizes(sizes: DeviceSizes) -> bytes:
    """The 92-byte GET_FREE_SIZES payload: 20 i32 + face count, reserved, face capacity."""
    return _SIZES.pack(
        *(0, 0, 0, 0),
        sizes.users,
        0,
        sizes.fingers,
        0,
        sizes.records,
        0,
        sizes.oplogs,
        0,
        sizes.admins,
        sizes.passwords,
        sizes.finger_capacity,
        sizes.user_capacity,
        sizes.record_capacity,
        sizes.fingers_available,
        sizes.users_available,
        sizes.records_available,
        sizes.faces,
        0,
        sizes.face_capacity,
    )


def decode_sizes(payload: bytes) -> DeviceSizes:
    """Decode an 80- or 92-byte GET_FREE_SIZES payload (older devices omit the face block)."""
    if len(payload) < 80:
        raise ValueError(f"sizes payload must be at least 80 bytes, got {len(payload)}")
    f = struct.unpack_from("<20i", payload)
    faces = face_cap = 0
    if len(payload) >= 92:
        faces, _, face_cap = struct.unpack_from("<3i", payload, 80)
    return DeviceSizes(
        users=f[4],
        fingers=f[6],
        records=f[8],
        oplogs=f[10],
        admins=f[12],
        passwords=f[13],
        finger_capacity=f[14],
        user_capacity=f[15],
        record_capacity=f[16],
        faces=faces,
        face_capacity=face_cap,
    )


# ---------------------------------------------------------------- live events (§2.10)


@dataclass(frozen=True)
class LiveEvent:
    """One EF_ATTLOG real-time event."""

    user_id: str
    verify_mode: int
    punch_state: int
    timestamp: datetime


def encode_live_event(event: LiveEvent, size: int = 32) -> bytes:
    """Event payload of 12 (numeric u32 PIN), 32, 36 or 52 bytes (24-byte ASCII PIN)."""
    timehex = encode_timehex(event.timestamp)
    head = bytes((event.verify_mode, event.punch_state)) + timehex
    if size == 12:
        return _U32.pack(int(event.user_id)) + head
    if size in (32, 36, 52):
        return (_fixed(event.user_id, 24) + head).ljust(size, b"\x00")
    raise ValueError(f"live event size must be one of {LIVE_EVENT_SIZES}, not {size}")


def decode_live_events(data: bytes) -> list[LiveEvent]:
    """Decode the events in one REG_EVENT payload, choosing the layout by the remaining length.

    Same rule as pyzk 0.9 (== 12, == 32, == 36, >= 52); other lengths raise ``ValueError``
    instead of pyzk's UnboundLocalError.
    """
    events = []
    while len(data) >= 12:
        if len(data) == 12:
            (pin,) = _U32.unpack_from(data)
            user_id, step = str(pin), 12
        elif len(data) in (32, 36) or len(data) >= 52:
            user_id, step = _cstr(data[:24]), 52 if len(data) >= 52 else len(data)
        else:
            raise ValueError(f"live event payload of {len(data)} bytes has no known layout")
        at = 4 if step == 12 else 24
        verify, punch = data[at], data[at + 1]
        events.append(LiveEvent(user_id, verify, punch, decode_timehex(data[at + 2 : at + 8])))
        data = data[step:]
    return events
