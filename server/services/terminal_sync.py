"""Staff lists and fingerprint templates pushed to an edge's terminals, as EdgeCommands.

The staff table is another part of the server; this service takes the users to push as
``contracts.TerminalUser`` values and sends them in batches the edge applies one terminal at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from contracts import (
    CopyTemplatesCommand,
    DisableUsersCommand,
    EdgeCommand,
    TerminalUser,
    UpsertUsersCommand,
)

# The contract's limit per command; a larger staff list goes in several commands.
BATCH = 1000


class CommandSender(Protocol):
    def publish_command(self, command: EdgeCommand) -> None:
        """Send one command to its edge; raises ConnectionError when it cannot."""
        ...


def _command(edge_id: str, now: datetime, action: object) -> EdgeCommand:
    return EdgeCommand.model_validate(
        {"command_id": uuid.uuid4().hex, "edge_id": edge_id, "issued_at": now, "command": action}
    )


def push_staff(
    sender: CommandSender,
    *,
    edge_id: str,
    users: Sequence[TerminalUser],
    now: datetime,
    device_serial: str | None = None,
) -> list[str]:
    """Create or update (or, for ``enabled=False``, disable) ``users`` on the edge's terminals
    (one terminal if ``device_serial`` is given). Returns the command ids sent."""
    sent = []
    for start in range(0, len(users), BATCH):
        action = UpsertUsersCommand(device_serial=device_serial, users=list(users[start : start + BATCH]))
        command = _command(edge_id, now, action)
        sender.publish_command(command)
        sent.append(command.command_id)
    return sent


def disable_staff(
    sender: CommandSender,
    *,
    edge_id: str,
    user_ids: Sequence[str],
    now: datetime,
    device_serial: str | None = None,
) -> list[str]:
    """Stop ``user_ids`` from punching on the edge's terminals; their records stay."""
    sent = []
    for start in range(0, len(user_ids), BATCH):
        action = DisableUsersCommand(
            device_serial=device_serial, user_ids=list(user_ids[start : start + BATCH])
        )
        command = _command(edge_id, now, action)
        sender.publish_command(command)
        sent.append(command.command_id)
    return sent


def copy_templates(
    sender: CommandSender,
    *,
    edge_id: str,
    source_serial: str,
    now: datetime,
    user_ids: Sequence[str] | None = None,
) -> str:
    """Copy fingerprints enrolled on ``source_serial`` to the other terminals of its edge (its site)."""
    action = CopyTemplatesCommand(source_serial=source_serial, user_ids=list(user_ids) if user_ids else None)
    command = _command(edge_id, now, action)
    sender.publish_command(command)
    return command.command_id
