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
from pydantic import ValidationError

from devices.camera import BadFrameError, StreamEnded
from devices.errors import DeviceError
from devices.face.engine import FaceEngine, PhotoFace
from devices.face.gallery import Gallery
from devices.face.images import IMAGE_SUFFIXES, BadImageError, load_photo
from edge.camera_settings import CameraSettings

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
EVAL_CAMERA = "eval"  # the camera id of the defaults, when no edge config is given


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    expected: str | None
    identity: str | None
    distance: float | None
    faces: int


def _faces_in(engine: FaceEngine, photo: Path) -> list[PhotoFace]:
    """The faces of an image file; ValueError naming the file for one that cannot be used."""
    try:
        return engine.analyse_photo(load_photo(photo))
    except BadImageError:
        raise
    except ValueError as exc:  # e.g. a 4x4 image: too small for the engine
        raise BadImageError(str(photo), str(exc)) from exc


def build_gallery(engine: FaceEngine, folder: Path, err: TextIO) -> tuple[Gallery, int]:
    """Encodings of every photo with exactly one face, and how many photos were skipped (each is
    reported on ``err``: unreadable, too small, no face or several)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"gallery folder {folder} does not exist")
    people: dict[str, list[np.ndarray]] = {}
    skipped = 0
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        for photo in sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                faces = _faces_in(engine, photo)
            except BadImageError as exc:
                print(f"gallery: skipped {exc}", file=err)
                skipped += 1
                continue
            if len(faces) != 1:
                print(
                    f"gallery: skipped {photo}: {len(faces)} faces (a gallery photo needs exactly one)",
                    file=err,
                )
                skipped += 1
                continue
            people.setdefault(person.name, []).append(faces[0].encoding)
    if not people:
        raise ValueError(f"gallery folder {folder} holds no usable photo (one sub-folder per person)")
    return Gallery(people), skipped


def _probes(folder: Path, gallery: Gallery) -> list[tuple[Path, str | None]]:
    found: list[tuple[Path, str | None]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            continue
        name = path.parent.name if path.parent != folder else path.stem.split("_")[0]
        found.append((path, name if name in gallery else None))
    return found


def _image_probe(engine: FaceEngine, path: Path) -> tuple[str | None, float | None, int]:
    faces = _faces_in(engine, path)
    if not faces:
        return None, None, 0
    largest = max(faces, key=lambda f: f.box[1] - f.box[3])
    distance = round(largest.nearest.distance, 4) if largest.nearest else None
    return (largest.match.staff_id if largest.match else None), distance, len(faces)


def _video_probe(
    settings: CameraSettings, gallery: Gallery, path: Path, err: TextIO
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
                sightings += engine.process(frame.image, frame.captured_at).sightings
            except StreamEnded:
                break
            except (BadFrameError, ValueError) as exc:  # one bad frame: the camera would go on too
                print(f"probe {path}: frame skipped: {exc}", file=err)
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
    engine.gallery, gallery_skipped = build_gallery(engine, gallery_dir, err)
    if not probes_dir.is_dir():
        raise FileNotFoundError(f"probes folder {probes_dir} does not exist")
    counts = Counter({"probes": 0, "correct": 0, "false_accepts": 0, "false_rejects": 0, "errors": 0})
    for path, expected in _probes(probes_dir, engine.gallery):
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                identity, distance, faces = _video_probe(settings, engine.gallery, path, err)
            else:
                identity, distance, faces = _image_probe(engine, path)
        except (ValueError, DeviceError) as exc:  # BadImageError is a ValueError
            print(f"probe skipped: {exc}", file=err)
            counts["errors"] += 1
            error = {"probe": str(path), "identity": None, "distance": None, "faces": 0}
            print(json.dumps(error | {"expected": expected, "error": str(exc)}), file=out)
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
    summary = {
        "summary": dict(counts)
        | {
            "tolerance": settings.tolerance,
            "people": len(engine.gallery),
            "gallery_skipped": gallery_skipped,
            "camera": settings.camera_id if settings.camera_id != EVAL_CAMERA else None,
        }
    }
    print(json.dumps(summary), file=out)
    return summary


def camera_settings(config: Path | None, camera_id: str | None) -> dict[str, object]:
    """The settings of camera ``camera_id`` in the edge config ``config`` (as a dict, to be
    overridden), or the cameras' defaults when no config is given."""
    if config is None:
        if camera_id is not None:
            raise ValueError("--camera needs --config (the edge config that lists the camera)")
        return {"camera_id": EVAL_CAMERA, "source": "file", "location": "-"}
    from edge.settings import load_edge_settings

    try:
        edge = load_edge_settings(config)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"edge config {config}: {where}: {first['msg']}") from None
    cameras = edge.face.cameras if edge.face is not None else []
    if not cameras:
        raise ValueError(f"edge config {config} has no cameras (face.cameras)")
    if camera_id is None:
        if len(cameras) > 1:
            names = ", ".join(c.camera_id for c in cameras)
            raise ValueError(
                f"edge config {config} has {len(cameras)} cameras: choose one with --camera ({names})"
            )
        return cameras[0].model_dump()
    for camera in cameras:
        if camera.camera_id == camera_id:
            return camera.model_dump()
    names = ", ".join(c.camera_id for c in cameras)
    raise ValueError(f"edge config {config} has no camera {camera_id} (it has {names})")


def cmd_face_eval(args: argparse.Namespace) -> int:
    from devices.face.backend import FaceBackendUnavailable

    try:
        overrides = camera_settings(args.config, args.camera)
        if args.tolerance is not None:
            overrides["tolerance"] = args.tolerance
        if args.detect_scale is not None:
            overrides["detect_scale"] = args.detect_scale
        settings = CameraSettings.model_validate(overrides)
        evaluate(settings, args.gallery, args.probes, sys.stdout, sys.stderr)
    except (FileNotFoundError, ValueError, FaceBackendUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
