"""``kaoqin server`` and ``kaoqin edge`` load the face backend at start-up: missing models (or a
face_recognition that quits on import, with exit code 0) stop them with one clear line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

BROKEN = {
    # What a missing package looks like to the import.
    "models_missing": (
        "face_recognition_models.py",
        'raise ImportError("No module named face_recognition_models")\n',
    ),
    # What face_recognition/__init__.py does when it cannot load its models: quit(), exit code 0.
    "quits_on_import": ("face_recognition.py", 'print("Please install `face_recognition_models`")\nquit()\n'),
}


def _kaoqin(tmp_path: Path, broken: str, *args: str) -> subprocess.CompletedProcess[str]:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    name, text = BROKEN[broken]
    (shadow / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAOQIN_SERVER_", "KAOQIN_EDGE_"))}
    env["PYTHONPATH"] = f"{shadow}:{ROOT}"
    return subprocess.run(
        [sys.executable, "-m", "kaoqin.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], process: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"{process} did not start: face engine unavailable:"), output
    assert "pip install" in lines[-1]


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_the_server_stops_at_start_up_without_face_models(tmp_path: Path, broken: str) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'db.sqlite3'}\n")
    _assert_one_clear_line(_kaoqin(tmp_path, broken, "server", "--config", str(config)), "server")


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_an_edge_with_cameras_stops_at_start_up_without_face_models(tmp_path: Path, broken: str) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(
        "edge_id: edge-nomodels\n"
        f"outbox_path: {tmp_path / 'outbox.sqlite3'}\n"
        "face:\n"
        f"  gallery_path: {tmp_path / 'gallery.sqlite3'}\n"
        "  cameras:\n"
        "    - {camera_id: CAM-1, source: file, location: door.avi}\n"
    )
    _assert_one_clear_line(_kaoqin(tmp_path, broken, "edge", "--config", str(config)), "edge")
