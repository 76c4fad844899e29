"""The two stacks every fault test that makes sense on both runs on.

``postgres+mosquitto``: PostgreSQL and a Mosquitto of the test's own (so it may be killed and
restarted). ``sqlite+amqtt``: the embedded defaults, where the broker lives in the server process
(killing the server is killing the broker).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.rig import ServerRig
from tests.support.services import PrivateMosquitto


@dataclass
class Stack:
    name: str
    workdir: Path
    database_url: str
    mosquitto: PrivateMosquitto | None  # None: the embedded amqtt broker inside the server

    def server(self, name: str = "server", **extra: object) -> ServerRig:
        url = self.mosquitto.url if self.mosquitto is not None else None
        return ServerRig(self.workdir, self.database_url, url, name=name, extra=dict(extra))

    @property
    def embedded(self) -> bool:
        return self.mosquitto is None


@pytest.fixture(params=["postgres+mosquitto", "sqlite+amqtt"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Stack:
    if request.param == "sqlite+amqtt":
        return Stack(request.param, tmp_path, f"sqlite:///{tmp_path / 'server.sqlite3'}", None)
    return Stack(
        request.param,
        tmp_path,
        str(request.getfixturevalue("postgres_url")),
        request.getfixturevalue("private_mosquitto"),
    )
