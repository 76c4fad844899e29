"""A software ZKTeco terminal on real sockets that the unmodified pyzk 0.9 client can use.

``TerminalSimulator`` serves TCP (thread per connection) and optionally UDP (one socket,
sessions keyed by client address) on the same port number; commands are answered by
``sim_session.TerminalSession`` against a shared ``sim_state.DeviceState``.
``sim_runner.serve_forever`` runs one from the command line until SIGINT/SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from zoneinfo import ZoneInfo

from devices.zkteco.packets import FrameSplitter, FramingError, ReplyCode, tcp_wrap
from devices.zkteco.records import AttendanceRecord, UserRecord
from devices.zkteco.sim_data import apply_log_quirks, with_odd_pins
from devices.zkteco.sim_faults import ConnectionDropped, LivePuncher, SimFaults
from devices.zkteco.sim_session import EventSender, TerminalSession, Transport
from devices.zkteco.sim_state import (
    DeviceIdentity,
    DeviceState,
    generate_attendance,
    generate_roster,
    wall_clock,
)

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05
_MAX_UDP_SESSIONS = 256
_BIND_ATTEMPTS = 20
# §2.4: pyzk 0.9 copes with 1008-byte frame trains only if they trickle in (≥ 0.5 ms apart);
# 2 ms leaves room on a loaded machine.
_REALISTIC_GAP_SECONDS = 0.002


class TerminalSimulator:
    """A simulated ZKTeco terminal listening on ``host:port`` (port 0 picks a free port).

    TCP is always served; ``udp=True`` also serves UDP on the same port number, as real
    devices do. ``users`` is a count (PINs "1".."N" with generated names) or a roster;
    ``records`` generated punches lie on working days before now (deterministic per ``seed``).
    ``corrupt_records`` lists log indexes served with an impossible date (Feb 30); the data
    quirks of ``faults`` (odd PINs, deleted users, duplicates, future records) shape the log.
    ``timezone`` is the zone of the device clock (default: the host's local zone).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        udp: bool = False,
        comm_key: int = 0,
        serial: str = "KQSIM0001",
        users: int | Sequence[UserRecord] = 10,
        records: int = 0,
        record_size: int = 40,
        user_size: int = 72,
        seed: int = 0,
        corrupt_records: Iterable[int] = (),
        event_size: int = 32,
        timezone: str | None = None,
        firmware: str = "Ver 6.60 Apr 28 2017",
        platform: str = "ZMM220_TFT",
        device_name: str = "K40",
        mac: str = "00:17:61:11:45:08",
        faults: SimFaults | None = None,
    ) -> None:
        quirks = faults or SimFaults()
        roster = with_odd_pins(generate_roster(users) if isinstance(users, int) else list(users), quirks)
        before = wall_clock(ZoneInfo(timezone) if timezone else None)
        roster, log = apply_log_quirks(
            roster, generate_attendance(roster, records, before, seed), quirks, before
        )
        self.state = DeviceState(
            identity=DeviceIdentity(serial, firmware, platform, device_name, mac),
            users=roster,
            records=log,
            comm_key=comm_key,
            record_size=record_size,
            user_size=user_size,
            timezone=timezone,
            corrupt_records=corrupt_records,
            faults=faults,
        )
        self.host = host
        self.udp = udp or quirks.udp_only  # UDP-only firmware must answer on UDP
        self._requested_port = port
        self._event_size = event_size
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._tcp: socket.socket | None = None
        self._port: int | None = None
        self._udp: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: dict[socket.socket, TerminalSession | None] = {}
        self._conn_lock = threading.Lock()
        self._udp_sessions: OrderedDict[tuple[str, int], TerminalSession] = OrderedDict()
        self._live: LivePuncher | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def serial(self) -> str:
        """The serial number the terminal reports."""
        return self.state.identity.serial

    @property
    def port(self) -> int:
        """The bound port (valid after ``start``)."""
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    def start(self) -> TerminalSimulator:
        """Bind the sockets and start serving in background threads."""
        self._tcp, self._udp = self._bind()
        self._port = int(self._tcp.getsockname()[1])
        self._spawn(self._accept_loop, "zk-sim-accept")
        if self._udp is not None:
            self._spawn(self._udp_loop, "zk-sim-udp")
        logger.info("terminal simulator %s on %s:%d", self.state.identity.serial, self.host, self.port)
        return self

    def stop(self) -> None:
        """Close every socket and wait for the server threads; safe to call twice."""
        self.stop_live_punches()
        self._stopping.set()
        with self._conn_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        for sock in (self._tcp, self._udp):
            if sock is not None:
                sock.close()

    def __enter__(self) -> TerminalSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_punch(
        self,
        user_id: str,
        when: datetime | None = None,
        verify_mode: int = 1,
        punch_state: int = 0,
    ) -> AttendanceRecord:
        """Log a punch on the device clock and push it to live-capture sessions."""
        return self.state.add_punch(user_id, when, verify_mode, punch_state)

    def reboot(self, *, silent: bool = False) -> None:
        """End every client session as a restarting device does: with a closed connection, or
        ``silent``ly (power cut: the client's socket stays open but nothing ever answers again)."""
        with self._conn_lock:
            connections = list(self._connections.items())
        for conn, session in connections:
            if silent and session is not None:
                session.mute()
            else:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for session in list(self._udp_sessions.values()):
            session.mute() if silent else session.close()

    def start_live_punches(self, per_minute: float, seed: int = 0) -> LivePuncher:
        """Punch at ``per_minute`` for random enrolled users until ``stop_live_punches``."""
        self.stop_live_punches()
        users = [u.user_id for u in self.state.users]
        self._live = LivePuncher(self.state.add_punch, users, per_minute, seed).start()
        return self._live

    def stop_live_punches(self) -> None:
        live = self._live
        if live is not None:
            live.stop()
            self._live = None

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        # Forget finished connection threads so a long-running simulator does not grow.
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)

    def _bind(self) -> tuple[socket.socket, socket.socket | None]:
        # UDP must share the TCP port number; with an ephemeral port that can collide: retry.
        for _ in range(_BIND_ATTEMPTS):
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.host, self._requested_port))
            tcp.listen(16)
            tcp.settimeout(_POLL_SECONDS)
            if not self.udp:
                return tcp, None
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.bind((self.host, tcp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                if self._requested_port:
                    raise
                continue
            udp.settimeout(_POLL_SECONDS)
            return tcp, udp
        raise OSError("could not bind TCP and UDP on one free port")

    def _session(self, transport: Transport, send: EventSender) -> TerminalSession:
        return TerminalSession(
            self.state,
            transport,
            send,
            event_size=self._event_size,
            rng=random.Random(self._rng.random()),
        )

    # ------------------------------------------------------------ TCP

    def _accept_loop(self) -> None:
        assert self._tcp is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self.state.faults.udp_only:
                conn.close()  # firmware that speaks only UDP
                continue
            conn.settimeout(None)
            with self._conn_lock:
                self._connections[conn] = None
            self._spawn(self._serve_connection, f"zk-sim-{addr[1]}", conn, addr)

    def _serve_connection(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        # §7: TCP_NODELAY and one sendall per frame keep each frame a separate segment.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send_lock = threading.Lock()

        def send(packet: bytes) -> None:
            with send_lock:
                conn.sendall(tcp_wrap(packet))

        def send_event(packet: bytes) -> None:
            try:
                send(packet)
            except OSError as exc:
                logger.info("tcp %s:%d: live event not delivered: %s", *addr, exc)

        session = self._session("tcp", send_event)
        with self._conn_lock:
            self._connections[conn] = session
        splitter = FrameSplitter()
        try:
            while not self._stopping.is_set() and not session.closed:
                data = conn.recv(65536)
                if not data:
                    # pyzk's probe connection closes without sending anything (§2.1 step 2).
                    break
                for packet in splitter.feed(data):
                    replies = session.handle(packet)
                    paced = self.state.faults.realistic_packets and len(replies) > 3
                    for reply in replies:
                        send(reply)
                        if paced:
                            self._stopping.wait(_REALISTIC_GAP_SECONDS)
                    if session.closed:
                        break
        except ConnectionDropped:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        except FramingError as exc:
            logger.warning("tcp %s:%d: hanging up on garbage: %s", *addr, exc)
        except OSError as exc:
            logger.debug("tcp %s:%d: connection ended: %s", *addr, exc)
        finally:
            session.close()
            with self._conn_lock:
                self._connections.pop(conn, None)
            conn.close()

    # ------------------------------------------------------------ UDP

    def _udp_loop(self) -> None:
        sock = self._udp
        assert sock is not None
        while not self._stopping.is_set():
            try:
                packet, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                break
            session = self._udp_session_for(packet, addr)
            if session is None:
                continue
            try:
                for reply in session.handle(packet):
                    sock.sendto(reply, addr)
            except ConnectionDropped:
                session.close()  # UDP has no connection: the device just stops answering
                self._udp_sessions.pop(addr, None)
                continue
            except OSError as exc:
                logger.info("udp %s:%d: reply not delivered: %s", *addr, exc)
            if session.closed:
                self._udp_sessions.pop(addr, None)
        for session in self._udp_sessions.values():
            session.close()
        self._udp_sessions.clear()

    def _udp_session_for(self, packet: bytes, addr: tuple[str, int]) -> TerminalSession | None:
        command = int.from_bytes(packet[:2], "little") if len(packet) >= 2 else -1
        session = self._udp_sessions.get(addr)
        if session is not None and command != 1000:
            self._udp_sessions.move_to_end(addr)
            return session
        if session is None and command == ReplyCode.ACK_OK:
            return None  # a stray event ACK: nothing to answer (§1.4)
        if session is not None:
            session.close()  # CONNECT again from the same address: a new session
        sock = self._udp
        assert sock is not None

        def send_event(reply: bytes) -> None:
            try:
                sock.sendto(reply, addr)
            except OSError as exc:
                logger.info("udp %s:%d: live event not delivered: %s", *addr, exc)

        session = self._session("udp", send_event)
        self._udp_sessions[addr] = session
        while len(self._udp_sessions) > _MAX_UDP_SESSIONS:
            _, oldest = self._udp_sessions.popitem(last=False)
            oldest.close()
        return session
