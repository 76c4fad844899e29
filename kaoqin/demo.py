"""``kaoqin demo``: the whole chain in one process on embedded defaults.

Server (SQLite, embedded broker) + two simulated ZKTeco terminals with a shared generated roster +
an edge agent polling them over the real binary protocol. A morning of arrivals is punched into the
terminals while it runs; a one-line summary is printed as events flow.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from devices.zkteco.simulator import TerminalSimulator
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings, TerminalSettings
from server.adapters.db import create_db_engine
from server.adapters.user_store import UserStore
from server.app import create_app
from server.services.auth import PasswordHashing
from server.settings import ServerSettings

logger = logging.getLogger(__name__)

ZONE = "Asia/Shanghai"
SERIALS = ("KQDEMO0001", "KQDEMO0002")


@dataclass(frozen=True)
class DemoOptions:
    exit_after: float | None = None
    http_port: int = 8000
    mqtt_port: int = 18830  # the embedded broker's
    workdir: Path | None = None
    staff: int = 40
    punch_seconds: float = 20.0  # the morning's arrivals are played back over this many seconds


@dataclass(frozen=True)
class Summary:
    stored: int
    duplicates: int
    dead_letters: int
    punches: int
    devices_online: int

    def line(self, outbox: int, queued: int) -> str:
        return (
            f"punched {queued} | stored {self.stored} events ({self.punches} punches) | "
            f"duplicates ignored {self.duplicates} | dead letters {self.dead_letters} | "
            f"edge outbox {outbox} | terminals online {self.devices_online}/{len(SERIALS)}"
        )


def _morning(staff: int, seed: int = 7) -> list[tuple[datetime, str, int]]:
    """Arrival punches between 07:40 and 08:50 today (device time): (when, user id, terminal index)."""
    rng = random.Random(seed)
    today = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, hour=7, minute=40, second=0, microsecond=0)
    arrivals = [
        (today + timedelta(seconds=rng.randint(0, 70 * 60)), str(n), rng.randrange(2))
        for n in range(1, staff + 1)
    ]
    return sorted(arrivals)


class _SignedIn(httpx.Auth):
    """Sends the demo admin's token, signing in again when it has expired (tokens are short-lived)."""

    def __init__(self, username: str, password: str) -> None:
        self._form = {"username": username, "password": password}
        self._token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for _attempt in range(2):
            if self._token is None:
                login = yield httpx.Request("POST", request.url.join("/api/v1/auth/token"), data=self._form)
                login.read()
                login.raise_for_status()
                self._token = str(login.json()["access_token"])
            request.headers["Authorization"] = f"Bearer {self._token}"
            response = yield request
            if response.status_code != 401:
                return
            self._token = None


def _add_demo_admin(database_url: str) -> tuple[str, str]:
    """An admin with a fresh random password in the demo's own database (migrated by now)."""
    username, password = f"demo-admin-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    engine = create_db_engine(database_url)
    try:
        UserStore(engine).add(username, PasswordHashing().hash(password), "admin", None, datetime.now(UTC))
    finally:
        engine.dispose()
    return username, password


def _summary(client: httpx.Client) -> Summary:
    stats = client.get("/api/v1/ingest/stats").json()
    devices = client.get("/api/v1/devices").json()
    punches = client.get("/api/v1/punches", params={"limit": 1}).json()
    items = devices["items"] if isinstance(devices, dict) else devices
    return Summary(
        stored=int(stats["events_stored"]),
        duplicates=int(stats["duplicates_ignored"]),
        dead_letters=int(stats["dead_letters"]),
        punches=int(punches.get("total", 0)) if isinstance(punches, dict) else len(punches),
        devices_online=sum(1 for d in items if d.get("reachable")),
    )


def run_demo(options: DemoOptions) -> int:
    # The summary line is the demo's output; per-request and per-punch logs would drown it.
    for noisy in ("httpx", "devices.zkteco.sim_state"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="kaoqin-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server_settings = ServerSettings(
        database_url=f"sqlite:///{workdir / 'kaoqin.sqlite3'}",
        http_port=options.http_port,
        embedded_broker_port=options.mqtt_port,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(server_settings),
            host=server_settings.http_host,
            port=options.http_port,
            log_level="warning",
        )
    )
    server_thread = threading.Thread(target=server.run, name="server", daemon=True)
    server_thread.start()
    base_url = f"http://{server_settings.http_host}:{options.http_port}"
    client = httpx.Client(base_url=base_url, timeout=5)
    _wait_until_healthy(client)
    username, password = _add_demo_admin(server_settings.database_url)
    client.auth = _SignedIn(username, password)

    simulators = [
        TerminalSimulator(serial=serial, users=options.staff, records=25 * (i + 1), timezone=ZONE, seed=i)
        for i, serial in enumerate(SERIALS)
    ]
    for sim in simulators:
        sim.start()
    edge_settings = EdgeSettings(
        edge_id="demo-edge",
        mqtt_url=server_settings.broker_url,
        outbox_path=workdir / "edge-outbox.sqlite3",
        poll_interval_seconds=2,
        status_interval_seconds=10,
        terminals=[
            TerminalSettings(serial=sim.serial, host="127.0.0.1", port=sim.port, timezone=ZONE)
            for sim in simulators
        ],
    )
    agent = EdgeAgent(edge_settings)
    agent.start()

    print(f"Kaoqin demo running. API docs: {base_url}/docs  (punches: {base_url}/api/v1/punches)", flush=True)
    print(f"Web pages: {base_url}/  (Simplified Chinese; English from the language switch)", flush=True)
    print(
        f"Sign in as {username} / {password} (admin): on the pages, or with the Authorize button in /docs.",
        flush=True,
    )
    print(f"Files in {workdir}. Stop with Ctrl-C.", flush=True)

    stop = threading.Event()
    punched = [0]

    def play_morning() -> None:
        arrivals = _morning(options.staff)
        pause = options.punch_seconds / max(len(arrivals), 1)
        for when, user_id, terminal in arrivals:
            if stop.wait(pause):
                return
            simulators[terminal].state.add_punch(user_id, when=when)
            punched[0] += 1

    threading.Thread(target=play_morning, name="morning", daemon=True).start()
    started = time.monotonic()
    summary: Summary | None = None
    try:
        while options.exit_after is None or time.monotonic() - started < options.exit_after:
            time.sleep(2)
            try:
                summary = _summary(client)
                print(summary.line(agent.outbox.depth(), punched[0]), flush=True)
            except httpx.HTTPError as exc:
                print(f"server not answering: {exc}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        agent.stop()
        for sim in simulators:
            sim.stop()
        with contextlib.suppress(httpx.HTTPError):
            summary = _summary(client)
        server.should_exit = True
        server_thread.join(timeout=15)
    if summary is None or summary.stored == 0:
        # A scripted run (make demo, CI) must notice a chain that delivered nothing.
        print("demo finished: no events were stored; see the log above", file=sys.stderr, flush=True)
        return 1
    print(
        f"demo finished: {summary.stored} events stored ({summary.punches} punches), "
        f"{summary.duplicates} duplicates ignored",
        flush=True,
    )
    return 0


def _wait_until_healthy(client: httpx.Client, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not become healthy within {timeout}s")
