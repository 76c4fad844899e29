"""Initial schema: punches, face observations, device status history, devices, edges, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Frozen copy of server/adapters/tables.py at this revision: migrations never import the models.
Aware timestamps are DateTime(timezone=True) (the models wrap it in UTCDateTime).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=True),
        sa.Column("claimed_event_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"], unique=False)

    op.create_table(
        "device_status_reports",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("firmware", sa.String(length=255), nullable=True),
        sa.Column("platform", sa.String(length=255), nullable=True),
        sa.Column("users", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column("record_capacity", sa.Integer(), nullable=True),
        sa.Column("clock_offset_seconds", sa.Float(), nullable=True),
        sa.Column("record_problems", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_device_status_reports")),
    )
    op.create_index(
        op.f("ix_device_status_reports_device_id_occurred_at"),
        "device_status_reports",
        ["device_id", "occurred_at"],
        unique=False,
    )

    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("device_kind", sa.String(length=16), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("firmware", sa.String(length=255), nullable=True),
        sa.Column("platform", sa.String(length=255), nullable=True),
        sa.Column("users", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column("record_capacity", sa.Integer(), nullable=True),
        sa.Column("clock_offset_seconds", sa.Float(), nullable=True),
        sa.Column("record_problems", sa.JSON(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_report_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    op.create_table(
        "edges",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("edge_id", name=op.f("pk_edges")),
    )
    op.create_table(
        "face_observations",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.Column("linked_terminal", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_face_observations")),
    )
    op.create_index(
        op.f("ix_face_observations_camera_id_occurred_at"),
        "face_observations",
        ["camera_id", "occurred_at"],
        unique=False,
    )

    op.create_table(
        "punches",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("device_serial", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("device_uid", sa.Integer(), nullable=True),
        sa.Column("device_time", sa.DateTime(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verify_mode", sa.Integer(), nullable=False),
        sa.Column("verify_method", sa.String(length=16), nullable=False),
        sa.Column("punch_state", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_punches")),
    )
    op.create_index(
        op.f("ix_punches_device_serial_occurred_at"),
        "punches",
        ["device_serial", "occurred_at"],
        unique=False,
    )
    op.create_index(op.f("ix_punches_occurred_at"), "punches", ["occurred_at"], unique=False)
    op.create_index(
        op.f("ix_punches_user_id_occurred_at"), "punches", ["user_id", "occurred_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_punches_user_id_occurred_at"), table_name="punches")
    op.drop_index(op.f("ix_punches_occurred_at"), table_name="punches")
    op.drop_index(op.f("ix_punches_device_serial_occurred_at"), table_name="punches")

    op.drop_table("punches")
    op.drop_index(op.f("ix_face_observations_camera_id_occurred_at"), table_name="face_observations")

    op.drop_table("face_observations")
    op.drop_table("edges")
    op.drop_table("devices")
    op.drop_index(op.f("ix_device_status_reports_device_id_occurred_at"), table_name="device_status_reports")

    op.drop_table("device_status_reports")
    op.drop_index(op.f("ix_dead_letters_received_at"), table_name="dead_letters")

    op.drop_table("dead_letters")
