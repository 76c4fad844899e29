"""`kaoqin edge` and `kaoqin server` refuse a config they cannot use: exit 2, one line naming the key or
file, no traceback, nothing started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kaoqin.cli import main

GOOD_EDGE = "edge_id: edge-1\nmqtt_url: mqtt://127.0.0.1:1\n"
TERMINAL = "terminals:\n  - serial: SN1\n    host: 127.0.0.1\n    timezone: Asia/Shanghai\n"


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], *names: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture(autouse=True)
def _no_edge_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAOQIN_EDGE_MQTT_URL", raising=False)
    monkeypatch.delenv("KAOQIN_SERVER_MQTT_URL", raising=False)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("edge_id: [unclosed\n", ("edge.yaml", "not valid YAML", "line 2")),
        ("- edge_id: edge-1\n- mqtt_url: mqtt://x\n", ("edge.yaml", "mapping", "list")),
        ("just a sentence\n", ("edge.yaml", "mapping", "str")),
        (GOOD_EDGE.replace("mqtt://127.0.0.1:1", "http://x"), ("mqtt_url", "mqtt://")),
        (GOOD_EDGE + "mqtt_pasword: x\n", ("mqtt_pasword", "unknown key")),
        (GOOD_EDGE + TERMINAL + "    profile: no_such_model\n", ("terminals[SN1].profile", "no_such_model")),
        (
            GOOD_EDGE + TERMINAL + "    transport: udp\n    profile: speedface_v5l_push\n",
            ("SN1", "push-only"),
        ),
        (GOOD_EDGE + "firmware_configs_dir: no-such-folder\n", ("firmware_configs_dir", "no-such-folder")),
    ],
    ids=[
        "invalid-yaml",
        "list",
        "scalar",
        "http-url",
        "unknown-key",
        "unknown-profile",
        "profile-forbids",
        "no-dir",
    ],
)
def test_edge_refuses_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, names: tuple[str, ...]
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(text)
    _refused(capsys, ["edge", "--config", str(config)], *names)


def test_edge_refuses_a_missing_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.yaml"
    missing = tmp_path / "secrets" / "mqtt-password"
    config.write_text(GOOD_EDGE + f"mqtt_username: edge-1\nmqtt_password_file: {missing}\n")
    _refused(capsys, ["edge", "--config", str(config)], "mqtt_password_file", str(missing))
    missing.parent.mkdir()
    missing.write_text("\n")
    _refused(capsys, ["edge", "--config", str(config)], "mqtt_password_file", "empty")


def test_edge_refuses_a_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, ["edge", "--config", str(tmp_path / "nope.yaml")], "nope.yaml", "does not exist")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("database_url: [unclosed\n", ("server.yaml", "not valid YAML")),
        ("- database_url: sqlite://\n", ("server.yaml", "mapping")),
        ("mqtt_url: http://x\n", ("mqtt_url", "mqtt://")),
        ("http_prot: 8000\n", ("http_prot",)),
    ],
    ids=["invalid-yaml", "list", "http-url", "unknown-key"],
)
def test_server_refuses_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, names: tuple[str, ...]
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(text)
    _refused(capsys, ["server", "--config", str(config)], *names)


def test_server_refuses_a_missing_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.yaml"
    missing = tmp_path / "server-mqtt-password"
    config.write_text(
        f"mqtt_url: mqtt://127.0.0.1:1\nmqtt_username: kaoqin-server\nmqtt_password_file: {missing}\n"
    )
    _refused(capsys, ["server", "--config", str(config)], "mqtt_password_file", str(missing))


def test_firmware_profiles_are_found_from_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.settings import load_edge_settings

    monkeypatch.chdir(tmp_path)  # no firmware_configs/ here
    config = tmp_path / "edge.yaml"
    config.write_text(GOOD_EDGE + TERMINAL + "    profile: tft_fingerprint_card_zmm220\n")
    settings = load_edge_settings(config)
    assert (settings.firmware_configs_dir / "tft_fingerprint_card_zmm220.yaml").is_file()

    own = tmp_path / "site" / "profiles"
    own.mkdir(parents=True)
    (own / "tft_fingerprint_card_zmm220.yaml").write_text(
        (settings.firmware_configs_dir / "tft_fingerprint_card_zmm220.yaml").read_text()
    )
    (tmp_path / "site" / "edge.yaml").write_text(
        config.read_text() + "firmware_configs_dir: profiles\n"  # relative to the config file
    )
    monkeypatch.chdir("/")
    assert load_edge_settings(tmp_path / "site" / "edge.yaml").firmware_configs_dir == own.resolve()


@pytest.mark.parametrize("command", ["edge", "server"])
def test_a_real_process_prints_only_the_one_line(command: str, tmp_path: Path) -> None:
    config = tmp_path / f"{command}.yaml"
    config.write_text("- not\n- a mapping\n")
    done = subprocess.run(
        [sys.executable, "-m", "kaoqin.cli", command, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()  # nothing logged before it
    assert line.startswith("config error: ")
    assert str(config) in line
