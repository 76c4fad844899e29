"""/api/v1/faces: consent, enrolment photos, deletion, the gallery's state, evidence snapshots, purge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    HTTPException,
    Path,
    Request,
    Response,
    UploadFile,
    status,
)
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from server.adapters.face_crypto import EncodingCipher, load_secret
from server.adapters.face_store import FaceStore
from server.services.face_enrolment import (
    ConsentMissing,
    EnrolmentRejected,
    FaceEnrolment,
    GalleryPublisher,
    Photo,
    PhotoEncoder,
)
from server.services.face_schedule import FaceSchedule
from server.services.face_settings import FaceSettings

face_router = APIRouter(prefix="/api/v1/faces", tags=["faces"])

StaffId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="staff id")]


def start_face_services(
    app: FastAPI,
    engine: Engine,
    settings: FaceSettings,
    *,
    encoder: PhotoEncoder | None,
    publisher: GalleryPublisher | None,
    broker_connected: Callable[[], bool],
) -> Callable[[], None]:
    """Build the enrolment service into ``app.state.faces`` and start its schedule; returns the stop."""
    secret = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    cipher = EncodingCipher(lambda: load_secret(secret, settings.encryption_key_file))
    faces = FaceEnrolment(FaceStore(engine), cipher, settings, encoder=encoder, publisher=publisher)
    schedule = FaceSchedule(faces, broker_connected, settings.purge_interval_seconds)
    app.state.faces = faces
    app.state.face_schedule = schedule
    schedule.start()
    return schedule.stop


def _faces(request: Request) -> FaceEnrolment:
    faces: FaceEnrolment = request.app.state.faces
    return faces


Faces = Annotated[FaceEnrolment, Depends(_faces)]


class ConsentIn(BaseModel):
    recorded_by: str = Field(min_length=1, max_length=128, description="who recorded the consent")
    evidence: str | None = Field(default=None, max_length=512, description="e.g. the signed form's number")


class ConsentOut(BaseModel):
    staff_id: str
    active: bool
    given_at: str
    recorded_by: str
    evidence: str | None
    withdrawn_at: str | None


class EnrolmentOut(BaseModel):
    staff_id: str
    added: int
    encodings: int
    gallery_version: int


class PersonOut(BaseModel):
    staff_id: str
    encodings: int
    consent: ConsentOut | None


class GalleryOut(BaseModel):
    version: int
    people: int
    buckets: int


class PurgeOut(BaseModel):
    unknown_snapshots: int
    known_snapshots: int
    people_expired: list[str]


def _consent_out(faces: FaceEnrolment, staff_id: str) -> ConsentOut | None:
    consent = faces.store.consent(staff_id)
    if consent is None:
        return None
    return ConsentOut(
        staff_id=staff_id,
        active=consent.active,
        given_at=consent.given_at.isoformat(),
        recorded_by=consent.recorded_by,
        evidence=consent.evidence,
        withdrawn_at=consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
    )


@face_router.put("/{staff_id}/consent", response_model=ConsentOut)
def record_consent(staff_id: StaffId, body: ConsentIn, faces: Faces) -> ConsentOut | None:
    faces.record_consent(staff_id, body.recorded_by, body.evidence)
    return _consent_out(faces, staff_id)


@face_router.delete("/{staff_id}/consent", status_code=status.HTTP_204_NO_CONTENT)
def withdraw_consent(staff_id: StaffId, faces: Faces) -> Response:
    """Withdraw consent: the person's face data is deleted here and on every edge."""
    if not faces.withdraw_consent(staff_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active face consent for {staff_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@face_router.post("/{staff_id}/photos", response_model=EnrolmentOut, status_code=status.HTTP_201_CREATED)
async def enrol_photos(
    staff_id: StaffId, faces: Faces, photos: Annotated[list[UploadFile], File(description="one face each")]
) -> EnrolmentOut:
    """Enrol one or more photos; if any photo is unusable nothing is stored and each problem is named."""
    read = [Photo(p.filename or f"photo {i + 1}", await p.read()) for i, p in enumerate(photos)]
    try:
        result = await run_in_threadpool(faces.enrol, staff_id, read)
    except ConsentMissing as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except EnrolmentRejected as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"problems": exc.problems}) from exc
    except RuntimeError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return EnrolmentOut(**result.__dict__)


@face_router.get("/gallery", response_model=GalleryOut)
def gallery_state(faces: Faces) -> GalleryOut:
    version, buckets = faces.store.head()
    return GalleryOut(version=version, people=len(faces.store.enrolled()), buckets=len(buckets))


@face_router.post("/purge", response_model=PurgeOut)
def purge_now(faces: Faces) -> PurgeOut:
    """Run the retention purge now (it also runs on schedule)."""
    result = faces.purge()
    return PurgeOut(**result.__dict__)


@face_router.get("/observations/{event_id}/snapshot", responses={200: {"content": {"image/jpeg": {}}}})
def observation_snapshot(event_id: str, faces: Faces) -> Response:
    """The evidence snapshot of a face check-in, while its retention lasts."""
    jpeg = faces.store.snapshot(event_id)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no snapshot for {event_id} (never sent, or purged)")
    return Response(jpeg, media_type="image/jpeg")


@face_router.get("/{staff_id}", response_model=PersonOut)
def person(staff_id: StaffId, faces: Faces) -> PersonOut:
    return PersonOut(
        staff_id=staff_id,
        encodings=len(faces.store.encodings_of(staff_id)),
        consent=_consent_out(faces, staff_id),
    )


@face_router.delete("/{staff_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_person(staff_id: StaffId, faces: Faces) -> Response:
    """Delete the person's face data (encodings, check-in snapshots) here and, through the gallery,
    on every edge."""
    if not faces.delete(staff_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no face data for {staff_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
