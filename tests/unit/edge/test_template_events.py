"""Fingerprints leaving an edge for the server: base64 both ways, split under the payload limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from contracts import MAX_PAYLOAD_BYTES, decode_event
from devices.terminal import EnrolledUser, FingerTemplate
from edge.outbox import Outbox
from edge.template_events import from_user_templates, queue_templates_events, user_templates


def test_a_large_template_set_goes_in_parts_that_each_fit_the_contract(tmp_path: Path) -> None:
    users = {f"{n:04d}": EnrolledUser(f"{n:04d}", f"Staff {n}", enabled=n % 7 != 0) for n in range(300)}
    templates = {
        pin: [FingerTemplate(0, bytes([n % 256]) * 1500), FingerTemplate(6, b"\x01" * 1200)]
        for n, pin in enumerate(users)
    }
    items = user_templates(users, templates)
    box = Outbox(tmp_path / "o.sqlite3")
    parts = queue_templates_events(box, edge_id="edge-1", serial="SN1", items=items, now=datetime.now(UTC))
    assert parts > 1
    messages = box.due(resend_after=60, limit=100, max_unacked=100)
    assert len(messages) == parts
    assert all(len(m.payload) < MAX_PAYLOAD_BYTES for m in messages)
    events = [decode_event(m.topic, m.payload) for m in messages]
    assert [json.loads(m.payload)["part"] for m in messages] == list(range(1, parts + 1))
    back_users, back_templates = from_user_templates([u for e in events for u in e.users])  # type: ignore[union-attr]
    assert back_templates == templates
    assert back_users == users
