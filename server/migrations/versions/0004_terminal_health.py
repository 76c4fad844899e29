"""Terminal depth: punch flags, device capacity/alerts and address changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Frozen copy of the columns added to server/adapters/tables.py at this revision.
JSON lists get a server default so rows stored before this revision read as "no flags".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATUS_TABLES = ("device_status_reports", "devices")


def _status_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("user_capacity", sa.Integer(), nullable=True),
        sa.Column("fingers", sa.Integer(), nullable=True),
        sa.Column("finger_capacity", sa.Integer(), nullable=True),
        sa.Column("capacity_alert", sa.String(length=16), nullable=True),
        sa.Column("previous_address", sa.String(length=255), nullable=True),
        sa.Column("alerts", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    ]


def upgrade() -> None:
    with op.batch_alter_table("punches") as batch:
        batch.add_column(sa.Column("flags", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    for table in _STATUS_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in _status_columns():
                batch.add_column(column)


def downgrade() -> None:
    for table in _STATUS_TABLES:
        with op.batch_alter_table(table) as batch:
            for column in reversed(_status_columns()):
                batch.drop_column(column.name)
    with op.batch_alter_table("punches") as batch:
        batch.drop_column("flags")
