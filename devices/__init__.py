"""Device library: terminal and camera ports, value objects and adapters.

Knows nothing of MQTT, databases or the web (enforced by import-linter).
"""

from devices.errors import (
    BadRecordError,
    DeviceAuthError,
    DeviceError,
    DeviceProtocolError,
    DeviceUnreachable,
)
from devices.terminal import FingerprintTerminal, Punch, TerminalInfo

__all__ = [
    "BadRecordError",
    "DeviceAuthError",
    "DeviceError",
    "DeviceProtocolError",
    "DeviceUnreachable",
    "FingerprintTerminal",
    "Punch",
    "TerminalInfo",
]
