"""The attendance, incident and warning endpoints are in the OpenAPI document, each request body
with an example a client can start from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.adapters.db import create_db_engine
from tests.support.attendance_world import attendance_app

pytestmark = pytest.mark.integration

REQUIRED = {
    "/api/v1/departments",
    "/api/v1/staff",
    "/api/v1/timetables",
    "/api/v1/holidays",
    "/api/v1/leave",
    "/api/v1/attendance/days",
    "/api/v1/attendance/departments/{department_id}/month",
    "/api/v1/attendance/decide",
    "/api/v1/incidents",
    "/api/v1/incidents/{incident_id}/decision",
    "/api/v1/incidents/{incident_id}/explanation",
    "/api/v1/incidents/{incident_id}/appeal",
    "/api/v1/incidents/{incident_id}/attachments",
    "/api/v1/warnings",
    "/api/v1/warnings/{warning_id}/withdrawal",
}


TAGS = {"attendance", "incidents and warnings"}


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("examples") or schema.get("example"):
        return True
    return any(_has_example(prop, components) for prop in schema.get("properties", {}).values())


def test_every_endpoint_is_documented_with_an_example_body(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'o.sqlite3'}")
    try:
        document = attendance_app(engine).openapi()
    finally:
        engine.dispose()
    paths = document["paths"]
    assert set(paths) | {p.rsplit("/{", 1)[0] for p in paths} >= REQUIRED
    components = document["components"]["schemas"]
    bodies = 0
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not set(operation.get("tags", ())) & TAGS:
                continue  # the face routes ride along to serve evidence snapshots
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                bodies += 1
                if "multipart/form-data" in content:
                    continue
                assert _has_example(media["schema"], components), f"{method.upper()} {path} has no example"
    assert bodies >= 12
