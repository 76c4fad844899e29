"""Face enrolment: consent, encrypted encodings, gallery versions; evidence columns of face observations.

Revision ID: 0003
Revises: 0002

Frozen copy of server/adapters/tables_faces.py and the face_observations columns at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_consents",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("evidence", sa.String(length=512), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("staff_id", name="pk_face_consents"),
    )
    op.create_table(
        "face_encodings",
        sa.Column("encoding_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("photo_name", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("encoding_id", name="pk_face_encodings"),
    )
    op.create_index("ix_face_encodings_staff_id", "face_encodings", ["staff_id"])
    op.create_table(
        "face_gallery",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name="pk_face_gallery"),
    )
    op.create_index("ix_face_gallery_bucket", "face_gallery", ["bucket"])
    op.create_table(
        "face_gallery_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_face_gallery_version"),
    )
    with op.batch_alter_table("face_observations") as batch:
        batch.add_column(sa.Column("liveness", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("quality", sa.Float(), nullable=True))
        batch.add_column(sa.Column("snapshot_jpeg", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_observations") as batch:
        batch.drop_column("snapshot_jpeg")
        batch.drop_column("quality")
        batch.drop_column("liveness")
    op.drop_table("face_gallery_version")
    op.drop_index("ix_face_gallery_bucket", table_name="face_gallery")
    op.drop_table("face_gallery")
    op.drop_index("ix_face_encodings_staff_id", table_name="face_encodings")
    op.drop_table("face_encodings")
    op.drop_table("face_consents")
