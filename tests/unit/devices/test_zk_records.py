"""Record layouts of zk-protocol.md §2.3-§2.10, checked against pyzk 0.9's own struct formats."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from devices.zkteco.packets import encode_time, pack_time_fields
from devices.zkteco.records import (
    AttendanceRecord,
    DeviceSizes,
    LiveEvent,
    UserRecord,
    attendance_record_size,
    decode_attendance_blob,
    decode_live_events,
    decode_sizes,
    decode_user,
    decode_users_blob,
    encode_attendance,
    encode_attendance_blob,
    encode_live_event,
    encode_sizes,
    encode_user,
    encode_users_blob,
)

T0 = datetime(2024, 1, 2, 8, 0, 0)
ALICE = UserRecord(uid=1, user_id="1", name="Wang Wei", password="12", group_id="1", card=42)


# ---------------------------------------------------------------- sizes


def test_sizes_payload_carries_capture_values_at_pyzk_offsets() -> None:
    # Real device capture quoted in §2.3: users 7, fingers 6, records 605, oplog 3087, admins 1.
    sizes = DeviceSizes(users=7, fingers=6, records=605, oplogs=3087, admins=1, faces=2, face_capacity=500)
    payload = encode_sizes(sizes)
    assert len(payload) == 92
    fields = struct.unpack("20i", payload[:80])  # exactly what pyzk's read_sizes does
    assert (fields[4], fields[6], fields[8], fields[10], fields[12]) == (7, 6, 605, 3087, 1)
    assert fields[14:20] == (3000, 10000, 100000, 2994, 9993, 99395)
    assert struct.unpack("3i", payload[80:92]) == (2, 0, 500)
    assert payload[16:20] == bytes.fromhex("07 00 00 00")
    assert decode_sizes(payload) == sizes
    assert decode_sizes(payload[:80]).faces == 0  # older devices send 80 bytes


# ---------------------------------------------------------------- users


def test_72_byte_user_matches_pyzk_set_user_packing() -> None:
    raw = encode_user(ALICE, 72)
    pyzk_packed = struct.pack("HB8s24s4sx7sx24s", 1, 0, b"12", b"Wang Wei", struct.pack("<I", 42), b"1", b"1")
    assert raw == pyzk_packed
    assert decode_user(raw) == ALICE


def test_28_byte_user_matches_pyzk_set_user_packing() -> None:
    raw = encode_user(ALICE, 28)
    assert raw == struct.pack("HB5s8sIxBHI", 1, 0, b"12", b"Wang Wei", 42, 1, 0, 1)
    assert decode_user(raw) == ALICE


def test_users_blob_round_trip_and_size_rule() -> None:
    users = [ALICE, UserRecord(uid=2, user_id="0042", name="李娜")]
    blob = encode_users_blob(users, 72)
    assert struct.unpack_from("<I", blob)[0] == 144
    assert decode_users_blob(blob, 2) == users
    assert decode_users_blob(encode_users_blob([ALICE], 28), 1) == [ALICE]


# ---------------------------------------------------------------- attendance


def test_40_byte_record_layout() -> None:
    raw = encode_attendance(AttendanceRecord(3, "1042", T0, 15, 1), 40)
    assert len(raw) == 40
    assert raw[:2] == b"\x03\x00"
    assert raw[2:26] == b"1042".ljust(24, b"\x00")
    assert raw[26] == 15  # pyzk "status" = verify method
    assert raw[27:31] == bytes.fromhex("00 12 fc 2d")
    assert raw[31] == 1  # pyzk "punch" = state
    assert raw[32:] == bytes.fromhex("00 00 00 00 ff 00 00 00")
    uid, user_id, status, ts, punch, _ = struct.unpack("<H24sB4sB8s", raw)
    assert (uid, user_id[:4], status, ts, punch) == (3, b"1042", 15, encode_time(T0).to_bytes(4, "little"), 1)


def test_16_and_8_byte_layouts_follow_pyzk_formats() -> None:
    record = AttendanceRecord(3, "1042", T0, 1, 0)
    pin, ts, status, punch, _res, _workcode = struct.unpack("<I4sBB2sI", encode_attendance(record, 16))
    assert (pin, ts, status, punch) == (1042, bytes.fromhex("00 12 fc 2d"), 1, 0)
    uid, status, ts, punch = struct.unpack("HB4sB", encode_attendance(record, 8))
    assert (uid, status, ts, punch) == (3, 1, bytes.fromhex("00 12 fc 2d"), 0)


@pytest.mark.parametrize("size", [8, 16, 40])
def test_attendance_blob_round_trip(size: int) -> None:
    users = [UserRecord(uid=3, user_id="1042"), UserRecord(uid=4, user_id="7")]
    records = [
        AttendanceRecord(3, "1042", T0, 1, 0),
        AttendanceRecord(4, "7", datetime(2024, 1, 2, 17, 59, 59), 15, 1),
    ]
    blob = encode_attendance_blob(records, size)
    log = decode_attendance_blob(blob, len(records), users)
    assert log.record_size == size
    assert log.records == records
    assert log.problems == []


def test_unknown_users_resolve_like_pyzk() -> None:
    record = AttendanceRecord(9, "9", T0)
    assert decode_attendance_blob(encode_attendance_blob([record], 8), 1).records[0].user_id == "9"
    assert decode_attendance_blob(encode_attendance_blob([record], 16), 1).records[0].uid is None


@pytest.mark.parametrize(
    ("total", "count", "size"), [(80, 10, 8), (160, 10, 16), (400, 10, 40), (440, 10, 40)]
)
def test_record_size_follows_pyzk_rule(total: int, count: int, size: int) -> None:
    assert attendance_record_size(total, count) == size


@pytest.mark.parametrize("size", [8, 16, 40])
def test_bad_date_record_is_reported_with_offset_while_others_decode(size: int) -> None:
    records = [AttendanceRecord(1, "1", T0.replace(hour=h)) for h in range(8, 13)]
    blob = encode_attendance_blob(records, size, raw_times={2: pack_time_fields(2024, 2, 30, 9, 0, 0)})
    log = decode_attendance_blob(blob, 5, [UserRecord(uid=1, user_id="1")])
    assert [r.timestamp.hour for r in log.records] == [8, 9, 11, 12]
    assert len(log.problems) == 1
    problem = log.problems[0]
    assert (problem.index, problem.offset) == (2, 2 * size)
    assert "day is out of range" in problem.cause
    assert [i for i, _ in log.numbered()] == [0, 1, 3, 4]


def test_bad_record_bytes_are_where_the_problem_says() -> None:
    records = [AttendanceRecord(1, "1", T0)] * 3
    blob = encode_attendance_blob(records, 40, raw_times={1: pack_time_fields(2023, 2, 29, 0, 0, 0)})
    problem = decode_attendance_blob(blob, 3).problems[0]
    body = blob[4:]
    time_field = body[problem.offset + 27 : problem.offset + 31]
    assert int.from_bytes(time_field, "little") == pack_time_fields(2023, 2, 29, 0, 0, 0)
    assert int.from_bytes(body[27:31], "little") == encode_time(T0)


def test_trailing_partial_record_is_a_problem() -> None:
    blob = encode_attendance_blob([AttendanceRecord(1, "1", T0)], 40)
    log = decode_attendance_blob(blob + b"\x01\x02", 1)
    assert len(log.records) == 1
    assert [(p.index, p.offset) for p in log.problems] == [(1, 40)]


def test_empty_blob_decodes_to_nothing() -> None:
    assert decode_attendance_blob(b"", 0).records == []
    assert decode_attendance_blob(b"\x00\x00\x00\x00", 0).records == []


# ---------------------------------------------------------------- live events


def test_12_byte_live_event_capture() -> None:
    # §2.10 real capture: f1944900 00 00 120c07130906 = user 4822257.
    events = decode_live_events(bytes.fromhex("f1944900 00 00 120c07130906"))
    assert events == [LiveEvent("4822257", 0, 0, datetime(2018, 12, 7, 19, 9, 6))]


@pytest.mark.parametrize("size", [12, 32, 36, 52])
def test_live_event_round_trip(size: int) -> None:
    event = LiveEvent("1042", 15, 1, T0)
    payload = encode_live_event(event, size)
    assert len(payload) == size
    assert decode_live_events(payload) == [event]


def test_two_52_byte_events_in_one_packet() -> None:
    a, b = LiveEvent("1", 1, 0, T0), LiveEvent("2", 1, 1, T0.replace(minute=5))
    assert decode_live_events(encode_live_event(a, 52) + encode_live_event(b, 52)) == [a, b]


def test_live_event_of_unknown_length_is_refused() -> None:
    with pytest.raises(ValueError, match="40 bytes"):
        decode_live_events(bytes(40))
