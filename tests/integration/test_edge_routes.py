"""GET /api/v1/edges and /api/v1/edges/{edge_id}: one route each for an edge's reported status and
its credentials' state, whether the edge only reported, was only registered, or both."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from contracts import EdgeState, EdgeStatus
from server.adapters.db import create_db_engine
from server.adapters.ingest_store import SqlIngestStore
from server.services.ingest import IngestBatch
from tests.support.auth import running_app, sign_in

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    with running_app(database_url) as client:
        sign_in(client, database_url)
        yield client


def _report(database_url: str, edge_id: str) -> None:
    """The edge's status as the ingest path stores it."""
    status = EdgeStatus.create(
        edge_id=edge_id, state=EdgeState.ONLINE, occurred_at=AT, software_version="1.2.3", devices=["SN1"]
    )
    engine = create_db_engine(database_url)
    try:
        SqlIngestStore(engine).store_batch(IngestBatch(edge_statuses=[status]), stored_at=AT)
    finally:
        engine.dispose()


def test_edges_show_status_and_credential_state_together(api: TestClient, database_url: str) -> None:
    issued = api.post("/api/v1/edges", json={"edge_id": "edge-both"}).json()
    assert api.post("/api/v1/edges", json={"edge_id": "edge-registered"}).status_code == 201
    assert api.post("/api/v1/edges/edge-registered/credentials/revoke").status_code == 200
    _report(database_url, "edge-both")
    _report(database_url, "edge-reported")

    listed = api.get("/api/v1/edges")
    assert listed.status_code == 200
    edges = {edge["edge_id"]: edge for edge in listed.json()}
    assert sorted(edges) == ["edge-both", "edge-registered", "edge-reported"]
    both = edges["edge-both"]
    assert both["state"] == "online"
    assert both["devices"] == ["SN1"]
    assert datetime.fromisoformat(both["status_at"]) == AT
    assert both["credential"]["mqtt_username"] == "edge-both"
    assert both["credential"]["generation"] == 1
    assert both["credential"]["revoked_at"] is None
    registered = edges["edge-registered"]
    assert registered["state"] is None
    assert registered["status_at"] is None
    assert registered["devices"] == []
    assert registered["credential"]["revoked_at"] is not None
    assert edges["edge-reported"]["credential"] is None
    assert edges["edge-reported"]["software_version"] == "1.2.3"
    assert issued["mqtt_password"] not in listed.text
    assert "$7$" not in listed.text

    for edge_id, edge in edges.items():
        one = api.get(f"/api/v1/edges/{edge_id}")
        assert one.status_code == 200
        assert one.json() == edge
    unknown = api.get("/api/v1/edges/edge-nobody")
    assert unknown.status_code == 404
    assert "neither reported nor been registered" in unknown.json()["detail"]


def test_hr_reads_edges_but_cannot_register_one(database_url: str) -> None:
    with running_app(database_url) as client:
        sign_in(client, database_url, "hr")
        _report(database_url, "edge-reported")
        assert client.get("/api/v1/edges/edge-reported").json()["state"] == "online"
        assert client.post("/api/v1/edges", json={"edge_id": "edge-new"}).status_code == 403


def test_the_openapi_document_has_each_operation_once(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    operations = [
        operation["operationId"] for path in document["paths"].values() for operation in path.values()
    ]
    assert [name for name, count in Counter(operations).items() if count > 1] == []
    assert list(document["paths"]["/api/v1/edges"]) == ["get", "post"]
