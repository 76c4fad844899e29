"""Fingerprints on their way between edges: terminal templates <-> the contract's ``UserTemplates``.

A copy to the terminals of a site behind other edges goes through the server: the source's edge
queues templates events (in its outbox, like every event, until the server acknowledges them),
and the server sends ``write_templates`` commands to the other edges (``docs/terminals.md``).
"""

from __future__ import annotations

import base64
from datetime import datetime

from contracts import (
    EventKind,
    TemplateFinger,
    TemplatesEvent,
    TerminalUser,
    UserTemplates,
    encode,
    event_topic,
)
from devices.terminal import EnrolledUser, FingerTemplate
from edge.outbox import Outbox, OutboxMessage

# Keep each event well below the contract's 256 KiB payload limit.
EVENT_BYTES = 192 * 1024
_NAME_MAX = 24


def user_templates(
    users: dict[str, EnrolledUser], templates: dict[str, list[FingerTemplate]]
) -> list[UserTemplates]:
    out = []
    for user_id, fingers in sorted(templates.items()):
        user = users[user_id]
        out.append(
            UserTemplates(
                user=TerminalUser(
                    user_id=user.user_id,
                    name=user.name[:_NAME_MAX],
                    admin=user.admin,
                    card=user.card,
                    enabled=user.enabled,
                ),
                fingers=[
                    TemplateFinger(finger=f.finger, template=base64.b64encode(f.template).decode())
                    for f in fingers
                ],
            )
        )
    return out


def from_user_templates(
    items: list[UserTemplates],
) -> tuple[dict[str, EnrolledUser], dict[str, list[FingerTemplate]]]:
    users = {
        i.user.user_id: EnrolledUser(i.user.user_id, i.user.name, i.user.admin, i.user.card, i.user.enabled)
        for i in items
    }
    templates = {
        i.user.user_id: [FingerTemplate(f.finger, base64.b64decode(f.template)) for f in i.fingers]
        for i in items
    }
    return users, templates


def queue_templates_events(
    outbox: Outbox, *, edge_id: str, serial: str, items: list[UserTemplates], now: datetime
) -> int:
    """Queue ``items`` as templates events of at most ``EVENT_BYTES`` each; returns how many."""
    parts: list[list[UserTemplates]] = []
    size = 0
    for item in items:
        item_size = len(item.model_dump_json())
        if not parts or size + item_size > EVENT_BYTES or len(parts[-1]) >= 1000:
            parts.append([])
            size = 0
        parts[-1].append(item)
        size += item_size
    topic = event_topic(edge_id, EventKind.TEMPLATES, serial)
    events = [
        TemplatesEvent.create(edge_id=edge_id, device_serial=serial, occurred_at=now, part=n, users=part)
        for n, part in enumerate(parts, start=1)
    ]
    outbox.add([OutboxMessage(e.event_id, topic, encode(e)) for e in events])
    return len(events)
