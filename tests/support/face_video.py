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
    """``frames`` frames of one photo (None: an empty room), drifting ``drift`` pixels a frame.

    ``noise`` adds camera sensor noise (the standard deviation in grey levels, new each frame): a
    person standing still in front of a real camera. ``eyes_closed`` are the frames (0-based, within
    the scene) on which the eyes are painted shut: a blink.
    """

    photo: Path | None
    frames: int
    drift: float = 1.5
    noise: float = 0.0
    eyes_closed: tuple[int, ...] = ()


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


@cache
def eyes_shut(photo: Path) -> np.ndarray:
    """:func:`portrait` with both eyes painted shut: each eye (from its 6 landmarks) is inpainted
    with the skin around it, and a dark lash line drawn along the lower lid, where closed lids meet."""
    image = portrait(photo)
    backend = load_backend()
    (face,) = backend.detect(np.ascontiguousarray(image), upsample=1, min_score=0.2)
    points = backend.landmarks(image, face.box).astype(np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    eyes = (points[36:42], points[42:48])
    for eye in eyes:
        cv2.fillConvexPoly(mask, cv2.convexHull(eye), 255)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
    shut = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    for eye in eyes:
        lower_lid = np.array([eye[0], eye[5], eye[4], eye[3]], np.int32)
        cv2.polylines(shut, [lower_lid], False, (35, 25, 25), 2, cv2.LINE_AA)
    return np.asarray(shut, np.uint8)


def _canvas(photo: Path | None, step: int, drift: float, shut: bool = False) -> np.ndarray:
    canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    if photo is None:
        return canvas
    image = eyes_shut(photo) if shut else portrait(photo)
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
            cache: dict[tuple[int, bool], np.ndarray] = {}
            rng = np.random.default_rng(scene.frames)  # the same noise every run
            for step in range(scene.frames):
                shut = step in scene.eyes_closed
                key = (0 if scene.drift == 0 else step, shut)
                if key not in cache:
                    cache[key] = cv2.cvtColor(
                        _canvas(scene.photo, step, scene.drift, shut), cv2.COLOR_RGB2BGR
                    )
                frame = cache[key]
                if scene.noise:
                    noisy = frame + rng.normal(0.0, scene.noise, frame.shape)
                    frame = np.clip(noisy, 0, 255).astype(np.uint8)
                writer.write(frame)
    finally:
        writer.release()
    return path
