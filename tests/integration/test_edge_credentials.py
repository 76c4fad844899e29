"""Edge MQTT credentials: issued once through the API, stored as mosquitto hashes, rotated and revoked;
``kaoqin broker password-file`` writes the broker's file from the table; end to end the deployed
Mosquitto lets the issued password in, and refuses it once rotated or revoked."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.punch_poller import PunchPoller
from edge.settings import TerminalSettings, load_edge_settings
from kaoqin.cli import build_parser, main
from server.adapters.db import create_db_engine
from server.adapters.edge_credential_store import SqlCredentialStore
from server.adapters.migrate import migrate
from server.adapters.tables import punches
from server.adapters.tables_edge_credentials import edge_credentials
from server.app import create_app
from server.services.edge_credentials import (
    EdgeCredentials,
    RotatedConcurrently,
    hash_password,
    verify_password,
)
from server.settings import ServerSettings, SettingsError, load_server_settings
from tests.support.auth import sign_in
from tests.support.processes import KaoqinProcess, wait_until
from tests.support.secure_broker import SecureMosquitto, add_password, make_test_pki, new_client, try_connect
from tests.support.services import free_port
from tests.unit.edge.fakes import FakeTerminal

pytestmark = pytest.mark.integration

SERVER_PASSWORD = "server-broker-password-0123456789abcdef"


def _row(database_url: str, edge_id: str) -> dict[str, object]:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as c:
            row = c.execute(select(edge_credentials).where(edge_credentials.c.edge_id == edge_id)).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    settings = ServerSettings(database_url=database_url, embedded_broker_port=free_port())
    with TestClient(create_app(settings)) as client:
        sign_in(client, database_url)  # registration is an admin's (server/api/access_policy.py)
        yield client


def test_registration_shows_the_password_once_and_stores_only_its_mosquitto_hash(
    api: TestClient, database_url: str
) -> None:
    reply = api.post("/api/v1/edges", json={"edge_id": "edge-hq-1"})
    assert reply.status_code == 201, reply.text
    issued = reply.json()
    password = issued["mqtt_password"]
    assert (issued["edge_id"], issued["mqtt_username"], issued["generation"]) == ("edge-hq-1", "edge-hq-1", 1)
    assert len(password) >= 40
    assert "kaoqin broker password-file" in issued["next_step"]

    shown = api.get("/api/v1/edges/edge-hq-1")
    assert shown.status_code == 200
    assert "mqtt_password" not in shown.json()
    assert password not in shown.text
    assert "$7$" not in shown.text

    row = _row(database_url, "edge-hq-1")
    assert str(row["password_hash"]).startswith("$7$101$")
    assert verify_password(password, str(row["password_hash"]))
    assert all(password not in str(value) for value in row.values())

    again = api.post("/api/v1/edges", json={"edge_id": "edge-hq-1"})
    assert again.status_code == 409
    assert "rotate" in again.json()["detail"]
    bad = api.post("/api/v1/edges", json={"edge_id": "edge/+/1"})
    assert bad.status_code == 422
    assert "edge id" in bad.json()["detail"]
    colon = api.post("/api/v1/edges", json={"edge_id": "site:1"})  # a valid topic level, not a username
    assert colon.status_code == 422
    assert "':'" in colon.json()["detail"]
    server_name = api.post("/api/v1/edges", json={"edge_id": "kaoqin-server"})
    assert server_name.status_code == 422
    assert "server's own MQTT user" in server_name.json()["detail"]
    assert api.get("/api/v1/edges/edge-nobody").status_code == 404


def test_rotation_issues_a_new_password_and_revocation_keeps_the_row(
    api: TestClient, database_url: str
) -> None:
    first = api.post("/api/v1/edges", json={"edge_id": "edge-rot"}).json()["mqtt_password"]

    rotated = api.post("/api/v1/edges/edge-rot/credentials/rotate")
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["mqtt_password"]
    assert second != first
    assert rotated.json()["generation"] == 2
    assert rotated.json()["rotated_at"]
    stored = str(_row(database_url, "edge-rot")["password_hash"])
    assert verify_password(second, stored)
    assert not verify_password(first, stored)

    revoked = api.post("/api/v1/edges/edge-rot/credentials/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    assert "mqtt_password" not in revoked.json()
    row = _row(database_url, "edge-rot")
    assert row["revoked_at"] is not None
    assert row["generation"] == 2
    again = api.post("/api/v1/edges/edge-rot/credentials/revoke")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # revoking twice changes nothing
    refused = api.post("/api/v1/edges/edge-rot/credentials/rotate")
    assert refused.status_code == 409
    assert "revoked" in refused.json()["detail"]
    assert api.post("/api/v1/edges/edge-ghost/credentials/rotate").status_code == 404
    assert api.post("/api/v1/edges/edge-ghost/credentials/revoke").status_code == 404


def test_of_two_rotations_racing_only_one_wins(database_url: str) -> None:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        store = SqlCredentialStore(engine)
        service = EdgeCredentials(store)
        now = datetime.now(UTC)
        service.register("edge-race", now)
        stale = service.get("edge-race").generation
        winner = service.rotate("edge-race", now)
        assert not store.replace_hash(
            "edge-race", expected_generation=stale, password_hash="$7$101$x$y", rotated_at=now
        )
        assert verify_password(winner.password, service.get("edge-race").password_hash)

        class StaleStore(SqlCredentialStore):
            def replace_hash(self, edge_id: str, **kwargs: object) -> bool:
                winner_again = service.rotate(edge_id, now)  # another request gets in first
                assert winner_again.credential.generation == 3
                return super().replace_hash(edge_id, **kwargs)  # type: ignore[arg-type]

        with pytest.raises(RotatedConcurrently, match="meanwhile"):
            EdgeCredentials(StaleStore(engine)).rotate("edge-race", now)
    finally:
        engine.dispose()


def _server_yaml(tmp_path: Path, database_url: str, mqtt_url: str | None = None) -> Path:
    password_file = tmp_path / "server-mqtt-password"
    password_file.write_text(SERVER_PASSWORD + "\n")
    values: dict[str, object] = {
        "database_url": database_url,
        "mqtt_username": "kaoqin-server",
        "mqtt_password_file": str(password_file),
    }
    if mqtt_url is not None:
        values["mqtt_url"] = mqtt_url
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump(values))
    return config


def _password_file(config: Path, output: Path) -> None:
    assert main(["broker", "password-file", "--config", str(config), "--output", str(output)]) == 0


def test_password_file_has_the_server_and_every_edge_not_revoked(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        service = EdgeCredentials(SqlCredentialStore(engine))
        now = datetime.now(UTC)
        kept = service.register("edge-kept", now)
        service.register("edge-gone", now)
        service.revoke("edge-gone", now)
    finally:
        engine.dispose()
    config = _server_yaml(tmp_path, database_url)
    output = tmp_path / "kaoqin.passwd"
    _password_file(config, output)
    assert "1 edge(s) (1 revoked left out)" in capsys.readouterr().out

    lines = dict(line.split(":", 1) for line in output.read_text().splitlines())
    assert list(lines) == ["kaoqin-server", "edge-kept"]
    assert verify_password(SERVER_PASSWORD, lines["kaoqin-server"])
    assert verify_password(kept.password, lines["edge-kept"])
    assert output.stat().st_mode & 0o777 == 0o640
    if os.geteuid() == 0:  # a rewrite keeps the group the operator gave the file (the broker's)
        os.chown(output, 0, 4321)
        _password_file(config, output)
        assert output.stat().st_gid == 4321

    (tmp_path / "server-mqtt-password").write_text("short\n")
    assert main(["broker", "password-file", "--config", str(config), "--output", str(output)]) == 2
    assert "at least 24" in capsys.readouterr().err
    assert list(dict(line.split(":", 1) for line in output.read_text().splitlines())) == list(lines)

    no_user = tmp_path / "no-user.yaml"
    no_user.write_text(yaml.safe_dump({"database_url": database_url}))
    assert main(["broker", "password-file", "--config", str(no_user), "--output", str(output)]) == 2
    assert "mqtt_username" in capsys.readouterr().err


def test_server_broker_user_needs_both_username_and_password_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="together"):
        ServerSettings(mqtt_username="kaoqin-server")
    with pytest.raises(ValidationError, match="together"):
        ServerSettings(mqtt_password_file=tmp_path / "password")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        ServerSettings(mqtt_username="kaoqin-server", mqtt_password_file=empty).mqtt_password()
    with pytest.raises(SettingsError, match="cannot read"):
        ServerSettings(mqtt_username="kaoqin-server", mqtt_password_file=tmp_path / "absent").mqtt_password()


def test_edge_password_comes_from_the_environment_or_a_file_never_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump({"edge_id": "edge-env", "mqtt_username": "edge-env"}))
    monkeypatch.setenv("KAOQIN_EDGE_MQTT_PASSWORD", "from-the-environment")
    assert load_edge_settings(config).resolved_mqtt_password() == "from-the-environment"
    monkeypatch.delenv("KAOQIN_EDGE_MQTT_PASSWORD")

    secret = tmp_path / "edge-mqtt-password"
    secret.write_text("from-the-file\n")
    config.write_text(
        yaml.safe_dump(
            {"edge_id": "edge-env", "mqtt_username": "edge-env", "mqtt_password_file": str(secret)}
        )
    )
    settings = load_edge_settings(config)
    assert settings.resolved_mqtt_password() == "from-the-file"
    assert "from-the-file" not in repr(settings)

    with pytest.raises(SystemExit):  # no flag would put it in the process list and shell history
        build_parser().parse_args(["edge", "--config", str(config), "--mqtt-password", "x"])


def _connects(broker: SecureMosquitto, username: str, password: str) -> bool:
    client = new_client(f"{username}-probe-{time.monotonic_ns()}")
    client.username_pw_set(username, password)
    outcome = try_connect(client, broker.plain_port)
    client.disconnect()
    return outcome.connected


def _run_edge_once(edge_yaml: Path, terminal: FakeTerminal) -> Outbox:
    """Poll the terminal once and publish through the real MqttLink until the outbox is empty."""
    settings = load_edge_settings(edge_yaml)
    outbox = Outbox(settings.outbox_path)
    poller = PunchPoller(
        edge_id=settings.edge_id,
        terminal=TerminalSettings(serial=terminal.serial, host="x", timezone="Asia/Shanghai"),
        open_terminal=lambda _: terminal,
        outbox=outbox,
        clock=SystemClock(),
        poll_interval=1,
        retry_max=1,
        status_interval=60,
    )
    poller.poll_once()
    assert outbox.depth() > 0
    link = MqttLink(settings, outbox, SystemClock(), devices=[terminal.serial], on_command=lambda _: None)
    stop = threading.Event()
    link.start()
    publisher = threading.Thread(target=link.run_publisher, args=(stop,))
    publisher.start()
    try:
        wait_until(lambda: outbox.depth() == 0, 30, "the server to store and acknowledge every event")
    finally:
        stop.set()
        publisher.join()
        link.stop()
    return outbox


def test_end_to_end_issued_password_works_until_rotated_or_revoked(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    pki = make_test_pki(tmp_path / "pki")
    passwd = tmp_path / "kaoqin.passwd"
    plain_port = free_port()
    config = _server_yaml(tmp_path, database_url, f"mqtt://127.0.0.1:{plain_port}")
    _password_file(config, passwd)  # the server's user only: no edge yet
    broker = SecureMosquitto(tmp_path / "broker", passwd, pki, plain_port=plain_port)
    broker.start()
    try:
        settings = load_server_settings(config).model_copy(update={"http_port": 0})
        with TestClient(create_app(settings)) as api:
            wait_until(
                lambda: api.get("/healthz").status_code == 200, 20, "the server to log in and subscribe"
            )
            sign_in(api, database_url)

            issued = api.post("/api/v1/edges", json={"edge_id": "edge-e2e"}).json()
            first = issued["mqtt_password"]
            assert not _connects(broker, "edge-e2e", first), (
                "the broker knows nothing before the file is written"
            )
            _password_file(config, passwd)
            broker.reload()
            assert _connects(broker, "edge-e2e", first)

            secret = tmp_path / "edge-mqtt-password"
            secret.write_text(first + "\n")
            edge_yaml = tmp_path / "edge.yaml"
            edge_yaml.write_text(
                yaml.safe_dump(
                    {
                        "edge_id": "edge-e2e",
                        "mqtt_url": broker.url,
                        "mqtt_username": "edge-e2e",
                        "mqtt_password_file": str(secret),
                        "outbox_path": str(tmp_path / "outbox.sqlite3"),
                    }
                )
            )
            _run_edge_once(edge_yaml, FakeTerminal("SN-E2E", punches=5))
            engine = create_db_engine(database_url)
            try:
                with engine.connect() as c:
                    assert c.execute(select(func.count()).select_from(punches)).scalar_one() == 5
            finally:
                engine.dispose()

            rotated = api.post("/api/v1/edges/edge-e2e/credentials/rotate")
            assert rotated.status_code == 200, rotated.text
            second = rotated.json()["mqtt_password"]
            _password_file(config, passwd)
            broker.reload()
            assert not _connects(broker, "edge-e2e", first), "the rotated-out password still works"
            assert _connects(broker, "edge-e2e", second)

            # The edge as an operator runs it, the new password in the environment.
            edge_only_file = tmp_path / "edge-env.yaml"
            edge_only_file.write_text(
                yaml.safe_dump(
                    {
                        k: v
                        for k, v in yaml.safe_load(edge_yaml.read_text()).items()
                        if k != "mqtt_password_file"
                    }
                )
            )
            edge = KaoqinProcess(
                ["edge", "--config", str(edge_only_file)],
                tmp_path / "edge.log",
                env={"KAOQIN_EDGE_MQTT_PASSWORD": second},
            )
            edge.start()
            try:
                wait_until(
                    lambda: (
                        [e["state"] for e in api.get("/api/v1/edges").json() if e["edge_id"] == "edge-e2e"]
                        == ["online"]
                    ),
                    30,
                    "the edge process to log in with the password from its environment",
                )

                api.post("/api/v1/edges/edge-e2e/credentials/revoke")
                _password_file(config, passwd)
                reloaded_at = len(broker.log())
                broker.reload()
                # The reload cuts the running edge off, and its reconnections are refused.
                wait_until(
                    lambda: (
                        "kaoqin-edge-edge-e2e disconnected" in broker.log()[reloaded_at:]
                        and "disconnected, not authorised" in broker.log()[reloaded_at:]
                    ),
                    30,
                    "the broker to disconnect the revoked edge and refuse it again",
                )
                assert not _connects(broker, "edge-e2e", second), "a revoked edge still gets in"
                assert "edge-e2e" not in passwd.read_text()
            finally:
                edge.stop()
            assert _connects(broker, "kaoqin-server", SERVER_PASSWORD)
    finally:
        broker.stop()


def test_hashes_read_the_same_as_mosquitto_passwd_writes_them(tmp_path: Path) -> None:
    """Both directions of the format: the broker accepts our hashes (end to end above), and a line
    mosquitto_passwd wrote verifies with our code, and a wrong password does not."""
    passwd = tmp_path / "passwd"
    add_password(passwd, "edge-x", "correct horse battery staple")
    (line,) = passwd.read_text().splitlines()
    username, encoded = line.split(":", 1)
    assert username == "edge-x"
    assert encoded.startswith("$7$")
    assert verify_password("correct horse battery staple", encoded)
    assert not verify_password("correct horse battery stapler", encoded)
    assert hash_password("same", salt=b"0" * 12) == hash_password("same", salt=b"0" * 12)
    assert hash_password("same") != hash_password("same")  # a fresh salt every time
