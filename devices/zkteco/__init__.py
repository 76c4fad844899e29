"""ZKTeco fingerprint terminals over the binary pull protocol (pyzk 0.9), plus a simulator.

Exports are imported lazily so that using the config or codecs does not import pyzk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.zkteco.client import ZKTecoTerminal
    from devices.zkteco.config import ZKTecoConfig
    from devices.zkteco.simulator import TerminalSimulator

__all__ = ["TerminalSimulator", "ZKTecoConfig", "ZKTecoTerminal"]

_HOMES = {
    "ZKTecoTerminal": "devices.zkteco.client",
    "ZKTecoConfig": "devices.zkteco.config",
    "TerminalSimulator": "devices.zkteco.simulator",
}


def __getattr__(name: str) -> Any:
    """Import ``ZKTecoTerminal``, ``ZKTecoConfig`` or ``TerminalSimulator`` on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
