"""MQTT topic tree of Kaoqin, version 1: the only place topic strings are built or parsed.

Layout (``{edge}`` is the edge agent's id, ``{device}`` a terminal serial or camera id)::

    kaoqin/v1/edges/{edge}/events/{kind}/{device}   edge -> server, QoS 1 (kind: punch, face, device_status)
    kaoqin/v1/edges/{edge}/status                   edge -> server, QoS 1, retained; last will "offline"
    kaoqin/v1/edges/{edge}/commands                 server -> edge, QoS 1
    kaoqin/v1/edges/{edge}/acks                     server -> edge, QoS 1
    kaoqin/v1/edges/{edge}/config                   server -> edge, QoS 1, retained (registered devices)
    kaoqin/v1/gallery/head                          server -> edges, QoS 1, retained (face gallery)
    kaoqin/v1/gallery/buckets/{n}                   server -> edges, QoS 1, retained (face gallery)

Every topic an edge writes starts with its own ``kaoqin/v1/edges/{edge}/``, so a broker ACL can
confine an edge to its own subtree with one pattern (Mosquitto's ``%u``/``%c`` substitution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

ROOT = "kaoqin/v1"
_EDGES = f"{ROOT}/edges"
# Ids become topic levels: no wildcards, separators or leading '$'.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SERVER_SHARE_GROUP = "kaoqin-server"


class EventKind(StrEnum):
    """The kinds of event an edge publishes under ``events/``."""

    PUNCH = "punch"
    FACE = "face"
    DEVICE_STATUS = "device_status"
    TEMPLATES = "templates"  # fingerprints on their way to the other terminals of a site


class TopicError(ValueError):
    """A topic or an id that does not fit the v1 topic tree."""


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is usable as one topic level, else raise :class:`TopicError`."""
    if not _ID_PATTERN.fullmatch(value):
        raise TopicError(f"{what} {value!r} must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
    return value


def event_topic(edge_id: str, kind: EventKind, device_id: str) -> str:
    """Topic of one event published by ``edge_id`` about ``device_id``."""
    return f"{_EDGES}/{check_id(edge_id, 'edge id')}/events/{kind.value}/{check_id(device_id, 'device id')}"


def edge_status_topic(edge_id: str) -> str:
    """Retained status topic of an edge (its last will points here too)."""
    return f"{_EDGES}/{check_id(edge_id, 'edge id')}/status"


def command_topic(edge_id: str) -> str:
    """Topic on which the server sends commands to one edge."""
    return f"{_EDGES}/{check_id(edge_id, 'edge id')}/commands"


def ack_topic(edge_id: str) -> str:
    """Topic on which the server acknowledges stored events to one edge."""
    return f"{_EDGES}/{check_id(edge_id, 'edge id')}/acks"


def edge_config_topic(edge_id: str) -> str:
    """Retained: the terminals and cameras registered to one edge (contracts/edge_config.py)."""
    return f"{_EDGES}/{check_id(edge_id, 'edge id')}/config"


def gallery_head_topic() -> str:
    """Retained: the face gallery's version and the version of each bucket (contracts/faces.py)."""
    return f"{ROOT}/gallery/head"


def gallery_bucket_topic(bucket: int) -> str:
    """Retained: every enrolled person of one gallery bucket."""
    if bucket < 0:
        raise TopicError(f"gallery bucket {bucket} must not be negative")
    return f"{ROOT}/gallery/buckets/{bucket}"


def gallery_filter() -> str:
    """What an edge subscribes to for the face gallery (the head and every bucket)."""
    return f"{ROOT}/gallery/#"


def server_event_filter(*, share_group: str | None = None) -> str:
    """Subscription filter for every event of every edge, optionally as an MQTT 5 shared subscription."""
    topic = f"{_EDGES}/+/events/#"
    return f"$share/{share_group}/{topic}" if share_group else topic


def server_status_filter() -> str:
    """Subscription filter for every edge's retained status."""
    return f"{_EDGES}/+/status"


@dataclass(frozen=True)
class ParsedTopic:
    """What a topic of the v1 tree says: which edge, which channel, and for events kind and device."""

    edge_id: str
    channel: str  # "events", "status", "commands", "acks" or "config"
    kind: EventKind | None = None
    device_id: str | None = None


# The server parses every message's topic (twice: to route it, then to check the payload against
# it) and a site has few distinct topics, so the parse is cached; ParsedTopic is immutable, and a
# refused topic raises each time (lru_cache keeps no exceptions). Bounded against hostile topics.
@lru_cache(maxsize=4096)
def parse_topic(topic: str) -> ParsedTopic:
    """Split a v1 topic into its parts, or raise :class:`TopicError` naming what is wrong."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:3]) != _EDGES:
        raise TopicError(f"topic {topic!r} is not under {_EDGES}/")
    edge_id, channel, rest = parts[3], parts[4], parts[5:]
    check_id(edge_id, "edge id")
    if channel == "events":
        if len(rest) != 2:
            raise TopicError(f"event topic {topic!r} must end in events/<kind>/<device>")
        try:
            kind = EventKind(rest[0])
        except ValueError:
            known = ", ".join(k.value for k in EventKind)
            raise TopicError(f"unknown event kind {rest[0]!r} in {topic!r} (known: {known})") from None
        return ParsedTopic(edge_id, channel, kind, check_id(rest[1], "device id"))
    if channel in ("status", "commands", "acks", "config") and not rest:
        return ParsedTopic(edge_id, channel)
    raise TopicError(f"topic {topic!r} has an unknown channel {channel!r}")
