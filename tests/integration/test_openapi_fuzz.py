"""Schemathesis against the app's own OpenAPI document: every operation, signed in as admin, over real
HTTP to create_app under uvicorn (SQLite, embedded broker, the cameras' photo encoder), answers
without a server error. Bounded to a fixed number of examples per operation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation

from kaoqin.face_encoder import DevicesPhotoEncoder
from server.app import create_app
from server.services.auth_settings import AuthSettings
from server.services.face_settings import FaceSettings
from server.settings import ServerSettings
from tests.support.auth import add_user, token_for
from tests.support.services import free_port

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    headers: dict[str, str]
    schema: schemathesis.BaseSchema


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{workdir / 'fuzz.sqlite3'}"
    http_port = free_port()
    app = create_app(
        ServerSettings(
            database_url=database_url,
            embedded_broker_port=free_port(),
            http_port=http_port,
            faces=FaceSettings(encryption_key="fuzz-face-key-0123456789abcdef"),
            # A fuzzed sign-in never locks the admin out: the admin's token is taken first and lasts.
            auth=AuthSettings(token_secret="fuzz-" + "s" * 40, token_minutes=60),
        ),
        photo_encoder=DevicesPhotoEncoder(),
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=http_port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fuzzed-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{http_port}"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the fuzzed server did not become healthy"
            time.sleep(0.2)
        username, password = add_user(database_url, "admin")
        headers = {"Authorization": f"Bearer {token_for(client, username, password)}"}
        document = client.get("/openapi.json").json()
    try:
        yield LiveServer(base_url, headers, schemathesis.openapi.from_dict(document))
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _fuzz(live_server: LiveServer, operation: APIOperation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: a failure here reproduces
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=live_server.base_url, headers=live_server.headers)
        case.validate_response(response, checks=[not_a_server_error])

    call()


def test_no_operation_answers_with_a_server_error(live_server: LiveServer) -> None:
    operations = [result.ok() for result in live_server.schema.get_all_operations()]
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(live_server, operation, mode)
            except Unsatisfiable:
                pass  # nothing to make invalid: the operation takes no parameters or body
            except (Exception, BaseExceptionGroup) as exc:  # all operations run; failures reported together
                failures.append(f"{operation.label} ({mode.value}): {exc!r}"[:3000])
    assert len(operations) >= 50
    assert not failures, "\n\n".join(failures)
