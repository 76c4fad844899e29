"""Command dispatcher of one simulated-terminal session: request packet in, reply packets out.

Transport-free: packets here are header + payload without the TCP prefix; the server in
``simulator.py`` frames and sends them. Behaviour follows the checklist of ``zk-protocol.md`` §7.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable
from typing import Literal

from devices.zkteco.packets import (
    CommandCode,
    FramingError,
    Header,
    ReplyCode,
    build_packet,
    checksum_matches,
    decode_time,
    encode_time,
    make_commkey,
    parse_packet,
)
from devices.zkteco.records import (
    decode_user,
    encode_sizes,
)
from devices.zkteco.sim_faults import ConnectionDropped
from devices.zkteco.sim_live import LiveEventChannel
from devices.zkteco.sim_state import DeviceState

logger = logging.getLogger(__name__)

Transport = Literal["tcp", "udp"]
EventSender = Callable[[bytes], None]
_Handler = Callable[[Header, bytes], list[bytes]]

# §2.4: pyzk reads 1024 bytes for the 1503 reply over UDP, so 1016 payload bytes fit inline.
INLINE_LIMIT = 1016
# §2.4: over UDP every CMD_DATA datagram of a chunk carries at most 1024 data bytes.
UDP_DATA_PIECE = 1024
# §2.4: real TCP devices split a chunk into CMD_DATA frames of at most 1008 data bytes.
REALISTIC_TCP_PIECE = 1008
# §2.4: second u32 of the 8-byte PREPARE_DATA payload ("max packet"); pyzk ignores it.
_PREPARE_MAX_PACKET = 0x10000
_ALWAYS_ALLOWED = {CommandCode.CONNECT, CommandCode.AUTH, CommandCode.EXIT}
# Commands that need nothing but a header-only ACK_OK (§7).
_PLAIN_ACK = {
    CommandCode.CANCELCAPTURE,
    CommandCode.STARTVERIFY,
    CommandCode.REFRESHDATA,
    CommandCode.OPTIONS_WRQ,
    CommandCode.UNLOCK,
    CommandCode.TESTVOICE,
    CommandCode.RESTART,
    CommandCode.POWEROFF,
}


class TerminalSession:
    """One client's session: session id, authentication, buffered-read and live-event state.

    ``handle`` is called by the transport for each request; ``send_event`` is how live events
    reach the client outside the request/reply rhythm (called from the punching thread).
    """

    def __init__(
        self,
        state: DeviceState,
        transport: Transport,
        send_event: EventSender,
        *,
        event_size: int = 32,
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.transport = transport
        self.session_id = 0
        self.authenticated = False
        self.closed = False
        self._live = LiveEventChannel(state, send_event, event_size)
        self._rng = rng or random.Random()
        self._buffer: bytes | None = None
        self._holds_tcp_session = False
        self._chunks_served = 0
        self.muted = False
        self._upload: bytearray | None = None
        self._handlers: dict[int, _Handler] = {
            CommandCode.CONNECT: self._connect,
            CommandCode.AUTH: self._auth,
            CommandCode.EXIT: self._exit,
            CommandCode.GET_VERSION: self._version,
            CommandCode.OPTIONS_RRQ: self._options,
            CommandCode.GET_FREE_SIZES: self._sizes,
            CommandCode.GET_PINWIDTH: self._pin_width,
            CommandCode.GET_TIME: self._get_time,
            CommandCode.SET_TIME: self._set_time,
            CommandCode.ENABLEDEVICE: self._enable,
            CommandCode.DISABLEDEVICE: self._disable,
            CommandCode.PREPARE_BUFFER: self._prepare_buffer,
            CommandCode.READ_BUFFER: self._read_buffer,
            CommandCode.FREE_DATA: self._free_data,
            CommandCode.REG_EVENT: self._reg_event,
            CommandCode.CLEAR_ATTLOG: self._clear_attlog,
            CommandCode.CLEAR_DATA: self._clear_data,
            CommandCode.USER_WRQ: self._user_wrq,
            CommandCode.DELETE_USER: self._delete_user,
            CommandCode.PREPARE_DATA: self._upload_start,
            CommandCode.DATA: self._upload_chunk,
            CommandCode.SAVE_USERTEMPS: self._save_user_templates,
            ReplyCode.ACK_ERROR: self._unknown,
            ReplyCode.ACK_UNKNOWN: self._unknown,
        }

    # ------------------------------------------------------------ entry points

    def handle(self, packet: bytes) -> list[bytes]:
        """Answer one request packet with zero or more reply packets (in sending order)."""
        if self.muted:
            return []  # a device that lost power answers nothing, ever
        try:
            header, payload = parse_packet(packet)
        except FramingError as exc:
            logger.warning("session %#x: dropping packet: %s", self.session_id, exc)
            return []
        if not checksum_matches(packet):
            # §1.3: log only; pyzk's own checksums can differ by the 0/0xFFFF ambiguity.
            logger.debug("session %#x: checksum mismatch on %d", self.session_id, header.command)
        if header.command == ReplyCode.ACK_OK:
            # §1.4: the client's ACK of a live event; never answered.
            return self._live.acked()
        if not self.authenticated and header.command not in _ALWAYS_ALLOWED:
            return [self._reply(ReplyCode.ACK_UNAUTH, header)]
        if header.command in self.state.faults.busy_commands and header.command not in _ALWAYS_ALLOWED:
            return self._error(header, "device busy (fault profile)")
        if header.command in _PLAIN_ACK:
            return [self._reply(ReplyCode.ACK_OK, header)]
        handler = self._handlers.get(header.command)
        if handler is None:
            logger.info("session %#x: unknown command %d", self.session_id, header.command)
            return [self._reply(ReplyCode.ACK_UNKNOWN, header)]
        try:
            return handler(header, payload)
        except ConnectionDropped:
            raise
        except Exception:
            # A simulator bug or unencodable state must not kill the server thread.
            logger.exception("session %#x: command %d failed", self.session_id, header.command)
            return [self._reply(ReplyCode.ACK_ERROR, header)]

    def mute(self) -> None:
        """Stop answering and sending events without closing the connection (a silent device)."""
        self._live.stop()
        self.muted = True
        self._release_tcp_session()

    def close(self) -> None:
        """Forget the session: stop live events and drop any read buffer."""
        self._live.stop()
        self._buffer = None
        self.closed = True
        self._release_tcp_session()

    def _release_tcp_session(self) -> None:
        if self._holds_tcp_session:
            self._holds_tcp_session = False
            self.state.release_tcp_session()

    # ------------------------------------------------------------ helpers

    def _reply(self, code: int, request: Header, payload: bytes = b"") -> bytes:
        # §7: replies echo the request's reply id and carry the session id.
        return build_packet(code, self.session_id, request.reply_id, payload)

    def _ok(self, request: Header, payload: bytes = b"") -> list[bytes]:
        return [self._reply(ReplyCode.ACK_OK, request, payload)]

    def _error(self, request: Header, why: str) -> list[bytes]:
        logger.info("session %#x: command %d refused: %s", self.session_id, request.command, why)
        return [self._reply(ReplyCode.ACK_ERROR, request)]

    # ------------------------------------------------------------ session (§1.8, §2.1)

    def _connect(self, request: Header, _payload: bytes) -> list[bytes]:
        if self.transport == "tcp" and not self._holds_tcp_session:
            if not self.state.claim_tcp_session():
                # §6.3: one TCP client at a time; pyzk raises "Invalid response: Can't connect".
                return self._error(request, "another client is connected")
            self._holds_tcp_session = True
        self.session_id = self._rng.randint(1, 0xFFFE)
        self.authenticated = self.state.comm_key == 0
        code = ReplyCode.ACK_OK if self.authenticated else ReplyCode.ACK_UNAUTH
        logger.info("session %#x: connect (%s)", self.session_id, self.transport)
        return [self._reply(code, request)]

    def _auth(self, request: Header, payload: bytes) -> list[bytes]:
        expected = make_commkey(self.state.comm_key, self.session_id)
        self.authenticated = payload[:4] == expected
        if not self.authenticated:
            logger.warning("session %#x: wrong comm key", self.session_id)
            return [self._reply(ReplyCode.ACK_UNAUTH, request)]
        return self._ok(request)

    def _exit(self, request: Header, _payload: bytes) -> list[bytes]:
        reply = self._ok(request)
        self.close()
        return reply

    def _unknown(self, request: Header, _payload: bytes) -> list[bytes]:
        # §2.2: pyzk's _clear_error sends 2001 and 3× 0xFFFF as commands and waits for replies.
        return [self._reply(ReplyCode.ACK_UNKNOWN, request)]

    # ------------------------------------------------------------ identity and sizes (§2.2, §2.3)

    def _version(self, request: Header, _payload: bytes) -> list[bytes]:
        return self._ok(request, self.state.identity.firmware.encode() + b"\x00")

    def _options(self, request: Header, payload: bytes) -> list[bytes]:
        key = payload.split(b"\x00", 1)[0].decode("ascii", errors="replace")
        values = self.state.identity.options()
        if key not in values:
            # §2.2: real devices answer unsupported keys (e.g. ~ExtendFmt) with ACK_ERROR.
            return self._error(request, f"unsupported option {key!r}")
        return self._ok(request, f"{key}={values[key]}".encode() + b"\x00")

    def _sizes(self, request: Header, _payload: bytes) -> list[bytes]:
        return self._ok(request, encode_sizes(self.state.sizes()))

    def _pin_width(self, request: Header, _payload: bytes) -> list[bytes]:
        return self._ok(request, b"\x09")

    # ------------------------------------------------------------ clock and flags (§2.8, §2.9)

    def _get_time(self, request: Header, _payload: bytes) -> list[bytes]:
        return self._ok(request, struct.pack("<I", encode_time(self.state.now())))

    def _set_time(self, request: Header, payload: bytes) -> list[bytes]:
        try:
            (packed,) = struct.unpack_from("<I", payload)
            self.state.set_time(decode_time(packed))
        except (struct.error, ValueError) as exc:
            return self._error(request, f"bad time: {exc}")
        return self._ok(request)

    def _enable(self, request: Header, _payload: bytes) -> list[bytes]:
        self.state.set_enabled(True)
        return self._ok(request)

    def _disable(self, request: Header, _payload: bytes) -> list[bytes]:
        # node-zklib sends a 4-byte zero payload here, pyzk none; both are accepted (§2.9).
        self.state.set_enabled(False)
        return self._ok(request)

    # ------------------------------------------------------------ buffered reads (§2.4)

    def _prepare_buffer(self, request: Header, payload: bytes) -> list[bytes]:
        try:
            _one, sub_command, _fct, _ext = struct.unpack_from("<bhii", payload)
        except struct.error:
            return self._error(request, "1503 payload is not 11 bytes")
        # Dispatch on the sub-command, never on fct: attendance is asked with fct 0 (§2.4).
        if sub_command == CommandCode.USERTEMP_RRQ:
            blob = self.state.users_blob()
        elif sub_command == CommandCode.ATTLOG_RRQ:
            blob = self.state.attendance_blob()
        elif sub_command == CommandCode.DB_RRQ:
            blob = self.state.templates_blob()
        else:
            return self._error(request, f"no dataset for sub-command {sub_command}")
        if len(blob) <= INLINE_LIMIT:
            return [self._reply(CommandCode.DATA, request, blob)]
        self._buffer = blob
        size = struct.pack("<I", len(blob))
        return self._ok(request, b"\x00" + size + size + b"\x00\x00\x00\x00")

    def _read_buffer(self, request: Header, payload: bytes) -> list[bytes]:
        if self._buffer is None:
            return self._error(request, "1504 without a prepared buffer")
        try:
            start, size = struct.unpack_from("<ii", payload)
        except struct.error:
            return self._error(request, "1504 payload is not 8 bytes")
        faults = self.state.faults
        self._chunks_served += 1
        limit = faults.drop_after_chunks
        if limit is not None and faults.drops > 0 and self._chunks_served > limit:
            faults.drops -= 1
            logger.warning("session %#x: dropping the connection mid-transfer (fault)", self.session_id)
            if faults.drop_silently:
                self.mute()
                return []
            raise ConnectionDropped
        chunk = self._buffer[start : start + size]
        # §2.4: PREPARE_DATA with exactly 8 payload bytes, the data, then ACK_OK.
        prepare = struct.pack("<II", len(chunk), _PREPARE_MAX_PACKET)
        replies = [self._reply(CommandCode.PREPARE_DATA, request, prepare)]
        if self.transport == "tcp" and faults.realistic_packets:
            # §2.4: real devices put a packet counter (here from 1 within each chunk) in the
            # session slot of these frames; pyzk never looks at it.
            replies.extend(
                build_packet(CommandCode.DATA, number, request.reply_id, chunk[i : i + REALISTIC_TCP_PIECE])
                for number, i in enumerate(range(0, len(chunk), REALISTIC_TCP_PIECE), start=1)
            )
        elif self.transport == "tcp":
            replies.append(self._reply(CommandCode.DATA, request, chunk))
        else:
            replies.extend(
                self._reply(CommandCode.DATA, request, chunk[i : i + UDP_DATA_PIECE])
                for i in range(0, len(chunk), UDP_DATA_PIECE)
            )
        replies.append(self._reply(ReplyCode.ACK_OK, request))
        return replies

    def _free_data(self, request: Header, _payload: bytes) -> list[bytes]:
        self._buffer = None
        return self._ok(request)

    # ------------------------------------------------------------ data changes (§2.6, §2.11)

    def _clear_attlog(self, request: Header, _payload: bytes) -> list[bytes]:
        self.state.clear_attendance()
        return self._ok(request)

    def _clear_data(self, request: Header, _payload: bytes) -> list[bytes]:
        self.state.clear_all()
        return self._ok(request)

    def _user_wrq(self, request: Header, payload: bytes) -> list[bytes]:
        try:
            user = decode_user(payload)
        except (ValueError, struct.error) as exc:
            return self._error(request, str(exc))
        self.state.put_user(user)
        return self._ok(request)

    def _delete_user(self, request: Header, payload: bytes) -> list[bytes]:
        try:
            (uid,) = struct.unpack_from("<h", payload)
        except struct.error:
            return self._error(request, "delete_user payload is not a u16 uid")
        self.state.delete_user(uid & 0xFFFF)
        return self._ok(request)

    # ------------------------------------------------------------ uploads (pyzk save_user_template)

    def _upload_start(self, request: Header, _payload: bytes) -> list[bytes]:
        self._upload = bytearray()
        return self._ok(request)

    def _upload_chunk(self, request: Header, payload: bytes) -> list[bytes]:
        if self._upload is None:
            return self._error(request, "CMD_DATA without CMD_PREPARE_DATA")
        self._upload.extend(payload)
        return self._ok(request)

    def _save_user_templates(self, request: Header, _payload: bytes) -> list[bytes]:
        upload, self._upload = self._upload, None
        try:
            self.state.save_user_templates(bytes(upload or b""))
        except (ValueError, struct.error) as exc:
            return self._error(request, f"bad template upload: {exc}")
        return self._ok(request)

    # ------------------------------------------------------------ live events (§2.10)

    def _reg_event(self, request: Header, payload: bytes) -> list[bytes]:
        self._live.register(payload)
        return self._ok(request)
