"""Run the Alembic migrations from code: the server upgrades its database to head at start.

Several server processes may start at once on one PostgreSQL database (a city's deployment); on an
empty database each would try to create Alembic's table and the schema, and all but one would fail.
A session-level advisory lock, held on a connection of its own for the whole upgrade, lets one
migrate while the others wait; they then find the database at head and do nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from server.adapters.db import create_db_engine, is_sqlite

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

logger = logging.getLogger(__name__)

# pg_advisory_lock key of Kaoqin's migrations: any fixed bigint, the same in every server process
# (the first 8 bytes of "kaoqin-m" read as a number, to be recognisable in pg_locks).
MIGRATION_LOCK_KEY = int.from_bytes(b"kaoqin-m", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(database_url: str) -> Config:
    """An Alembic config built in code (no alembic.ini), pointing at server/migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as attributes rather than options: configparser would choke on '%' in passwords.
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (``alembic upgrade head``); on
    PostgreSQL one process at a time (:data:`MIGRATION_LOCK_KEY`)."""
    if is_sqlite(database_url):  # SQLite's own write lock serialises writers of one file
        logger.info("migrating the database to the newest schema")
        command.upgrade(alembic_config(database_url), "head")
        return
    engine = create_db_engine(database_url)
    try:
        # AUTOCOMMIT: the lock belongs to the session, not to a transaction this connection would
        # otherwise keep open (and with it a snapshot) for the whole upgrade.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            logger.info("waiting for the migration lock")
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                logger.info("migrating the database to the newest schema")
                command.upgrade(alembic_config(database_url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()
