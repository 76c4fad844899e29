"""Edge MQTT credentials: one row per registered edge, the password kept only as a hash.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Frozen copy of server/adapters/tables_edge_credentials.py at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edge_credentials",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("edge_id", name="pk_edge_credentials"),
        sa.UniqueConstraint("username", name="uq_edge_credentials_username"),
    )


def downgrade() -> None:
    op.drop_table("edge_credentials")
