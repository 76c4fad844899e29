"""Server-to-edge commands (schema version 1): terminal clocks, reads, users, fingerprints, log clearing.

Each command is one member of the ``Command`` union, told apart by its ``action``; an
``EdgeCommand`` carries one to one edge on ``kaoqin/v1/edges/{edge}/commands``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from contracts.payload import Id
from contracts.payload import Payload as _Payload


class SetTimeCommand(_Payload):
    """Set a terminal's clock to the edge's clock in the terminal's configured zone."""

    action: Literal["set_time"] = "set_time"
    device_serial: Id


class ReadNowCommand(_Payload):
    """Read a terminal's log now instead of waiting for the next poll (all terminals if none named)."""

    action: Literal["read_now"] = "read_now"
    device_serial: Id | None = None


class TerminalUser(_Payload):
    """A staff member as a terminal stores them; ``user_id`` is the PIN typed or matched on it."""

    user_id: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9]+$")
    name: str = Field(default="", max_length=24)
    admin: bool = False
    card: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    enabled: bool = True


class UpsertUsersCommand(_Payload):
    """Create or update users on a terminal (on every terminal of the edge if none is named)."""

    action: Literal["upsert_users"] = "upsert_users"
    device_serial: Id | None = None
    users: list[TerminalUser] = Field(min_length=1, max_length=1000)


class DisableUsersCommand(_Payload):
    """Disable users so they can no longer punch; their records and templates stay on the device."""

    action: Literal["disable_users"] = "disable_users"
    device_serial: Id | None = None
    user_ids: list[str] = Field(min_length=1, max_length=1000)


class CopyTemplatesCommand(_Payload):
    """Copy fingerprint templates enrolled on one terminal to the edge's other terminals."""

    action: Literal["copy_templates"] = "copy_templates"
    source_serial: Id
    user_ids: list[str] | None = Field(default=None, description="all users with templates if none")
    target_serials: list[Id] | None = Field(
        default=None, description="this edge's terminals to copy to (all the others if none)"
    )
    to_server: bool = Field(
        default=False,
        description="also send them to the server as templates events, for the site's terminals on other edges",
    )


class TemplateFinger(_Payload):
    """One enrolled fingerprint: finger index 0-9 and the vendor template bytes in base64."""

    finger: int = Field(ge=0, le=9)
    template: str = Field(min_length=4, max_length=8192, pattern=r"^[A-Za-z0-9+/]+={0,2}$")


class UserTemplates(_Payload):
    """A user and their fingerprints, as a terminal stores them."""

    user: TerminalUser
    fingers: list[TemplateFinger] = Field(min_length=1, max_length=10)


class WriteTemplatesCommand(_Payload):
    """Store fingerprints read on another terminal of the same site (through another edge)."""

    action: Literal["write_templates"] = "write_templates"
    device_serial: Id
    source_serial: Id
    users: list[UserTemplates] = Field(min_length=1, max_length=1000)


class ClearLogCommand(_Payload):
    """Clear a terminal's log: done only if its policy allows and the server acknowledged every record."""

    action: Literal["clear_log"] = "clear_log"
    device_serial: Id


Command = Annotated[
    SetTimeCommand
    | ReadNowCommand
    | UpsertUsersCommand
    | DisableUsersCommand
    | CopyTemplatesCommand
    | WriteTemplatesCommand
    | ClearLogCommand,
    Field(discriminator="action"),
]


class EdgeCommand(_Payload):
    """A command from the server to one edge."""

    kind: Literal["command"] = "command"
    schema_version: Literal[1] = 1
    command_id: str = Field(min_length=1, max_length=64)
    edge_id: Id
    issued_at: AwareDatetime
    command: Command
