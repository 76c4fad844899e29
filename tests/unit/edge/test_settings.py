from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.settings import load_edge_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


GOOD = """
edge_id: edge-1
terminals:
  - serial: SN1
    host: 127.0.0.1
    timezone: Asia/Shanghai
"""


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_edge_settings(write(tmp_path, GOOD))
    assert settings.edge_id == "edge-1"
    assert settings.terminals[0].port == 4370
    monkeypatch.setenv("KAOQIN_EDGE_MQTT_URL", "mqtt://broker:1883")
    assert load_edge_settings(write(tmp_path, GOOD)).mqtt_url == "mqtt://broker:1883"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="pol_interval"):
        load_edge_settings(write(tmp_path, GOOD + "pol_interval: 3\n"))
    with pytest.raises(ValidationError, match="hots"):
        load_edge_settings(write(tmp_path, GOOD.replace("host:", "hots:")))


def test_missing_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        load_edge_settings(write(tmp_path, GOOD.replace("    timezone: Asia/Shanghai\n", "")))
    with pytest.raises(ValidationError, match="unknown time zone"):
        load_edge_settings(write(tmp_path, GOOD.replace("Asia/Shanghai", "Mars/Olympus")))


def test_password_comes_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    settings = load_edge_settings(write(tmp_path, GOOD + f"mqtt_password_file: {secret}\n"))
    assert settings.resolved_mqtt_password() == "s3cret"
