"""Tables of the attendance engine (departments, staff, timetables, days, incidents, warnings).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Frozen copy of server/adapters/tables_attendance.py at this revision. Aware timestamps are
DateTime(timezone=True) (the models wrap it in UTCDateTime).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _aware() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attendance_days",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("late_minutes", sa.Integer(), nullable=False),
        sa.Column("early_minutes", sa.Integer(), nullable=False),
        sa.Column("missing_punches", sa.Integer(), nullable=False),
        sa.Column("absent_sessions", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("decided_at", _aware(), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", "day", name=op.f("pk_attendance_days")),
    )
    op.create_index(op.f("ix_attendance_days_day"), "attendance_days", ["day"], unique=False)
    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_overrides")),
    )
    op.create_table(
        "departments",
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("head_staff_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("department_id", name=op.f("pk_departments")),
    )
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sites")),
    )
    op.create_table(
        "timetables",
        sa.Column("timetable_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("require_biometric", sa.Boolean(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("updated_at", _aware(), nullable=False),
        sa.PrimaryKeyConstraint("timetable_id", name=op.f("pk_timetables")),
    )
    op.create_table(
        "site_devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("linked_terminal", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.site_id"],
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_site_devices")),
    )
    op.create_table(
        "site_travel_times",
        sa.Column("from_site", sa.String(length=64), nullable=False),
        sa.Column("to_site", sa.String(length=64), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_site"],
            ["sites.site_id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_site"],
            ["sites.site_id"],
        ),
        sa.PrimaryKeyConstraint("from_site", "to_site", name=op.f("pk_site_travel_times")),
    )
    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("timetable_id", sa.String(length=64), nullable=False),
        sa.Column("substitute_staff_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.department_id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.site_id"],
        ),
        sa.ForeignKeyConstraint(
            ["timetable_id"],
            ["timetables.timetable_id"],
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff")),
    )
    op.create_table(
        "absences",
        sa.Column("absence_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", _aware(), nullable=False),
        sa.Column("ends_at", _aware(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.staff_id"],
        ),
        sa.PrimaryKeyConstraint("absence_id", name=op.f("pk_absences")),
    )
    op.create_index(
        op.f("ix_absences_staff_id_starts_at"), "absences", ["staff_id", "starts_at"], unique=False
    )
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("detection_key", sa.String(length=255), nullable=True),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("prohibition", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occurred_at", _aware(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("reported_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", _aware(), nullable=False),
        sa.Column("updated_at", _aware(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.staff_id"],
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("detection_key", name=op.f("uq_incidents_detection_key")),
    )
    op.create_index(
        op.f("ix_incidents_department_id_occurred_at"),
        "incidents",
        ["department_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_incidents_prohibition_state"), "incidents", ["prohibition", "state"], unique=False
    )
    op.create_table(
        "staff_terminal_ids",
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.staff_id"],
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_terminal_ids")),
    )
    op.create_index(op.f("ix_staff_terminal_ids_staff_id"), "staff_terminal_ids", ["staff_id"], unique=False)
    op.create_table(
        "efficiency_warnings",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("counts_for_department", sa.Boolean(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("caused_by", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.String(length=255), nullable=False),
        sa.Column("issued_at", _aware(), nullable=False),
        sa.Column("withdrawn_at", _aware(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=255), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.incident_id"],
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.staff_id"],
        ),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_efficiency_warnings")),
    )
    op.create_index(
        op.f("ix_efficiency_warnings_department_id_year"),
        "efficiency_warnings",
        ["department_id", "year"],
        unique=False,
    )
    op.create_index(
        op.f("ix_efficiency_warnings_staff_id_year"),
        "efficiency_warnings",
        ["staff_id", "year"],
        unique=False,
    )
    op.create_table(
        "incident_attachments",
        sa.Column("attachment_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", _aware(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.incident_id"],
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_incident_attachments")),
    )
    op.create_index(
        op.f("ix_incident_attachments_incident_id"), "incident_attachments", ["incident_id"], unique=False
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", _aware(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.incident_id"],
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index(op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index(op.f("ix_incident_attachments_incident_id"), table_name="incident_attachments")
    op.drop_table("incident_attachments")
    op.drop_index(op.f("ix_efficiency_warnings_staff_id_year"), table_name="efficiency_warnings")
    op.drop_index(op.f("ix_efficiency_warnings_department_id_year"), table_name="efficiency_warnings")
    op.drop_table("efficiency_warnings")
    op.drop_index(op.f("ix_staff_terminal_ids_staff_id"), table_name="staff_terminal_ids")
    op.drop_table("staff_terminal_ids")
    op.drop_index(op.f("ix_incidents_prohibition_state"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_department_id_occurred_at"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_absences_staff_id_starts_at"), table_name="absences")
    op.drop_table("absences")
    op.drop_table("staff")
    op.drop_table("site_travel_times")
    op.drop_table("site_devices")
    op.drop_table("timetables")
    op.drop_table("sites")
    op.drop_table("departments")
    op.drop_table("calendar_overrides")
    op.drop_index(op.f("ix_attendance_days_day"), table_name="attendance_days")
    op.drop_table("attendance_days")
