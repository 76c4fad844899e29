"""The ids of every record of one terminal ever queued, so no read ever queues a record twice.

Kept in the outbox database (``seen_records``) and cached in memory; once a day the ids of
records that have left the device (cleared or overwritten) and are older than the retention
are forgotten, so the file does not grow for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from devices.terminal import Punch
from edge.outbox import Outbox

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 86400.0
_ONE_SECOND = timedelta(seconds=1)


class SeenRecords:
    def __init__(self, outbox: Outbox, serial: str, retention_days: float) -> None:
        self._outbox = outbox
        self._serial = serial
        self._retention_seconds = retention_days * 86400
        self._ids: set[str] | None = None
        self._last_prune_at: datetime | None = None

    def ids(self) -> set[str]:
        """The ids queued so far (the caller adds to it what it queues)."""
        if self._ids is None:
            self._ids = self._outbox.seen_ids(self._serial)
        return self._ids

    def prune(self, on_device: list[str], now: datetime) -> bool:
        """Forget old ids no longer on the device, at most once every ``PRUNE_EVERY_SECONDS``;
        True if it was time to."""
        if (
            self._last_prune_at is not None
            and (now - self._last_prune_at).total_seconds() < PRUNE_EVERY_SECONDS
        ):
            return False
        self._last_prune_at = now
        cutoff = now.timestamp() - self._retention_seconds
        forgotten = self._outbox.forget_seen(self._serial, still_on_device=on_device, seen_before=cutoff)
        if forgotten:
            logger.info(
                "terminal %s: forgot %d ids of records no longer on the device", self._serial, forgotten
            )
            self._ids = None  # reloaded on next use
        return True


@dataclass(frozen=True)
class SlotOwner:
    """Who held a terminal slot the last time the edge read a record of it, and when."""

    pin: str
    seen_at: datetime


@dataclass
class Resolved:
    """Punches with their PINs settled, and the positions of those whose slot changed owners."""

    punches: list[Punch]
    reused: set[int]


class SlotPins:
    """The PIN of every slot-only record (8-byte layout) as the edge first saw it.

    Such a record names a slot, and the terminal says who holds that slot *now*: once the user
    was deleted the record would read as nobody, once the slot was reused as the newcomer, and
    each reading would be a new event id. So the PIN of each record is kept the first time the
    record is seen, beside the seen ids (``seen_records`` rows of the pseudo-device
    ``<serial>#slots``, one ``uid|time|state|verify|pin`` key each, pruned like the ids), and
    the last owner seen for each slot is kept as a device fact to judge records never seen.
    """

    def __init__(self, outbox: Outbox, serial: str, retention_days: float) -> None:
        self._outbox = outbox
        self._serial = serial
        self._device = f"{serial}#slots"
        self._retention_seconds = retention_days * 86400
        self._pins: dict[tuple[int, str, int, int], str] | None = None
        self._owners: dict[int, SlotOwner | None] = {}

    def _known(self) -> dict[tuple[int, str, int, int], str]:
        if self._pins is None:
            pins = {}
            for row in self._outbox.seen_ids(self._device):
                uid, stamp, state, verify, pin = row.split("|", 4)
                pins[(int(uid), stamp, int(state), int(verify))] = pin
            self._pins = pins
        return self._pins

    def owner(self, uid: int) -> SlotOwner | None:
        if uid not in self._owners:
            value = self._outbox.fact(self._serial, f"slot_owner_{uid}")
            owner = None
            if value is not None:
                pin, _, seen_at = value.rpartition("|")
                owner = SlotOwner(pin, datetime.fromisoformat(seen_at))
            self._owners[uid] = owner
        return self._owners[uid]

    def resolve(self, punches: list[Punch], observed_at: datetime) -> Resolved:
        """Settle the PIN of every slot-only punch and remember it (before anything is queued).

        A record seen before keeps the PIN it had then. A new one takes the slot's owner now,
        unless the slot changed owners since the edge last saw it: then a record dated a second or
        more before that sighting is the old owner's, and either way it is marked reused; a record of
        an empty slot goes to the last owner seen (the deleted user), else stays pyzk's ``str(uid)``.
        """
        known = self._known()
        out: list[Punch] = []
        reused: set[int] = set()
        new_keys: list[str] = []
        owners_now: dict[int, str] = {}
        for index, punch in enumerate(punches):
            uid = punch.device_uid
            if not punch.user_id_from_slot or uid is None:
                out.append(punch)
                continue
            current = punch.user_id if punch.user_enrolled else None
            if current is not None:
                owners_now[uid] = current
            key = (uid, punch.device_time.isoformat(), punch.punch_state, punch.verify_mode)
            pin = known.get(key)
            if pin is None:
                pin = current
                last = self.owner(uid)
                if last is not None and last.pin != current:
                    # Device times are whole seconds: only a record stamped a full second before
                    # the sighting was surely made while the old owner held the slot.
                    if current is None or punch.occurred_at + _ONE_SECOND <= last.seen_at:
                        pin = last.pin
                    if current is not None:
                        reused.add(index)
                pin = pin or punch.user_id
                known[key] = pin
                new_keys.append(_slot_key(key, pin))
            out.append(replace(punch, user_id=pin, user_enrolled=current is not None and pin == current))
        if new_keys:
            self._outbox.add([], seen=(self._device, new_keys))
        for uid, pin in owners_now.items():
            self._owners[uid] = SlotOwner(pin, observed_at)
            self._outbox.set_fact(self._serial, f"slot_owner_{uid}", f"{pin}|{observed_at.isoformat()}")
        return Resolved(out, reused)

    def remember_live(self, punch: Punch) -> None:
        """A live event names the PIN itself: keep it for the slot-only record the log will show."""
        if punch.device_uid is None:
            return
        key = (punch.device_uid, punch.device_time.isoformat(), punch.punch_state, punch.verify_mode)
        known = self._known()
        if key not in known:
            known[key] = punch.user_id
            self._outbox.add([], seen=(self._device, [_slot_key(key, punch.user_id)]))

    def prune(self, on_device: list[Punch], now: datetime) -> None:
        """Forget the PINs of old records no longer on the device (called with the daily id prune)."""
        known = self._known()
        keep = []
        for punch in on_device:
            if punch.device_uid is None:
                continue
            key = (punch.device_uid, punch.device_time.isoformat(), punch.punch_state, punch.verify_mode)
            if key in known:
                keep.append(_slot_key(key, known[key]))
        cutoff = now.timestamp() - self._retention_seconds
        if self._outbox.forget_seen(self._device, still_on_device=keep, seen_before=cutoff):
            self._pins = None


def _slot_key(key: tuple[int, str, int, int], pin: str) -> str:
    return f"{key[0]}|{key[1]}|{key[2]}|{key[3]}|{pin}"
