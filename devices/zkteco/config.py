"""Connection settings of one ZKTeco terminal."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ZKTecoConfig(BaseModel):
    """How to reach a ZKTeco terminal over the binary pull protocol, and the zone of its clock.

    ``timezone`` is the IANA zone of the terminal's naive wall clock (the protocol carries none).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["zkteco"] = "zkteco"
    host: str = Field(min_length=1)
    port: int = Field(default=4370, ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    comm_key: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    timezone: str
    timeout: float = Field(default=10.0, gt=0, description="seconds per reply")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The terminal's zone as a ``ZoneInfo``."""
        return ZoneInfo(self.timezone)

    @property
    def address(self) -> str:
        """``host:port``, used to name the device in errors and logs."""
        return f"{self.host}:{self.port}"
