"""State of a simulated ZKTeco terminal: identity, roster, attendance log, clock, flags.

Shared by every session of one simulator and therefore guarded by one lock. Live-capture
sessions subscribe to new punches (``add_punch``) through plain callbacks.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from devices.zkteco.packets import pack_time_fields
from devices.zkteco.records import (
    ATTENDANCE_SIZES,
    USER_SIZES,
    AttendanceRecord,
    DeviceSizes,
    UserRecord,
    encode_attendance_blob,
    encode_users_blob,
)
from devices.zkteco.sim_faults import SimFaults
from devices.zkteco.sim_templates import decode_template_upload, encode_templates_blob

logger = logging.getLogger(__name__)

PunchListener = Callable[[AttendanceRecord], None]

_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu")
_GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Jun", "Yan", "Tao", "Hui", "Bo")


@dataclass(frozen=True)
class DeviceIdentity:
    """What OPTIONS_RRQ and GET_VERSION report (§2.2)."""

    serial: str = "KQSIM0001"
    firmware: str = "Ver 6.60 Apr 28 2017"
    platform: str = "ZMM220_TFT"
    device_name: str = "K40"
    mac: str = "00:17:61:11:45:08"

    def options(self) -> dict[str, str]:
        """OPTIONS_RRQ keys the device answers (§2.2); others get ACK_ERROR."""
        return {
            "~SerialNumber": self.serial,
            "~Platform": self.platform,
            "~DeviceName": self.device_name,
            "MAC": self.mac,
            "~ZKFPVersion": "10",
            "ZKFaceVersion": "7",
            "~OS": "1",
            "IPAddress": "192.168.1.201",
            "NetMask": "255.255.255.0",
            "GATEIPAddress": "0.0.0.0",
        }


def wall_clock(zone: ZoneInfo | None = None) -> datetime:
    """Naive wall-clock time now in ``zone`` (the host's local zone when None)."""
    return datetime.now(UTC).astimezone(zone).replace(tzinfo=None)


def generate_roster(count: int) -> list[UserRecord]:
    """``count`` users with uids and PINs 1..count and pinyin names (fit the 8-byte name field)."""
    return [
        UserRecord(
            uid=n,
            user_id=str(n),
            name=f"{_SURNAMES[(n - 1) % len(_SURNAMES)]} {_GIVEN[(n - 1) // len(_SURNAMES) % 12]}",
        )
        for n in range(1, count + 1)
    ]


def generate_attendance(
    users: Sequence[UserRecord], count: int, before: datetime, seed: int = 0
) -> list[AttendanceRecord]:
    """``count`` punches on working days before ``before``, oldest first, deterministic per seed.

    Every user checks in around 08:30 and out around 17:45 each Monday-Friday, walking back
    day by day until there are enough records.
    """
    if count <= 0:
        return []
    roster = list(users) or [UserRecord(uid=1, user_id="1")]
    rng = random.Random(seed)
    out: list[AttendanceRecord] = []
    day = before.date() - timedelta(days=1)
    while len(out) < count:
        if day.weekday() < 5:
            out.extend(_working_day(rng, roster, day, count - len(out)))
        day -= timedelta(days=1)
        if day.year < 2000:
            raise ValueError(f"cannot fit {count} records after 2000-01-01")
    out.sort(key=lambda r: r.timestamp)
    return out


def _working_day(
    rng: random.Random, roster: Sequence[UserRecord], day: date, limit: int
) -> Iterable[AttendanceRecord]:
    start = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - device wall clock
    made = 0
    for user in roster:
        for state, base in ((0, 8 * 3600 + 30 * 60), (1, 17 * 3600 + 45 * 60)):
            if made >= limit:
                return
            when = start + timedelta(seconds=base + rng.randint(-1800, 1800))
            yield AttendanceRecord(user.uid, user.user_id, when, rng.choice((1, 1, 1, 15)), state)
            made += 1


class DeviceState:
    """Everything a terminal remembers. All public methods are thread-safe."""

    def __init__(
        self,
        *,
        identity: DeviceIdentity | None = None,
        users: Sequence[UserRecord] = (),
        records: Sequence[AttendanceRecord] = (),
        comm_key: int = 0,
        record_size: int = 40,
        user_size: int = 72,
        timezone: str | None = None,
        corrupt_records: Iterable[int] = (),
        faults: SimFaults | None = None,
    ) -> None:
        if record_size not in ATTENDANCE_SIZES:
            raise ValueError(f"record_size must be one of {ATTENDANCE_SIZES}")
        if user_size not in USER_SIZES:
            raise ValueError(f"user_size must be one of {USER_SIZES}")
        self.identity = identity or DeviceIdentity()
        self.comm_key = comm_key
        self.record_size = record_size
        self.user_size = user_size
        self._zone = ZoneInfo(timezone) if timezone else None
        self._lock = threading.RLock()
        self._users: dict[int, UserRecord] = {u.uid: u for u in users}
        self._records: list[AttendanceRecord] = list(records)
        self.faults = faults or SimFaults()
        self._corrupt = set(corrupt_records) | self.faults.corrupt_records
        self._clock_offset = timedelta(seconds=self.faults.clock_offset_seconds)
        self._drift_from = wall_clock(self._zone)
        self._set_back_at: datetime | None = None
        if self.faults.clock_set_back_seconds:
            self._set_back_at = self._drift_from + timedelta(seconds=self.faults.clock_set_back_after_seconds)
        self._enabled = True
        self._tcp_sessions = 0
        self.templates: dict[tuple[int, int], bytes] = {}  # (uid, finger index) -> template
        self._listeners: list[PunchListener] = []

    # ------------------------------------------------------------ clock (§6 item 14)

    def now(self) -> datetime:
        """The device's naive wall clock: host time in the device zone plus the set offset."""
        host = wall_clock(self._zone)
        with self._lock:
            if self._set_back_at is not None and host >= self._set_back_at:
                # §6.14: someone set the clock back at the device's menu, once.
                self._set_back_at = None
                self._clock_offset -= timedelta(seconds=self.faults.clock_set_back_seconds)
                logger.warning("device clock set back by %.0f s (fault)", self.faults.clock_set_back_seconds)
            hours = (host - self._drift_from).total_seconds() / 3600
            drift = timedelta(seconds=hours * self.faults.drift_seconds_per_hour)
            return (host + self._clock_offset + drift).replace(microsecond=0)

    def set_time(self, when: datetime) -> None:
        """SET_TIME: from now on ``now()`` continues from ``when`` (naive device time)."""
        host = wall_clock(self._zone)
        with self._lock:
            self._clock_offset = when - host
            self._drift_from = host

    # ------------------------------------------------------------ flags

    @property
    def enabled(self) -> bool:
        """False between DISABLEDEVICE and ENABLEDEVICE (the terminal shows "Working...")."""
        with self._lock:
            return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """ENABLEDEVICE / DISABLEDEVICE."""
        with self._lock:
            self._enabled = enabled

    # ------------------------------------------------------------ users

    @property
    def users(self) -> list[UserRecord]:
        """A copy of the roster, ordered by uid."""
        with self._lock:
            return [self._users[uid] for uid in sorted(self._users)]

    def put_user(self, user: UserRecord) -> None:
        """CMD_USER_WRQ: create or replace the user in slot ``user.uid``."""
        with self._lock:
            self._users[user.uid] = user

    def delete_user(self, uid: int) -> bool:
        """CMD_DELETE_USER: drop slot ``uid`` and its templates (its punches stay, as on real devices)."""
        with self._lock:
            for key in [k for k in self.templates if k[0] == uid]:
                del self.templates[key]
            return self._users.pop(uid, None) is not None

    def enroll_finger(self, uid: int, finger: int, template: bytes) -> None:
        """A fingerprint enrolled at the device for the user in slot ``uid``."""
        with self._lock:
            if uid not in self._users:
                raise KeyError(f"no user in slot {uid}")
            self.templates[(uid, finger)] = template

    def templates_blob(self) -> bytes:
        """The CMD_DB_RRQ dataset of fingerprint templates."""
        with self._lock:
            return encode_templates_blob(dict(self.templates))

    def save_user_templates(self, buffer: bytes) -> None:
        """CMD_SAVE_USERTEMPS: store the uploaded user and their templates."""
        upload = decode_template_upload(buffer)
        with self._lock:
            self._users[upload.user.uid] = upload.user
            for finger, template in upload.templates.items():
                self.templates[(upload.user.uid, finger)] = template

    # ------------------------------------------------------------ attendance

    @property
    def records(self) -> list[AttendanceRecord]:
        """A copy of the attendance log, oldest first."""
        with self._lock:
            return list(self._records)

    def add_punch(
        self,
        user_id: str,
        when: datetime | None = None,
        verify_mode: int = 1,
        punch_state: int = 0,
    ) -> AttendanceRecord:
        """Log a punch stamped with the device clock (or ``when``) and notify live sessions.

        ``when`` is naive device time; an aware datetime is converted to the device zone.
        """
        if when is None:
            stamp = self.now()
        elif when.tzinfo is not None:
            stamp = when.astimezone(self._zone).replace(tzinfo=None)
        else:
            stamp = when
        with self._lock:
            user = next((u for u in self._users.values() if u.user_id == user_id), None)
            if user is not None and user.privilege & 0x01:
                # §2.5: privilege bit 0 = disabled; the terminal refuses their verification.
                logger.warning("punch by disabled user %s refused", user_id)
                return AttendanceRecord(
                    user.uid, user_id, stamp.replace(microsecond=0), verify_mode, punch_state
                )
            # An unknown PIN gets its number as slot when it fits a u16 (orphan punch), else 0.
            uid = user.uid if user else (int(user_id) if user_id.isdigit() else 0)
            uid = uid if uid <= 0xFFFF else 0
            record = AttendanceRecord(uid, user_id, stamp.replace(microsecond=0), verify_mode, punch_state)
            if len(self._records) >= self.faults.record_capacity:
                if not self.faults.overwrite_when_full:
                    logger.warning("log full (%d records): punch by %s refused", len(self._records), user_id)
                    return record
                # §6.18: a full log overwrites its oldest record.
                del self._records[0]
                self._corrupt = {i - 1 for i in self._corrupt if i > 0}
            self._records.append(record)
            listeners = list(self._listeners)
        logger.info("punch user_id=%s at %s (state %d)", user_id, record.timestamp, punch_state)
        for listener in listeners:
            listener(record)
        return record

    def clear_attendance(self) -> None:
        """CMD_CLEAR_ATTLOG."""
        with self._lock:
            self._records.clear()
            self._corrupt.clear()

    def clear_all(self) -> None:
        """CMD_CLEAR_DATA: users and attendance."""
        with self._lock:
            self._users.clear()
            self._records.clear()
            self._corrupt.clear()

    # ------------------------------------------------------------ wire views

    def sizes(self) -> DeviceSizes:
        """Counts for GET_FREE_SIZES; always consistent with the datasets served (§2.3)."""
        with self._lock:
            admins = sum(1 for u in self._users.values() if u.privilege)
            return DeviceSizes(
                users=len(self._users),
                records=len(self._records),
                admins=admins,
                fingers=len(self.templates),
                finger_capacity=self.faults.finger_capacity,
                user_capacity=self.faults.user_capacity,
                record_capacity=self.faults.record_capacity,
            )

    def claim_tcp_session(self) -> bool:
        """Take the device's one TCP session; False if ``single_client`` and another holds it."""
        with self._lock:
            if self.faults.single_client and self._tcp_sessions > 0:
                return False
            self._tcp_sessions += 1
            return True

    def release_tcp_session(self) -> None:
        with self._lock:
            self._tcp_sessions = max(0, self._tcp_sessions - 1)

    def users_blob(self) -> bytes:
        """The CMD_USERTEMP_RRQ dataset in this device's user layout."""
        return encode_users_blob(self.users, self.user_size)

    def attendance_blob(self) -> bytes:
        """The CMD_ATTLOG_RRQ dataset; records marked corrupt carry an impossible Feb 30."""
        with self._lock:
            records = list(self._records)
            bad = {i: _feb30(records[i].timestamp) for i in self._corrupt if i < len(records)}
        return encode_attendance_blob(records, self.record_size, bad)

    def subscribe(self, listener: PunchListener) -> None:
        """Call ``listener(record)`` for every later ``add_punch`` (subscribing twice is a no-op)."""
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    @property
    def live_listeners(self) -> int:
        """How many sessions currently receive live events (REG_EVENT with EF_ATTLOG)."""
        with self._lock:
            return len(self._listeners)

    def unsubscribe(self, listener: PunchListener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)


def _feb30(when: datetime) -> int:
    """Packed time of "Feb 30" in the record's year at its time of day (§1.7 invalid date)."""
    return pack_time_fields(when.year, 2, 30, when.hour, when.minute, when.second)
