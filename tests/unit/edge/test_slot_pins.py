"""Slot-only records (8-byte layout): the PIN each record had when the edge first saw it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from devices.terminal import Punch
from edge.outbox import Outbox
from edge.seen_records import SlotPins
from tests.unit.edge.fakes import SHANGHAI

READ_1 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
READ_2 = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 13:00


def slot_punch(uid: int, owner: str | None, local: datetime) -> Punch:
    """What the terminal gives for a record of slot ``uid`` while ``owner`` holds it (None: empty)."""
    return Punch(
        user_id=owner or str(uid),
        device_uid=uid,
        device_time=local,
        occurred_at=local.replace(tzinfo=SHANGHAI),
        verify_mode=1,
        punch_state=0,
        log_index=0,
        user_enrolled=owner is not None,
        user_id_from_slot=True,
    )


def test_a_record_keeps_its_pin_and_the_old_owners_late_record_is_theirs(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    pins = SlotPins(box, "SN1", 90)
    seen = slot_punch(4, "77", datetime(2026, 11, 2, 8, 0))
    first = pins.resolve([seen], READ_1)
    assert [p.user_id for p in first.punches] == ["77"]
    assert first.reused == set()

    # Slot 4 now belongs to 78. The old record, a record of 77 dated before the edge last saw 77
    # (punched at 08:30, not read until now) and a record by 78 made after the reuse:
    late_of_77 = slot_punch(4, "78", datetime(2026, 11, 2, 8, 30))
    by_78 = slot_punch(4, "78", datetime(2026, 11, 2, 12, 0))
    again = SlotPins(box, "SN1", 90).resolve(  # a restarted edge: everything came from the database
        [slot_punch(4, "78", datetime(2026, 11, 2, 8, 0)), late_of_77, by_78], READ_2
    )
    assert [p.user_id for p in again.punches] == ["77", "77", "78"]
    assert [p.user_enrolled for p in again.punches] == [False, False, True]
    assert again.reused == {1, 2}


def test_a_deleted_users_unseen_record_goes_to_the_last_owner_seen(tmp_path: Path) -> None:
    pins = SlotPins(Outbox(tmp_path / "o.sqlite3"), "SN1", 90)
    pins.resolve([slot_punch(5, "55", datetime(2026, 11, 2, 8, 0))], READ_1)
    orphan = pins.resolve([slot_punch(5, None, datetime(2026, 11, 2, 10, 0))], READ_2)
    assert [(p.user_id, p.user_enrolled) for p in orphan.punches] == [("55", False)]
    assert orphan.reused == set()
    nobody = pins.resolve([slot_punch(6, None, datetime(2026, 11, 2, 10, 0))], READ_2)
    assert [(p.user_id, p.user_enrolled) for p in nobody.punches] == [("6", False)]  # pyzk's str(uid)


def test_records_that_name_their_pin_are_left_alone(tmp_path: Path) -> None:
    pins = SlotPins(Outbox(tmp_path / "o.sqlite3"), "SN1", 90)
    local = datetime(2026, 11, 2, 8, 0)
    punch = Punch("A17", 3, local, local.replace(tzinfo=SHANGHAI), 1, 0, 0, True)
    assert pins.resolve([punch], READ_1).punches == [punch]
