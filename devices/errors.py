"""Errors raised by device adapters. Each names the device and the cause, never a bare library error."""

from __future__ import annotations


class DeviceError(Exception):
    """A device could not do what was asked. ``device`` names it (address or serial)."""

    kind = "device error"  # what a device status says went wrong, before the message

    def __init__(self, device: str, cause: str) -> None:
        super().__init__(f"{device}: {cause}")
        self.device = device
        self.cause = cause


class DeviceUnreachable(DeviceError):
    """Nothing answered, the connection dropped, or the device timed out."""

    kind = "unreachable"


class DeviceAuthError(DeviceError):
    """The device refused our credentials (for a ZKTeco terminal: the comm key)."""

    kind = "refused our credentials"


class DeviceProtocolError(DeviceError):
    """The device answered something we cannot understand or refused a command."""

    kind = "protocol error"


class BadRecordError(DeviceProtocolError):
    """One record in a device log cannot be decoded; ``offset`` is its position in the log and
    ``raw`` its bytes exactly as served, kept (as hex in the message) so nothing is lost."""

    def __init__(self, device: str, offset: int, cause: str, raw: bytes = b"") -> None:
        kept = f"; raw {raw.hex()}" if raw else ""
        super().__init__(device, f"record at offset {offset}: {cause}{kept}")
        self.offset = offset
        self.raw = raw
