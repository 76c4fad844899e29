"""PostgreSQL's bulk insert of ingest rows: one array per column, unnested into rows.

``INSERT ... SELECT ... FROM unnest(:a, :b, ...) ON CONFLICT (event_id) DO NOTHING RETURNING
event_id`` binds one parameter per column however many rows the batch holds, so the statement text
never changes: psycopg converts it once (it caches statements of at most 4,096 characters and 50
parameters) and, after a few executions, PostgreSQL prepares it. The multi-row ``VALUES`` form it
replaces has 15 parameters per row; psycopg parsed its 7,500-parameter text again for every batch
of 500, measured at about half of the server's batch work (docs/benchmarks/ingest-profile.md).

The arrays are built here from the table's column types, with the conversions SQLAlchemy's bind
processing would have done (aware datetimes only, JSON serialised); the database checks lengths and
ranges on assignment, so a value too long for its column is refused as before.

The arrays travel in PostgreSQL's binary format (``%(name)b``, sent with ``exec_driver_sql`` on the
same connection and transaction): psycopg writes the text format of an array element by element in
Python, measured at 34 µs a punch row against 3.9 µs for the binary one, the largest cost left in
the server's batch work (docs/benchmarks/ingest-profile.md). A NUL in a text value is then refused
by PostgreSQL ("invalid byte sequence for encoding UTF8: 0x00") rather than by psycopg.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
)

from server.adapters.tables import UTCDateTime


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given where an aware one is required")
    return value.astimezone(UTC)


def _json(value: Any) -> str:
    return json.dumps(value)  # SQLAlchemy's default JSON serialiser: the same text either way


def _same(value: Any) -> Any:
    return value


def _column_array(column_type: Any) -> tuple[str, Callable[[Any], Any], str]:
    """(array type bound, value converter, cast applied to the unnested value) for a column type."""
    if isinstance(column_type, UTCDateTime):
        return "timestamptz[]", _aware_utc, ""
    if isinstance(column_type, JSON):  # bound as text: psycopg has no plain adapter for json[]
        return "text[]", _json, "::json"
    if isinstance(column_type, DateTime):
        return ("timestamptz[]" if column_type.timezone else "timestamp[]"), _same, ""
    if isinstance(column_type, BigInteger):  # before Integer: BigInteger is a subclass
        return "bigint[]", _same, ""
    if isinstance(column_type, Integer):
        return "integer[]", _same, ""
    if isinstance(column_type, Float):
        return "float8[]", _same, ""
    if isinstance(column_type, Boolean):
        return "boolean[]", _same, ""
    if isinstance(column_type, LargeBinary):
        return "bytea[]", _same, ""
    if isinstance(column_type, String):  # String and Text; varchar(n) checks the length on insert
        return "text[]", _same, ""
    raise TypeError(f"no array binding for column type {column_type!r}")


class UnnestInsert:
    """The fixed ``INSERT ... SELECT FROM unnest(...)`` of one table, built once per table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._columns = [column.name for column in table.columns]
        self._converters: dict[str, Callable[[Any], Any]] = {}
        arrays, selected = [], []
        for column in table.columns:
            array_type, convert, cast = _column_array(column.type)
            self._converters[column.name] = convert
            # psycopg's placeholder for a parameter bound in the binary format.
            arrays.append(f"CAST(%({column.name})b AS {array_type})")
            selected.append(f"u.{column.name}{cast}")
        names = ", ".join(self._columns)
        self.statement = (
            f"INSERT INTO {table.name} ({names}) SELECT {', '.join(selected)} "
            f"FROM unnest({', '.join(arrays)}) AS u({names}) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )

    def parameters(self, rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
        """One list per column, in row order; a column missing from a row is NULL."""
        return {name: [convert(row.get(name)) for row in rows] for name, convert in self._converters.items()}

    def execute(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert ``rows`` (event ids distinct) in one statement; return the ids that were new."""
        if not rows:
            return set()
        return set(connection.exec_driver_sql(self.statement, self.parameters(rows)).scalars())


_BY_TABLE: dict[str, UnnestInsert] = {}


def unnest_insert(table: Table) -> UnnestInsert:
    """The table's statement, built on first use (the tables are fixed for the process)."""
    insert = _BY_TABLE.get(table.name)
    if insert is None or insert.table is not table:
        insert = _BY_TABLE[table.name] = UnnestInsert(table)
    return insert
