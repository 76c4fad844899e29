"""Terminal sync endpoints: push staff to an edge's terminals, disable them, copy fingerprints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from contracts import TerminalUser
from contracts.topics import TopicError, check_id
from server.api.dependencies import ApiContext, api_context
from server.services.terminal_sync import CommandSender, copy_templates, disable_staff, push_staff

terminal_router = APIRouter(prefix="/api/v1/edges/{edge_id}/terminals", tags=["terminals"])
Context = Annotated[ApiContext, Depends(api_context)]


class StaffPush(BaseModel):
    """Users to create or update (``enabled: false`` removes them) on the edge's terminals."""

    model_config = ConfigDict(extra="forbid")

    users: list[TerminalUser] = Field(min_length=1)
    device_serial: str | None = Field(default=None, description="one terminal; all of the edge's if none")


class StaffDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[str] = Field(min_length=1)
    device_serial: str | None = None


class TemplateCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_serial: str
    user_ids: list[str] | None = None


class CommandsSent(BaseModel):
    command_ids: list[str]


def _sender(context: ApiContext, edge_id: str) -> CommandSender:
    try:
        check_id(edge_id, "edge id")
    except TopicError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if context.command_sender is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this server sends no commands")
    return context.command_sender


def _sent(send: Callable[[], list[str]]) -> CommandsSent:
    try:
        return CommandsSent(command_ids=send())
    except ConnectionError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


@terminal_router.post("/users", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED)
def push_users(edge_id: str, body: StaffPush, context: Context) -> CommandsSent:
    """Send the users to the edge; it writes them to its terminals (result in their device status)."""
    sender = _sender(context, edge_id)
    now = datetime.now(UTC)
    return _sent(
        lambda: push_staff(
            sender, edge_id=edge_id, users=body.users, now=now, device_serial=body.device_serial
        )
    )


@terminal_router.post("/users/disable", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED)
def disable_users(edge_id: str, body: StaffDisable, context: Context) -> CommandsSent:
    """Stop the users punching on the edge's terminals; their records stay."""
    sender = _sender(context, edge_id)
    now = datetime.now(UTC)
    return _sent(
        lambda: disable_staff(
            sender, edge_id=edge_id, user_ids=body.user_ids, now=now, device_serial=body.device_serial
        )
    )


@terminal_router.post("/templates/copy", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED)
def copy_fingerprints(edge_id: str, body: TemplateCopy, context: Context) -> CommandsSent:
    """Copy fingerprints enrolled on one terminal to the edge's other terminals."""
    sender = _sender(context, edge_id)
    now = datetime.now(UTC)
    return _sent(
        lambda: [
            copy_templates(
                sender, edge_id=edge_id, source_serial=body.source_serial, now=now, user_ids=body.user_ids
            )
        ]
    )
