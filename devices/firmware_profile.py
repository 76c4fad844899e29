"""What a terminal model can do and how its raw codes read: one YAML per model in ``firmware_configs/``.

The raw verify and punch-state codes are always stored as the device sent them; a profile says
what they mean on that model, because generations disagree (``zk-protocol.md`` §4.5: legacy
black-and-white firmware logs 0 password, 1 fingerprint, 2 card; current firmware 3 password,
4 card, 15 face).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# The values of contracts.VerifyMethod (devices/ does not import contracts; a test keeps them equal).
VerifyName = Literal["fingerprint", "face", "card", "password", "palm", "other", "unknown"]
PunchStateName = Literal[
    "check_in", "check_out", "break_out", "break_in", "overtime_in", "overtime_out", "none"
]


class Capacity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(ge=1)
    fingerprints: int = Field(ge=0)
    records: int = Field(ge=1)
    faces: int = Field(default=0, ge=0)
    cards: int = Field(default=0, ge=0)


class RecommendedSetting(BaseModel):
    """A device setting an office should change, and why (applied by the installer or over ADMS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    option: str = Field(min_length=1, description="device option name (ADMS SET OPTION key or menu path)")
    value: str
    why: str = Field(min_length=1)


class FirmwareProfile(BaseModel):
    """One terminal model: protocols, record layouts, code maps, capacity, recommended settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    generation: Literal["bw_fingerprint", "tft_fingerprint_card", "push_face"]
    platform: str = Field(description="the ~Platform the device reports, e.g. ZMM220_TFT")
    pull_transports: list[Literal["tcp", "udp"]] = Field(
        description="binary pull protocol on port 4370; empty for push-only models"
    )
    live_capture: bool = Field(description="realtime attendance events (REG_EVENT) over the pull protocol")
    adms: bool = Field(description="ADMS / PUSH SDK HTTP upload")
    set_time: bool = Field(default=True, description="the edge may set the clock")
    clear_log: bool = Field(default=True, description="the edge may clear the attendance log")
    attendance_record_size: Literal[8, 16, 40] | None = None
    user_record_size: Literal[28, 72] | None = None
    capacity: Capacity
    verify_codes: dict[int, VerifyName] = Field(min_length=1)
    punch_states: dict[int, PunchStateName] = Field(min_length=1)
    recommended_settings: list[RecommendedSetting] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> FirmwareProfile:
        pulls = bool(self.pull_transports)
        if not pulls and not self.adms:
            raise ValueError("a model must speak the pull protocol (pull_transports) or ADMS")
        if self.live_capture and not pulls:
            raise ValueError("live_capture needs the pull protocol: set pull_transports")
        if pulls and (self.attendance_record_size is None or self.user_record_size is None):
            raise ValueError("pull models need attendance_record_size and user_record_size")
        return self


def load_firmware_profile(directory: Path, name: str) -> FirmwareProfile:
    """``directory/name.yaml`` as a profile; errors name the file and the field to fix."""
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise FileNotFoundError(f"firmware config {name!r} not found in {directory} (known: {known})")
    data = yaml.safe_load(path.read_text())
    try:
        return FirmwareProfile.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
