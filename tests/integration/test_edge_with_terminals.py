"""The edge's poller with the real ZKTeco adapter (pyzk) against the simulator: the bad cases."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from contracts import EventKind, parse_topic
from devices.errors import DeviceAuthError, DeviceUnreachable
from devices.zkteco.simulator import TerminalSimulator
from edge.agent import open_zkteco_terminal
from edge.outbox import Outbox
from edge.ports import SystemClock
from edge.punch_poller import PunchPoller
from edge.settings import TerminalSettings
from tests.support.processes import KaoqinProcess
from tests.support.services import free_port

pytestmark = pytest.mark.integration


def poller_for(terminal: TerminalSettings, outbox: Outbox) -> PunchPoller:
    return PunchPoller(
        edge_id="edge-1",
        terminal=terminal,
        open_terminal=open_zkteco_terminal,
        outbox=outbox,
        clock=SystemClock(),
        poll_interval=1,
        retry_max=2,
        status_interval=60,
    )


def statuses(outbox: Outbox) -> list[dict[str, object]]:
    due = outbox.due(resend_after=60, limit=10_000, max_unacked=10_000)
    return [json.loads(m.payload) for m in due if parse_topic(m.topic).kind == EventKind.DEVICE_STATUS]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_reads_the_simulator_over_pyzk(transport: str, tmp_path: Path) -> None:
    with TerminalSimulator(
        serial="SN-OK", users=5, records=40, udp=True, timezone="Asia/Shanghai", corrupt_records=[7]
    ) as sim:
        outbox = Outbox(tmp_path / "o.sqlite3")
        terminal = TerminalSettings(
            serial="SN-OK",
            host="127.0.0.1",
            port=sim.port,
            transport=transport,
            timezone="Asia/Shanghai",
            timeout_seconds=3,
        )
        poller = poller_for(terminal, outbox)
        assert poller.poll_once().new_events == 39  # one record has an impossible date
        status = statuses(outbox)[-1]
        assert status["reachable"] is True
        assert status["records"] == 40
        problems = status["record_problems"]
        assert isinstance(problems, list)
        assert len(problems) == 1
        assert "record at offset 280" in problems[0]
        assert f"127.0.0.1:{sim.port}" in problems[0]
        sim.add_punch("3")
        assert poller.poll_once().new_events == 1


def test_wrong_comm_key_and_unreachable_terminals_are_reported(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    with TerminalSimulator(serial="SN-KEY", comm_key=1234) as sim:
        wrong = TerminalSettings(
            serial="SN-KEY", host="127.0.0.1", port=sim.port, comm_key=1, timezone="Asia/Shanghai"
        )
        with pytest.raises(DeviceAuthError):
            poller_for(wrong, outbox).poll_once()
    gone = TerminalSettings(
        serial="SN-GONE", host="127.0.0.1", port=free_port(), timezone="Asia/Shanghai", timeout_seconds=1
    )
    with pytest.raises(DeviceUnreachable, match=r"127\.0\.0\.1"):
        poller_for(gone, outbox).poll_once()


def test_poller_loop_reports_a_rejected_key_and_keeps_going(tmp_path: Path) -> None:
    import threading

    outbox = Outbox(tmp_path / "o.sqlite3")
    with TerminalSimulator(serial="SN-KEY", comm_key=1234) as sim:
        terminal = TerminalSettings(
            serial="SN-KEY", host="127.0.0.1", port=sim.port, comm_key=99, timezone="Asia/Shanghai"
        )
        poller = poller_for(terminal, outbox)
        stop = threading.Event()
        thread = threading.Thread(target=poller.run, args=(stop,))
        thread.start()
        try:
            from tests.support.processes import wait_until

            wait_until(lambda: statuses(outbox), 10, "a device status")
        finally:
            stop.set()
            poller.wake()
            thread.join(timeout=10)
        assert not thread.is_alive()
        status = statuses(outbox)[-1]
        assert status["reachable"] is False
        assert "comm key refused" in str(status["error"])


@pytest.mark.parametrize(
    ("command", "config", "named"),
    [
        ("edge", "edge_id: e1\npoll_intervall: 3\n", "poll_intervall"),
        ("edge", "mqtt_url: mqtt://x\n", "edge_id"),
        ("server", "databse_url: sqlite://\n", "databse_url"),
    ],
)
def test_a_config_with_an_unknown_or_missing_key_refuses_to_start(
    command: str, config: str, named: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config)
    process = KaoqinProcess([command, "--config", str(path)], tmp_path / "out.log")
    process.start()
    assert process.process is not None
    assert process.process.wait(timeout=30) == 2
    assert named in process.output()


class GarbagePeer:
    """Something on the terminal's port that answers every TCP connection and UDP datagram with bytes
    that are not the ZK protocol; counts how often it was asked."""

    ANSWER = b"HTTP/1.1 400 Bad Request\r\n\r\n"

    def __init__(self) -> None:
        import socket

        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.asked = {"tcp": 0, "udp": 0}
        self._closed = False
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._serve_tcp, self._serve_udp)]
        for thread in self._threads:
            thread.start()

    def _serve_tcp(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(1024)
                    self.asked["tcp"] += 1
                    conn.sendall(self.ANSWER)
                except OSError:
                    pass

    def _serve_udp(self) -> None:
        while not self._closed:
            try:
                _, sender = self.udp.recvfrom(1024)
            except OSError:
                return
            self.asked["udp"] += 1
            self.udp.sendto(self.ANSWER, sender)

    def close(self) -> None:
        self._closed = True
        self.tcp.close()
        self.udp.close()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_peer_answering_garbage_is_a_protocol_error_retried_with_back_off(
    transport: str, tmp_path: Path
) -> None:
    peer = GarbagePeer()
    outbox = Outbox(tmp_path / "o.sqlite3")
    terminal = TerminalSettings(
        serial="SN-JUNK",
        host="127.0.0.1",
        port=peer.port,
        transport=transport,
        timezone="Asia/Shanghai",
        timeout_seconds=2,
        live_capture=False,
    )
    stop = threading.Event()
    pauses: list[float] = []

    def wait(seconds: float) -> None:  # recorded, not slept: the back-off without wall-clock waits
        pauses.append(seconds)
        if len(pauses) == 4:
            stop.set()

    poller = PunchPoller(
        edge_id="edge-1",
        terminal=terminal,
        open_terminal=open_zkteco_terminal,
        outbox=outbox,
        clock=SystemClock(),
        poll_interval=1,
        retry_max=5,
        status_interval=60,
        wait=wait,
    )
    try:
        poller.run(stop)  # returns: a garbage answer never escapes the loop
    finally:
        peer.close()
    assert pauses == [2, 4, 5, 5]
    assert peer.asked[transport] >= 4  # asked again after every failure
    (status,) = statuses(outbox)  # one report while the cause stays the same
    assert status["reachable"] is False
    error = str(status["error"])
    assert error.startswith("protocol error: "), error
    assert f"127.0.0.1:{peer.port}" in error
