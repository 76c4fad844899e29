"""Server staff lists and fingerprint templates pushed to the edge's terminals (EdgeCommand actions).

Each change runs in the terminal's own poller thread (the one connection to a terminal is the
poller's), and what was done is reported as an alert on the terminal's next device status.
Disabling keeps the user and their fingerprints on a pull terminal with the privilege's
"disabled" bit set (``zk-protocol.md`` §2.5), so enabling them again needs no re-enrolment.
Push (ADMS) terminals have no such flag in their USERINFO (§4.4): disabling deletes the user
there, and ``DATA DELETE USERINFO`` deletes their fingerprints with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from contracts import (
    CopyTemplatesCommand,
    DisableUsersCommand,
    TerminalUser,
    UpsertUsersCommand,
    UserTemplates,
    WriteTemplatesCommand,
)
from devices.terminal import EnrolledUser, FingerprintTerminal, FingerTemplate
from edge.punch_poller import PunchPoller
from edge.template_events import from_user_templates, user_templates

logger = logging.getLogger(__name__)

# An ADMS terminal takes commands as text lines; (serial, command) -> queued command id.
AdmsQueue = Callable[[str, str], str]
# (source serial, its templates) -> queued for the server, for the site's terminals on other edges.
ToServer = Callable[[str, list[UserTemplates]], None]


def enrolled_user(user: TerminalUser) -> EnrolledUser:
    return EnrolledUser(user.user_id, user.name, user.admin, user.card, user.enabled)


def upsert_task(users: Sequence[TerminalUser]) -> Callable[[FingerprintTerminal], str]:
    def run(device: FingerprintTerminal) -> str:
        written = disabled = 0
        for user in users:
            if user.enabled:
                device.write_user(enrolled_user(user))
                written += 1
            elif device.disable_user(user.user_id):  # nobody is created only to be disabled
                disabled += 1
        return f"users synced from the server: {written} written, {disabled} disabled (fingerprints kept)"

    return run


def disable_task(user_ids: Sequence[str]) -> Callable[[FingerprintTerminal], str]:
    def run(device: FingerprintTerminal) -> str:
        disabled = [u for u in user_ids if device.disable_user(u)]
        missing = sorted(set(user_ids) - set(disabled))
        note = f"; not on the terminal: {', '.join(missing)}" if missing else ""
        return f"users disabled (fingerprints kept): {len(disabled)}{note}"

    return run


def adms_user_lines(command: UpsertUsersCommand | DisableUsersCommand) -> list[str]:
    """The same change as ADMS commands (§4.4 DATA UPDATE / DELETE USERINFO)."""
    if isinstance(command, DisableUsersCommand):
        return [f"DATA DELETE USERINFO PIN={u}" for u in command.user_ids]
    lines = []
    for user in command.users:
        if not user.enabled:
            lines.append(f"DATA DELETE USERINFO PIN={user.user_id}")
            continue
        privilege = 14 if user.admin else 0
        lines.append(
            f"DATA UPDATE USERINFO PIN={user.user_id}\tName={user.name}\tPri={privilege}\tPasswd=\t"
            f"Card={user.card}\tGrp=1"
        )
    return lines


def copy_templates(
    command: CopyTemplatesCommand,
    pollers: Sequence[PunchPoller],
    on_unknown: Callable[[str], None],
    to_server: ToServer | None = None,
) -> None:
    """Read the templates on the source terminal (in its thread), then write them to the command's
    targets among this edge's terminals (every other one if it names none), in theirs; with
    ``to_server`` also hand them on for the terminals of the site behind other edges."""
    source = next((p for p in pollers if p.serial == command.source_serial), None)
    if source is None:
        on_unknown(command.source_serial)
        return
    named = set(command.target_serials) if command.target_serials is not None else None
    targets = [p for p in pollers if p is not source and (named is None or p.serial in named)]
    for missing in sorted((named or set()) - {p.serial for p in targets}):
        on_unknown(missing)
    wanted = set(command.user_ids) if command.user_ids is not None else None

    def read(device: FingerprintTerminal) -> str:
        users = {u.user_id: u for u in device.read_users()}
        templates = {
            user_id: fingers
            for user_id, fingers in device.read_templates().items()
            if user_id in users and (wanted is None or user_id in wanted)
        }
        for target in targets:
            target.submit(_write_templates(users, templates, source.serial))
        count = sum(len(f) for f in templates.values())
        onward = ""
        if command.to_server and to_server is not None and templates:
            to_server(source.serial, user_templates(users, templates))
            onward = " and to the server for the site's terminals on other edges"
        return (
            f"templates read for copying: {len(templates)} users, {count} fingers, "
            f"to {len(targets)} terminal(s){onward}"
        )

    source.submit(read)


def write_templates(command: WriteTemplatesCommand, target: PunchPoller) -> None:
    """Fingerprints read on a terminal of the same site behind another edge, written here."""
    users, templates = from_user_templates(command.users)
    target.submit(_write_templates(users, templates, command.source_serial))


def _write_templates(
    users: dict[str, EnrolledUser], templates: dict[str, list[FingerTemplate]], source: str
) -> Callable[[FingerprintTerminal], str]:
    def run(device: FingerprintTerminal) -> str:
        for user_id, fingers in templates.items():
            device.write_templates(users[user_id], fingers)
        count = sum(len(f) for f in templates.values())
        return f"templates copied from {source}: {len(templates)} users, {count} fingers"

    return run
