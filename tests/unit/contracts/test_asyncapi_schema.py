"""docs/asyncapi.json is a valid AsyncAPI 3.0.0 document, checked against the official JSON Schema.

``asyncapi-3.0.0.schema.json`` beside this file is an excerpt of the official schema
(asyncapi/spec-json-schemas, ``schemas/3.0.0-without-$id.json``, commit 3ef2bcbc). The full file is
378,508 characters, four fifths of them protocol bindings (Kafka, AMQP, SQS, Solace ...); it could be
read offline only page by page, not downloaded, so the definitions a document like ours uses (root,
info, channels, parameters, messages, operations, components and the AsyncAPI Schema Object over
JSON Schema draft-07) were copied unchanged, leaving out only ``examples`` annotations. The parts not
copied (bindings, security schemes, multi-format schemas) are replaced by a schema that always
fails, so a document that starts using them is refused here until their definitions are vendored,
instead of passing unchecked.

jsonschema_rs (installed with schemathesis) does the validating; the pure-Python ``jsonschema`` is
not installed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from contracts.asyncapi import build_asyncapi, render_asyncapi

_SCHEMA_PATH = Path(__file__).with_name("asyncapi-3.0.0.schema.json")


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.Draft7Validator(json.loads(_SCHEMA_PATH.read_text()))


def _errors(validator: Any, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]


def test_generated_document_is_valid_asyncapi_3(validator: Any) -> None:
    assert _errors(validator, json.loads(render_asyncapi())) == []


def test_stored_document_is_valid_asyncapi_3(validator: Any) -> None:
    path = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
    assert _errors(validator, json.loads(path.read_text())) == []


def test_openapi_style_discriminator_is_refused(validator: Any) -> None:
    # What pydantic writes by itself: the defect the generator now rewrites.
    document = build_asyncapi()
    command = document["components"]["schemas"]["EdgeCommand"]["properties"]["command"]
    command["discriminator"] = {"propertyName": "action", "mapping": {"set_time": "#/x"}}
    assert any("discriminator" in e for e in _errors(validator, document))


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("asyncapi",), "2.6.0"),
        (("operations", "sendAck", "action"), "publish"),
        (("channels", "edgeAcks", "bindings"), {"mqtt": {}}),  # not vendored: refused, not passed
        (("channels", "edgeAcks", "subscribe"), {}),  # AsyncAPI 2 shape
    ],
)
def test_schema_excerpt_is_not_vacuous(validator: Any, where: tuple[str, ...], value: object) -> None:
    document = copy.deepcopy(build_asyncapi())
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert _errors(validator, document)


def _discriminated(node: object) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _discriminated(item)]
    if not isinstance(node, dict):
        return []
    here = [node] if "discriminator" in node else []
    return here + [found for value in node.values() for found in _discriminated(value)]


def test_every_discriminator_names_a_required_property_of_its_schema() -> None:
    schemas = build_asyncapi()["components"]["schemas"]
    unions = _discriminated(schemas)
    assert unions, "the command union should carry a discriminator"
    for union in unions:
        tag = union["discriminator"]
        assert isinstance(tag, str)
        assert tag in union["required"]
        alternatives = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in union["oneOf"]]
        tags = sorted(alt["properties"][tag]["const"] for alt in alternatives)
        assert union["properties"][tag]["enum"] == tags
