from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import ServerSettings, SettingsError, load_server_settings


@pytest.fixture(autouse=True)
def _no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KAOQIN_SERVER_"):
            monkeypatch.delenv(name)


def test_defaults_run_one_office() -> None:
    settings = load_server_settings(None)
    assert settings.database_url == "sqlite:///./kaoqin.sqlite3"
    assert settings.mqtt_url is None
    assert settings.broker_url == "mqtt://127.0.0.1:18830"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)
    assert settings.mqtt_client_id == "kaoqin-server"


def test_file_values_are_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("http_port: 9000\nmqtt_url: mqtt://broker:1883\ningest_batch_size: 50\n")
    monkeypatch.setenv("KAOQIN_SERVER_HTTP_PORT", "9100")
    settings = load_server_settings(path)
    assert settings.http_port == 9100
    assert settings.mqtt_url == "mqtt://broker:1883"
    assert settings.broker_url == "mqtt://broker:1883"
    assert settings.ingest_batch_size == 50


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("http_prot: 9000\n")
    with pytest.raises(SettingsError, match="'http_prot'"):
        load_server_settings(path)


def test_bad_value_says_which_setting(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("http_port: not-a-port\n")
    with pytest.raises(SettingsError, match="http_port"):
        load_server_settings(path)


def test_file_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SettingsError, match="mapping"):
        load_server_settings(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_server_settings(tmp_path / "absent.yaml")


def test_constructor_forbids_unknown_fields() -> None:
    with pytest.raises(ValueError, match="databse_url"):
        ServerSettings(databse_url="sqlite://")  # type: ignore[call-arg]
