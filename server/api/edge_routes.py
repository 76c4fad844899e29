"""Edges: their reported status and MQTT credentials; registration issues credentials once,
rotation and revocation change them.

The password appears only in the response of the registration or rotation that issued it; every
other answer describes the credentials without it. The broker learns of a change when its password
file is regenerated (``kaoqin broker password-file``) and it is reloaded: docs/security.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from server.adapters.edge_credential_store import SqlCredentialStore
from server.api.dependencies import ApiContext, api_context
from server.api.schemas import EdgeCredentialPublic, EdgePublic
from server.services.edge_credentials import (
    CredentialError,
    EdgeAlreadyRegistered,
    EdgeCredential,
    EdgeCredentials,
    EdgeNotRegistered,
    EdgeRevoked,
    IssuedCredential,
    RotatedConcurrently,
)

edge_router = APIRouter(prefix="/api/v1/edges", tags=["edges"])

_APPLY = "regenerate the broker's password file (kaoqin broker password-file) and reload the broker"


def edge_credentials(context: Annotated[ApiContext, Depends(api_context)]) -> EdgeCredentials:
    return EdgeCredentials(SqlCredentialStore(context.engine))


Credentials = Annotated[EdgeCredentials, Depends(edge_credentials)]
Context = Annotated[ApiContext, Depends(api_context)]


class EdgeRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edge_id: str = Field(description="the edge agent's edge_id; also its MQTT username")


class EdgeOut(BaseModel):
    """An edge's credentials as far as they may be shown: never the password or its hash."""

    edge_id: str
    mqtt_username: str
    generation: int = Field(description="1 when issued, +1 on every rotation")
    issued_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, credential: EdgeCredential) -> EdgeOut:
        return cls(
            edge_id=credential.edge_id,
            mqtt_username=credential.username,
            generation=credential.generation,
            issued_at=credential.issued_at,
            rotated_at=credential.rotated_at,
            revoked_at=credential.revoked_at,
        )


class IssuedOut(EdgeOut):
    mqtt_password: str = Field(description="shown only in this response: put it in the edge's password file")
    next_step: str = Field(description="what makes the broker accept it")

    @classmethod
    def issued(cls, issued: IssuedCredential) -> IssuedOut:
        shown = EdgeOut.of(issued.credential).model_dump()
        return cls(**shown, mqtt_password=issued.password, next_step=_APPLY)


def _refusal(exc: CredentialError) -> HTTPException:
    if isinstance(exc, EdgeNotRegistered):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, EdgeAlreadyRegistered | EdgeRevoked | RotatedConcurrently):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))  # e.g. an unusable edge id


@edge_router.post("", response_model=IssuedOut, status_code=status.HTTP_201_CREATED)
def register_edge(body: EdgeRegistration, service: Credentials) -> IssuedOut:
    """Register an edge and issue its MQTT credentials (the password is shown only here)."""
    try:
        return IssuedOut.issued(service.register(body.edge_id, datetime.now(UTC)))
    except CredentialError as exc:
        raise _refusal(exc) from None


def _edges(statuses: list[dict[str, Any]], credentials: list[EdgeCredential]) -> list[EdgePublic]:
    """One entry per edge known by a status report or a registration, by edge id."""
    by_status = {str(row["edge_id"]): row for row in statuses}
    by_credential = {credential.edge_id: credential for credential in credentials}
    edges = []
    for edge_id in sorted(by_status.keys() | by_credential.keys()):
        row: dict[str, Any] = by_status.get(edge_id, {})
        credential = by_credential.get(edge_id)
        edges.append(
            EdgePublic(
                edge_id=edge_id,
                state=row.get("state"),
                software_version=row.get("software_version"),
                devices=row.get("devices") or [],
                status_at=row.get("status_at"),
                updated_at=row.get("updated_at"),
                credential=None
                if credential is None
                else EdgeCredentialPublic(
                    mqtt_username=credential.username,
                    generation=credential.generation,
                    issued_at=credential.issued_at,
                    rotated_at=credential.rotated_at,
                    revoked_at=credential.revoked_at,
                ),
            )
        )
    return edges


@edge_router.get("", response_model=list[EdgePublic])
def list_edges(context: Context, service: Credentials) -> list[EdgePublic]:
    """Every edge that has reported its status or was registered: its latest status and the state
    of its MQTT credentials (never the password)."""
    return _edges(context.read_store.edges(), service.list_all())


@edge_router.get("/{edge_id}", response_model=EdgePublic)
def get_edge(edge_id: str, context: Context, service: Credentials) -> EdgePublic:
    """One edge: its latest status and the state of its MQTT credentials (never the password)."""
    statuses = [row for row in context.read_store.edges() if row["edge_id"] == edge_id]
    try:
        credentials = [service.get(edge_id)]
    except EdgeNotRegistered:
        credentials = []  # an edge on a broker without passwords reports without registering
    found = _edges(statuses, credentials)
    if not found:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"edge {edge_id!r} has neither reported nor been registered"
        )
    return found[0]


@edge_router.post("/{edge_id}/credentials/rotate", response_model=IssuedOut)
def rotate_credentials(edge_id: str, service: Credentials) -> IssuedOut:
    """A new password (generation+1); the old one is refused once the broker is reloaded."""
    try:
        return IssuedOut.issued(service.rotate(edge_id, datetime.now(UTC)))
    except CredentialError as exc:
        raise _refusal(exc) from None


@edge_router.post("/{edge_id}/credentials/revoke", response_model=EdgeOut)
def revoke_credentials(edge_id: str, service: Credentials) -> EdgeOut:
    """Stop the edge connecting (once the broker is reloaded); its row stays with ``revoked_at``."""
    try:
        return EdgeOut.of(service.revoke(edge_id, datetime.now(UTC)))
    except CredentialError as exc:
        raise _refusal(exc) from None
