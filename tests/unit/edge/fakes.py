"""Fakes behind the edge's ports, for unit tests of pure edge logic."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from devices.errors import BadRecordError, DeviceUnreachable
from devices.terminal import EnrolledUser, FingerTemplate, Punch, TerminalInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeTerminal:
    """An in-memory terminal whose log the test edits directly."""

    def __init__(self, serial: str = "SN1", *, punches: int = 0) -> None:
        self.serial = serial
        self.log: list[Punch] = []
        self.reachable = True
        self.closed = 0
        self.problems: list[BadRecordError] = []
        self.clock_offset = timedelta(seconds=3)
        self.live: list[Punch] = []  # punches made since live capture last looked
        self.clock_sets: list[datetime] = []
        self.clears = 0
        self.users: dict[str, EnrolledUser] = {}
        self.templates: dict[str, list[FingerTemplate]] = {}
        self.record_capacity = 100000  # a full log drops its oldest record for each new one
        for i in range(punches):
            self.punch(f"{i % 7 + 1}", datetime(2026, 11, 2, 8, 0) + timedelta(minutes=i))

    @property
    def address(self) -> str:
        return "10.0.0.5:4370"

    def punch(self, user_id: str, when: datetime, state: int = 0, verify: int = 1) -> Punch:
        punch = Punch(
            user_id=user_id,
            device_uid=int(user_id) if user_id.isdigit() else None,
            device_time=when,
            occurred_at=when.replace(tzinfo=SHANGHAI),
            verify_mode=verify,
            punch_state=state,
            log_index=min(len(self.log), self.record_capacity - 1),
        )
        if len(self.log) >= self.record_capacity:
            del self.log[0]
        self.log.append(punch)
        self.live.append(punch)
        return punch

    def _check(self) -> None:
        if not self.reachable:
            raise DeviceUnreachable(self.address, "timed out")

    def read_info(self) -> TerminalInfo:
        self._check()
        return TerminalInfo(
            self.serial,
            "Ver 6.60",
            "ZMM220_TFT",
            "F18",
            "00:17:61:11:45:08",
            7,
            len(self.log),
            self.record_capacity,
            0,
            10000,
            3000,
        )

    def read_log(self) -> tuple[list[Punch], list[BadRecordError]]:
        self._check()
        return list(self.log), list(self.problems)

    def read_clock(self) -> datetime:
        self._check()
        return datetime.now(UTC) + self.clock_offset

    def set_clock(self, when: datetime) -> None:
        self._check()
        self.clock_sets.append(when)
        self.clock_offset = timedelta(0)

    def capture_punches(
        self, on_punch: Callable[[Punch], None], *, idle_timeout: float, should_stop: Callable[[], bool]
    ) -> None:
        while True:
            self._check()
            while self.live:
                on_punch(self.live.pop(0))
            if should_stop():
                return
            time.sleep(min(idle_timeout, 0.01))

    def clear_log(self, may_clear: Callable[[list[Punch], list[BadRecordError]], bool]) -> bool:
        self._check()
        if not may_clear(list(self.log), list(self.problems)):
            return False
        self.log.clear()
        self.problems.clear()
        self.clears += 1
        return True

    def read_users(self) -> list[EnrolledUser]:
        self._check()
        return list(self.users.values())

    def write_user(self, user: EnrolledUser) -> None:
        self._check()
        self.users[user.user_id] = user

    def disable_user(self, user_id: str) -> bool:
        self._check()
        user = self.users.get(user_id)
        if user is None:
            return False
        self.users[user_id] = EnrolledUser(user.user_id, user.name, user.admin, user.card, enabled=False)
        return True

    def remove_user(self, user_id: str) -> bool:
        self._check()
        self.templates.pop(user_id, None)
        return self.users.pop(user_id, None) is not None

    def read_templates(self) -> dict[str, list[FingerTemplate]]:
        self._check()
        return {k: list(v) for k, v in self.templates.items()}

    def write_templates(self, user: EnrolledUser, templates: list[FingerTemplate]) -> None:
        self._check()
        self.users[user.user_id] = user
        self.templates[user.user_id] = list(templates)

    def close(self) -> None:
        self.closed += 1
