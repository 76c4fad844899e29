"""Cameras registered through the API reach the edge as its retained config and are run there: the
server with its embedded broker and SQLite, an edge agent with a face: section but no cameras in its
YAML, a video written at test time from the test photos registered as a file:// camera.

The camera's check-ins arrive on the server with its linked terminal; while it runs it is in the
edge's /metrics and in the device list of the edge's retained status; deleting its registration
stops the loop (a changed source restarts it; the video closed, its last status unreachable) and drops it from both. A camera id
the YAML lists too keeps the YAML's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from contracts import decode_edge_status, edge_status_topic
from edge.agent import EdgeAgent
from edge.camera_settings import CameraSettings, FaceCheckInSettings
from edge.settings import EdgeSettings
from server.adapters.tables import face_observations
from tests.integration.test_metrics import scrape
from tests.support.auth import running_app, sign_in
from tests.support.brokers import Probe
from tests.support.face_video import Scene, write_video
from tests.support.processes import wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.integration
EDGE = "edge-cam-reg"
TERMINAL = "CKPUSH0042"  # push-only: nothing to poll, the camera is what is tested
REACHABLE = "kaoqin_edge_device_reachable"


@pytest.fixture
def api(sqlite_url: str) -> Iterator[TestClient]:
    with running_app(sqlite_url, ingest_batch_wait_seconds=0.05) as client:
        sign_in(client, sqlite_url)
        assert client.post("/api/v1/edges", json={"edge_id": EDGE}).status_code == 201
        assert client.put("/api/v1/sites/hq", json={"name": "HQ", "devices": []}).status_code == 204
        terminal = {"serial": TERMINAL, "model": "speedface_v5l_push", "site_id": "hq", "edge_id": EDGE}
        assert client.post("/api/v1/registry/terminals", json=terminal).status_code == 201
        yield client


def _agent(api: TestClient, tmp_path: Path, cameras: list[CameraSettings] | None = None) -> EdgeAgent:
    return EdgeAgent(
        EdgeSettings(
            edge_id=EDGE,
            mqtt_url=api.app.state.kaoqin.broker_url,  # type: ignore[attr-defined]
            outbox_path=tmp_path / "outbox.sqlite3",
            ack_timeout_seconds=3,
            status_interval_seconds=1,
            metrics_port=free_port(),
            face=FaceCheckInSettings(gallery_path=tmp_path / "gallery.sqlite3", cameras=cameras or []),
        )
    )


def _register_camera(api: TestClient, camera_id: str, source: str) -> None:
    body = {"camera_id": camera_id, "source": source, "linked_terminal": TERMINAL, "edge_id": EDGE}
    reply = api.post("/api/v1/registry/cameras", json=body)
    assert reply.status_code == 201, reply.text


def _check_ins(sqlite_url: str, camera_id: str) -> list[dict[str, Any]]:
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as c:
            query = select(face_observations).where(face_observations.c.camera_id == camera_id)
            return [dict(r._mapping) for r in c.execute(query)]
    finally:
        engine.dispose()


def _metric_devices(agent: EdgeAgent) -> set[str]:
    assert agent.metrics is not None
    samples = scrape(f"http://127.0.0.1:{agent.metrics.port}/metrics")
    return {dict(labels)["device_id"] for name, labels in samples if name == REACHABLE}


def _status_devices(api: TestClient) -> list[str]:
    port = api.app.state.kaoqin.broker_url.rsplit(":", 1)[1]  # type: ignore[attr-defined]
    probe = Probe(f"mqtt://127.0.0.1:{port}", edge_status_topic(EDGE))
    try:
        return list(decode_edge_status(bytes(probe.get().payload)).devices)
    finally:
        probe.close()


def _server_device(api: TestClient, device_id: str) -> dict[str, Any] | None:
    return next((d for d in api.get("/api/v1/devices").json() if d["device_id"] == device_id), None)


def test_a_registered_camera_checks_in_for_its_terminal_until_its_registration_is_deleted(
    api: TestClient, sqlite_url: str, tmp_path: Path, faces_dir: Path
) -> None:
    # Someone not enrolled walks past: an unknown face, checked in for the linked terminal.
    video = write_video(
        tmp_path / "door.avi",
        [Scene(None, 10), Scene(faces_dir / "people" / "harington_2.jpg", 40), Scene(None, 10)],
    )
    agent = _agent(api, tmp_path)
    agent.start()
    try:
        wait_until(lambda: agent.registered.applied_version == 1, 30, "the terminal's config applied")
        assert agent.registered.cameras.loops == []
        _register_camera(api, "cam-reg", f"file://{video}")

        rows = wait_until(
            lambda: _check_ins(sqlite_url, "cam-reg"), 90, "a check-in of cam-reg on the server"
        )
        assert rows[0]["edge_id"] == EDGE
        assert rows[0]["linked_terminal"] == TERMINAL
        assert rows[0]["outcome"] == "unknown"
        (loop,) = agent.registered.cameras.loops
        assert loop.settings.source == "file"
        assert loop.settings.location == str(video)
        wait_until(lambda: "cam-reg" in _metric_devices(agent), 30, "the camera in the edge's /metrics")
        wait_until(lambda: "cam-reg" in _status_devices(api), 30, "the camera in the edge's status")
        wait_until(
            lambda: (_server_device(api, "cam-reg") or {}).get("reachable") is True, 30, "the camera online"
        )

        # A changed source restarts the loop on the new video.
        other = write_video(tmp_path / "corridor.avi", [Scene(None, 20)])
        change = {"source": f"file://{other}", "linked_terminal": TERMINAL, "edge_id": EDGE}
        assert api.put("/api/v1/registry/cameras/cam-reg", json=change).status_code == 200
        wait_until(
            lambda: [lp.settings.location for lp in agent.registered.cameras.loops] == [str(other)],
            30,
            "the loop restarted on the new source",
        )
        assert loop.camera.health().connected is False  # the first loop was stopped before
        (loop,) = agent.registered.cameras.loops

        assert api.delete("/api/v1/registry/cameras/cam-reg").status_code == 204
        wait_until(lambda: agent.registered.cameras.loops == [], 30, "the camera's loop stopped")
        wait_until(lambda: loop.camera.health().connected is False, 30, "the video closed")
        frames = loop.frames_processed
        wait_until(
            lambda: (_server_device(api, "cam-reg") or {}).get("reachable") is False,
            30,
            "the stopped camera's last status on the server",
        )
        assert "cam-reg" not in _metric_devices(agent)
        wait_until(lambda: "cam-reg" not in _status_devices(api), 30, "the camera gone from the status")
        assert loop.frames_processed == frames  # no frame read since it was closed
    finally:
        agent.stop()


def test_the_yaml_wins_for_a_camera_id_it_lists_and_a_bad_source_is_reported(
    api: TestClient, tmp_path: Path, faces_dir: Path
) -> None:
    video = write_video(tmp_path / "yaml.avi", [Scene(None, 5)])
    yaml_camera = CameraSettings(camera_id="cam-yaml", source="file", location=str(video))
    agent = _agent(api, tmp_path, cameras=[yaml_camera])
    agent.start()
    try:
        _register_camera(api, "cam-yaml", "rtsp://192.0.2.1/never")  # the YAML's file must be used
        wait_until(lambda: agent.registered.applied_version == 2, 30, "the camera's config applied")
        assert agent.registered.cameras.loops == []
        assert agent.face is not None
        assert [loop.settings.location for loop in agent.face.loops] == [str(video)]
    finally:
        agent.stop()


def test_an_edge_without_a_face_section_reports_why_a_registered_camera_does_not_run(
    api: TestClient, tmp_path: Path
) -> None:
    agent = EdgeAgent(
        EdgeSettings(
            edge_id=EDGE,
            mqtt_url=api.app.state.kaoqin.broker_url,  # type: ignore[attr-defined]
            outbox_path=tmp_path / "outbox.sqlite3",
            ack_timeout_seconds=3,
        )
    )
    agent.start()
    try:
        _register_camera(api, "cam-noface", "0")
        device = wait_until(lambda: _server_device(api, "cam-noface"), 30, "the camera's status")
        assert device["reachable"] is False
        assert device["device_kind"] == "camera"
        assert "not configured: registered camera cam-noface" in device["error"]
        assert "no face: section" in device["error"]
        assert agent.registered.cameras.loops == []
    finally:
        agent.stop()
