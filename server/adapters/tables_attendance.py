"""Tables of the attendance engine: working time as data, decided days, incidents, warnings.

They share ``metadata`` with server/adapters/tables.py (which imports this module at its end), and
migration 0002 creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)

from server.adapters.tables import ID_LENGTH, UTCDateTime, metadata

sites = Table(
    "sites",
    metadata,
    Column("site_id", String(ID_LENGTH), primary_key=True),
    Column("name", String(255), nullable=False),
)

# Which terminals and cameras stand at a site: a day there is decided once all of them reported past it.
site_devices = Table(
    "site_devices",
    metadata,
    Column("device_id", String(ID_LENGTH), primary_key=True),
    Column("site_id", String(ID_LENGTH), ForeignKey("sites.site_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # terminal / camera
    Column("linked_terminal", String(ID_LENGTH), nullable=True),  # a camera's terminal
)

site_travel_times = Table(
    "site_travel_times",
    metadata,
    Column("from_site", String(ID_LENGTH), ForeignKey("sites.site_id"), primary_key=True),
    Column("to_site", String(ID_LENGTH), ForeignKey("sites.site_id"), primary_key=True),
    Column("minutes", Integer, nullable=False),
)

departments = Table(
    "departments",
    metadata,
    Column("department_id", String(ID_LENGTH), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("head_staff_id", String(ID_LENGTH), nullable=True),
)

timetables = Table(
    "timetables",
    metadata,
    Column("timetable_id", String(ID_LENGTH), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("require_biometric", Boolean, nullable=False),
    Column("versions", JSON, nullable=False),  # seasonal versions with their sessions and windows
    Column("updated_at", UTCDateTime, nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("staff_id", String(ID_LENGTH), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("department_id", String(ID_LENGTH), ForeignKey("departments.department_id"), nullable=False),
    Column("site_id", String(ID_LENGTH), ForeignKey("sites.site_id"), nullable=False),
    Column("timetable_id", String(ID_LENGTH), ForeignKey("timetables.timetable_id"), nullable=False),
    Column("substitute_staff_id", String(ID_LENGTH), nullable=True),  # 同岗替代
    Column("active", Boolean, nullable=False),
)

# A terminal user id (PIN) belongs to one staff member; a person may have several.
staff_terminal_ids = Table(
    "staff_terminal_ids",
    metadata,
    Column("user_id", String(24), primary_key=True),
    Column("staff_id", String(ID_LENGTH), ForeignKey("staff.staff_id"), nullable=False),
    Index(None, "staff_id"),
)

# Local changes to the national calendar: an office's own day off, or an extra working day.
calendar_overrides = Table(
    "calendar_overrides",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
)

absences = Table(
    "absences",
    metadata,
    Column("absence_id", String(ID_LENGTH), primary_key=True),
    Column("staff_id", String(ID_LENGTH), ForeignKey("staff.staff_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # leave / trip / duty
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("approved_by", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "staff_id", "starts_at"),
)

attendance_days = Table(
    "attendance_days",
    metadata,
    Column("staff_id", String(ID_LENGTH), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("late_minutes", Integer, nullable=False),
    Column("early_minutes", Integer, nullable=False),
    Column("missing_punches", Integer, nullable=False),
    Column("absent_sessions", Integer, nullable=False),
    Column("detail", JSON, nullable=False),  # sessions, marks and absences that decided the day
    Column("decided_at", UTCDateTime, nullable=False),
    Index(None, "day"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(ID_LENGTH), primary_key=True),
    Column("detection_key", String(255), nullable=True, unique=True),  # set for a rule's finding
    Column("staff_id", String(ID_LENGTH), ForeignKey("staff.staff_id"), nullable=False),
    Column("department_id", String(ID_LENGTH), nullable=False),
    Column("prohibition", String(4), nullable=False),
    Column("state", String(16), nullable=False),
    Column("source", String(16), nullable=False),  # rule / inspector
    Column("rule", String(64), nullable=True),
    Column("summary", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("confidence", Float, nullable=True),
    Column("reported_by", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "prohibition", "state"),
    Index(None, "department_id", "occurred_at"),
)

# Every action on an incident: who, when, why (explanations and appeals included).
incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(ID_LENGTH), ForeignKey("incidents.incident_id"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "incident_id"),
)

incident_attachments = Table(
    "incident_attachments",
    metadata,
    Column("attachment_id", String(ID_LENGTH), primary_key=True),
    Column("incident_id", String(ID_LENGTH), ForeignKey("incidents.incident_id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("uploaded_by", String(255), nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Index(None, "incident_id"),
)

efficiency_warnings = Table(
    "efficiency_warnings",
    metadata,
    Column("warning_id", String(ID_LENGTH), primary_key=True),
    Column("staff_id", String(ID_LENGTH), ForeignKey("staff.staff_id"), nullable=False),
    Column("department_id", String(ID_LENGTH), nullable=False),
    Column("year", Integer, nullable=False),
    # personal: for the person's own incident; escalation: to a head for their staff's warnings
    Column("kind", String(16), nullable=False),
    Column("counts_for_department", Boolean, nullable=False),  # false for a head's own warnings
    Column("ordinal", Integer, nullable=True),  # an escalation's number in the year (1, 2, ...)
    Column("incident_id", String(ID_LENGTH), ForeignKey("incidents.incident_id"), nullable=True),
    Column("caused_by", JSON, nullable=False),  # an escalation's staff warning ids
    Column("reason", Text, nullable=False),
    Column("issued_by", String(255), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("withdrawn_by", String(255), nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
    Index(None, "department_id", "year"),
    Index(None, "staff_id", "year"),
    # At most one standing warning per incident (migration 0008): two requests at once cannot
    # both warn for the same breach; a withdrawn warning does not block a new one.
    Index(
        "uq_efficiency_warnings_active_incident",
        "incident_id",
        unique=True,
        sqlite_where=text("withdrawn_at IS NULL"),
        postgresql_where=text("withdrawn_at IS NULL"),
    ),
)
