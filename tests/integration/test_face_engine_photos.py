"""The face engine on the real photos of ../shared/testdata/faces (never copied into the repo)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from devices.face.engine import FaceEngine, FaceEngineConfig, PhotoFace
from devices.face.gallery import Gallery
from devices.face.images import BadImageError, decode_photo, load_photo

# Derived copies of another photo (a downscale, a PNG of the same shot): never the gallery for it.
DERIVED = {"obama_small": "obama_1", "obama_rgba": "obama_2"}


def person_of(path: Path) -> str:
    return path.stem.split("_")[0]


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine(FaceEngineConfig())


@pytest.fixture(scope="module")
def people_faces(engine: FaceEngine) -> dict[str, PhotoFace]:
    """The one face of every photo of people/ (found at module start: an encoding costs ~77 ms)."""
    folder = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces" / "people"
    if not folder.is_dir():
        pytest.skip(f"test photos not found at {folder}")
    found = {}
    for path in sorted(folder.iterdir()):
        faces = engine.analyse_photo(load_photo(path))
        assert len(faces) == 1, f"{path.name}: expected one face, found {len(faces)}"
        found[path.stem] = faces[0]
    return found


def gallery_without(people_faces: dict[str, PhotoFace], probe: str) -> Gallery:
    left_out = {probe, DERIVED.get(probe), *(k for k, v in DERIVED.items() if v == probe)}
    by_person: dict[str, list[np.ndarray]] = {}
    for stem, face in people_faces.items():
        if stem not in left_out:
            by_person.setdefault(stem.split("_")[0], []).append(face.encoding)
    return Gallery(by_person)


def test_leave_one_out_identifies_everyone_with_another_photo_and_rejects_the_rest(
    people_faces: dict[str, PhotoFace], engine: FaceEngine
) -> None:
    outcomes = {}
    for stem, face in people_faces.items():
        gallery = gallery_without(people_faces, stem)
        match = gallery.identify(face.encoding, engine.config.tolerance)
        expected = stem.split("_")[0] if stem.split("_")[0] in gallery else None
        outcomes[stem] = (expected, match.staff_id if match else None)
    wrong = {stem: o for stem, o in outcomes.items() if o[0] != o[1]}
    assert not wrong, f"(expected, got) per photo: {wrong}"
    # The people with a single photo (Miranda, Collins) exercise the unknown path.
    assert sum(1 for expected, _ in outcomes.values() if expected is None) >= 2
    assert sum(1 for expected, _ in outcomes.values() if expected is not None) >= 15


def test_unknown_people_are_rejected_against_a_gallery_of_others(people_faces: dict[str, PhotoFace]) -> None:
    gallery = Gallery(
        {"obama": [people_faces["obama_1"].encoding], "biden": [people_faces["biden_1"].encoding]}
    )
    for stem in ("harington_1", "leslie_1", "lacamoire_1", "miranda_1", "collins_1"):
        assert gallery.identify(people_faces[stem].encoding, 0.6) is None, stem


def test_no_face_images_give_no_face(engine: FaceEngine, faces_dir: Path) -> None:
    for path in sorted((faces_dir / "nofaces").iterdir()):
        assert engine.analyse_photo(load_photo(path)) == [], path.name


def test_the_mission_patch_is_not_a_face(engine: FaceEngine, faces_dir: Path) -> None:
    faces = engine.analyse_photo(load_photo(faces_dir / "people" / "collins_1.png"))
    assert len(faces) == 1
    assert faces[0].score > 0.5  # her face (HOG ~1.2), not the patch of the same size (~0.12)


@pytest.mark.parametrize(
    ("photo", "left", "right"),
    [("obama_biden.jpg", "obama", "biden"), ("leslie_harington.jpg", "leslie", "harington")],
)
def test_both_faces_of_a_group_photo_are_found_and_named(
    engine: FaceEngine, people_faces: dict[str, PhotoFace], faces_dir: Path, photo: str, left: str, right: str
) -> None:
    by_person: dict[str, list[np.ndarray]] = {}
    for stem, face in people_faces.items():
        if stem not in ("obama_3", "biden_1"):  # the group photo was cut from obama_3's shot
            by_person.setdefault(person_of(Path(stem)), []).append(face.encoding)
    group = FaceEngine(engine.config, Gallery(by_person))
    faces = group.analyse_photo(load_photo(faces_dir / "groups" / photo))
    assert [f.match.staff_id if f.match else None for f in faces] == [left, right]


def test_the_child_in_a_group_photo_is_a_third_face(engine: FaceEngine, faces_dir: Path) -> None:
    assert len(engine.analyse_photo(load_photo(faces_dir / "groups" / "biden_obama_child.jpg"))) == 3


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return decode_photo(buffer.getvalue(), "memory")


VARIATIONS = {
    "darker": lambda img: np.clip(img.astype(np.float32) * 0.55, 0, 255).astype(np.uint8),
    "brighter": lambda img: np.clip(img.astype(np.float32) * 1.4 + 20, 0, 255).astype(np.uint8),
    "half_size": lambda img: cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "jpeg_q15": lambda img: _jpeg(img, 15),
    "greyscale": lambda img: np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2),
}


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
@pytest.mark.parametrize(
    "stem", ["obama_4", "biden_2", "harington_2", "leslie_2", "lacamoire_2", "miranda_1"]
)
def test_identification_survives_brightness_scale_and_jpeg_changes(
    engine: FaceEngine, people_faces: dict[str, PhotoFace], faces_dir: Path, stem: str, variation: str
) -> None:
    path = next((faces_dir / "people").glob(f"{stem}.*"))
    probe = VARIATIONS[variation](load_photo(path))
    faces = engine.analyse_photo(np.ascontiguousarray(probe))
    assert len(faces) == 1, f"{stem} {variation}: {len(faces)} faces"
    gallery = gallery_without(people_faces, stem)
    match = gallery.identify(faces[0].encoding, engine.config.tolerance)
    expected = person_of(path) if person_of(path) in gallery else None
    assert (match.staff_id if match else None) == expected


def test_rgba_and_greyscale_files_load_as_rgb(faces_dir: Path, tmp_path: Path) -> None:
    rgba = load_photo(faces_dir / "people" / "obama_rgba.png")
    assert rgba.shape[2] == 3
    grey_file = tmp_path / "grey.png"
    Image.open(faces_dir / "people" / "obama_1.jpg").convert("L").save(grey_file)
    assert load_photo(grey_file).shape[2] == 3
    huge = tmp_path / "huge.png"
    Image.new("RGB", (5000, 3000), (200, 180, 160)).save(huge)
    assert max(load_photo(huge).shape) == 1600


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(BadImageError, match=r"broken\.jpg"):
        load_photo(broken)
    with pytest.raises(BadImageError, match=r"missing\.jpg: cannot read"):
        load_photo(tmp_path / "missing.jpg")
    with pytest.raises(BadImageError, match="empty"):
        decode_photo(b"", "upload.png")


# The other cases under the same changes: strangers stay unknown, empty pictures stay empty, and the
# two adults of each group photo are still found and named. (The child of biden_obama_child.jpg, the
# weakest face in the test data at HOG ~0.25, is lost when darkened or at JPEG quality 15: measured,
# and why that photo's three-face test runs on the original only.)


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
def test_unknown_people_stay_unknown_under_brightness_scale_and_jpeg_changes(
    engine: FaceEngine, people_faces: dict[str, PhotoFace], faces_dir: Path, variation: str
) -> None:
    gallery = Gallery(
        {"obama": [people_faces["obama_1"].encoding], "biden": [people_faces["biden_1"].encoding]}
    )
    for stem in ("harington_1", "leslie_1", "lacamoire_1", "miranda_1", "collins_1"):
        path = next((faces_dir / "people").glob(f"{stem}.*"))
        faces = engine.analyse_photo(np.ascontiguousarray(VARIATIONS[variation](load_photo(path))))
        assert len(faces) == 1, f"{stem} {variation}: {len(faces)} faces"
        assert gallery.identify(faces[0].encoding, engine.config.tolerance) is None, f"{stem} {variation}"


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
def test_no_face_images_stay_empty_under_brightness_scale_and_jpeg_changes(
    engine: FaceEngine, faces_dir: Path, variation: str
) -> None:
    for path in sorted((faces_dir / "nofaces").iterdir()):
        probe = np.ascontiguousarray(VARIATIONS[variation](load_photo(path)))
        assert engine.analyse_photo(probe) == [], f"{path.name} {variation}"


@pytest.mark.parametrize("variation", sorted(VARIATIONS))
@pytest.mark.parametrize(
    ("photo", "left", "right"),
    [("obama_biden.jpg", "obama", "biden"), ("leslie_harington.jpg", "leslie", "harington")],
)
def test_group_photos_keep_both_faces_named_under_brightness_scale_and_jpeg_changes(
    engine: FaceEngine,
    people_faces: dict[str, PhotoFace],
    faces_dir: Path,
    photo: str,
    left: str,
    right: str,
    variation: str,
) -> None:
    by_person: dict[str, list[np.ndarray]] = {}
    for stem, face in people_faces.items():
        if stem not in ("obama_3", "biden_1"):  # the group photo was cut from obama_3's shot
            by_person.setdefault(person_of(Path(stem)), []).append(face.encoding)
    group = FaceEngine(engine.config, Gallery(by_person))
    probe = np.ascontiguousarray(VARIATIONS[variation](load_photo(faces_dir / "groups" / photo)))
    faces = group.analyse_photo(probe)
    assert [f.match.staff_id if f.match else None for f in faces] == [left, right], variation
