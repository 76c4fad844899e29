"""Live attendance events of one simulated session (REG_EVENT, ``zk-protocol.md`` §2.10).

Punches reach the client one event per frame, and the next only after the client's ACK:
two event frames coalesced in one ``recv`` crash pyzk 0.9's live capture.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Callable

from devices.zkteco.packets import CommandCode, EventFlag, build_packet
from devices.zkteco.records import AttendanceRecord, LiveEvent, encode_live_event
from devices.zkteco.sim_state import DeviceState


class LiveEventChannel:
    """Subscribes a session to the device's punches and paces the event packets it sends."""

    def __init__(self, state: DeviceState, send: Callable[[bytes], None], event_size: int) -> None:
        self._state = state
        self._send = send
        self._event_size = event_size
        self._lock = threading.Lock()
        self._on = False
        self._awaiting_ack = False
        self._pending: deque[bytes] = deque()

    def register(self, payload: bytes) -> None:
        """REG_EVENT: the u32 mask turns attendance events on or off."""
        mask = struct.unpack_from("<I", payload)[0] if len(payload) >= 4 else 0
        with self._lock:
            self._on = bool(mask & EventFlag.ATTLOG)
            self._awaiting_ack = False
            self._pending.clear()
        if mask & EventFlag.ATTLOG:
            self._state.subscribe(self._on_punch)
        else:
            self._state.unsubscribe(self._on_punch)

    def stop(self) -> None:
        self._state.unsubscribe(self._on_punch)
        with self._lock:
            self._on = False
            self._pending.clear()

    def acked(self) -> list[bytes]:
        """The client's ACK of an event: the next pending event, if any, goes out now."""
        with self._lock:
            self._awaiting_ack = False
            if self._on and self._pending:
                self._awaiting_ack = True
                return [self._pending.popleft()]
        return []

    def _on_punch(self, record: AttendanceRecord) -> None:
        event = LiveEvent(record.user_id, record.verify_mode, record.punch_state, record.timestamp)
        # Event packets: session slot = EF_ATTLOG, reply id 0 (§2.10).
        packet = build_packet(
            CommandCode.REG_EVENT, EventFlag.ATTLOG, 0, encode_live_event(event, self._event_size)
        )
        with self._lock:
            if not self._on:
                return
            if self._awaiting_ack:
                self._pending.append(packet)
                return
            self._awaiting_ack = True
            self._send(packet)
