from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import DisableUsersCommand, EdgeCommand, TerminalUser, UpsertUsersCommand
from server.services.terminal_sync import BATCH, copy_templates, disable_staff, push_staff

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
