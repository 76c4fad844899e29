"""Alembic migrations: ``upgrade head`` on an empty database yields exactly the models' schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from server.adapters.db import create_db_engine
from server.adapters.migrate import alembic_config, migrate
from server.adapters.tables import metadata

pytestmark = pytest.mark.integration


def test_upgrade_head_matches_the_models(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # a second run at head is a no-op
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
            assert context.get_current_revision() == head
            assert set(inspect(connection).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()
