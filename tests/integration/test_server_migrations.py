"""Alembic migrations: ``upgrade head`` on an empty database yields exactly the models' schema."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from server.adapters.db import create_db_engine
from server.adapters.migrate import MIGRATION_LOCK_KEY, alembic_config, migrate
from server.adapters.tables import metadata

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


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


def _migrate_in_a_process(database_url: str) -> subprocess.Popen[bytes]:
    """``migrate()`` as a server process runs it at start-up, in a process of its own."""
    code = "import sys; from server.adapters.migrate import migrate; migrate(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, database_url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO
    )


def _at_head(database_url: str) -> bool:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
            return context.get_current_revision() == head and compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_two_servers_migrating_a_fresh_postgresql_at_once_both_succeed(postgres_url: str) -> None:
    processes = [_migrate_in_a_process(postgres_url) for _ in range(2)]
    outputs = [process.communicate(timeout=180)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert _at_head(postgres_url)


def test_a_migration_waits_while_another_holds_the_migration_lock(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            process = _migrate_in_a_process(postgres_url)
            # A bigint advisory key shows in pg_locks as its high and low 32 bits.
            waiting = text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database() "
                "AND l.classid = :high AND l.objid = :low"
            )
            key = {"high": MIGRATION_LOCK_KEY >> 32, "low": MIGRATION_LOCK_KEY & 0xFFFF_FFFF}
            deadline = time.monotonic() + 120
            while holder.execute(waiting, key).scalar_one() == 0:
                assert process.poll() is None, process.communicate()[0].decode()
                assert time.monotonic() < deadline, "the migration never asked for the lock"
                time.sleep(0.1)
            assert "alembic_version" not in inspect(holder).get_table_names()
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        output = process.communicate(timeout=180)[0].decode()
        assert process.returncode == 0, output
    finally:
        engine.dispose()
    assert _at_head(postgres_url)
