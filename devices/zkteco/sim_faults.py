"""Switchable real-device quirks of the simulated terminal (``zk-protocol.md`` §6), and a live-punch generator.

A ``SimFaults`` can be loaded from a YAML profile (``kaoqin sim terminal --faults FILE``) and
changed while the simulator runs (tests flip ``busy_commands`` or ``drop_after_chunks``).
Data quirks (impossible dates, duplicate punches, odd PINs, deleted users and reused slots,
future records, a clock set back) are switches too; they shape the log the simulator starts
with (``sim_data.py``), and tests can also make them with the simulator's own methods.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)


class ConnectionDropped(Exception):
    """Raised by a session to make its transport hang up without a reply (a silent drop)."""


class SimFaults(BaseModel):
    """Quirks a real terminal shows; every one is off by default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    realistic_packets: bool = Field(
        default=False, description="§2.4: split each chunk into paced 1008-byte CMD_DATA frames over TCP"
    )
    udp_only: bool = Field(
        default=False, description="firmware that speaks only UDP: TCP connections are closed"
    )
    busy_commands: set[int] = Field(
        default_factory=set, description="§6.6: command codes answered with CMD_ACK_ERROR (device busy)"
    )
    single_client: bool = Field(
        default=False, description="§6.3: refuse CONNECT from a second TCP client while one is connected"
    )
    drop_after_chunks: int | None = Field(
        default=None, ge=0, description="§6.2: hang up silently after serving this many 1504 chunks"
    )
    drops: int = Field(default=1, ge=0, description="how many connections drop_after_chunks cuts")
    drop_silently: bool = Field(
        default=False, description="stop answering instead of closing: the client waits for its timeout"
    )
    clock_offset_seconds: float = Field(default=0.0, description="initial device clock minus host clock")
    drift_seconds_per_hour: float = Field(default=0.0, description="§6.14: how fast the clock runs away")
    record_capacity: int = Field(default=100_000, ge=1)
    user_capacity: int = Field(default=10_000, ge=1)
    finger_capacity: int = Field(default=3_000, ge=1)
    overwrite_when_full: bool = Field(
        default=True, description="§6.18: a full log drops its oldest record (else new punches are refused)"
    )
    # Data quirks of the log the simulator starts with (§6 items 11, 13, 15, 16; sim_data.py).
    corrupt_records: set[int] = Field(
        default_factory=set, description="§6.11: log indexes served with an impossible date (Feb 30)"
    )
    duplicate_every: int | None = Field(
        default=None,
        ge=1,
        description="§6.16: every Nth record of the log is logged twice in the same second",
    )
    odd_pins: list[str] = Field(
        default_factory=list,
        description="§6.13: extra users with these PINs (leading zeros, letters on 72-byte devices), with punches",
    )
    deleted_users: list[str] = Field(
        default_factory=list, description="§6.13: PINs deleted after punching: their records stay (orphans)"
    )
    reuse_deleted_slots: bool = Field(
        default=False, description="§6.13: each deleted user's slot is taken by a newcomer (PIN 9<slot:04d>)"
    )
    future_records: int = Field(
        default=0, ge=0, description="§6.15: records stamped future_seconds ahead of the device clock"
    )
    future_seconds: float = Field(default=2 * 86400, gt=0)
    clock_set_back_seconds: float = Field(
        default=0.0, ge=0, description="§6.14: the device clock jumps back this far, once, ..."
    )
    clock_set_back_after_seconds: float = Field(
        default=0.0, ge=0, description="... this long after the simulator started"
    )


def load_faults(path: Path) -> SimFaults:
    """A fault profile from YAML; unknown keys are refused with their name."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a fault profile is a mapping of switches, got {type(data).__name__}")
    return SimFaults.model_validate(data)


class LivePuncher:
    """Makes punches at a steady rate, each stamped with the device clock at that moment.

    ``punch(user_id, verify_mode, punch_state)`` is the simulator's ``add_punch``; users are
    picked at random from ``user_ids``; states alternate per user (in, out, in, ...).
    """

    def __init__(
        self,
        punch: Callable[[str, datetime | None, int, int], object],
        user_ids: list[str],
        per_minute: float,
        seed: int = 0,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("the live punch rate must be positive (punches per minute)")
        if not user_ids:
            raise ValueError("live punches need at least one enrolled user")
        self._punch = punch
        self._users = user_ids
        self._interval = 60.0 / per_minute
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._states: dict[str, int] = {}
        self.made = 0

    def start(self) -> LivePuncher:
        self._thread = threading.Thread(target=self._run, name="zk-sim-live", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            user = self._rng.choice(self._users)
            state = self._states.get(user, 1) ^ 1
            self._states[user] = state
            self._punch(user, None, 1, state)
            self.made += 1
