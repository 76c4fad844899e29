"""A camera's measured frame rate and undecodable frames in its device status.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Frozen copy of ``_camera_health_columns`` in server/adapters/tables.py at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("device_status_reports", "devices")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("frames_per_second", sa.Float(), nullable=True))
            batch.add_column(sa.Column("bad_frames", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("bad_frames")
            batch.drop_column("frames_per_second")
