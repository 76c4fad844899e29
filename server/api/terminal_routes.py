"""Terminal sync endpoints: push staff to an edge's terminals, disable them, copy fingerprints;
push a site's staff (from the server's staff list) to every terminal of the site."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from contracts import TerminalUser
from contracts.topics import TopicError, check_id
from server.adapters.site_roster_store import SqlSiteRoster
from server.api.dependencies import ApiContext, api_context
from server.services.terminal_sync import (
    CommandSender,
    UnknownSite,
    UnknownTerminal,
    copy_site_templates,
    copy_templates,
    disable_staff,
    push_site_staff,
    push_staff,
)

terminal_router = APIRouter(tags=["terminals"])
_EDGE = "/api/v1/edges/{edge_id}/terminals"
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


class TerminalReached(BaseModel):
    serial: str
    edge_id: str


class SiteStaffSent(BaseModel):
    """The commands sent, one per terminal reached; terminals no edge has reported yet (so not
    reached: push again once they are up); staff ids no terminal can take, each with why."""

    command_ids: list[str]
    users: int = Field(description="terminal users sent to each terminal")
    terminals: list[TerminalReached]
    unplaced: list[str] = Field(description="serials of the site's terminals no edge has reported")
    skipped: list[str]


class SiteTemplateCopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_serial: str = Field(description="the terminal the fingerprints were enrolled on")
    user_ids: list[str] | None = Field(default=None, description="all users with templates if none")


class SiteTemplatesSent(BaseModel):
    """The command sent to the source's edge; the terminals it copies to itself, those reached through
    the server (templates events relayed as write_templates commands), and those no edge reported."""

    command_id: str
    same_edge: list[str]
    other_edges: list[TerminalReached]
    unplaced: list[str]


def _sender(context: ApiContext, edge_id: str | None) -> CommandSender:
    try:
        if edge_id is not None:
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
    except ValueError as exc:  # the command's contract refused a value (e.g. an empty serial)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@terminal_router.post(f"{_EDGE}/users", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED)
def push_users(edge_id: str, body: StaffPush, context: Context) -> CommandsSent:
    """Send the users to the edge; it writes them to its terminals (result in their device status)."""
    sender = _sender(context, edge_id)
    now = datetime.now(UTC)
    return _sent(
        lambda: push_staff(
            sender, edge_id=edge_id, users=body.users, now=now, device_serial=body.device_serial
        )
    )


@terminal_router.post(
    f"{_EDGE}/users/disable", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED
)
def disable_users(edge_id: str, body: StaffDisable, context: Context) -> CommandsSent:
    """Stop the users punching on the edge's terminals; their records stay."""
    sender = _sender(context, edge_id)
    now = datetime.now(UTC)
    return _sent(
        lambda: disable_staff(
            sender, edge_id=edge_id, user_ids=body.user_ids, now=now, device_serial=body.device_serial
        )
    )


@terminal_router.post(
    f"{_EDGE}/templates/copy", response_model=CommandsSent, status_code=status.HTTP_202_ACCEPTED
)
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


@terminal_router.post(
    "/api/v1/sites/{site_id}/terminals/staff",
    response_model=SiteStaffSent,
    status_code=status.HTTP_202_ACCEPTED,
)
def push_site_staff_to_terminals(site_id: str, context: Context) -> SiteStaffSent:
    """Send the site's staff (with their terminal user ids; inactive staff disabled, their
    fingerprints kept) to each of the site's terminals, through the edge each one reports to."""
    sender = _sender(context, None)
    try:
        pushed = push_site_staff(
            sender, SqlSiteRoster(context.engine), site_id=site_id, now=datetime.now(UTC)
        )
    except UnknownSite as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ConnectionError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return SiteStaffSent(
        command_ids=pushed.command_ids,
        users=pushed.users,
        terminals=[TerminalReached(serial=t.serial, edge_id=t.edge_id or "") for t in pushed.terminals],
        unplaced=pushed.unplaced,
        skipped=pushed.skipped,
    )


@terminal_router.post(
    "/api/v1/sites/{site_id}/terminals/templates/copy",
    response_model=SiteTemplatesSent,
    status_code=status.HTTP_202_ACCEPTED,
)
def copy_site_fingerprints(site_id: str, body: SiteTemplateCopyIn, context: Context) -> SiteTemplatesSent:
    """Copy fingerprints enrolled on one terminal to every other terminal of its site, whichever
    edge each stands behind (the result shows in the terminals' device status)."""
    sender = _sender(context, None)
    try:
        copy = copy_site_templates(
            sender,
            SqlSiteRoster(context.engine),
            site_id=site_id,
            source_serial=body.source_serial,
            user_ids=body.user_ids,
            now=datetime.now(UTC),
        )
    except (UnknownSite, UnknownTerminal) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ConnectionError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return SiteTemplatesSent(
        command_id=copy.command_id,
        same_edge=copy.same_edge,
        other_edges=[TerminalReached(serial=t.serial, edge_id=t.edge_id or "") for t in copy.other_edges],
        unplaced=copy.unplaced,
    )
