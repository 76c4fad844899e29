"""The data quirks of a ``SimFaults`` profile applied to the roster and log a simulator starts with.

Real logs hold odd PINs, records of users deleted since (some slots taken by newcomers), the
same punch twice and records dated in the future (``zk-protocol.md`` §6 items 13, 15, 16);
impossible dates and a clock set back are served by ``DeviceState`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from devices.zkteco.records import AttendanceRecord, UserRecord
from devices.zkteco.sim_faults import SimFaults


def with_odd_pins(roster: Sequence[UserRecord], faults: SimFaults) -> list[UserRecord]:
    """The roster plus one user per ``odd_pins`` entry, in the next free slots."""
    users = list(roster)
    taken = {u.user_id for u in users}
    next_uid = max((u.uid for u in users), default=0) + 1
    for pin in faults.odd_pins:
        if pin in taken:
            raise ValueError(f"odd_pins: PIN {pin!r} is already on the roster")
        users.append(UserRecord(uid=next_uid, user_id=pin, name=f"Odd {pin}"[:8]))
        taken.add(pin)
        next_uid += 1
    return users


def apply_log_quirks(
    roster: Sequence[UserRecord], records: Sequence[AttendanceRecord], faults: SimFaults, now: datetime
) -> tuple[list[UserRecord], list[AttendanceRecord]]:
    """Delete users (their records stay), reuse their slots, duplicate and add future records."""
    users = {u.uid: u for u in roster}
    by_pin = {u.user_id: u for u in roster}
    for pin in faults.deleted_users:
        user = by_pin.get(pin)
        if user is None:
            raise ValueError(f"deleted_users: PIN {pin!r} is not on the roster")
        del users[user.uid]
        if faults.reuse_deleted_slots:
            users[user.uid] = UserRecord(uid=user.uid, user_id=f"9{user.uid:04d}", name=f"New {user.uid}"[:8])
    log: list[AttendanceRecord] = []
    for index, record in enumerate(records, start=1):
        log.append(record)
        if faults.duplicate_every and index % faults.duplicate_every == 0:
            log.append(record)  # firmware that does not suppress a repeat within AlarmReRec
    ahead = now + timedelta(seconds=faults.future_seconds)
    enrolled = [users[uid] for uid in sorted(users)]
    for n in range(faults.future_records):
        user = enrolled[n % len(enrolled)] if enrolled else UserRecord(uid=1, user_id="1")
        log.append(AttendanceRecord(user.uid, user.user_id, ahead + timedelta(minutes=n), 1, 0))
    return [users[uid] for uid in sorted(users)], log
