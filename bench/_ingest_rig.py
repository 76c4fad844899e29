"""The parts bench/ingest.py runs: brokers, databases and servers as real processes, CPU accounting,
and the raw paho → paho ceiling. Private module (``_``): not a benchmark of its own."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
DEPLOY_MOSQUITTO = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
# Options of the deployable broker configuration that bear on throughput and on never dropping
# queued work; authentication, TLS and logging are left out (the bench broker is loopback-only).
_BROKER_LIMITS = {
    "max_queued_messages",
    "max_queued_bytes",
    "max_inflight_messages",
    "max_packet_size",
    "persistence",
    "autosave_interval",
    "persistent_client_expiration",
}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(interval)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


class Mosquitto:
    """A Mosquitto of the bench's own on a free port, with the repo's limits when they exist."""

    def __init__(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        # Started as root, mosquitto drops to its own user: its directory must be one it can write
        # (persistence, log), and reachable (not under a private 0700 temporary directory).
        workdir = Path(tempfile.mkdtemp(prefix="kaoqin-bench-mosquitto-"))
        workdir.chmod(0o777)
        self.workdir = workdir
        self.port = free_port()
        self.source = "deploy/mosquitto/mosquitto.conf limits" if DEPLOY_MOSQUITTO.exists() else "permissive"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if DEPLOY_MOSQUITTO.exists():
            for line in DEPLOY_MOSQUITTO.read_text().splitlines():
                if line.split(" ", 1)[0] in _BROKER_LIMITS:
                    lines.append(line.strip())
        else:
            lines += ["persistence true", "max_queued_messages 0", "max_inflight_messages 1000"]
        lines += [f"persistence_location {workdir}/", f"log_dest file {workdir}/mosquitto.log"]
        self.config_text = "\n".join(lines) + "\n"
        (workdir / "mosquitto.conf").write_text(self.config_text)
        self.process = subprocess.Popen([binary, "-c", str(workdir / "mosquitto.conf")])
        wait_for(lambda: _listening(self.port), 10, "mosquitto to listen")
        self.url = f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


class AmqttBroker:
    """The server's embedded amqtt broker alone in a process (for the raw ceiling of amqtt)."""

    def __init__(self) -> None:
        self.port = free_port()
        code = (
            "import signal, sys\n"
            "from server.adapters.embedded_broker import EmbeddedBroker\n"
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
            "broker = EmbeddedBroker('127.0.0.1', int(sys.argv[1])); broker.start()\n"
            "signal.sigwait({signal.SIGTERM}); broker.stop()\n"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code, str(self.port)], cwd=REPO)
        wait_for(lambda: _listening(self.port), 30, "the amqtt broker to listen")
        self.url = f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


@dataclass
class PostgresDatabase:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""

    admin_url: str

    def __post_init__(self) -> None:
        self.name = f"kaoqin_bench_{uuid.uuid4().hex[:10]}"
        self.url = urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{self.name}"))
        self._sql(f'CREATE DATABASE "{self.name}"')

    def _sql(self, statement: str) -> list[tuple[object, ...]]:
        import psycopg

        dsn = urlunsplit(urlsplit(self.admin_url)._replace(scheme="postgresql"))
        with psycopg.connect(dsn, autocommit=True) as conn:
            cursor = conn.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []

    def backend_pids(self) -> list[int]:
        """Server processes of PostgreSQL serving this database now (the servers' connections)."""
        rows = self._sql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.name}'")
        return [int(row[0]) for row in rows]  # type: ignore[call-overload]

    def drop(self) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class ServerProcess:
    """``kaoqin server --config`` as an operator runs it; its log goes to a file."""

    def __init__(self, workdir: Path, name: str, settings: dict[str, object]) -> None:
        self.http_port = free_port()
        config = workdir / f"{name}.yaml"
        values = {"http_port": self.http_port, "mqtt_client_id": f"kaoqin-{name}", **settings}
        config.write_text("".join(f"{key}: {value}\n" for key, value in values.items()))
        self.log = workdir / f"{name}.log"
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kaoqin.cli", "server", "--config", str(config)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def get(self, path: str) -> str:
        import httpx

        return httpx.get(f"http://127.0.0.1:{self.http_port}{path}", timeout=5).text

    def healthy(self) -> bool:
        import httpx

        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _subscriber(url: str, expected: int, ready: Queue[bool], done: Queue[float]) -> None:
    """Child process: count QoS 1 deliveries of every edge event; report the time of the last."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from contracts import server_event_filter

    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{uuid.uuid4().hex[:6]}")
    received = 0

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal received
        received += 1
        if received == expected:
            done.put(time.time())

    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.put(True)
    client.on_connect = lambda c, *_: c.subscribe(server_event_filter(), qos=1)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_forever()


def raw_broker_throughput(url: str, batches: Sequence[Sequence[tuple[str, bytes]]], inflight: int) -> float:
    """Events/s from paho publishers (one per edge, in this process, QoS 1, ``inflight`` window) to
    one paho subscriber in another process: first publish to the last message received."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    total = sum(len(b) for b in batches)
    context = multiprocessing.get_context("spawn")
    ready: Queue[bool] = context.Queue()
    done: Queue[float] = context.Queue()
    child = context.Process(target=_subscriber, args=(url, total, ready, done), daemon=True)
    child.start()
    try:
        ready.get(timeout=60)
        parts = urlsplit(url)
        publishers = []
        for n in range(len(batches)):
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{n}-{uuid.uuid4().hex[:6]}"
            )
            client.max_inflight_messages_set(inflight)
            client.max_queued_messages_set(0)
            client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
            client.loop_start()
            publishers.append(client)
        start = time.time()
        infos = []
        for client, messages in zip(publishers, batches, strict=True):
            infos += [client.publish(topic, payload, qos=1) for topic, payload in messages]
        last = float(done.get(timeout=600))
        for info in infos[-len(batches) :]:
            info.wait_for_publish(timeout=60)
        for client in publishers:
            client.disconnect()
            client.loop_stop()
        return total / (last - start)
    finally:
        child.terminate()
        child.join(timeout=10)
