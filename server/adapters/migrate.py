"""Run the Alembic migrations from code: the server upgrades its database to head at start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

logger = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    """An Alembic config built in code (no alembic.ini), pointing at server/migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as attributes rather than options: configparser would choke on '%' in passwords.
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (``alembic upgrade head``)."""
    logger.info("migrating the database to the newest schema")
    command.upgrade(alembic_config(database_url), "head")
