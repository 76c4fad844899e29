"""``kaoqin face eval``: run the camera's face engine over a gallery and probes, for choosing a tolerance
or checking a camera placement.

The gallery has one sub-folder per person (the folder name is the identity), each with one or more
photos. Probes are images or videos: directly in the probes folder (the expected identity is the file
name up to its first "_" when that names a gallery person, else "unknown"), or in sub-folders named
after the expected identity (any name not in the gallery means "unknown"). One JSON object per probe,
then a summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from devices.camera import StreamEnded
from devices.errors import DeviceError
from devices.face.engine import FaceEngine
from devices.face.gallery import Gallery
from devices.face.images import IMAGE_SUFFIXES, BadImageError, load_photo
from edge.camera_settings import CameraSettings

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    expected: str | None
    identity: str | None
    distance: float | None
    faces: int


def build_gallery(engine: FaceEngine, folder: Path, err: TextIO) -> Gallery:
    """Encodings of every photo with exactly one face; the others are reported on ``err`` and skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"gallery folder {folder} does not exist")
    people: dict[str, list[np.ndarray]] = {}
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        for photo in sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                faces = engine.analyse_photo(load_photo(photo))
            except BadImageError as exc:
                print(f"gallery: skipped {exc}", file=err)
                continue
            if len(faces) != 1:
                print(
                    f"gallery: skipped {photo}: {len(faces)} faces (a gallery photo needs exactly one)",
                    file=err,
                )
                continue
            people.setdefault(person.name, []).append(faces[0].encoding)
    if not people:
        raise ValueError(f"gallery folder {folder} holds no usable photo (one sub-folder per person)")
    return Gallery(people)


def _probes(folder: Path, gallery: Gallery) -> list[tuple[Path, str | None]]:
    found: list[tuple[Path, str | None]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            continue
        name = path.parent.name if path.parent != folder else path.stem.split("_")[0]
        found.append((path, name if name in gallery else None))
    return found


def _image_probe(engine: FaceEngine, path: Path) -> tuple[str | None, float | None, int]:
    faces = engine.analyse_photo(load_photo(path))
    if not faces:
        return None, None, 0
    largest = max(faces, key=lambda f: f.box[1] - f.box[3])
    distance = round(largest.nearest.distance, 4) if largest.nearest else None
    return (largest.match.staff_id if largest.match else None), distance, len(faces)


def _video_probe(
    settings: CameraSettings, gallery: Gallery, path: Path
) -> tuple[str | None, float | None, int]:
    from devices.cameras.opencv_source import OpenCvSource

    engine = FaceEngine(settings.engine_config(), gallery)
    source = OpenCvSource(path.name, path)
    source.open()
    sightings = []
    try:
        while True:
            try:
                frame = source.read()
            except StreamEnded:
                break
            sightings += engine.process(frame.image, frame.captured_at).sightings
    finally:
        source.close()
    known = Counter(s.staff_id for s in sightings if s.staff_id is not None)
    identity = known.most_common(1)[0][0] if known else None
    distances = [s.distance for s in sightings if s.distance is not None and s.staff_id == identity]
    return identity, (min(distances) if distances else None), len(sightings)


def evaluate(
    settings: CameraSettings, gallery_dir: Path, probes_dir: Path, out: TextIO, err: TextIO
) -> dict[str, Any]:
    """Print one JSON line per probe and return (and print) the summary."""
    engine = FaceEngine(settings.engine_config())
    engine.gallery = build_gallery(engine, gallery_dir, err)
    if not probes_dir.is_dir():
        raise FileNotFoundError(f"probes folder {probes_dir} does not exist")
    counts = Counter({"probes": 0, "correct": 0, "false_accepts": 0, "false_rejects": 0, "errors": 0})
    for path, expected in _probes(probes_dir, engine.gallery):
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                identity, distance, faces = _video_probe(settings, engine.gallery, path)
            else:
                identity, distance, faces = _image_probe(engine, path)
        except (BadImageError, DeviceError) as exc:
            print(f"probe skipped: {exc}", file=err)
            counts["errors"] += 1
            continue
        counts["probes"] += 1
        if identity == expected:
            counts["correct"] += 1
        elif identity is not None:
            counts["false_accepts"] += 1
        else:
            counts["false_rejects"] += 1
        line = {"probe": str(path), "identity": identity, "distance": distance, "faces": faces}
        print(json.dumps(line | {"expected": expected}), file=out)
    summary = {"summary": dict(counts) | {"tolerance": settings.tolerance, "people": len(engine.gallery)}}
    print(json.dumps(summary), file=out)
    return summary


def cmd_face_eval(args: argparse.Namespace) -> int:
    from devices.face.backend import FaceBackendUnavailable

    overrides: dict[str, object] = {"camera_id": "eval", "source": "file", "location": "-"}
    if args.tolerance is not None:
        overrides["tolerance"] = args.tolerance
    if args.detect_scale is not None:
        overrides["detect_scale"] = args.detect_scale
    try:
        settings = CameraSettings.model_validate(overrides)
        evaluate(settings, args.gallery, args.probes, sys.stdout, sys.stderr)
    except (FileNotFoundError, ValueError, FaceBackendUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
