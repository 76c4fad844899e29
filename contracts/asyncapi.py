"""Generates the AsyncAPI 3.0 document of the MQTT interface from the payload models.

``docs/asyncapi.json`` is this function's output (``make asyncapi``); a test fails when it is stale.
The document describes the server's side: it receives events and statuses, sends acks and commands.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contracts.acks import EventAck
from contracts.commands import EdgeCommand
from contracts.edge_config import EdgeConfig
from contracts.events import (
    DeviceStatus,
    EdgeStatus,
    FaceObservation,
    PunchEvent,
    TemplatesEvent,
)
from contracts.faces import GalleryBucket, GalleryHead
from contracts.topics import ROOT, SERVER_SHARE_GROUP

_REF = "#/components/schemas/{model}"

_MESSAGES: dict[str, tuple[type[BaseModel], str]] = {
    "punch": (PunchEvent, "A record read from a fingerprint terminal."),
    "faceObservation": (FaceObservation, "A face identified (or not) by a camera."),
    "deviceStatus": (DeviceStatus, "Health of a terminal or camera as its edge sees it."),
    "templates": (
        TemplatesEvent,
        "Fingerprints read from a terminal, for its site's terminals on other edges.",
    ),
    "edgeStatus": (EdgeStatus, "Retained edge status; 'offline' is also the edge's last will."),
    "command": (EdgeCommand, "A command from the server to one edge."),
    "ack": (EventAck, "The server's acknowledgement: the edge may delete these events from its outbox."),
    "edgeConfig": (EdgeConfig, "Retained: every terminal and camera registered to one edge."),
    "galleryHead": (GalleryHead, "Retained: the face gallery's version and each non-empty bucket's."),
    "galleryBucket": (GalleryBucket, "Retained: every enrolled person of one gallery bucket (empty: none)."),
}


def _asyncapi_schema(node: Any) -> Any:
    """``node`` with pydantic's OpenAPI-style discriminators rewritten for the AsyncAPI Schema Object.

    pydantic writes ``discriminator: {propertyName, mapping}`` (OpenAPI 3); AsyncAPI 3 wants the
    property name as a string, defined and required in the same schema. The union then names its
    tag property, its allowed values and requires it, which is what the models enforce.
    """
    if isinstance(node, list):
        return [_asyncapi_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _asyncapi_schema(value) for key, value in node.items()}
    discriminator = out.get("discriminator")
    if isinstance(discriminator, dict):
        tag = discriminator["propertyName"]
        out["discriminator"] = tag
        properties = dict(out.get("properties", {}))
        properties[tag] = {"type": "string", "enum": sorted(discriminator.get("mapping", {}))}
        out["properties"] = properties
        out["required"] = sorted({*out.get("required", []), tag})
    return out


_EDGE_PARAM = {"edgeId": {"description": "Edge agent id (the broker ACL confines an edge to its own)."}}


def _channel(
    address: str, messages: list[str], description: str, **parameters: dict[str, Any]
) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "parameters": {**_EDGE_PARAM, **parameters},
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
    }


def build_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, as a JSON-ready dict (deterministic: same models, same output)."""
    _, schema = models_json_schema(
        [(model, "validation") for model, _ in _MESSAGES.values()], ref_template=_REF
    )
    device = {"description": "Terminal serial number or camera id."}
    kind = {"description": "Event kind.", "enum": ["punch", "face", "device_status", "templates"]}
    channels = {
        "edgeEvents": _channel(
            f"{ROOT}/edges/{{edgeId}}/events/{{kind}}/{{deviceId}}",
            ["punch", "faceObservation", "deviceStatus", "templates"],
            "Events from an edge, QoS 1. The payload's kind, edge_id and device must match the topic.",
            kind=kind,
            deviceId=device,
        ),
        "edgeStatus": _channel(f"{ROOT}/edges/{{edgeId}}/status", ["edgeStatus"], "Retained, QoS 1."),
        "edgeCommands": _channel(f"{ROOT}/edges/{{edgeId}}/commands", ["command"], "QoS 1."),
        "edgeAcks": _channel(f"{ROOT}/edges/{{edgeId}}/acks", ["ack"], "QoS 1."),
        "edgeConfig": _channel(
            f"{ROOT}/edges/{{edgeId}}/config",
            ["edgeConfig"],
            "Retained, QoS 1; republished whenever a device registered to the edge changes.",
        ),
        "galleryHead": {
            "address": f"{ROOT}/gallery/head",
            "description": "Retained, QoS 1, to every edge with cameras.",
            "messages": {"galleryHead": {"$ref": "#/components/messages/galleryHead"}},
        },
        "galleryBuckets": {
            "address": f"{ROOT}/gallery/buckets/{{bucket}}",
            "description": "Retained, QoS 1; republished on every change of one of its people.",
            "parameters": {"bucket": {"description": "0-1023: contracts.faces.gallery_bucket(staff_id)."}},
            "messages": {"galleryBucket": {"$ref": "#/components/messages/galleryBucket"}},
        },
    }
    operations = {
        "receiveEvents": {
            "action": "receive",
            "channel": {"$ref": "#/channels/edgeEvents"},
            "description": f"Servers share this subscription as $share/{SERVER_SHARE_GROUP}/... when several run.",
        },
        "receiveEdgeStatus": {"action": "receive", "channel": {"$ref": "#/channels/edgeStatus"}},
        "sendCommand": {"action": "send", "channel": {"$ref": "#/channels/edgeCommands"}},
        "sendAck": {"action": "send", "channel": {"$ref": "#/channels/edgeAcks"}},
        "sendEdgeConfig": {"action": "send", "channel": {"$ref": "#/channels/edgeConfig"}},
        "sendGalleryHead": {"action": "send", "channel": {"$ref": "#/channels/galleryHead"}},
        "sendGalleryBucket": {"action": "send", "channel": {"$ref": "#/channels/galleryBuckets"}},
    }
    messages = {
        name: {
            "name": model.__name__,
            "contentType": "application/json",
            "summary": summary,
            "payload": {"$ref": _REF.format(model=model.__name__)},
        }
        for name, (model, summary) in _MESSAGES.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kaoqin MQTT interface",
            "version": "1.0.0",
            "description": "Edge agents <-> server. Every event carries a stable event_id derived from its "
            "content and a timezone-aware occurred_at; the edge deletes an event only after the server's ack.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _asyncapi_schema(schema["$defs"])},
    }


def render_asyncapi() -> str:
    """The document as the text stored in ``docs/asyncapi.json``."""
    return json.dumps(build_asyncapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
