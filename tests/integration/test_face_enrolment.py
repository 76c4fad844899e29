"""Face enrolment through the HTTP API on SQLite and PostgreSQL: consent, photos with exactly one
face, encodings encrypted at rest, the gallery reaching real edge gallery stores over the broker
(live, after being offline, and from scratch), deletion everywhere, and the retention purge."""

from __future__ import annotations

import base64
import io
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, select

from contracts import FaceLiveness, FaceObservation, FaceOutcome
from devices.face.engine import FaceEngine, FaceEngineConfig
from devices.face.images import load_photo
from edge.camera_settings import FaceCheckInSettings
from edge.face_checkin import FaceCheckIn
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.settings import EdgeSettings
from kaoqin.face_encoder import DevicesPhotoEncoder
from server.adapters.face_crypto import EncodingCipher, EncodingCipherError
from server.adapters.face_store import FaceStore
from server.adapters.ingest_store import SqlIngestStore
from server.adapters.tables_faces import face_encodings
from server.app import create_app
from server.services.face_enrolment import FaceEnrolment
from server.services.face_settings import FaceSettings
from server.services.ingest import IngestBatch
from server.settings import ServerSettings
from tests.support.auth import sign_in
from tests.support.processes import wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.integration

KEY = "test-face-key-0123456789-abcdefghij"
ENCODER = DevicesPhotoEncoder()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, ServerSettings]]:
    settings = ServerSettings(
        database_url=database_url,
        embedded_broker_port=free_port(),
        faces=FaceSettings(encryption_key=KEY, encryption_key_file=tmp_path / "unused.key"),
    )
    with TestClient(create_app(settings, photo_encoder=ENCODER)) as client:
        sign_in(client, database_url)
        wait_until(lambda: client.get("/healthz").status_code == 200, 15, "the server to be healthy")
        yield client, settings


class Edge:
    """A real edge's gallery store fed through its real MQTT link."""

    def __init__(self, broker_url: str, folder: Path, edge_id: str) -> None:
        settings = EdgeSettings(
            edge_id=edge_id,
            mqtt_url=broker_url,
            outbox_path=folder / "outbox.sqlite3",
            face=FaceCheckInSettings(gallery_path=folder / "gallery.sqlite3"),
        )
        self.outbox = Outbox(settings.outbox_path)
        assert settings.face is not None
        self.face = FaceCheckIn(
            settings.face,
            edge_id=edge_id,
            outbox=self.outbox,
            clock=SystemClock(),
            status_interval=3600,
            on_queued=lambda: None,
        )
        self.link = MqttLink(
            settings,
            self.outbox,
            SystemClock(),
            devices=[],
            on_command=lambda _: None,
            on_gallery=self.face.on_gallery,
        )
        self.link.start()

    @property
    def people(self) -> list[str]:
        return self.face.store.gallery.people

    def close(self) -> None:
        self.link.stop()
        self.face.close()
        self.outbox.close()


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (120, 100, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _photo(faces_dir: Path, relative: str) -> tuple[str, bytes, str]:
    path = faces_dir / relative
    return (path.name, path.read_bytes(), "image/jpeg")


def test_enrolment_reaches_every_edge_and_deletion_removes_it_everywhere(
    server: tuple[TestClient, ServerSettings], faces_dir: Path, tmp_path: Path, database_url: str
) -> None:
    client, settings = server
    edge_id = f"edge-{uuid.uuid4().hex[:8]}"
    photos = [
        ("photos", _photo(faces_dir, "people/obama_1.jpg")),
        ("photos", _photo(faces_dir, "people/obama_2.jpg")),
    ]

    refused = client.post("/api/v1/faces/S-obama/photos", files=photos)
    assert refused.status_code == 403
    assert "consent" in refused.json()["detail"]

    consent = client.put(
        "/api/v1/faces/S-obama/consent", json={"recorded_by": "hr-li", "evidence": "form 17"}
    )
    assert consent.status_code == 200
    assert consent.json()["active"]
    enrolled = client.post("/api/v1/faces/S-obama/photos", files=photos)
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["encodings"] == 2

    # Bad photos: each named, nothing stored.
    client.put("/api/v1/faces/S-biden/consent", json={"recorded_by": "hr-li"})
    bad = client.post(
        "/api/v1/faces/S-biden/photos",
        files=[
            ("photos", _photo(faces_dir, "people/biden_2.jpg")),
            ("photos", _photo(faces_dir, "nofaces/coffee.png")),
            ("photos", _photo(faces_dir, "groups/obama_biden.jpg")),
            ("photos", ("scan.jpg", b"\xff\xd8 broken", "image/jpeg")),
            ("photos", ("thumb.png", _tiny_png(), "image/png")),
        ],
    )
    assert bad.status_code == 422
    problems = bad.json()["detail"]["problems"]
    assert any(p.startswith("coffee.png: no face found") for p in problems)
    assert any(p.startswith("obama_biden.jpg: 2 faces found") for p in problems)
    assert any(p.startswith("scan.jpg:") for p in problems)
    assert any(p.startswith("thumb.png: frame of 4x4 pixels is too small") for p in problems)
    assert client.get("/api/v1/faces/S-biden").json()["encodings"] == 0
    again = client.post("/api/v1/faces/S-obama/photos", files=photos[:1])
    assert "already enrolled" in again.json()["detail"]["problems"][0]

    # Encrypted at rest: the stored bytes are a Fernet token, not the floats; only the key opens them.
    engine = create_engine(database_url)
    with engine.connect() as c:
        tokens = [bytes(r[0]) for r in c.execute(select(face_encodings.c.encrypted))]
    engine.dispose()
    (expected,) = ENCODER.faces_in_photo(photos[0][1][1], "obama_1.jpg")
    raw = struct.pack("<128f", *expected)
    assert len(tokens) == 2
    assert all(raw[:64] not in token and raw[:64] not in base64.urlsafe_b64decode(token) for token in tokens)
    decrypted = [EncodingCipher(KEY).decrypt(t) for t in tokens]
    assert any(np.allclose(d, expected, atol=1e-6) for d in decrypted)
    with pytest.raises(EncodingCipherError):
        EncodingCipher("another-key-0123456789-abcdef").decrypt(tokens[0])

    # A live edge gets the gallery.
    edge = Edge(settings.broker_url, tmp_path / "edge1", edge_id)
    try:
        wait_until(lambda: edge.people == ["S-obama"], 15, "the edge to receive S-obama")
        probe = FaceEngine(FaceEngineConfig()).analyse_photo(
            load_photo(faces_dir / "people" / "obama_4.jpg")
        )[0]
        match = edge.face.store.gallery.identify(probe.encoding, 0.6)
        assert match is not None
        assert match.staff_id == "S-obama"
    finally:
        edge.close()

    # While it is offline: Biden enrolled, Obama deleted. On reconnect it catches up.
    assert (
        client.post(
            "/api/v1/faces/S-biden/photos", files=[("photos", _photo(faces_dir, "people/biden_2.jpg"))]
        ).status_code
        == 201
    )
    assert client.delete("/api/v1/faces/S-obama").status_code == 204
    assert client.get("/api/v1/faces/S-obama").json()["encodings"] == 0
    assert client.delete("/api/v1/faces/S-obama").status_code == 404
    edge = Edge(settings.broker_url, tmp_path / "edge1", edge_id)
    fresh = Edge(settings.broker_url, tmp_path / "edge2", f"{edge_id}-new")
    try:
        wait_until(lambda: edge.people == ["S-biden"], 15, "the returning edge to catch up")
        wait_until(lambda: fresh.people == ["S-biden"], 15, "a new edge to get the whole gallery")
        # Withdrawing consent deletes the face data on the live edges too.
        assert client.delete("/api/v1/faces/S-biden/consent").status_code == 204
        wait_until(lambda: edge.people == [] and fresh.people == [], 15, "the edges to forget S-biden")
        assert client.get("/api/v1/faces/gallery").json()["people"] == 0
        refused = client.post(
            "/api/v1/faces/S-biden/photos", files=[("photos", _photo(faces_dir, "people/biden_1.jpg"))]
        )
        assert refused.status_code == 403
    finally:
        edge.close()
        fresh.close()


def _observation(at: datetime, staff_id: str | None, track: int) -> FaceObservation:
    return FaceObservation.create(
        edge_id="edge-p",
        camera_id="cam-p",
        track_id=track,
        occurred_at=at,
        outcome=FaceOutcome.KNOWN if staff_id else FaceOutcome.UNKNOWN,
        staff_id=staff_id,
        distance=0.4,
        liveness=FaceLiveness.PASSED,
        snapshot_jpeg_b64=base64.b64encode(b"\xff\xd8\xff\xe0 jpeg").decode(),
    )


def test_the_retention_purge_drops_snapshots_on_their_own_clocks(database_url: str, tmp_path: Path) -> None:
    from server.adapters.db import create_db_engine
    from server.adapters.migrate import migrate

    migrate(database_url)
    engine = create_db_engine(database_url)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    events = {
        "unknown_old": _observation(now - timedelta(hours=7), None, 1),
        "unknown_new": _observation(now - timedelta(hours=1), None, 2),
        "known_old": _observation(now - timedelta(days=31), "S-1", 3),
        "known_new": _observation(now - timedelta(days=2), "S-1", 4),
    }
    SqlIngestStore(engine).store_batch(IngestBatch(events=list(events.values())), now)
    store = FaceStore(engine)
    faces = FaceEnrolment(
        store, EncodingCipher(KEY), FaceSettings(), encoder=None, publisher=None, clock=lambda: now
    )
    result = faces.purge()
    assert (result.unknown_snapshots, result.known_snapshots) == (1, 1)
    kept = {name: store.snapshot(e.event_id) is not None for name, e in events.items()}
    assert kept == {"unknown_old": False, "unknown_new": True, "known_old": False, "known_new": True}
    assert faces.purge().unknown_snapshots == 0
    engine.dispose()


def test_the_purge_runs_on_schedule_in_the_server(tmp_path: Path) -> None:
    settings = ServerSettings(
        database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        embedded_broker_port=free_port(),
        faces=FaceSettings(encryption_key=KEY, purge_interval_seconds=0.2, unknown_snapshot_hours=1),
    )
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 15, "the server to be healthy")
        sign_in(client, settings.database_url)
        old = _observation(datetime.now(UTC) - timedelta(hours=2), None, 9)
        faces: FaceEnrolment = client.app.state.faces  # type: ignore[attr-defined]
        SqlIngestStore(faces.store._engine).store_batch(IngestBatch(events=[old]), datetime.now(UTC))
        assert faces.store.snapshot(old.event_id) is not None
        wait_until(lambda: faces.store.snapshot(old.event_id) is None, 10, "the scheduled purge")
        photo = [("photos", ("a.jpg", b"x", "image/jpeg"))]
        reply = client.post("/api/v1/faces/S-x/photos", files=photo)
        assert reply.status_code == 403  # consent is checked first
        assert "no face consent on record for S-x" in reply.json()["detail"]
        client.put("/api/v1/faces/S-x/consent", json={"recorded_by": "hr"})
        reply = client.post("/api/v1/faces/S-x/photos", files=photo)
        assert reply.status_code == 503  # this app was built without a face engine
        assert "no face engine" in reply.json()["detail"]
