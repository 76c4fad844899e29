"""Alembic environment of the Kaoqin server, driven from code by server.adapters.migrate.

The URL (or an open connection) arrives through ``config.attributes``, so no alembic.ini is needed
and the migrations work from an installed package.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.adapters.db import create_db_engine
from server.adapters.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: batch mode recreates tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the Kaoqin migrations")
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("Kaoqin migrations run online only (use server.adapters.migrate.migrate)")
run_migrations_online()
