"""Builds attendance data through the real parts: contracts events stored by the real ingest store,
working-time data through the real HTTP API. Used by the attendance tests."""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from contracts import DeviceStatus, FaceObservation, PunchEvent
from contracts.events import DeviceKind, FaceLiveness, FaceOutcome, PunchFlag, PunchSource, VerifyMethod
from server.adapters.face_crypto import EncodingCipher
from server.adapters.face_store import FaceStore
from server.adapters.ingest_store import SqlIngestStore
from server.api.attendance_deps import AttendanceServices
from server.api.attendance_routes import attendance_router
from server.api.errors import install_error_handlers
from server.api.faces import face_router
from server.api.incident_routes import incident_router
from server.services.attendance_settings import AttendanceSettings
from server.services.face_enrolment import FaceEnrolment
from server.services.face_settings import FaceSettings
from server.services.incidents import Clock, utc_now
from server.services.ingest import IngestBatch

ZONE = ZoneInfo("Asia/Shanghai")
EDGE = "edge-bureau"
_VERIFY_CODES = {
    VerifyMethod.PASSWORD: 0,
    VerifyMethod.FINGERPRINT: 1,
    VerifyMethod.CARD: 4,
    VerifyMethod.FACE: 15,
}

TIMETABLE = {
    "name": "Bureau standard",
    "policy": "four_punches",
    "require_biometric": True,
    "versions": [
        {
            "name": "summer",
            "valid_from": "05-01",
            "valid_to": "09-30",
            "grace_minutes": 5,
            "sessions": [
                {"name": "morning", "start": "08:00", "end": "12:00"},
                {"name": "afternoon", "start": "15:00", "end": "18:00"},
            ],
        },
        {
            "name": "winter",
            "valid_from": "10-01",
            "valid_to": "04-30",
            "grace_minutes": 5,
            "sessions": [
                {"name": "morning", "start": "08:30", "end": "12:00"},
                {"name": "afternoon", "start": "14:30", "end": "17:30"},
            ],
        },
    ],
}


def local(day: date, hhmm: str, seconds: int = 0) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute, seconds), ZONE)


def attendance_app(
    engine: Engine, settings: AttendanceSettings | None = None, clock: Clock = utc_now
) -> FastAPI:
    """The attendance routers on a real database, without the MQTT side; the face router too,
    serving the evidence snapshots that incidents link to."""
    app = FastAPI()
    app.include_router(attendance_router)
    app.include_router(incident_router)
    app.include_router(face_router)
    install_error_handlers(app)
    app.state.attendance = AttendanceServices.build(engine, settings or AttendanceSettings(), clock)
    app.state.faces = FaceEnrolment(
        FaceStore(engine), EncodingCipher(_no_face_key), FaceSettings(), encoder=None, publisher=None
    )
    return app


def _no_face_key() -> str:
    raise AssertionError("the attendance tests enrol no faces")


class AttendanceWorld:
    def __init__(self, engine: Engine, client: TestClient) -> None:
        self.engine = engine
        self.ingest = SqlIngestStore(engine)
        self.client = client
        self._track = 0
        self._buffer: list[Any] | None = None

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        reply = self.client.request(method, path, **kw)
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None

    def _store(self, *events: Any, stored_at: datetime | None = None) -> None:
        if self._buffer is not None:
            self._buffer.extend(events)
            return
        self.ingest.store_batch(IngestBatch(events=list(events)), stored_at or events[0].occurred_at)

    def buffered(self) -> None:
        """Collect events until :meth:`flush` stores them in one batch (a month of data is large)."""
        self._buffer = []

    def flush(self) -> None:
        events, self._buffer = self._buffer or [], None
        if events:
            self.ingest.store_batch(IngestBatch(events=events), max(e.occurred_at for e in events))

    def punch(
        self,
        serial: str,
        pin: str,
        at: datetime,
        method: VerifyMethod = VerifyMethod.FINGERPRINT,
        observed_at: datetime | None = None,
        flags: list[PunchFlag] | None = None,
    ) -> str:
        event = PunchEvent.create(
            edge_id=EDGE,
            device_serial=serial,
            user_id=pin,
            device_time=at.replace(tzinfo=None),
            occurred_at=at,
            observed_at=observed_at or at + timedelta(seconds=2),
            verify_mode=_VERIFY_CODES[method],
            verify_method=method,
            punch_state=0,
            source=PunchSource.LIVE,
            flags=flags,
        )
        self._store(event, stored_at=event.observed_at)
        return event.event_id

    def face(
        self,
        camera: str,
        staff_id: str | None,
        at: datetime,
        terminal: str | None = None,
        liveness: FaceLiveness | None = None,
        snapshot_jpeg: bytes | None = None,
    ) -> str:
        self._track += 1
        event = FaceObservation.create(
            edge_id=EDGE,
            camera_id=camera,
            track_id=self._track,
            occurred_at=at,
            outcome=FaceOutcome.KNOWN if staff_id else FaceOutcome.UNKNOWN,
            staff_id=staff_id,
            distance=0.4 if staff_id else None,
            linked_terminal=terminal,
            liveness=liveness,
            snapshot_jpeg_b64=base64.b64encode(snapshot_jpeg).decode() if snapshot_jpeg else None,
        )
        self._store(event)
        return event.event_id

    def reported(self, device_id: str, until: datetime, kind: DeviceKind = DeviceKind.TERMINAL) -> None:
        """The device's edge reports it read everything up to ``until``."""
        event = DeviceStatus.create(
            edge_id=EDGE,
            device_id=device_id,
            device_kind=kind,
            occurred_at=until,
            reachable=True,
            last_read_at=until if kind is DeviceKind.TERMINAL else None,
        )
        self._store(event)

    def four_punches(
        self, serial: str, pin: str, day: date, times: tuple[str, ...] = ("07:55", "12:02", "14:55", "18:03")
    ) -> list[str]:
        return [self.punch(serial, pin, local(day, t)) for t in times]
