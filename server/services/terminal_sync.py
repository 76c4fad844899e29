"""Staff lists and fingerprint templates pushed to terminals, as EdgeCommands.

``push_staff`` sends given ``contracts.TerminalUser`` values to one edge; ``push_site_staff``
builds them from the server's staff list (the staff of a site and their terminal user ids) and
sends them to every terminal of the site, through whichever edge each terminal reports to. Either
way the edge applies them one terminal at a time, in batches of ``BATCH``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from contracts import (
    CopyTemplatesCommand,
    DisableUsersCommand,
    EdgeCommand,
    TemplatesEvent,
    TerminalUser,
    UpsertUsersCommand,
    WriteTemplatesCommand,
)

logger = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- a site's staff to its terminals

# The contract's rule for a terminal PIN (contracts.TerminalUser.user_id).
_PIN = re.compile(r"^[A-Za-z0-9]{1,24}$")
_NAME_MAX = 24


@dataclass(frozen=True)
class SiteTerminal:
    """A terminal standing at a site; ``edge_id`` is None until an edge has reported it."""

    serial: str
    edge_id: str | None


@dataclass(frozen=True)
class SiteStaffMember:
    staff_id: str
    name: str
    active: bool
    terminal_user_ids: list[str]


class SiteRoster(Protocol):
    def site_exists(self, site_id: str) -> bool: ...

    def site_of(self, serial: str) -> str | None:
        """The site a terminal stands at (None: at no site)."""
        ...

    def site_terminals(self, site_id: str) -> list[SiteTerminal]: ...

    def site_staff(self, site_id: str) -> list[SiteStaffMember]: ...


class UnknownSite(LookupError):
    """The site is not in the server's working-time data."""


@dataclass
class SitePush:
    """What was sent: command ids, the terminals reached, those no edge has reported yet, and the
    staff whose terminal user id no terminal can take."""

    command_ids: list[str] = field(default_factory=list)
    terminals: list[SiteTerminal] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    users: int = 0


def site_terminal_users(staff: Sequence[SiteStaffMember]) -> tuple[list[TerminalUser], list[str]]:
    """One terminal user per terminal user id of each staff member (inactive ones disabled), and
    a reason for each id a terminal cannot store."""
    users: list[TerminalUser] = []
    skipped: list[str] = []
    for member in staff:
        if not member.terminal_user_ids:
            skipped.append(f"staff {member.staff_id} has no terminal user id")
        for pin in member.terminal_user_ids:
            if not _PIN.fullmatch(pin):
                skipped.append(
                    f"staff {member.staff_id}: terminal user id {pin!r} is not 1-24 letters or digits"
                )
                continue
            users.append(TerminalUser(user_id=pin, name=member.name[:_NAME_MAX], enabled=member.active))
    return users, skipped


def push_site_staff(sender: CommandSender, roster: SiteRoster, *, site_id: str, now: datetime) -> SitePush:
    """Create or update the staff of ``site_id`` on each of its terminals (inactive staff are
    disabled there), one ``upsert_users`` command per terminal through the edge it reports to."""
    if not roster.site_exists(site_id):
        raise UnknownSite(f"no site {site_id!r}")
    users, skipped = site_terminal_users(roster.site_staff(site_id))
    result = SitePush(skipped=skipped, users=len(users))
    by_edge: dict[str, list[SiteTerminal]] = defaultdict(list)
    for terminal in roster.site_terminals(site_id):
        if terminal.edge_id is None:
            result.unplaced.append(terminal.serial)
        else:
            by_edge[terminal.edge_id].append(terminal)
    if not users:
        return result
    for edge_id, terminals in sorted(by_edge.items()):
        for terminal in terminals:
            result.command_ids += push_staff(
                sender, edge_id=edge_id, users=users, now=now, device_serial=terminal.serial
            )
            result.terminals.append(terminal)
    return result


# ---------------------------------------------------------------- fingerprints to a site's terminals


class UnknownTerminal(LookupError):
    """The terminal is not at the site, or no edge has reported it yet."""


@dataclass
class SiteTemplateCopy:
    """Where the fingerprints go: the source's own edge copies to ``same_edge`` itself; those
    behind ``other_edges`` get them through the server (templates event -> write_templates)."""

    command_id: str
    same_edge: list[str]
    other_edges: list[SiteTerminal]
    unplaced: list[str]


def copy_site_templates(
    sender: CommandSender,
    roster: SiteRoster,
    *,
    site_id: str,
    source_serial: str,
    now: datetime,
    user_ids: Sequence[str] | None = None,
) -> SiteTemplateCopy:
    """Copy the fingerprints enrolled on ``source_serial`` to every other terminal of its site."""
    if not roster.site_exists(site_id):
        raise UnknownSite(f"no site {site_id!r}")
    terminals = roster.site_terminals(site_id)
    source = next((t for t in terminals if t.serial == source_serial), None)
    if source is None:
        raise UnknownTerminal(f"terminal {source_serial!r} is not at site {site_id!r}")
    if source.edge_id is None:
        raise UnknownTerminal(f"no edge has reported terminal {source_serial!r} yet")
    others = [t for t in terminals if t.serial != source_serial]
    same_edge = [t.serial for t in others if t.edge_id == source.edge_id]
    other_edges = [t for t in others if t.edge_id not in (None, source.edge_id)]
    action = CopyTemplatesCommand(
        source_serial=source_serial,
        user_ids=list(user_ids) if user_ids else None,
        target_serials=same_edge,
        to_server=bool(other_edges),
    )
    command = _command(source.edge_id, now, action)
    sender.publish_command(command)
    unplaced = [t.serial for t in others if t.edge_id is None]
    return SiteTemplateCopy(command.command_id, same_edge, other_edges, unplaced)


class TemplateRelay:
    """Sends the fingerprints of a templates event to the terminals of the source's site behind
    other edges (the source's own edge wrote its own terminals). Nothing is stored on the server."""

    def __init__(
        self,
        roster: SiteRoster,
        sender: CommandSender | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._roster = roster
        self.sender = sender  # set once the MQTT client exists (it needs the ingest service first)
        self._clock = clock or (lambda: datetime.now(UTC))

    def relay(self, event: TemplatesEvent) -> list[str]:
        """Send one write_templates command per target terminal; raises ConnectionError if it cannot."""
        if self.sender is None:
            raise ConnectionError("no command sender yet")
        site = self._roster.site_of(event.device_serial)
        if site is None:
            logger.warning("templates from %s: the terminal is at no site; not copied", event.device_serial)
            return []
        sent = []
        for target in self._roster.site_terminals(site):
            if target.edge_id is None or target.edge_id == event.edge_id:
                continue
            action = WriteTemplatesCommand(
                device_serial=target.serial, source_serial=event.device_serial, users=event.users
            )
            command = _command(target.edge_id, self._clock(), action)
            self.sender.publish_command(command)
            sent.append(command.command_id)
        logger.info(
            "templates of %d users from %s relayed to %d terminals",
            len(event.users),
            event.device_serial,
            len(sent),
        )
        return sent
