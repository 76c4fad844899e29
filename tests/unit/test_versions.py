"""The version the edge reports and the API documents is the installed distribution's, not a literal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest

import edge.mqtt_link
import server.app
from contracts import EdgeState, EdgeStatus
from edge.mqtt_link import MqttLink, software_version
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from server.settings import ServerSettings


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def released_as_9_9_9(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def fake_version(name: str) -> str:
        assert name == "kaoqin"
        return "9.9.9"

    software_version.cache_clear()
    monkeypatch.setattr(edge.mqtt_link, "version", fake_version)
    monkeypatch.setattr(server.app, "version", fake_version)
    yield
    software_version.cache_clear()


def test_the_reported_version_is_the_installed_one() -> None:
    software_version.cache_clear()
    assert software_version() == version("kaoqin")


@pytest.mark.usefixtures("released_as_9_9_9")
def test_edge_status_carries_the_package_version(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        link = MqttLink(
            EdgeSettings(edge_id="edge-1", mqtt_url="mqtt://127.0.0.1:1"),
            outbox,
            _Clock(),
            devices=["SN1"],
            on_command=lambda command: None,
        )
        status = EdgeStatus.model_validate_json(link._status(EdgeState.ONLINE))
    finally:
        outbox.close()
    assert status.software_version == "9.9.9"


@pytest.mark.usefixtures("released_as_9_9_9")
def test_api_documents_the_package_version(tmp_path: Path) -> None:
    app = server.app.create_app(ServerSettings(database_url=f"sqlite:///{tmp_path / 'k.sqlite3'}"))
    assert app.version == "9.9.9"
    assert app.openapi()["info"]["version"] == "9.9.9"
