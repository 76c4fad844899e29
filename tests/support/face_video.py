"""Videos for camera tests, written at test time with OpenCV from the photos in shared/testdata/faces."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from devices.face.backend import load_backend
from devices.face.images import load_photo

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class Scene:
    """``frames`` frames of one photo (None: an empty room), drifting ``drift`` pixels a frame."""

    photo: Path | None
    frames: int
    drift: float = 1.5


FACE_WIDTH = 170  # a person a metre or two from a terminal's camera


@cache
def portrait(photo: Path) -> np.ndarray:
    """The photo cropped around its largest face (the whole photo if none), face ~FACE_WIDTH px wide."""
    image = load_photo(photo)
    scale_down = min(1.0, 640 / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale_down, fy=scale_down, interpolation=cv2.INTER_AREA)
    faces = load_backend().detect(np.ascontiguousarray(small), upsample=1, min_score=0.2)
    if not faces:
        scale = min((HEIGHT - 40) / image.shape[0], (WIDTH - 120) / image.shape[1])
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top, right, bottom, left = (
        int(v / scale_down) for v in max(faces, key=lambda f: f.box[1] - f.box[3]).box
    )
    size = right - left
    y0, y1 = max(0, top - size), min(image.shape[0], bottom + size)
    x0, x1 = max(0, left - size), min(image.shape[1], right + size)
    crop = image[y0:y1, x0:x1]
    scale = min(FACE_WIDTH / size, (HEIGHT - 20) / crop.shape[0], (WIDTH - 100) / crop.shape[1])
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _canvas(photo: Path | None, step: int, drift: float) -> np.ndarray:
    canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    if photo is None:
        return canvas
    image = portrait(photo)
    h, w = image.shape[:2]
    # A person steps in and sways: a sideways drift that turns back every 40 frames.
    phase = step % 80
    offset = int(drift * (phase if phase < 40 else 80 - phase))
    x = max(0, min(WIDTH - w, (WIDTH - w) // 2 - 30 + offset))
    y = (HEIGHT - h) // 2
    canvas[y : y + h, x : x + w] = image
    return canvas


def write_video(path: Path, scenes: list[Scene], fps: float = 15.0) -> Path:
    """An MJPG AVI of the scenes, 640x480 (MJPG: every OpenCV build can read it back)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    try:
        for scene in scenes:
            cache: dict[int, np.ndarray] = {}
            for step in range(scene.frames):
                key = 0 if scene.drift == 0 else step
                if key not in cache:
                    cache[key] = cv2.cvtColor(_canvas(scene.photo, step, scene.drift), cv2.COLOR_RGB2BGR)
                writer.write(cache[key])
    finally:
        writer.release()
    return path
