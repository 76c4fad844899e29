"""The settings example in docs/edge.md loads, and its firmware profiles apply."""

from __future__ import annotations

import re
from pathlib import Path

from edge.firmware import resolve_adms_terminals, resolve_terminals
from edge.settings import load_edge_settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_documented_settings_load_and_resolve(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "edge.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[:1]
    config = tmp_path / "edge.yaml"
    config.write_text(block.replace("mqtt_password_file: /etc/kaoqin/edge-mqtt-password", ""))
    settings = load_edge_settings(config)
    (terminal,) = resolve_terminals(settings.terminals, ROOT / "firmware_configs")
    assert terminal.reconcile_window == "01:00-05:00"
    assert settings.adms is not None
    (face,) = resolve_adms_terminals(settings.adms.terminals, ROOT / "firmware_configs")
    assert face.verify_map[15].value == "face"
