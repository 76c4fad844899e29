"""How many times a camera's stream was reopened after dropping, in its device status.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Frozen copy of the ``reconnects`` column of ``_camera_health_columns`` in server/adapters/tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TABLES = ("device_status_reports", "devices")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reconnects", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reconnects")
