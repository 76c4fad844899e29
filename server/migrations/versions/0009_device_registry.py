"""The device registry: terminals and cameras registered to edges, and each edge's config version.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Frozen copy of server/adapters/tables_registry.py at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_terminals",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("connection", sa.String(length=8), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("comm_key", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.site_id"]),
        sa.ForeignKeyConstraint(["edge_id"], ["edge_credentials.edge_id"]),
        sa.PrimaryKeyConstraint("serial", name="pk_registered_terminals"),
    )
    op.create_table(
        "registered_cameras",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("linked_terminal", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_terminal"],
            ["registered_terminals.serial"],
        ),
        sa.ForeignKeyConstraint(["edge_id"], ["edge_credentials.edge_id"]),
        sa.PrimaryKeyConstraint("camera_id", name="pk_registered_cameras"),
    )
    op.create_table(
        "registry_edges",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["edge_id"], ["edge_credentials.edge_id"]),
        sa.PrimaryKeyConstraint("edge_id", name="pk_registry_edges"),
    )


def downgrade() -> None:
    op.drop_table("registry_edges")
    op.drop_table("registered_cameras")
    op.drop_table("registered_terminals")
