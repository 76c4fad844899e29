"""The guarded import: face_recognition's quit() on missing models becomes a clear start-up error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from devices.face.backend import FaceBackendUnavailable, load_backend
try:
    load_backend()
except FaceBackendUnavailable as exc:
    print("UNAVAILABLE:", exc)
    sys.exit(3)
print("LOADED")
"""


def _run(tmp_path: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", prelude + PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"},
    )


def test_the_real_backend_loads(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.stdout.strip() == "LOADED", result.stderr


def test_a_library_that_quits_on_import_is_an_error_not_exit_code_0(tmp_path: Path) -> None:
    # What face_recognition/__init__.py does when face_recognition_models is missing.
    (tmp_path / "face_recognition.py").write_text(
        'print("Please install `face_recognition_models`")\nquit()\n'
    )
    result = _run(tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "importing face_recognition exited the process" in result.stdout


def test_missing_models_name_the_package_to_install(tmp_path: Path) -> None:
    result = _run(tmp_path, "import sys; sys.modules['face_recognition_models'] = None\n")
    assert result.returncode == 3
    assert "pip install face_recognition_models" in result.stdout


def test_missing_pkg_resources_names_setuptools(tmp_path: Path) -> None:
    result = _run(tmp_path, "import sys; sys.modules['pkg_resources'] = None\n")
    assert result.returncode == 3
    assert "setuptools<81" in result.stdout
