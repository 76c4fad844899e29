"""Tables of the attendance engine (departments, staff, timetables, days, incidents, warnings).

Revision 0002 holds the chain's place for this schema; its tables are added here as they land.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
