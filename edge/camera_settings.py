"""Settings of face check-in at an edge: its cameras and the gallery the server publishes to it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.topics import check_id
from devices.face.engine import FaceEngineConfig
from devices.face.liveness import LivenessConfig


class CameraSettings(BaseModel):
    """One camera beside a terminal. ``source`` is an RTSP/HTTP URL, a USB index, a video file or a folder."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(description="registered camera id; the device id on MQTT")
    source: Literal["rtsp", "usb", "file", "folder"]
    location: str = Field(description="URL, USB index (0, 1, ...), video file path, or image folder")
    linked_terminal: str | None = Field(default=None, description="serial of the terminal it watches")
    loop_file: bool = Field(default=False, description="replay a video file or folder forever (demos)")
    max_fps: float | None = Field(default=None, gt=0, description="process at most this many frames a second")
    # Recognition (same meaning as devices.face.engine.FaceEngineConfig).
    tolerance: float = Field(default=0.6, gt=0, lt=2)
    detect_scale: float = Field(default=0.25, gt=0, le=1)
    min_detection_score: float = 0.2
    min_face_pixels: int = Field(default=50, ge=20)
    confirm_frames: int = Field(default=5, ge=1, description="frames a face is tracked before check-in")
    motion_threshold: float = Field(default=1.0, ge=0)
    cooldown_seconds: float = Field(default=300.0, ge=0, description="one check-in per person per camera")
    # Liveness (docs/face.md).
    require_blink: bool = False
    blink_window_frames: int = Field(default=90, ge=5)
    still_tolerance: float = Field(default=0.004, ge=0)

    @field_validator("camera_id")
    @classmethod
    def _camera_id_is_topic_safe(cls, value: str) -> str:
        return check_id(value, "camera id")

    def engine_config(self) -> FaceEngineConfig:
        return FaceEngineConfig(
            tolerance=self.tolerance,
            detect_scale=self.detect_scale,
            min_detection_score=self.min_detection_score,
            min_face_pixels=self.min_face_pixels,
            confirm_frames=self.confirm_frames,
            motion_threshold=self.motion_threshold,
            liveness=LivenessConfig(
                require_blink=self.require_blink,
                blink_window_frames=self.blink_window_frames,
                still_tolerance=self.still_tolerance,
            ),
        )


class FaceCheckInSettings(BaseModel):
    """Face check-in at this edge."""

    model_config = ConfigDict(extra="forbid")

    gallery_path: Path = Field(default=Path("edge-gallery.sqlite3"), description="the gallery kept here")
    cameras: list[CameraSettings] = Field(default_factory=list)
    unknown_snapshot_hours: float = Field(
        default=6.0,
        gt=0,
        description="an unknown face's snapshot still queued after this (the server unreachable) is dropped "
        "from its check-in, as the server drops it after faces.unknown_snapshot_hours",
    )
