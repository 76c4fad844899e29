"""The edge's ADMS endpoint: push-only terminals (SpeedFace and similar) upload to it over HTTP.

Speaks the terminal-facing PUSH SDK protocol of ``zk-protocol.md`` §4: the ``/iclock/cdata``
handshake and ATTLOG/OPERLOG uploads, ``/iclock/getrequest`` command polling,
``/iclock/devicecmd`` results and ``/iclock/ping``; every reply carries the ``Date`` header the
terminal sets its clock from. Pushed punches become the same punch events, with the same ids, as
punches read over the pull protocol. A request from a serial number that is not registered is
refused (403) and reported as an unregistered device, never silently accepted.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from contracts import DeviceKind, DeviceStatus, EventKind, PunchSource, encode, event_topic
from contracts.topics import TopicError, check_id
from devices.terminal import Punch, TerminalInfo
from edge.adms_protocol import (
    CommandResult,
    count_operlog,
    handshake,
    http_date,
    parse_attlog,
    parse_command_results,
    parse_info,
)
from edge.adms_settings import AdmsSettings, AdmsTerminalSettings
from edge.adms_watchdog import AdmsWatchdog
from edge.outbox import Outbox, OutboxMessage
from edge.ports import Clock
from edge.punch_events import PunchContext, build_punch_event, record_id
from edge.record_checks import FlagRules, capacity_alert

logger = logging.getLogger(__name__)

_MAX_BODY = 8 * 1024 * 1024
_MAX_COMMANDS_PER_POLL = 200  # §4.4: ZKTeco's own server sends up to ~200 per poll
_LAST_UPLOAD = "adms_last_attlog_at"


class AdmsEndpoint:
    """A threaded HTTP server for registered ADMS terminals; :meth:`start` returns at once."""

    def __init__(
        self,
        settings: AdmsSettings,
        *,
        edge_id: str,
        outbox: Outbox,
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        watchdog_tick_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.edge_id = edge_id
        self._outbox = outbox
        self._clock = clock
        self._on_queued = on_queued
        self._terminals = {t.serial: t for t in settings.terminals}
        self._commands: dict[str, deque[tuple[str, str]]] = {s: deque() for s in self._terminals}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._reported_unknown: set[str] = set()
        self.results: dict[str, CommandResult] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.watchdog = AdmsWatchdog(
            self._terminals,
            poll_seconds=settings.delay_seconds,
            missed_polls=settings.unreachable_after_polls,
            clock=clock,
            report=self._reachability,
            tick_seconds=watchdog_tick_seconds,
        )

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ADMS endpoint not started")
        return int(self._server.server_address[1])

    def start(self) -> AdmsEndpoint:
        endpoint = self

        class Handler(_AdmsHandler):
            adms = endpoint

        self._server = ThreadingHTTPServer((self.settings.host, self.settings.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="adms-http", daemon=True)
        self._thread.start()
        self.watchdog.start()
        logger.info(
            "ADMS endpoint on %s:%d for %d terminal(s)", self.settings.host, self.port, len(self._terminals)
        )
        return self

    def stop(self) -> None:
        self.watchdog.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def queue_command(self, serial: str, command: str) -> str:
        """Queue ``command`` (e.g. ``DATA UPDATE USERINFO PIN=1\\tName=…``) for the next poll."""
        if serial not in self._commands:
            raise KeyError(f"{serial} is not a registered ADMS terminal")
        command_id = f"kq{next(self._ids)}"
        with self._lock:
            self._commands[serial].append((command_id, command))
        return command_id

    def set_registered(self, terminals: list[AdmsTerminalSettings]) -> list[str]:
        """Accept these serials too, besides ``adms.terminals`` (which wins for a serial in both):
        the push terminals registered on the server. Returns the serials now accepted."""
        own = {t.serial: t for t in self.settings.terminals}
        accepted = {**{t.serial: t for t in terminals}, **own}
        with self._lock:
            self._commands = {s: self._commands.get(s, deque()) for s in accepted}
            self._terminals = accepted
            self._reported_unknown -= accepted.keys()
        self.watchdog.watch(accepted)
        return sorted(accepted)

    @property
    def serials(self) -> list[str]:
        """Every serial accepted now (``adms.terminals`` and the registered push terminals)."""
        return sorted(self._terminals)

    def terminal(self, serial: str) -> AdmsTerminalSettings | None:
        return self._terminals.get(serial)

    # ------------------------------------------------------------ request handling (called by Handler)

    def refuse_unknown(self, serial: str, path: str, client: str) -> None:
        logger.warning("ADMS %s from unregistered serial %r at %s refused", path, serial, client)
        if serial in self._reported_unknown:
            return
        try:
            device_id = check_id(serial, "serial")
        except TopicError:
            return  # cannot name it on MQTT; the log line above is the report
        self._reported_unknown.add(serial)
        self._status(
            device_id,
            reachable=True,
            address=client,
            error=f"unregistered device: ADMS {path} from serial {serial!r} refused (not in adms.terminals)",
        )

    def on_handshake(self, serial: str, client: str) -> str:
        terminal = self._terminals[serial]
        stamps = {
            table: value
            for table in ("ATTLOG", "OPERLOG", "ATTPHOTO")
            if (value := self._outbox.fact(serial, f"adms_stamp_{table}")) is not None
        }
        self._status(serial, reachable=True, address=client)
        return handshake(
            serial,
            stamps=stamps,
            delay=self.settings.delay_seconds,
            zone=terminal.timezone,
            now=self._clock.now(),
        )

    def on_upload(self, serial: str, table: str, stamp: str | None, body: str) -> str:
        if table.upper() == "ATTLOG":
            reply = self._attlog(serial, body)
        elif table.upper() == "OPERLOG":
            reply = f"OK:{count_operlog(body)}"
        else:
            reply = "OK"  # other tables (photos, options) carry nothing the edge keeps
        if stamp:
            # Only now: the upload's punches are in the outbox. A stamp saved first and a failure
            # in between would tell the device, at its next handshake, that they had arrived.
            self._outbox.set_fact(serial, f"adms_stamp_{table.upper()}", stamp)
        return reply

    def on_poll(self, serial: str, info: str | None, client: str) -> str:
        if info:
            device = parse_info(info)
            terminal = self._terminals[serial]
            level, alerts = capacity_alert(
                TerminalInfo(
                    serial=serial,
                    firmware=device.firmware,
                    platform="",
                    device_name="",
                    mac="",
                    users=device.users or 0,
                    records=device.records or 0,
                    record_capacity=terminal.record_capacity or 0,
                    fingers=device.fingers or 0,
                    finger_capacity=terminal.finger_capacity or 0,
                    user_capacity=terminal.user_capacity or 0,
                )
            )
            self._status(
                serial,
                reachable=True,
                address=device.address or client,
                firmware=device.firmware or None,
                users=device.users,
                fingers=device.fingers,
                records=device.records,
                user_capacity=terminal.user_capacity,
                finger_capacity=terminal.finger_capacity,
                record_capacity=terminal.record_capacity,
                capacity_alert=level,
                alerts=alerts,
            )
        with self._lock:
            queue = self._commands[serial]
            lines = [queue.popleft() for _ in range(min(len(queue), _MAX_COMMANDS_PER_POLL))]
        return "\n".join(f"C:{cid}:{text}" for cid, text in lines) + "\n" if lines else "OK"

    def on_results(self, serial: str, body: str) -> str:
        for result in parse_command_results(body):
            self.results[result.command_id] = result
            level = logging.INFO if result.return_code == 0 else logging.WARNING
            logger.log(
                level,
                "ADMS %s: command %s (%s) returned %d",
                serial,
                result.command_id,
                result.command,
                result.return_code,
            )
        return "OK"

    def _attlog(self, serial: str, body: str) -> str:
        terminal = self._terminals[serial]
        upload = parse_attlog(body, ZoneInfo(terminal.timezone))
        now = self._clock.now()
        previous = self._outbox.fact(serial, _LAST_UPLOAD)
        context = PunchContext(
            self.edge_id,
            serial,
            terminal.verify_map,
            terminal.punch_states,
            FlagRules(
                timedelta(seconds=terminal.future_tolerance_seconds),
                timedelta(seconds=terminal.backfill_tolerance_seconds),
            ),
        )
        seen = self._outbox.seen_ids(serial)
        fresh: dict[str, Punch] = {}
        for punch in upload.punches:
            event_id = record_id(serial, punch)
            if event_id not in seen:
                fresh.setdefault(event_id, punch)
        topic = event_topic(self.edge_id, EventKind.PUNCH, serial)
        messages = []
        for punch in fresh.values():
            event = build_punch_event(
                context,
                punch,
                observed_at=now,
                known_absent_at=datetime.fromisoformat(previous) if previous else None,
                source=PunchSource.ADMS,
                clock_unreliable=False,
            )
            messages.append(OutboxMessage(event.event_id, topic, encode(event)))
        added = self._outbox.add(messages, seen=(serial, list(fresh)))
        self._outbox.set_fact(serial, _LAST_UPLOAD, now.isoformat())
        if upload.problems:
            for problem in upload.problems:
                logger.warning("ADMS %s: %s", serial, problem)
            self._status(serial, reachable=True, record_problems=upload.problems[:20])
        if added:
            logger.info("ADMS %s: %d new punches queued", serial, added)
            self._on_queued()
        # Every line is answered as accepted: the good ones are queued (or were before), the bad
        # ones are kept in the device status; a device told otherwise would resend them forever.
        return f"OK:{upload.lines}"

    def _reachability(self, serial: str, reachable: bool, error: str | None, last: datetime | None) -> None:
        self._status(serial, reachable=reachable, error=error, last_read_at=last)

    def _status(self, device_id: str, **fields: object) -> None:
        status = DeviceStatus.create(
            edge_id=self.edge_id,
            device_id=device_id,
            occurred_at=self._clock.now(),
            device_kind=DeviceKind.TERMINAL,
            **({"last_read_at": self._clock.now()} | fields),
        )
        topic = event_topic(self.edge_id, EventKind.DEVICE_STATUS, device_id)
        self._outbox.add([OutboxMessage(status.event_id, topic, encode(status))])
        self._on_queued()


class _AdmsHandler(BaseHTTPRequestHandler):
    adms: AdmsEndpoint
    server_version = "kaoqin-edge-adms"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("ADMS %s - %s", self.client_address[0], format % args)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(413, f"body of {length} bytes is over the {_MAX_BODY} byte limit")
            return
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, raw: bytes) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        serial = query.get("SN", "")
        client = self.client_address[0]
        path = url.path.rstrip("/")
        if path not in ("/iclock/cdata", "/iclock/getrequest", "/iclock/devicecmd", "/iclock/ping"):
            self._reply(404, f"unknown ADMS path {url.path}")
            return
        if not serial or self.adms.terminal(serial) is None:
            self.adms.refuse_unknown(serial, path, client)
            self._reply(403, f"unregistered device {serial!r}")
            return
        self.adms.watchdog.seen(serial)
        # §4 text is UTF-8 (GB2312 only on Chinese-language firmware); undecodable bytes are kept visible.
        body = raw.decode("utf-8", errors="replace")
        try:
            if path == "/iclock/cdata" and self.command == "GET":
                text = self.adms.on_handshake(serial, client)
            elif path == "/iclock/cdata":
                text = self.adms.on_upload(serial, query.get("table", ""), query.get("Stamp"), body)
            elif path == "/iclock/getrequest":
                text = self.adms.on_poll(serial, query.get("INFO"), client)
            elif path == "/iclock/devicecmd":
                text = self.adms.on_results(serial, body)
            else:
                text = "OK"
        except Exception as exc:  # the device keeps its data and retries on a non-OK reply (§4.2)
            logger.exception("ADMS %s %s from %s failed", self.command, path, serial)
            self._reply(500, f"error: {exc}")
            return
        self._reply(200, text)

    def _reply(self, code: int, text: str) -> None:
        payload = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Date", http_date(self.adms._clock.now()))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True
