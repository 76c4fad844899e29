"""The server against a broker that goes away: health turns 503, it reconnects, nothing is lost."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from contracts import AckStatus
from server.app import create_app
from server.settings import ServerSettings
from tests.integration.test_server_ingest import FakeEdge, make_punch, wait_for
from tests.support.auth import sign_in
from tests.support.services import PrivateMosquitto

pytestmark = pytest.mark.integration


def test_server_reconnects_after_a_broker_restart(
    database_url: str, private_mosquitto: PrivateMosquitto
) -> None:
    settings = ServerSettings(database_url=database_url, mqtt_url=private_mosquitto.url)
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/healthz").status_code == 200, "a healthy server")

        private_mosquitto.stop()
        wait_for(lambda: client.get("/healthz").status_code == 503, "health to report the broker")
        assert client.get("/healthz").json()["broker"] is False
        assert client.get("/healthz").json()["database"] is True

        private_mosquitto.start()
        wait_for(lambda: client.get("/healthz").status_code == 200, "the consumer to reconnect")
        edge = FakeEdge(private_mosquitto.url)
        edge.start()
        try:
            event = make_punch(edge.edge_id)
            edge.publish_punch(event)
            edge.wait_acked(event.event_id, AckStatus.STORED)
        finally:
            edge.stop()


def test_events_published_while_the_server_is_down_are_stored_when_it_returns(
    database_url: str, private_mosquitto: PrivateMosquitto
) -> None:
    settings = ServerSettings(database_url=database_url, mqtt_url=private_mosquitto.url)
    with TestClient(create_app(settings)) as client:  # creates the persistent session
        wait_for(lambda: client.get("/healthz").status_code == 200, "a healthy server")

    edge = FakeEdge(private_mosquitto.url)
    edge.start()
    try:
        events = [make_punch(edge.edge_id, user_id=str(1000 + n)) for n in range(5)]
        for event in events:
            edge.publish_punch(event)  # the broker queues them for the server's session

        with TestClient(create_app(settings)) as client:
            for event in events:
                edge.wait_acked(event.event_id, AckStatus.STORED)
            sign_in(client, database_url)
            assert client.get("/api/v1/punches").json()["total"] == 5
    finally:
        edge.stop()
