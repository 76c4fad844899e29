"""At most one standing efficiency warning per incident.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Frozen copy of the partial unique index on ``efficiency_warnings`` in
server/adapters/tables_attendance.py at this revision. A database holding two standing warnings
for one incident (possible before this revision) keeps the earlier one: the later ones are
withdrawn with a reason (nothing is deleted); the head's escalation warnings follow at the
department's next warning change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEX = "uq_efficiency_warnings_active_incident"
_STANDING = sa.text("withdrawn_at IS NULL")


def upgrade() -> None:
    warnings = sa.table(
        "efficiency_warnings",
        sa.column("warning_id", sa.String),
        sa.column("incident_id", sa.String),
        sa.column("issued_at", sa.DateTime),
        sa.column("withdrawn_at", sa.DateTime),
        sa.column("withdrawn_by", sa.String),
        sa.column("withdrawn_reason", sa.Text),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(warnings.c.warning_id, warnings.c.incident_id, warnings.c.issued_at)
        .where(warnings.c.incident_id.is_not(None), warnings.c.withdrawn_at.is_(None))
        .order_by(warnings.c.incident_id, warnings.c.issued_at, warnings.c.warning_id)
    ).all()
    seen: set[str] = set()
    for warning_id, incident_id, issued_at in rows:
        if incident_id in seen:
            connection.execute(
                sa.update(warnings)
                .where(warnings.c.warning_id == warning_id)
                .values(
                    withdrawn_at=issued_at,
                    withdrawn_by="migration:0008",
                    withdrawn_reason="a second warning for the same incident",
                )
            )
        seen.add(incident_id)
    op.create_index(
        _INDEX,
        "efficiency_warnings",
        ["incident_id"],
        unique=True,
        sqlite_where=_STANDING,
        postgresql_where=_STANDING,
    )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="efficiency_warnings")
