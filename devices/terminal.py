"""The fingerprint-terminal port: what the edge needs from any terminal family, and its value objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from devices.errors import BadRecordError


@dataclass(frozen=True)
class TerminalInfo:
    """Identity and usage of a terminal, read from the device."""

    serial: str
    firmware: str
    platform: str
    device_name: str
    mac: str
    users: int
    records: int
    record_capacity: int
    fingers: int
    finger_capacity: int
    user_capacity: int


@dataclass(frozen=True)
class Punch:
    """One attendance record as the terminal logged it.

    ``device_time`` is the terminal's naive wall clock, exactly as read (the event id is derived
    from it); ``occurred_at`` is the same instant made timezone-aware with the terminal's
    configured zone. ``log_index`` is the record's position in the device log (None for a
    punch pushed by live capture, which does not say where it went).
    """

    user_id: str
    device_uid: int | None
    device_time: datetime
    occurred_at: datetime
    verify_mode: int
    punch_state: int
    log_index: int | None
    # Whether the terminal had a user with this PIN when read (None: not known); False marks
    # records of deleted users, and punches by PINs nobody enrolled.
    user_enrolled: bool | None = None
    # True when the record carried only the slot (the 8-byte layout): ``user_id`` is then whoever
    # holds ``device_uid`` on the terminal now (pyzk's ``str(uid)`` when nobody does), which is the
    # wrong person once the slot was freed or reused; the reader may know better.
    user_id_from_slot: bool = False


@dataclass(frozen=True)
class EnrolledUser:
    """A user as a terminal stores them; ``user_id`` is the PIN (the terminal's slot is its own business)."""

    user_id: str
    name: str = ""
    admin: bool = False
    card: int = 0
    # False: kept on the terminal with their fingerprints, but refused at verification.
    enabled: bool = True


@dataclass(frozen=True)
class FingerTemplate:
    """One enrolled fingerprint: finger index 0-9 and the vendor template bytes."""

    finger: int
    template: bytes


class FingerprintTerminal(Protocol):
    """A fingerprint terminal the edge can read. Implementations raise ``devices.errors.DeviceError``."""

    @property
    def address(self) -> str:
        """Where the terminal is reached (host:port), for messages."""
        ...

    def read_info(self) -> TerminalInfo:
        """Read serial number, firmware and how full the device is."""
        ...

    def read_log(self) -> tuple[list[Punch], list[BadRecordError]]:
        """Read the whole attendance log, oldest first, and the records that could not be decoded.

        A corrupt record never hides the others: it is skipped and reported with its offset.
        """
        ...

    def read_clock(self) -> datetime:
        """Read the device clock as a timezone-aware datetime in the terminal's zone."""
        ...

    def set_clock(self, when: datetime) -> None:
        """Set the device clock to ``when`` (converted to the terminal's zone)."""
        ...

    def capture_punches(
        self,
        on_punch: Callable[[Punch], None],
        *,
        idle_timeout: float,
        should_stop: Callable[[], bool],
    ) -> None:
        """Receive punches as the terminal makes them (live capture) until ``should_stop()``.

        ``should_stop`` is asked after every punch and every ``idle_timeout`` seconds without one.
        Returns normally when stopped; raises ``DeviceError`` when the connection fails.
        """
        ...

    def clear_log(self, may_clear: Callable[[list[Punch], list[BadRecordError]], bool]) -> bool:
        """Clear the attendance log if ``may_clear(log, undecodable records)`` says so; True if cleared.

        The terminal is kept from logging new punches between the read handed to ``may_clear``
        and the clear, so no punch can be lost in between.
        """
        ...

    def read_users(self) -> list[EnrolledUser]:
        """Every user enrolled on the terminal."""
        ...

    def write_user(self, user: EnrolledUser) -> None:
        """Create the user, or update the one with the same ``user_id``."""
        ...

    def disable_user(self, user_id: str) -> bool:
        """Stop the user punching, keeping them and their fingerprints for a later enable. True if found."""
        ...

    def remove_user(self, user_id: str) -> bool:
        """Remove the user and their templates so they cannot punch; their records stay. True if found."""
        ...

    def read_templates(self) -> dict[str, list[FingerTemplate]]:
        """Every fingerprint template, by user id."""
        ...

    def write_templates(self, user: EnrolledUser, templates: list[FingerTemplate]) -> None:
        """Store ``templates`` for ``user`` (created or updated first)."""
        ...

    def close(self) -> None:
        """Disconnect; safe to call more than once."""
        ...
