"""Table of the MQTT credentials issued to edges (migration 0005).

Only a hash of each password is kept (the same PBKDF2-SHA512 format that ``mosquitto_passwd``
writes, so the broker's password file can be generated from this table). A revoked edge keeps its
row, with ``revoked_at`` set, so the history of who could publish stays visible.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from server.adapters.tables import ID_LENGTH, UTCDateTime, metadata

edge_credentials = Table(
    "edge_credentials",
    metadata,
    Column("edge_id", String(ID_LENGTH), primary_key=True),
    Column("username", String(ID_LENGTH), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("generation", Integer, nullable=False),  # 1 when issued, +1 on every rotation
    Column("issued_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)
