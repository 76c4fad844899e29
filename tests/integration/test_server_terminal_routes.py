"""The terminal sync endpoints publish EdgeCommands an edge can decode (server with its embedded broker)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts import CopyTemplatesCommand, UpsertUsersCommand, command_topic, decode_command
from server.app import create_app
from server.settings import ServerSettings
from tests.support.auth import sign_in
from tests.support.brokers import Probe
from tests.support.services import free_port

pytestmark = pytest.mark.integration


def test_staff_and_template_commands_reach_the_edge_topic(tmp_path: Path) -> None:
    port = free_port()
    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 's.sqlite3'}", embedded_broker_port=port)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 15
        while client.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)
        sign_in(client, settings.database_url)
        edge = Probe(settings.broker_url, command_topic("edge-site-1"))
        try:
            reply = client.post(
                "/api/v1/edges/edge-site-1/terminals/users",
                json={"users": [{"user_id": "0042", "name": "Zhao Min", "card": 7}]},
            )
            assert reply.status_code == 202
            (sent_id,) = reply.json()["command_ids"]
            command = decode_command(edge.get().payload)
            assert command.command_id == sent_id
            assert isinstance(command.command, UpsertUsersCommand)
            assert command.command.users[0].user_id == "0042"

            reply = client.post(
                "/api/v1/edges/edge-site-1/terminals/templates/copy", json={"source_serial": "SN-GATE"}
            )
            assert reply.status_code == 202
            assert isinstance(decode_command(edge.get().payload).command, CopyTemplatesCommand)

            bad = client.post(
                "/api/v1/edges/edge-site-1/terminals/users", json={"users": [{"user_id": "4 2"}]}
            )
            assert bad.status_code == 422
            assert "user_id" in bad.text
            assert (
                client.post(
                    "/api/v1/edges/no$such/terminals/users/disable", json={"user_ids": ["1"]}
                ).status_code
                == 422
            )
        finally:
            edge.close()
