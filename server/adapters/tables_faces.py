"""Tables of face enrolment (migration 0003): consent, encrypted encodings, the gallery's versions.

No enrolment photo is kept: only its encodings, encrypted (Fernet), and the photo's SHA-256 so that
the same photo sent twice is recognised. ``face_gallery`` holds one row per person ever enrolled,
with the gallery version of their last change; a deleted person's row stays as a tombstone without
any biometric data, so an edge's bucket can be told that they are gone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table

from server.adapters.tables import UTCDateTime, metadata

STAFF_ID_LENGTH = 64

face_consents = Table(
    "face_consents",
    metadata,
    Column("staff_id", String(STAFF_ID_LENGTH), primary_key=True),
    Column("given_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Column("evidence", String(512), nullable=True),  # e.g. the signed form's reference
    Column("withdrawn_at", UTCDateTime, nullable=True),
)

face_encodings = Table(
    "face_encodings",
    metadata,
    Column("encoding_id", String(36), primary_key=True),
    Column("staff_id", String(STAFF_ID_LENGTH), nullable=False),
    Column("encrypted", LargeBinary, nullable=False),  # Fernet token of 128 float32
    Column("photo_sha256", String(64), nullable=False),
    Column("photo_name", String(256), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "staff_id"),
)

face_gallery = Table(
    "face_gallery",
    metadata,
    Column("staff_id", String(STAFF_ID_LENGTH), primary_key=True),
    Column("bucket", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Index(None, "bucket"),
)

face_gallery_version = Table(
    "face_gallery_version",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("version", BigInteger, nullable=False),
)
