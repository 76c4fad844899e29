"""``kaoqin face eval`` on the real photos (linked into tmp_path, never copied into the repo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from kaoqin.cli import main
from tests.support.face_video import Scene, write_video


@pytest.fixture
def layout(faces_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    gallery, probes = tmp_path / "gallery", tmp_path / "probes"
    for person, photo in (("obama", "obama_1.jpg"), ("biden", "biden_2.jpg"), ("obama", "obama_2.jpg")):
        (gallery / person).mkdir(parents=True, exist_ok=True)
        (gallery / person / photo).symlink_to(faces_dir / "people" / photo)
    (gallery / "nobody").mkdir()
    (gallery / "nobody" / "coffee.png").symlink_to(faces_dir / "nofaces" / "coffee.png")  # skipped: no face
    Image.new("RGB", (4, 4), (128, 100, 90)).save(gallery / "obama" / "thumb.png")  # skipped: too small
    probes.mkdir()
    for photo in ("obama_4.jpg", "biden_1.jpg", "leslie_1.jpg"):
        (probes / photo).symlink_to(faces_dir / "people" / photo)
    (probes / "coffee.png").symlink_to(faces_dir / "nofaces" / "coffee.png")
    (probes / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    Image.new("RGB", (4, 4), (128, 100, 90)).save(probes / "tiny.png")
    (probes / "obama").mkdir()
    write_video(probes / "obama" / "at_the_door.avi", [Scene(faces_dir / "people" / "obama_4.jpg", 30)])
    return gallery, probes


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[dict[str, object]], str]:
    assert main(["face", "eval", *args]) == 0
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_eval_prints_one_line_per_probe_and_a_summary(
    layout: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gallery, probes = layout
    lines, err = _run(capsys, "--gallery", str(gallery), "--probes", str(probes))
    by_name = {Path(str(line["probe"])).name: line for line in lines[:-1]}
    assert by_name["obama_4.jpg"]["identity"] == "obama"
    assert by_name["biden_1.jpg"]["identity"] == "biden"
    assert by_name["leslie_1.jpg"]["identity"] is None
    assert by_name["leslie_1.jpg"]["faces"] == 1
    assert by_name["coffee.png"] == {
        "probe": str(probes / "coffee.png"),
        "identity": None,
        "distance": None,
        "faces": 0,
        "expected": None,
    }
    assert by_name["at_the_door.avi"]["identity"] == "obama"
    # Files that cannot be used have their line, with the reason, and the run goes on.
    assert by_name["tiny.png"]["faces"] == 0
    assert "tiny.png: frame of 4x4 pixels is too small" in str(by_name["tiny.png"]["error"])
    assert "broken.jpg" in str(by_name["broken.jpg"]["error"])
    assert lines[-1]["summary"] == {
        "probes": 5,
        "correct": 5,
        "false_accepts": 0,
        "false_rejects": 0,
        "errors": 2,
        "tolerance": 0.6,
        "people": 2,
        "gallery_skipped": 2,
        "camera": None,
    }
    assert "broken.jpg" in err
    assert "coffee.png: 0 faces" in err
    assert "thumb.png: frame of 4x4 pixels is too small" in err


def test_a_strict_tolerance_turns_matches_into_false_rejects(
    layout: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gallery, probes = layout
    lines, _ = _run(capsys, "--gallery", str(gallery), "--probes", str(probes), "--tolerance", "0.2")
    summary = lines[-1]["summary"]
    assert isinstance(summary, dict)
    assert summary["false_rejects"] == 3
    assert summary["correct"] == 2  # the unknown and the empty picture stay right


def test_a_missing_gallery_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["face", "eval", "--gallery", str(tmp_path / "nope"), "--probes", str(tmp_path)]) == 2
    assert "gallery folder" in capsys.readouterr().err


def _edge_config(tmp_path: Path, *cameras: str) -> Path:
    config = tmp_path / "edge.yaml"
    lines = ["edge_id: edge-eval", "face:", "  cameras:"]
    for camera in cameras:
        lines += [f"    - {camera}"]
    config.write_text("\n".join(lines) + "\n")
    return config


def test_a_real_cameras_settings_come_from_the_edge_config(
    layout: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery, probes = layout
    config = _edge_config(
        tmp_path,
        "{camera_id: CAM-DOOR, source: rtsp, location: 'rtsp://10.0.0.9/s', tolerance: 0.2}",
        "{camera_id: CAM-GATE, source: usb, location: '0'}",
    )
    args = ["--gallery", str(gallery), "--probes", str(probes), "--config", str(config)]
    lines, _ = _run(capsys, *args, "--camera", "CAM-DOOR")
    summary = lines[-1]["summary"]
    assert isinstance(summary, dict)
    assert (summary["camera"], summary["tolerance"]) == ("CAM-DOOR", 0.2)
    assert summary["false_rejects"] == 3  # the door camera's strict tolerance, as with --tolerance 0.2
    lines, _ = _run(capsys, *args, "--camera", "CAM-GATE", "--tolerance", "0.5")
    summary = lines[-1]["summary"]
    assert isinstance(summary, dict)
    assert (summary["camera"], summary["tolerance"], summary["false_rejects"]) == ("CAM-GATE", 0.5, 0)


def test_a_camera_not_in_the_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _edge_config(tmp_path, "{camera_id: CAM-DOOR, source: usb, location: '0'}")
    folder = str(tmp_path)
    assert (
        main(
            [
                "face",
                "eval",
                "--gallery",
                folder,
                "--probes",
                folder,
                "--config",
                str(config),
                "--camera",
                "X",
            ]
        )
        == 2
    )
    assert "has no camera X (it has CAM-DOOR)" in capsys.readouterr().err
    assert main(["face", "eval", "--gallery", folder, "--probes", folder, "--camera", "X"]) == 2
    assert "--camera needs --config" in capsys.readouterr().err
    assert (
        main(["face", "eval", "--gallery", folder, "--probes", folder, "--config", str(tmp_path / "no.yaml")])
        == 2
    )
    assert "no.yaml" in capsys.readouterr().err
