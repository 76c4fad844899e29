"""``ZKTecoTerminal``: the ``FingerprintTerminal`` port implemented over pyzk 0.9.

pyzk runs the session (connect, comm key, buffered reads); attendance records are decoded with
our own ``records`` module so one corrupt record is reported instead of pyzk's ``ValueError``
aborting the whole read (``zk-protocol.md`` §1.7, §6 item 11). Every pyzk or socket failure is
translated into a ``devices.errors`` exception naming the device.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from zk import ZK, const
from zk.exception import ZKErrorConnection, ZKErrorResponse, ZKNetworkError

from devices.errors import (
    BadRecordError,
    DeviceAuthError,
    DeviceError,
    DeviceProtocolError,
    DeviceUnreachable,
)
from devices.terminal import EnrolledUser, FingerTemplate, Punch, TerminalInfo
from devices.zkteco import roster
from devices.zkteco.config import ZKTecoConfig
from devices.zkteco.records import UserRecord, decode_attendance_blob

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ZKTecoTerminal:
    """A ZKTeco terminal reached over the binary pull protocol (TCP or UDP port 4370).

    Keeps one connection open between calls and reconnects lazily after any failure.
    Thread-safe: calls are serialised. ``last_problems`` holds the undecodable records of the
    latest ``read_punches``.
    """

    def __init__(self, config: ZKTecoConfig) -> None:
        self.config = config
        self._conn: Any = None
        self._lock = threading.Lock()
        self._problems: list[BadRecordError] = []

    @property
    def address(self) -> str:
        """``host:port`` of the terminal."""
        return self.config.address

    @property
    def last_problems(self) -> list[BadRecordError]:
        """Records the latest ``read_punches`` skipped, each with its byte offset and cause."""
        return list(self._problems)

    # ------------------------------------------------------------ port methods

    def read_info(self) -> TerminalInfo:
        """Serial, firmware, platform, name, MAC and the usage counters of GET_FREE_SIZES."""

        def read(conn: Any) -> TerminalInfo:
            firmware = str(conn.get_firmware_version())
            serial = str(conn.get_serialnumber())
            platform = str(conn.get_platform())
            name = str(conn.get_device_name())
            mac = str(conn.get_mac())
            conn.read_sizes()
            return TerminalInfo(
                serial=serial,
                firmware=firmware,
                platform=platform,
                device_name=name,
                mac=mac,
                users=int(conn.users),
                records=int(conn.records),
                record_capacity=int(conn.rec_cap),
                fingers=int(conn.fingers),
                finger_capacity=int(conn.fingers_cap),
                user_capacity=int(conn.users_cap),
            )

        return self._call("read info", read)

    def read_punches(self) -> list[Punch]:
        """The whole attendance log, oldest first, skipping (and recording) corrupt records."""
        punches, _problems = self.read_log()
        return punches

    def read_log(self) -> tuple[list[Punch], list[BadRecordError]]:
        """The attendance log and the records that could not be decoded.

        Each problem is a ``BadRecordError`` whose ``offset`` is the record's byte offset in the
        log's record area (after the 4-byte length); the message also names the record index.
        """
        users, count, blob = self._call("read attendance", self._fetch_attendance)
        punches, problems = self._decode_log(users, count, blob)
        self._problems = problems
        return punches, problems

    def _decode_log(
        self, users: list[UserRecord], count: int, blob: bytes
    ) -> tuple[list[Punch], list[BadRecordError]]:
        log = decode_attendance_blob(blob, count, users)
        zone = self.config.zone
        enrolled = {u.user_id for u in users}
        slots = {u.uid for u in users}
        # §2.7: 8-byte records carry only the slot; the PIN is the slot's owner now.
        from_slot = log.record_size == 8
        punches = [
            Punch(
                user_id=record.user_id,
                device_uid=record.uid,
                device_time=record.timestamp,
                occurred_at=record.timestamp.replace(tzinfo=zone),
                verify_mode=record.verify_mode,
                punch_state=record.punch_state,
                log_index=index,
                user_enrolled=record.uid in slots if from_slot else record.user_id in enrolled,
                user_id_from_slot=from_slot,
            )
            for index, record in log.numbered()
        ]
        problems = [
            BadRecordError(self.address, p.offset, f"record #{p.index}: {p.cause}", p.raw)
            for p in log.problems
        ]
        for problem in problems:
            logger.warning("skipping unreadable attendance record: %s", problem)
        if count and len(punches) + len(problems) != count:
            logger.warning(
                "%s: device reported %d records but served %d",
                self.address,
                count,
                len(punches) + len(problems),
            )
        return punches, problems

    def read_clock(self) -> datetime:
        """The device clock, made aware in the configured zone."""
        naive: datetime = self._call("read clock", lambda conn: conn.get_time())
        return naive.replace(tzinfo=self.config.zone)

    def set_clock(self, when: datetime) -> None:
        """Set the device clock to ``when`` (aware; converted to the terminal's zone)."""
        if when.tzinfo is None:
            raise ValueError("set_clock needs a timezone-aware datetime")
        local = when.astimezone(self.config.zone).replace(tzinfo=None, microsecond=0)
        self._call("set clock", lambda conn: conn.set_time(local))

    def capture_punches(
        self,
        on_punch: Callable[[Punch], None],
        *,
        idle_timeout: float,
        should_stop: Callable[[], bool],
    ) -> None:
        """pyzk's live capture on our one connection, until ``should_stop()``.

        Stopping sets pyzk's ``end_live_capture`` and keeps draining its generator, so pyzk runs
        its own clean-up (REG_EVENT 0) and the session is usable for commands afterwards (§2.10).
        A silent device (rebooted without closing the socket) only yields idle timeouts: the
        caller's health checks find it. A dropped connection or an event pyzk cannot parse (an
        unknown alphanumeric PIN raises ValueError in pyzk 0.9) ends the call with a DeviceError.
        """

        def capture(conn: Any) -> None:
            enrolled = {str(u.user_id) for u in conn.get_users()}
            zone = self.config.zone
            for attendance in conn.live_capture(new_timeout=idle_timeout):
                if attendance is not None:
                    stamp = attendance.timestamp
                    known = str(attendance.user_id) in enrolled
                    on_punch(
                        Punch(
                            user_id=str(attendance.user_id),
                            device_uid=_int_or_none(attendance.uid) if known else None,
                            device_time=stamp,
                            occurred_at=stamp.replace(tzinfo=zone),
                            verify_mode=int(attendance.status),
                            punch_state=int(attendance.punch),
                            log_index=None,
                            user_enrolled=known,
                        )
                    )
                if should_stop():
                    conn.end_live_capture = True

        self._call("live capture", capture)

    def clear_log(self, may_clear: Callable[[list[Punch], list[BadRecordError]], bool]) -> bool:
        """Disable the terminal, read its log, clear it if ``may_clear(log, problems)``, enable it.

        pyzk has no atomic read-and-clear; disabling the device in between is what the vendor SDK
        does, so no punch is logged between the check and the clear (§2.11, §6 item 17).
        """

        def clear(conn: Any) -> bool:
            conn.disable_device()
            try:
                punches, problems = self._decode_log(*self._fetch_attendance(conn))
                if not may_clear(punches, problems):
                    return False
                conn.clear_attendance()
                logger.warning("%s: attendance log cleared (%d records)", self.address, len(punches))
                return True
            finally:
                conn.enable_device()

        return self._call("clear log", clear)

    def read_users(self) -> list[EnrolledUser]:
        return self._call("read users", lambda conn: roster.enrolled(conn.get_users()))

    def write_user(self, user: EnrolledUser) -> None:
        self._call(f"write user {user.user_id}", lambda conn: roster.write_user(conn, user))

    def disable_user(self, user_id: str) -> bool:
        return self._call(f"disable user {user_id}", lambda conn: roster.disable_user(conn, user_id))

    def remove_user(self, user_id: str) -> bool:
        return self._call(f"remove user {user_id}", lambda conn: roster.remove_user(conn, user_id))

    def read_templates(self) -> dict[str, list[FingerTemplate]]:
        return self._call("read templates", roster.read_templates)

    def write_templates(self, user: EnrolledUser, templates: list[FingerTemplate]) -> None:
        self._call(
            f"write templates of {user.user_id}", lambda conn: roster.write_templates(conn, user, templates)
        )

    def close(self) -> None:
        """Say goodbye (CMD_EXIT) if connected and close the socket; safe to call twice."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.disconnect()
            except Exception as exc:  # the socket is closed below either way
                logger.debug("%s: disconnect failed: %s", self.address, exc)
            _close_socket(conn)

    def __enter__(self) -> ZKTecoTerminal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ session handling

    def _fetch_attendance(self, conn: Any) -> tuple[list[UserRecord], int, bytes]:
        # Same sequence as pyzk's get_attendance (§2.7): sizes, users, then the 1503 read;
        # get_users() refreshes conn.records through read_sizes().
        users = [
            UserRecord(
                uid=int(u.uid),
                user_id=str(u.user_id),
                name=str(u.name),
                privilege=int(u.privilege),
                password=str(u.password),
                group_id=str(u.group_id),
                card=int(u.card or 0),
            )
            for u in conn.get_users()
        ]
        count = int(conn.records)
        if count == 0:
            return users, 0, b""
        blob, _size = conn.read_with_buffer(const.CMD_ATTLOG_RRQ)
        return users, count, bytes(blob)

    def _call(self, what: str, operation: Callable[[Any], T]) -> T:
        with self._lock:
            conn = self._connected(what)
            try:
                return operation(conn)
            except Exception as exc:
                # After any failure the session state is unknown: reconnect next time.
                self._conn = None
                _close_socket(conn)
                raise self._translate(what, exc, conn) from exc

    def _connected(self, what: str) -> Any:
        if self._conn is not None:
            return self._conn
        cfg = self.config
        conn = ZK(
            cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            password=cfg.comm_key,
            force_udp=cfg.transport == "udp",
            ommit_ping=True,  # no shell ping: containers often lack ICMP (§2.1)
        )
        try:
            conn.connect()
        except Exception as exc:
            _close_socket(conn)
            raise self._translate(f"{what}: connect over {cfg.transport}", exc, conn) from exc
        logger.info("%s: connected over %s", self.address, cfg.transport)
        self._conn = conn
        return conn

    def _translate(self, what: str, exc: Exception, conn: Any = None) -> DeviceError:
        if isinstance(exc, DeviceError):
            return exc
        if isinstance(exc, ZKErrorResponse) and "Unauthenticated" in str(exc):
            return DeviceAuthError(self.address, f"{what}: comm key refused (Unauthenticated)")
        if isinstance(exc, ZKNetworkError) and str(exc) == "TCP packet invalid" and not _received(conn):
            # pyzk says the same when the peer closed the connection without a byte (UDP-only
            # firmware refusing TCP, a device dropping us): nothing answered, it is not garbage.
            return DeviceUnreachable(
                self.address, f"{what}: the device closed the connection without answering"
            )
        if isinstance(exc, ZKNetworkError) and str(exc) == "TCP packet invalid":
            # Something answered, but not in ZK framing: a wrong port or another service.
            return DeviceProtocolError(self.address, f"{what}: the answer is not a ZK packet ({exc})")
        if isinstance(exc, ZKNetworkError | ZKErrorConnection | OSError):
            return DeviceUnreachable(self.address, f"{what}: no usable answer ({exc or type(exc).__name__})")
        if isinstance(exc, ZKErrorResponse):
            return DeviceProtocolError(self.address, f"{what}: device refused: {exc}")
        return DeviceProtocolError(self.address, f"{what}: {type(exc).__name__}: {exc}")


def _received(conn: Any) -> bool:
    # The bytes of pyzk's last TCP reply (name-mangled, like its socket below); unknown -> assume some.
    data = getattr(conn, "_ZK__tcp_data_recv", None) if conn is not None else None
    return data is None or len(data) > 0


def _int_or_none(value: object) -> int | None:
    # pyzk gives the uid as an int, or as the PIN string when the user is unknown.
    return value if isinstance(value, int) else None


def _close_socket(conn: Any) -> None:
    # pyzk keeps its socket in a name-mangled attribute and has no close() that does not
    # first talk to the device; closing it directly is the only way to free a broken session.
    sock = getattr(conn, "_ZK__sock", None)
    if sock is not None:
        try:
            sock.close()
        except OSError:
            logger.debug("closing a pyzk socket failed", exc_info=True)
