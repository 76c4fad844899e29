"""Tables of API users and of the hash-chained audit log (migration 0007).

``audit_log`` is append-only by convention of the code (nothing updates or deletes a row) and
checked by ``kaoqin audit verify``; ``audit_head`` is one row (id 1) holding the last seq and hash:
appends lock it to stay in order, and the verifier compares the chain's end against it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from server.adapters.tables import ID_LENGTH, UTCDateTime, metadata

api_users = Table(
    "api_users",
    metadata,
    Column("username", String(ID_LENGTH), primary_key=True),
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string format
    Column("role", String(16), nullable=False),  # admin / hr / inspector / staff
    Column("staff_id", String(ID_LENGTH), nullable=True),  # whose records a staff user sees
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(128), nullable=False),
    Column("target", String(512), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON, as hashed
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
