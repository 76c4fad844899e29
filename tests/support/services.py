"""Test access to real services: free ports, PostgreSQL databases, Mosquitto brokers.

The machine's Mosquitto and PostgreSQL are named by KAOQIN_TEST_MQTT_URL and
KAOQIN_TEST_DATABASE_URL (``.ci/run`` sets both). A test that must stop or reconfigure a broker
starts its own ``mosquitto`` on a free port with :class:`PrivateMosquitto`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

MQTT_URL_VAR = "KAOQIN_TEST_MQTT_URL"
DATABASE_URL_VAR = "KAOQIN_TEST_DATABASE_URL"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def require_env(var: str, what: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{what}: set {var} (as .ci/run does) to run this test against the real service")
    return value


@dataclass
class PostgresDatabase:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""

    admin_url: str
    name: str = field(default_factory=lambda: f"kaoqin_t_{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self):  # type: ignore[no-untyped-def]
        import psycopg

        parts = urlsplit(self.admin_url)
        dsn = urlunsplit(parts._replace(scheme="postgresql"))
        return psycopg.connect(dsn, autocommit=True)

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def mosquitto_binary() -> str:
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if path is None:
        pytest.skip("mosquitto is not installed: `apt-get install mosquitto` (.ci/run does)")
    return path


class PrivateMosquitto:
    """A Mosquitto of the test's own on a free port, which the test may stop and restart."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = mosquitto_binary()
        self.port = port or free_port()
        self.workdir = workdir
        self.config = workdir / "mosquitto.conf"
        workdir.mkdir(parents=True, exist_ok=True)
        # Persistence on, and queues large enough that nothing acknowledged is dropped in tests.
        # Started as root, mosquitto switches to its own account, which cannot write the log or
        # the persistence file into the test's private temporary directory: it stays root then.
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 100\n"
            f"log_dest file {workdir}/mosquitto.log\n" + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
