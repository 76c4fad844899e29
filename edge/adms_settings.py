"""Settings of the edge's ADMS (PUSH SDK) HTTP endpoint for push-only terminals."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts import VerifyMethod
from contracts.topics import check_id

# Current PUSH firmware codes (PUSH SDK appendix 7; zk-protocol.md §4.5); a profile replaces them.
ADMS_VERIFY_MAP: dict[int, VerifyMethod] = {
    1: VerifyMethod.FINGERPRINT,
    3: VerifyMethod.PASSWORD,
    4: VerifyMethod.CARD,
    15: VerifyMethod.FACE,
    25: VerifyMethod.PALM,
}


class AdmsTerminalSettings(BaseModel):
    """A terminal registered to push to this edge, identified by the serial it sends (``SN=``)."""

    model_config = ConfigDict(extra="forbid")

    serial: str
    timezone: str = Field(description="IANA zone of the terminal's wall clock")
    profile: str | None = Field(default=None, description="firmware config (firmware_configs/<name>.yaml)")
    verify_map: dict[int, VerifyMethod] = Field(default_factory=lambda: dict(ADMS_VERIFY_MAP))
    punch_states: set[int] = Field(default_factory=lambda: {0, 1, 2, 3, 4, 5, 255})
    future_tolerance_seconds: float = Field(default=120.0, ge=0)
    backfill_tolerance_seconds: float = Field(default=600.0, ge=0)
    # Capacities for the fill alerts (ADMS INFO reports counts only); a profile fills them in.
    user_capacity: int | None = Field(default=None, ge=1)
    finger_capacity: int | None = Field(default=None, ge=1)
    record_capacity: int | None = Field(default=None, ge=1)

    @field_validator("serial")
    @classmethod
    def _serial_is_topic_safe(cls, value: str) -> str:
        return check_id(value, "terminal serial")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value


class AdmsSettings(BaseModel):
    """Where the edge listens for ADMS terminals, and which serials it accepts."""

    model_config = ConfigDict(extra="forbid")

    host: str = "0.0.0.0"  # terminals on the office LAN connect to the edge
    port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port (tests)")
    delay_seconds: int = Field(default=10, ge=2, le=60, description="how often terminals poll for commands")
    unreachable_after_polls: int = Field(
        default=3,
        ge=2,
        le=100,
        description="a terminal silent for this many poll intervals is reported unreachable",
    )
    terminals: list[AdmsTerminalSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_serials(self) -> AdmsSettings:
        serials = [t.serial for t in self.terminals]
        repeated = sorted({s for s in serials if serials.count(s) > 1})
        if repeated:
            raise ValueError(f"adms.terminals: serial numbers listed twice: {', '.join(repeated)}")
        return self
