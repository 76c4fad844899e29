"""What every payload of the MQTT interface shares: the base model, ids and the column bounds.

Split out of ``contracts.events`` so that events, commands and acknowledgements can each have a
module without importing one another in a circle.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Fixed namespace for uuid5 ids: changing it would change every id ever issued.
KAOQIN_NAMESPACE = uuid.UUID("6f1c2a7e-4b0d-5c8e-9a3f-0d2b7e4c1a95")
SCHEMA_VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
# Bounds of the server's columns (server/adapters/tables.py): a value the database would refuse is
# refused here, so it is dead-lettered with a reason instead of failing the whole ingest batch.
ID_MAX = 64  # String(64) ids
TEXT_MAX = 255  # String(255) columns
INT32_MAX = 2**31 - 1  # INTEGER
INT64_MAX = 2**63 - 1  # BIGINT


class Payload(BaseModel):
    """Every payload: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def uuid5_id(*parts: object) -> str:
    return str(uuid.uuid5(KAOQIN_NAMESPACE, "|".join(str(p) for p in parts)))


def check_event_id(kind: str, event_id: str, expected: str) -> None:
    if event_id != expected:
        raise ValueError(f"{kind} event_id {event_id!r} does not match its content (expected {expected})")
