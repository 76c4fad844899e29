"""The face gallery as the server publishes it to edges: retained, versioned buckets.

Each enrolled person falls in one of :data:`GALLERY_BUCKETS` buckets (by a stable hash of the staff
id). The server publishes every non-empty bucket as a retained message and republishes a bucket
whenever a person in it is enrolled, re-enrolled or deleted; :class:`GalleryHead` (also retained)
lists the version of every non-empty bucket. An edge that reconnects gets the head and all retained
buckets from the broker, applies the buckets whose version differs from its own, and drops the
buckets the head no longer lists: so an edge offline for a month catches up, and a deleted person
disappears from every edge, without the server tracking any edge's state.

Encodings travel as base64 of 128 little-endian float32 (684 characters each).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.codec import MAX_PAYLOAD_BYTES, ContractError
from contracts.topics import gallery_head_topic

# 100,000 people at ~0.8 kB an encoding is ~80 kB a bucket: well below MAX_PAYLOAD_BYTES.
GALLERY_BUCKETS = 1024
ENCODING_FLOATS = 128
_PACK = struct.Struct(f"<{ENCODING_FLOATS}f")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def gallery_bucket(staff_id: str) -> int:
    """The bucket a staff id belongs to (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(staff_id.encode()).digest()[:4], "big") % GALLERY_BUCKETS


def pack_encoding(values: Sequence[float]) -> str:
    """128 floats as base64 of little-endian float32."""
    if len(values) != ENCODING_FLOATS:
        raise ValueError(f"a face encoding has {ENCODING_FLOATS} numbers, not {len(values)}")
    return base64.b64encode(_PACK.pack(*values)).decode()


def unpack_encoding(text: str) -> tuple[float, ...]:
    """The inverse of :func:`pack_encoding`; ValueError for anything else."""
    data = base64.b64decode(text, validate=True)
    if len(data) != _PACK.size:
        raise ValueError(f"a packed encoding is {_PACK.size} bytes, not {len(data)}")
    return _PACK.unpack(data)


class GalleryPerson(_Payload):
    staff_id: str = Field(min_length=1, max_length=64)
    encodings: list[str] = Field(min_length=1, max_length=20, description="pack_encoding of each photo")


class GalleryBucket(_Payload):
    """Every enrolled person of one bucket, as of ``version``."""

    kind: Literal["gallery_bucket"] = "gallery_bucket"
    schema_version: Literal[1] = 1
    bucket: int = Field(ge=0, lt=GALLERY_BUCKETS)
    version: int = Field(ge=1, description="the gallery version of the bucket's last change")
    people: list[GalleryPerson]
    published_at: AwareDatetime


class GalleryHead(_Payload):
    """The gallery's current version and the version of each non-empty bucket."""

    kind: Literal["gallery_head"] = "gallery_head"
    schema_version: Literal[1] = 1
    version: int = Field(ge=0)
    buckets: dict[int, int] = Field(default_factory=dict, description="bucket -> its version")
    published_at: AwareDatetime


def decode_gallery_message(topic: str, payload: bytes) -> GalleryHead | GalleryBucket | None:
    """Parse a message from :func:`contracts.topics.gallery_filter`; None for an empty (cleared) one."""
    if not payload:
        return None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"gallery message on {topic} is {len(payload)} bytes (limit {MAX_PAYLOAD_BYTES})")
    model: type[GalleryHead] | type[GalleryBucket] = (
        GalleryHead if topic == gallery_head_topic() else GalleryBucket
    )
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(f"gallery message on {topic} does not fit {model.__name__}: {exc}") from exc
