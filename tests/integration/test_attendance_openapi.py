"""The attendance, incident and warning endpoints are in the OpenAPI document, each request body
and each successful JSON response with a typed schema and an example a client can start from."""

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


def _response_model(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The model a response schema names: a list's item model, through its reference."""
    if schema.get("type") == "array":
        schema = schema["items"]
    assert "$ref" in schema, f"not a named model: {schema}"
    return dict(components[schema["$ref"].rsplit("/", 1)[-1]])


def test_every_successful_response_has_a_typed_schema_with_an_example(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'o.sqlite3'}")
    try:
        document = attendance_app(engine).openapi()
    finally:
        engine.dispose()
    components = document["components"]["schemas"]
    checked = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not set(operation.get("tags", ())) & TAGS:
                continue
            for code, response in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                where = f"{method.upper()} {path} {code}"
                content = response.get("content", {})
                if code == "204":
                    assert content == {}, where
                    continue
                assert content, f"{where} documents no content"
                for media, body in content.items():
                    if media != "application/json":
                        assert body["schema"] == {"type": "string", "format": "binary"}, where
                        continue
                    model = _response_model(body["schema"], components)
                    assert model.get("properties"), f"{where}: untyped ({model})"
                    (example,) = model.get("examples") or [None]
                    assert example, f"{where}: {model.get('title')} has no example"
                    # The example shows every field that cannot be null (the OpenAPI document
                    # leaves nulls out), and no field the model does not have.
                    properties = model["properties"]
                    never_null = {
                        name
                        for name, prop in properties.items()
                        if {"type": "null"} not in prop.get("anyOf", ())
                    }
                    assert never_null <= set(example) <= set(properties), f"{where}: {model.get('title')}"
                    checked[where] = model["title"]
    assert {
        "GET /api/v1/attendance/days 200": "AttendanceDayOut",
        "GET /api/v1/attendance/departments/{department_id}/month 200": "DepartmentMonthOut",
        "POST /api/v1/attendance/decide 200": "RunReportOut",
        "GET /api/v1/incidents 200": "IncidentListOut",
        "GET /api/v1/incidents/{incident_id} 200": "IncidentOut",
        "POST /api/v1/incidents/{incident_id}/decision 200": "IncidentOut",
        "POST /api/v1/warnings 201": "WarningOut",
        "GET /api/v1/warnings 200": "WarningOut",
        "POST /api/v1/warnings/{warning_id}/withdrawal 200": "WarningOut",
    }.items() <= checked.items()
    assert len(checked) >= 20
    history = components["IncidentOut"]["properties"]["history"]
    assert _response_model(history, components)["title"] == "IncidentEventOut"
