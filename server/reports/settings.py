"""Settings of the reports (key ``reports`` of the server's YAML)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    office_name: str = Field(
        default="XX局", min_length=1, max_length=100, description="the office named in every sheet's title"
    )
