"""Pure pieces of the adapters and API: no sockets, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from server.adapters.mqtt_consumer import MqttUrlError, parse_mqtt_url
from server.adapters.tables import UTCDateTime
from server.api.schemas import DeadLetterPublic

CST = timezone(timedelta(hours=8))


def test_utc_datetime_stores_utc_and_returns_aware() -> None:
    column = UTCDateTime()
    at = datetime(2024, 5, 1, 8, 0, tzinfo=CST)
    on_sqlite = column.process_bind_param(at, sqlite.dialect())
    assert on_sqlite == datetime(2024, 5, 1, 0, 0)
    assert column.process_result_value(on_sqlite, sqlite.dialect()) == at
    on_postgres = column.process_bind_param(at, postgresql.dialect())
    assert on_postgres is not None
    assert on_postgres.tzinfo == UTC
    back = column.process_result_value(at, postgresql.dialect())
    assert back is not None
    assert back.tzinfo == UTC
    assert back == at


def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2024, 5, 1), sqlite.dialect())


def test_parse_mqtt_url() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883)
    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883)
    assert parse_mqtt_url("mqtts://broker") == ("broker", 8883)  # TLS
    assert parse_mqtt_url("mqtts://broker:18883") == ("broker", 18883)
    with pytest.raises(MqttUrlError, match="mqtt:// or mqtts://"):
        parse_mqtt_url("tcp://broker:1883")
    with pytest.raises(MqttUrlError, match="invalid port"):
        parse_mqtt_url("mqtt://broker:99999")


def test_dead_letter_shows_a_readable_preview_of_any_bytes() -> None:
    letter = DeadLetterPublic.from_row(
        {
            "id": 1,
            "received_at": datetime(2024, 5, 1, tzinfo=UTC),
            "topic": "kaoqin/v1/edges/e/events/punch/SN1",
            "payload": b"\xff{oops",
            "reason": "payload is not UTF-8 JSON",
            "edge_id": "e",
            "claimed_event_id": None,
        }
    )
    assert letter.payload_size == 6
    assert letter.payload_preview == "\ufffd{oops"
    assert letter.payload_base64 == "/3tvb3Bz"
