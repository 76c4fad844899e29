"""The guarded import of face_recognition and the few dlib calls the engine makes.

``import face_recognition`` calls ``quit()`` (exit code 0!) when face_recognition_models cannot
be loaded, and face_recognition_models needs ``pkg_resources`` (setuptools < 81). A camera process
that silently exits 0 looks like a clean shutdown, so the import is checked step by step here and
every failure becomes a :class:`FaceBackendUnavailable` that says what to install.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

RgbImage = npt.NDArray[np.uint8]
# (top, right, bottom, left) in pixels, face_recognition's order.
Box = tuple[int, int, int, int]


class FaceBackendUnavailable(RuntimeError):
    """face_recognition, its models or dlib cannot be loaded; the message says what to install."""


@dataclass(frozen=True)
class Detection:
    """A face the HOG detector found: its box and the detector's confidence (SVM margin)."""

    box: Box
    score: float


def _import(name: str, advice: str) -> Any:
    try:
        return importlib.import_module(name)
    except SystemExit as exc:  # face_recognition quits when its models are missing
        raise FaceBackendUnavailable(
            f"importing {name} exited the process ({exc.code!r}): {advice}"
        ) from None
    except ImportError as exc:
        raise FaceBackendUnavailable(f"cannot import {name} ({exc}): {advice}") from exc


class FaceBackend:
    """dlib through face_recognition: HOG detection with scores, 68-point landmarks, 128-d encodings."""

    def __init__(self) -> None:
        _import("pkg_resources", "face_recognition_models needs pkg_resources: pip install 'setuptools<81'")
        models = _import("face_recognition_models", "pip install face_recognition_models")
        try:
            models.pose_predictor_model_location()
        except Exception as exc:  # a broken install raises anything from pkg_resources
            raise FaceBackendUnavailable(f"face_recognition_models has no model files: {exc}") from exc
        _import("dlib", "pip install dlib-bin (a wheel; never build dlib from source)")
        self._fr = _import("face_recognition", "pip install --no-deps face_recognition==1.3.0")
        api = self._fr.api
        self._detector = api.face_detector
        self._pose68 = api.pose_predictor_68_point
        self._pose5 = api.pose_predictor_5_point
        self._encoder = api.face_encoder
        self._rect = _import("dlib", "").rectangle

    def detect(self, image: RgbImage, *, upsample: int, min_score: float) -> list[Detection]:
        """Faces in ``image`` whose HOG score is at least ``min_score``."""
        rects, scores, _ = self._detector.run(image, upsample, min(min_score, 0.0))
        height, width = image.shape[:2]
        found = []
        for rect, score in zip(rects, scores, strict=True):
            if score < min_score:
                continue
            box = (
                max(rect.top(), 0),
                min(rect.right(), width),
                min(rect.bottom(), height),
                max(rect.left(), 0),
            )
            if box[2] > box[0] and box[1] > box[3]:
                found.append(Detection(box, float(score)))
        return found

    def landmarks(self, image: RgbImage, box: Box) -> npt.NDArray[np.float32]:
        """The 68 landmark points (x, y) of the face in ``box`` (iBUG 300-W numbering)."""
        top, right, bottom, left = box
        shape = self._pose68(image, self._rect(left, top, right, bottom))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def encode(self, image: RgbImage, box: Box) -> npt.NDArray[np.float32]:
        """The 128-d encoding of the face in ``box`` (5-point alignment, one jitter: the library default)."""
        top, right, bottom, left = box
        shape = self._pose5(image, self._rect(left, top, right, bottom))
        vector = self._encoder.compute_face_descriptor(image, shape, 1)
        return np.asarray(vector, dtype=np.float32)


@cache
def load_backend() -> FaceBackend:
    """The process's one backend, loaded on first use (never at import time)."""
    backend = FaceBackend()
    logger.info("face backend loaded (face_recognition over dlib)")
    return backend
