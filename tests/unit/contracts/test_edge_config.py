"""The retained per-edge configuration: topic, round trip, and the payloads it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts import (
    ConfiguredCamera,
    ConfiguredTerminal,
    ContractError,
    EdgeConfig,
    decode_edge_config,
    edge_config_topic,
    encode,
    parse_topic,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _config(**changes: object) -> EdgeConfig:
    values: dict[str, object] = {
        "edge_id": "edge-hq",
        "version": 3,
        "terminals": [
            ConfiguredTerminal(
                serial="AIOR192960031",
                profile="tft_fingerprint_card_zmm220",
                site_id="hq",
                timezone="Asia/Shanghai",
                connection="pull",
                host="10.0.0.7",
            ),
            ConfiguredTerminal(
                serial="CKPL221160045",
                profile="speedface_v5l_push",
                site_id="hq",
                timezone="Asia/Shanghai",
                connection="push",
            ),
        ],
        "cameras": [
            ConfiguredCamera(camera_id="cam-1", source="0", linked_terminal="AIOR192960031", site_id="hq")
        ],
        "published_at": NOW,
    }
    values.update(changes)
    return EdgeConfig.model_validate(values)


def test_topic_is_under_the_edges_own_subtree_and_parses_back() -> None:
    topic = edge_config_topic("edge-hq")
    assert topic == "kaoqin/v1/edges/edge-hq/config"
    parsed = parse_topic(topic)
    assert (parsed.edge_id, parsed.channel) == ("edge-hq", "config")


def test_a_config_survives_the_wire() -> None:
    config = _config()
    assert decode_edge_config(encode(config)) == config


def test_a_pull_terminal_without_host_is_refused_by_name() -> None:
    data = _config().model_dump(mode="json")
    data["terminals"][0]["host"] = None
    with pytest.raises(ContractError, match="AIOR192960031: a pull terminal needs a host"):
        decode_edge_config(json.dumps(data).encode())


def test_a_serial_listed_twice_is_refused() -> None:
    config = _config()
    data = config.model_dump(mode="json")
    data["terminals"].append(data["terminals"][0])
    with pytest.raises(ContractError, match="terminal serials listed twice: AIOR192960031"):
        decode_edge_config(json.dumps(data).encode())


def test_an_unknown_key_or_schema_version_is_refused() -> None:
    data = _config().model_dump(mode="json")
    with pytest.raises(ContractError, match="schema_version"):
        decode_edge_config(json.dumps({**data, "schema_version": 2}).encode())
