"""Finds a terminal by its serial number: at its configured address, its last known one, or a candidate.

Terminals get their address from DHCP in many offices; the serial number is what identifies them.
The address a terminal was last found at is remembered in the outbox database across restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from devices.errors import DeviceError, DeviceProtocolError, DeviceUnreachable
from devices.terminal import FingerprintTerminal, TerminalInfo
from edge.outbox import Outbox
from edge.ports import TerminalFactory
from edge.settings import TerminalSettings

logger = logging.getLogger(__name__)

_ADDRESS_FACT = "address"


@dataclass(frozen=True)
class Located:
    """An open terminal, what it said about itself, and where it was found."""

    device: FingerprintTerminal
    info: TerminalInfo
    address: str
    previous_address: str | None  # set when it answered somewhere new


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """``host`` or ``host:port`` as a pair."""
    host, _, port = address.rpartition(":")
    if host and port.isdigit():
        return host, int(port)
    return address, default_port


class TerminalLocator:
    """Opens the terminal with a given serial, looking at the candidate addresses when it moved."""

    def __init__(self, settings: TerminalSettings, open_terminal: TerminalFactory, outbox: Outbox) -> None:
        self._settings = settings
        self._open = open_terminal
        self._outbox = outbox
        configured = f"{settings.host}:{settings.port}"
        self.address = outbox.fact(settings.serial, _ADDRESS_FACT) or configured

    def _addresses(self) -> list[str]:
        s = self._settings
        ordered = [self.address, f"{s.host}:{s.port}"]
        ordered += [f"{h}:{p}" for h, p in (split_address(c, s.port) for c in s.candidate_hosts)]
        return list(dict.fromkeys(ordered))

    def _open_at(self, address: str) -> FingerprintTerminal:
        host, port = split_address(address, self._settings.port)
        return self._open(self._settings.model_copy(update={"host": host, "port": port}))

    def locate(self) -> Located:
        """The terminal answering with our serial; raises the first address's error if none does."""
        serial = self._settings.serial
        first_error: DeviceError | None = None
        for address in self._addresses():
            device = self._open_at(address)
            try:
                info = device.read_info()
            except DeviceError as exc:
                _close_quietly(device)
                first_error = first_error or exc
                continue
            if info.serial != serial:
                _close_quietly(device)
                first_error = first_error or DeviceProtocolError(
                    address, f"answers with serial {info.serial!r}, but is registered as {serial!r}"
                )
                continue
            previous = None if address == self.address else self.address
            if previous is not None:
                logger.warning("terminal %s found at a new address %s (was %s)", serial, address, previous)
                self._outbox.set_fact(serial, _ADDRESS_FACT, address)
                self.address = address
            return Located(device, info, address, previous)
        raise first_error or DeviceUnreachable(self.address, "no address to try")


def _close_quietly(device: FingerprintTerminal) -> None:
    try:
        device.close()
    except DeviceError as exc:
        logger.debug("closing %s failed: %s", device.address, exc)
