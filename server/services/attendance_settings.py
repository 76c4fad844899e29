"""Settings of the attendance engine: the office's zone and every rule's thresholds.

A part of :class:`server.settings.ServerSettings` (key ``attendance``), so one file configures the
server; ``kaoqin rules replay`` reads the same file to try new thresholds on history.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.domain.detectors import DetectorThresholds
from server.domain.incidents import P1Thresholds


class AttendanceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="Asia/Shanghai", description="IANA zone of the office's timetables")
    early_departure_minutes: int = Field(default=1, ge=1, description="P1: leaving this early is reported")
    face_window_seconds: int = Field(default=30, ge=1, description="P6: camera look-up around a punch")
    burst_window_seconds: int = Field(default=20, ge=1, description="P6: punches this close form a burst")
    burst_min_people: int = Field(default=3, ge=2, description="P6: different people in one burst")
    recurring_pair_gap_seconds: int = Field(default=15, ge=1, description="P6: consecutive punches")
    recurring_pair_min_days: int = Field(default=5, ge=2, description="P6: days a pair must recur")
    recurring_pair_lookback_days: int = Field(
        default=28, ge=2, le=366, description="P6: a pair's days are counted over this many days up to each"
    )
    face_mismatch_enabled: bool = Field(default=True, description="P6: run the face_mismatch rule")
    nobody_identified_enabled: bool = Field(default=True, description="P6: run the nobody_identified rule")
    backfill_max_delay_minutes: int = Field(
        default=24 * 60, ge=1, description="P6: device time this long before the edge saw it"
    )
    future_tolerance_seconds: int = Field(default=300, ge=0, description="P6: device time ahead of the edge")
    decide_interval_seconds: float = Field(
        default=300, ge=0, description="the server decides new and late data this often; 0: only on request"
    )
    decide_lookback_days: int = Field(default=7, ge=1, le=366, description="recent days each pass re-decides")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def p1(self) -> P1Thresholds:
        return P1Thresholds(early_departure_minutes=self.early_departure_minutes)

    def detectors(self) -> DetectorThresholds:
        return DetectorThresholds(
            face_window_seconds=self.face_window_seconds,
            burst_window_seconds=self.burst_window_seconds,
            burst_min_people=self.burst_min_people,
            recurring_pair_gap_seconds=self.recurring_pair_gap_seconds,
            recurring_pair_min_days=self.recurring_pair_min_days,
            recurring_pair_lookback_days=self.recurring_pair_lookback_days,
            backfill_max_delay_minutes=self.backfill_max_delay_minutes,
            future_tolerance_seconds=self.future_tolerance_seconds,
            face_mismatch_enabled=self.face_mismatch_enabled,
            nobody_identified_enabled=self.nobody_identified_enabled,
        )
