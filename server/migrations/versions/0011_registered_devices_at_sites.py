"""Registered terminals and cameras stand at their site in ``site_devices`` (what a day waits for).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

From now on the registry writes ``site_devices`` with each registration; this places the devices
registered before that, where their registration says (a camera at its linked terminal's site).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM site_devices WHERE device_id IN (SELECT serial FROM registered_terminals)"
        " OR device_id IN (SELECT camera_id FROM registered_cameras)"
    )
    op.execute(
        "INSERT INTO site_devices (device_id, site_id, kind, linked_terminal)"
        " SELECT serial, site_id, 'terminal', NULL FROM registered_terminals"
    )
    op.execute(
        "INSERT INTO site_devices (device_id, site_id, kind, linked_terminal)"
        " SELECT c.camera_id, t.site_id, 'camera', c.linked_terminal"
        " FROM registered_cameras c JOIN registered_terminals t ON t.serial = c.linked_terminal"
    )


def downgrade() -> None:
    """The rows stay: they are attendance data now, as if PUT /api/v1/sites had listed them."""
