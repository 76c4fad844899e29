"""The server's acknowledgements of stored events (schema version 1), on ``kaoqin/v1/edges/{edge}/acks``."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.payload import Id
from contracts.payload import Payload as _Payload


class AckStatus(StrEnum):
    """What the server did with an event; in every case the edge may forget it."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # stored before: a redelivery
    DEAD_LETTERED = "dead_lettered"  # kept in the dead-letter store with a reason


class AckItem(_Payload):
    """The server's answer for one event."""

    event_id: str
    status: AckStatus


class EventAck(_Payload):
    """The server's acknowledgement of events it has stored; only then may the edge delete them."""

    kind: Literal["ack"] = "ack"
    schema_version: Literal[1] = 1
    edge_id: Id
    acked_at: AwareDatetime
    items: list[AckItem] = Field(min_length=1)
