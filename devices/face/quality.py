"""Evidence of a face: a quality score and a small JPEG snapshot of it.

The quality score is a heuristic in [0, 1], the geometric mean of three factors: size (a face
100 px wide or more scores 1), sharpness (variance of the Laplacian of the crop scaled to 100x100,
saturating at 100; blur from motion or focus lowers it) and the HOG detector's confidence
(saturating at 1.0). It ranks snapshots and lets an admin spot a badly placed camera; it is not a
probability of anything.
"""

from __future__ import annotations

import cv2
import numpy as np

from devices.face.backend import Box, RgbImage

_SIZE_FULL = 100.0
_SHARP_FULL = 100.0


def crop(image: RgbImage, box: Box, margin: float = 0.2) -> RgbImage:
    """The face in ``box`` with ``margin`` of its size around it, clipped to the image."""
    top, right, bottom, left = box
    pad_y, pad_x = int((bottom - top) * margin), int((right - left) * margin)
    height, width = image.shape[:2]
    return image[
        max(top - pad_y, 0) : min(bottom + pad_y, height), max(left - pad_x, 0) : min(right + pad_x, width)
    ]


def face_quality(image: RgbImage, box: Box, score: float) -> float:
    """Heuristic quality of the face in ``box`` (see the module docstring)."""
    top, right, bottom, left = box
    face = image[top:bottom, left:right]
    if face.size == 0:
        return 0.0
    grey = cv2.cvtColor(cv2.resize(face, (100, 100), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    sharp = min(1.0, float(cv2.Laplacian(grey, cv2.CV_64F).var()) / _SHARP_FULL)
    size = min(1.0, (right - left) / _SIZE_FULL)
    confidence = min(1.0, max(score, 0.0))
    return round(float(np.cbrt(size * sharp * confidence)), 3)


def snapshot_jpeg(image: RgbImage, box: Box, *, side: int = 128, quality: int = 80) -> bytes:
    """A JPEG of the face (with a margin), at most ``side`` pixels on its longer side: a few kB."""
    face = crop(image, box)
    scale = side / max(face.shape[:2])
    if scale < 1:
        face = np.asarray(cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(face, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("OpenCV could not encode the face snapshot as JPEG")
    return bytes(data.tobytes())
