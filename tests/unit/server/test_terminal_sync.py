from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import DisableUsersCommand, EdgeCommand, TerminalUser, UpsertUsersCommand
from server.services.terminal_sync import (
    BATCH,
    SiteStaffMember,
    SiteTerminal,
    UnknownSite,
    copy_templates,
    disable_staff,
    push_site_staff,
    push_staff,
)

NOW = datetime(2026, 11, 2, tzinfo=UTC)


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[EdgeCommand] = []

    def publish_command(self, command: EdgeCommand) -> None:
        self.sent.append(command)


def test_a_large_staff_list_goes_in_batches_to_the_named_edge() -> None:
    sender = RecordingSender()
    users = [TerminalUser(user_id=str(n), name=f"Staff {n}") for n in range(BATCH + 5)]
    ids = push_staff(sender, edge_id="edge-1", users=users, now=NOW, device_serial="SN1")
    assert [c.command_id for c in sender.sent] == ids
    assert all(c.edge_id == "edge-1" for c in sender.sent)
    actions = [c.command for c in sender.sent]
    assert all(isinstance(a, UpsertUsersCommand) and a.device_serial == "SN1" for a in actions)
    assert [len(a.users) for a in actions if isinstance(a, UpsertUsersCommand)] == [BATCH, 5]


def test_disable_and_copy_build_their_commands() -> None:
    sender = RecordingSender()
    disable_staff(sender, edge_id="edge-1", user_ids=["0042"], now=NOW)
    copy_templates(sender, edge_id="edge-1", source_serial="SN-GATE", now=NOW)
    disable, copy = (c.command for c in sender.sent)
    assert isinstance(disable, DisableUsersCommand)
    assert disable.user_ids == ["0042"]
    assert copy.model_dump()["source_serial"] == "SN-GATE"


def test_bad_staff_entries_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="user_id"):
        TerminalUser(user_id="12 34")


class SiteRosterInMemory:
    """The server's staff list of one site, as the SQL roster would return it."""

    def __init__(self, terminals: list[SiteTerminal], staff: list[SiteStaffMember]) -> None:
        self.terminals, self.staff = terminals, staff

    def site_exists(self, site_id: str) -> bool:
        return site_id == "site-a"

    def site_of(self, serial: str) -> str | None:
        return "site-a" if any(t.serial == serial for t in self.terminals) else None

    def site_terminals(self, site_id: str) -> list[SiteTerminal]:
        return self.terminals

    def site_staff(self, site_id: str) -> list[SiteStaffMember]:
        return self.staff


def test_a_sites_staff_go_to_each_of_its_terminals_through_their_edges() -> None:
    roster = SiteRosterInMemory(
        [SiteTerminal("SN-GATE", "edge-1"), SiteTerminal("SN-HALL", "edge-2"), SiteTerminal("SN-NEW", None)],
        [
            SiteStaffMember("s-1", "Wang Wei", True, ["1001", "0042"]),
            SiteStaffMember("s-2", "Li Na, who has left", False, ["2002"]),
            SiteStaffMember("s-3", "Zhao Min", True, ["bad pin"]),
            SiteStaffMember("s-4", "Sun Li", True, []),
        ],
    )
    sender = RecordingSender()
    pushed = push_site_staff(sender, roster, site_id="site-a", now=NOW)
    assert [(c.edge_id, c.command.model_dump()["device_serial"]) for c in sender.sent] == [
        ("edge-1", "SN-GATE"),
        ("edge-2", "SN-HALL"),
    ]
    assert pushed.command_ids == [c.command_id for c in sender.sent]
    assert pushed.unplaced == ["SN-NEW"]
    assert pushed.skipped == [
        "staff s-3: terminal user id 'bad pin' is not 1-24 letters or digits",
        "staff s-4 has no terminal user id",
    ]
    command = sender.sent[0].command
    assert isinstance(command, UpsertUsersCommand)
    assert [(u.user_id, u.name, u.enabled) for u in command.users] == [
        ("1001", "Wang Wei", True),
        ("0042", "Wang Wei", True),
        ("2002", "Li Na, who has left"[:24], False),
    ]
    with pytest.raises(UnknownSite, match="site-b"):
        push_site_staff(sender, roster, site_id="site-b", now=NOW)


def test_relayed_templates_go_to_the_sites_terminals_behind_other_edges_only() -> None:
    from contracts import TemplateFinger, TemplatesEvent, UserTemplates, WriteTemplatesCommand
    from server.services.terminal_sync import TemplateRelay

    roster = SiteRosterInMemory(
        [
            SiteTerminal("SN-GATE", "edge-1"),
            SiteTerminal("SN-HALL", "edge-1"),
            SiteTerminal("SN-ANNEX", "edge-2"),
            SiteTerminal("SN-NEW", None),
        ],
        [],
    )
    users = [
        UserTemplates(
            user=TerminalUser(user_id="0042", name="Zhao Min"),
            fingers=[TemplateFinger(finger=3, template="ESIz")],
        )
    ]
    event = TemplatesEvent.create(
        edge_id="edge-1", device_serial="SN-GATE", occurred_at=NOW, part=1, users=users
    )
    relay = TemplateRelay(roster)
    with pytest.raises(ConnectionError):
        relay.relay(event)  # no sender yet: the ingest retries, the edge keeps the event
    sender = RecordingSender()
    relay.sender = sender
    ids = relay.relay(event)
    (command,) = sender.sent
    assert ids == [command.command_id]
    assert command.edge_id == "edge-2"
    assert isinstance(command.command, WriteTemplatesCommand)
    assert (command.command.device_serial, command.command.source_serial) == ("SN-ANNEX", "SN-GATE")
    assert command.command.users == users
    stray = TemplatesEvent.create(
        edge_id="edge-9", device_serial="SN-X", occurred_at=NOW, part=1, users=users
    )
    assert relay.relay(stray) == []  # a terminal at no site: nowhere to copy to
