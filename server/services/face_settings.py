"""Settings of face enrolment and of the retention of every kind of biometric data (``faces:``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class FaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    encryption_key: SecretStr | None = Field(
        default=None, description="secret the encodings' Fernet key is derived from (long and random)"
    )
    encryption_key_file: Path = Field(
        default=Path("kaoqin-face.key"),
        description="where the secret is kept when encryption_key is unset (created, mode 0600, if missing)",
    )
    max_photos_per_request: int = Field(default=10, ge=1, le=20)
    max_photo_bytes: int = Field(default=15_000_000, ge=10_000)
    max_encodings_per_person: int = Field(default=10, ge=1, le=20)
    # Retention: unknown faces are strangers who never consented, so hours, not days.
    unknown_snapshot_hours: float = Field(default=6.0, gt=0)
    known_snapshot_days: float = Field(default=30.0, gt=0)
    dead_letter_face_hours: float = Field(
        default=72.0,
        gt=0,
        description="refused face observations (they may carry a snapshot) are kept this long for diagnosis",
    )
    encoding_max_age_days: float | None = Field(
        default=None, gt=0, description="re-enrolment required after this; unset keeps until deleted"
    )
    purge_interval_seconds: float = Field(default=3600.0, gt=0)
