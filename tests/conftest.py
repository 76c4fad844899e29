"""Shared fixtures. On CI (KAOQIN_REQUIRE_ALL=1) a skipped test counts as a failure: nothing may skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import (
    DATABASE_URL_VAR,
    MQTT_URL_VAR,
    PostgresDatabase,
    PrivateMosquitto,
    require_env,
)

FACES_DIR = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "faces"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("KAOQIN_REQUIRE_ALL") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where nothing may skip: {report.longrepr}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh database on the machine's PostgreSQL (KAOQIN_TEST_DATABASE_URL)."""
    admin = require_env(DATABASE_URL_VAR, "PostgreSQL")
    db = PostgresDatabase(admin)
    db.create()
    try:
        yield db.url
    finally:
        db.drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kaoqin.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and on the machine's PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def mosquitto_url() -> str:
    """The machine's Mosquitto (KAOQIN_TEST_MQTT_URL); never stopped or reconfigured by tests."""
    return require_env(MQTT_URL_VAR, "Mosquitto")


@pytest.fixture
def private_mosquitto(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A Mosquitto of this test's own, on a free port, that the test may restart."""
    broker = PrivateMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def faces_dir() -> Path:
    if not FACES_DIR.is_dir():
        pytest.skip(f"test photos not found at {FACES_DIR} (they live in shared/testdata/faces)")
    return FACES_DIR
