"""/api/v1/registry: register, list, change and delete terminals and cameras of edges.

Refusals name the field: ``{"detail": "<all problems>", "fields": {"serial": "..."}}`` with 422 for
values that cannot be used, 409 for a serial or camera id registered already (or a terminal cameras
still link to), 404 for one that is not registered. Every accepted change is published to its edge
as the retained config message (server/services/edge_config_publisher.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from server.adapters.firmware_catalog import load_terminal_models
from server.adapters.registry_store import SqlRegistryStore
from server.services.device_registry import (
    AlreadyRegistered,
    CameraEntry,
    DeviceRegistry,
    NotRegistered,
    RegisteredCamera,
    RegisteredTerminal,
    RegistryError,
    StillInUse,
    TerminalEntry,
)
from server.services.edge_config_publisher import EdgeConfigPublisher, RetainedPublisher

registry_router = APIRouter(prefix="/api/v1/registry", tags=["device registry"])


@dataclass
class RegistryServices:
    """``app.state.registry``: the registry (which tells the edges' config publisher of every change)
    and its store."""

    registry: DeviceRegistry
    store: SqlRegistryStore


def start_registry_services(
    app: FastAPI, engine: Engine, firmware_configs_dir: Path, publisher: RetainedPublisher | None
) -> Callable[[], None]:
    """Build the registry into ``app.state.registry`` and start publishing configs; returns the stop."""
    store = SqlRegistryStore(engine)
    registry = DeviceRegistry(store, load_terminal_models(firmware_configs_dir))
    config_publisher = EdgeConfigPublisher(registry, store, publisher, lambda: datetime.now(UTC))
    registry.on_change = config_publisher.changed
    app.state.registry = RegistryServices(registry, store)
    config_publisher.start()
    return config_publisher.stop


def registry_services(request: Request) -> RegistryServices:
    services: RegistryServices = request.app.state.registry
    return services


Services = Annotated[RegistryServices, Depends(registry_services)]


def refusal(exc: RegistryError) -> JSONResponse:
    code = (
        status.HTTP_409_CONFLICT
        if isinstance(exc, AlreadyRegistered | StillInUse)
        else status.HTTP_404_NOT_FOUND
        if isinstance(exc, NotRegistered)
        else status.HTTP_422_UNPROCESSABLE_CONTENT
    )
    return JSONResponse({"detail": str(exc), "fields": exc.problems}, status_code=code)


_REFUSALS: dict[int | str, dict[str, object]] = {
    404: {"description": "not registered"},
    409: {"description": "registered already, or still linked to"},
    422: {"description": "values that cannot be used; 'fields' says which and why"},
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TerminalChange(_In):
    model: str = Field(max_length=64, description="firmware config name (GET /api/v1/registry/models)")
    site_id: str = Field(max_length=64)
    edge_id: str = Field(max_length=64, description="a registered edge (POST /api/v1/edges)")
    host: str | None = Field(default=None, max_length=255, description="none for push-only (ADMS) models")
    port: int = Field(default=4370, ge=1, le=65535)
    transport: Literal["tcp", "udp"] = "tcp"
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    comm_key: int = Field(default=0, ge=0, le=999999)

    def entry(self, serial: str) -> TerminalEntry:
        return TerminalEntry(serial=serial, **self.model_dump(exclude={"serial"}))


class TerminalIn(TerminalChange):
    serial: str = Field(max_length=64, description="as on the label, e.g. AIOR192960031")


class TerminalOut(BaseModel):
    serial: str
    model: str
    connection: Literal["pull", "push"]
    site_id: str
    edge_id: str
    host: str | None
    port: int
    transport: str
    timezone: str
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: RegisteredTerminal) -> TerminalOut:
        return cls(**{name: getattr(t, name) for name in cls.model_fields})


class CameraChange(_In):
    source: str = Field(max_length=1024, description="stream URL (rtsp://...) or device index (0, 1, ...)")
    linked_terminal: str = Field(max_length=64, description="serial of the registered terminal beside it")
    edge_id: str = Field(max_length=64)

    def entry(self, camera_id: str) -> CameraEntry:
        return CameraEntry(camera_id=camera_id, **self.model_dump(exclude={"camera_id"}))


class CameraIn(CameraChange):
    camera_id: str = Field(max_length=64)


class CameraOut(BaseModel):
    camera_id: str
    source: str
    linked_terminal: str
    edge_id: str
    site_id: str
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: RegisteredCamera) -> CameraOut:
        return cls(**{name: getattr(c, name) for name in cls.model_fields})


class ModelOut(BaseModel):
    name: str
    description: str
    connection: Literal["pull", "push"]
    pull_transports: list[str]


def _now() -> datetime:
    return datetime.now(UTC)


@registry_router.get("/models", response_model=list[ModelOut])
def list_models(services: Services) -> list[ModelOut]:
    """The firmware configs a terminal may be registered as."""
    return [
        ModelOut(
            name=m.name,
            description=m.description,
            connection=m.connection,
            pull_transports=list(m.pull_transports),
        )
        for m in services.registry.models.values()
    ]


@registry_router.get("/terminals", response_model=list[TerminalOut])
def list_terminals(services: Services, edge: str | None = None) -> list[TerminalOut]:
    return [TerminalOut.of(t) for t in services.store.terminals(edge)]


@registry_router.post(
    "/terminals", response_model=TerminalOut, status_code=status.HTTP_201_CREATED, responses=_REFUSALS
)
def register_terminal(body: TerminalIn, services: Services) -> TerminalOut | JSONResponse:
    """Register a terminal to an edge; the edge starts polling it (pull) or accepts its uploads (push)."""
    try:
        terminal = services.registry.register_terminal(body.entry(body.serial), _now())
    except RegistryError as exc:
        return refusal(exc)
    return TerminalOut.of(terminal)


@registry_router.put("/terminals/{serial}", response_model=TerminalOut, responses=_REFUSALS)
def update_terminal(serial: str, body: TerminalChange, services: Services) -> TerminalOut | JSONResponse:
    try:
        terminal = services.registry.update_terminal(body.entry(serial), _now())
    except RegistryError as exc:
        return refusal(exc)
    return TerminalOut.of(terminal)


@registry_router.delete("/terminals/{serial}", status_code=status.HTTP_204_NO_CONTENT, responses=_REFUSALS)
def delete_terminal(serial: str, services: Services) -> Response:
    """Delete a registration; its edge stops polling the terminal (punches already read are kept)."""
    try:
        services.registry.delete_terminal(serial)
    except RegistryError as exc:
        return refusal(exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@registry_router.get("/cameras", response_model=list[CameraOut])
def list_cameras(services: Services, edge: str | None = None) -> list[CameraOut]:
    return [CameraOut.of(c) for c in services.store.cameras(edge)]


@registry_router.post(
    "/cameras", response_model=CameraOut, status_code=status.HTTP_201_CREATED, responses=_REFUSALS
)
def register_camera(body: CameraIn, services: Services) -> CameraOut | JSONResponse:
    try:
        camera = services.registry.register_camera(body.entry(body.camera_id), _now())
    except RegistryError as exc:
        return refusal(exc)
    return CameraOut.of(camera)


@registry_router.put("/cameras/{camera_id}", response_model=CameraOut, responses=_REFUSALS)
def update_camera(camera_id: str, body: CameraChange, services: Services) -> CameraOut | JSONResponse:
    try:
        camera = services.registry.update_camera(body.entry(camera_id), _now())
    except RegistryError as exc:
        return refusal(exc)
    return CameraOut.of(camera)


@registry_router.delete("/cameras/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_REFUSALS)
def delete_camera(camera_id: str, services: Services) -> Response:
    try:
        services.registry.delete_camera(camera_id)
    except RegistryError as exc:
        return refusal(exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
