"""Signing tests in: a user of the wanted role in the app's database, and a client that sends its
token. Works for a TestClient around create_app and for httpx against a running ``kaoqin server``
(call it once the server is up: the database is migrated at start-up)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from server.adapters.db import create_db_engine
from server.adapters.user_store import UserStore
from server.app import create_app
from server.services.auth import PasswordHashing, check_new_user
from server.settings import ServerSettings
from tests.support.processes import wait_until
from tests.support.services import free_port

_HASHING: PasswordHashing | None = None


def add_user(
    database_url: str, role: str = "admin", *, staff_id: str | None = None, username: str | None = None
) -> tuple[str, str]:
    """Store a new user with a random password; returns (username, password)."""
    global _HASHING
    _HASHING = _HASHING or PasswordHashing()
    username = username or f"test-{role}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    check_new_user(username, role, staff_id, password)
    engine = create_db_engine(database_url)
    try:
        UserStore(engine).add(username, _HASHING.hash(password), role, staff_id, datetime.now(UTC))
    finally:
        engine.dispose()
    return username, password


def token_for(client: httpx.Client, username: str, password: str) -> str:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert reply.status_code == 200, f"sign-in as {username}: {reply.status_code} {reply.text}"
    return str(reply.json()["access_token"])


def sign_in(
    client: httpx.Client, database_url: str, role: str = "admin", *, staff_id: str | None = None
) -> str:
    """Make ``client`` send a fresh ``role`` user's token on every request; returns the username."""
    username, password = add_user(database_url, role, staff_id=staff_id)
    client.headers["Authorization"] = f"Bearer {token_for(client, username, password)}"
    return username


@contextmanager
def running_app(database_url: str, **settings: Any) -> Iterator[TestClient]:
    """create_app on ``database_url`` with its own embedded broker, under its lifespan, healthy."""
    server_settings = ServerSettings(database_url=database_url, embedded_broker_port=free_port(), **settings)
    with TestClient(create_app(server_settings)) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, 20, "the server to be healthy")
        yield client
