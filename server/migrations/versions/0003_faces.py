"""Tables of face enrolment (consented photos, encrypted encodings, gallery versions).

Revision 0003 holds the chain's place for this schema; its tables are added here as they land.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
