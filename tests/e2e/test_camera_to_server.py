"""Camera video -> edge face check-in -> broker -> server, with the gallery enrolled over HTTP.

A real ``kaoqin server`` process (its own face engine for enrolment photos), an in-process edge agent
whose camera is a video written at test time from the test photos, and both broker/database
variants: embedded amqtt + SQLite, and a private Mosquitto + PostgreSQL. The check-in must arrive on
the server as a known face, linked to the terminal, with its evidence snapshot served by the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from edge.agent import EdgeAgent
from edge.camera_settings import CameraSettings, FaceCheckInSettings
from edge.settings import EdgeSettings
from server.adapters.tables import face_observations
from tests.support.auth import sign_in
from tests.support.face_video import Scene, write_video
from tests.support.processes import KaoqinProcess, wait_until
from tests.support.services import PrivateMosquitto, free_port

pytestmark = pytest.mark.e2e


@dataclass
class Chain:
    database_url: str
    mqtt_url: str | None
    embedded_port: int

    @property
    def broker_url(self) -> str:
        return self.mqtt_url or f"mqtt://127.0.0.1:{self.embedded_port}"


@pytest.fixture(params=["embedded", "mosquitto+postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    if request.param == "embedded":
        yield Chain(f"sqlite:///{tmp_path / 'server.sqlite3'}", None, free_port())
        return
    database_url = str(request.getfixturevalue("postgres_url"))
    broker = PrivateMosquitto(tmp_path / "mosquitto")  # the gallery is retained: not on the shared broker
    broker.start()
    try:
        yield Chain(database_url, broker.url, 0)
    finally:
        broker.stop()


def _stored_faces(database_url: str) -> list[dict[str, object]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(face_observations))]
    finally:
        engine.dispose()


def test_a_person_at_the_door_is_checked_in_on_the_server(
    chain: Chain, tmp_path: Path, faces_dir: Path
) -> None:
    http_port = free_port()
    config = tmp_path / "server.yaml"
    broker_line = (
        f"mqtt_url: {chain.mqtt_url}" if chain.mqtt_url else f"embedded_broker_port: {chain.embedded_port}"
    )
    config.write_text(
        f"database_url: {chain.database_url}\nhttp_port: {http_port}\ningest_batch_wait_seconds: 0.05\n"
        f"{broker_line}\nfaces:\n  encryption_key: e2e-face-key-0123456789abcdef\n"
    )
    server = KaoqinProcess(["server", "--config", str(config)], tmp_path / "server.log")
    server.start()
    agent: EdgeAgent | None = None
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30)
        wait_until(lambda: api.get("/healthz").status_code == 200, 60, "the server to be healthy")
        sign_in(api, chain.database_url, "hr")
        assert api.put("/api/v1/faces/S-0042/consent", json={"recorded_by": "hr"}).status_code == 200
        photo = faces_dir / "people" / "obama_1.jpg"
        enrolled = api.post(
            "/api/v1/faces/S-0042/photos", files=[("photos", (photo.name, photo.read_bytes()))]
        )
        assert enrolled.status_code == 201, enrolled.text

        # A different photo of the same person walks up to terminal T-0001's camera.
        video = write_video(
            tmp_path / "door.avi",
            [Scene(None, 30), Scene(faces_dir / "people" / "obama_4.jpg", 45), Scene(None, 15)],
        )
        edge_id = f"edge-cam-{uuid.uuid4().hex[:8]}"
        agent = EdgeAgent(
            EdgeSettings(
                edge_id=edge_id,
                mqtt_url=chain.broker_url,
                outbox_path=tmp_path / "outbox.sqlite3",
                ack_timeout_seconds=3,
                status_interval_seconds=1,
                face=FaceCheckInSettings(
                    gallery_path=tmp_path / "gallery.sqlite3",
                    cameras=[
                        CameraSettings(
                            camera_id="CAM-0001",
                            source="file",
                            location=str(video),
                            linked_terminal="T-0001",
                            loop_file=True,  # keeps walking past until the gallery has arrived
                            max_fps=30,
                        ),
                        # A camera that never opens: the server must still hear of it, and why.
                        CameraSettings(
                            camera_id="CAM-0002", source="file", location=str(tmp_path / "unplugged.avi")
                        ),
                    ],
                ),
            )
        )
        agent.start()

        def known_check_in() -> dict[str, object] | None:
            return next((r for r in _stored_faces(chain.database_url) if r["staff_id"] == "S-0042"), None)

        row = wait_until(known_check_in, 90, "the check-in of S-0042 to be stored on the server")
        assert row["camera_id"] == "CAM-0001"
        assert row["edge_id"] == edge_id
        assert row["linked_terminal"] == "T-0001"
        assert row["outcome"] == "known"
        assert row["liveness"] == "passed"
        assert row["distance"] is not None
        assert float(str(row["distance"])) <= 0.6
        snapshot = api.get(f"/api/v1/faces/observations/{row['event_id']}/snapshot")
        assert snapshot.status_code == 200
        assert snapshot.headers["content-type"] == "image/jpeg"
        assert snapshot.content.startswith(b"\xff\xd8")

        # The camera's health reaches the server: its frame rate, no bad frames.
        def camera_reported() -> bool:
            devices = api.get("/api/v1/devices").json()
            return any(d["device_id"] == "CAM-0001" and (d["frames_per_second"] or 0) > 0 for d in devices)

        wait_until(camera_reported, 30, "the camera's frame rate in its device status")
        (camera,) = [d for d in api.get("/api/v1/devices").json() if d["device_id"] == "CAM-0001"]
        assert camera["device_kind"] == "camera"
        assert camera["reachable"]
        assert camera["bad_frames"] == 0
        assert camera["error"] is None
        assert camera["reconnects"] == 0

        def down_camera() -> dict[str, object] | None:
            return next((d for d in api.get("/api/v1/devices").json() if d["device_id"] == "CAM-0002"), None)

        down = wait_until(down_camera, 30, "the status of the camera that never opened")
        assert down["reachable"] is False
        assert "camera CAM-0002" in str(down["error"])
        assert "the video file does not exist" in str(down["error"])
        # Frames never leave the edge: only events and status went over MQTT; the outbox drains.
        wait_until(lambda: agent is not None and agent.outbox.depth() == 0, 60, "the edge outbox to drain")
    finally:
        if agent is not None:
            agent.stop()
        server.stop()
