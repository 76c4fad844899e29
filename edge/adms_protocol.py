"""The text formats of the ADMS / PUSH SDK protocol (``zk-protocol.md`` §4), parsed and written. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from devices.terminal import Punch

PUSH_SERVER_VERSION = "2.4.1"
# §4.1 TransFlag word list (tab-separated), the form new servers should send.
_TRANS_FLAG = "TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\tChgUser\tEnrollFP\tChgFP\tUserPic"
_MAX_VERIFY = 255


def http_date(now: datetime) -> str:
    """The ``Date`` header (RFC 7231, GMT); the device sets its clock from it (§4.1)."""
    return format_datetime(now.astimezone(UTC), usegmt=True)


def zone_option(zone: str, now: datetime) -> str:
    """The ``TimeZone=`` value: whole hours, or minutes when the offset is not whole (§4.1)."""
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return str(minutes // 60) if minutes % 60 == 0 else str(minutes)


def handshake(serial: str, *, stamps: dict[str, str], delay: int, zone: str, now: datetime) -> str:
    """The reply to ``GET /iclock/cdata?SN=…&options=all`` (§4.1), LF-separated, first line fixed."""
    lines = [
        f"GET OPTION FROM: {serial}",
        f"ATTLOGStamp={stamps.get('ATTLOG', '0')}",
        f"OPERLOGStamp={stamps.get('OPERLOG', '0')}",
        f"ATTPHOTOStamp={stamps.get('ATTPHOTO', '0')}",
        "ErrorDelay=30",
        f"Delay={delay}",
        "TransTimes=00:00;14:05",
        "TransInterval=1",
        f"TransFlag={_TRANS_FLAG}",
        f"TimeZone={zone_option(zone, now)}",
        "Realtime=1",
        "Encrypt=None",
        f"ServerVer={PUSH_SERVER_VERSION}",
        f"PushProtVer={PUSH_SERVER_VERSION}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class AttlogUpload:
    """An ATTLOG body: the records that parsed, and each line that did not, with why."""

    punches: list[Punch]
    problems: list[str]
    lines: int


def parse_attlog(body: str, zone: ZoneInfo) -> AttlogUpload:
    """``PIN\\tYYYY-MM-DD HH:MM:SS\\tStatus\\tVerify\\t…`` per line (§4.2); extra columns and CRLF
    are tolerated; a bad line is kept (raw) with its reason and the others are still read."""
    punches: list[Punch] = []
    problems: list[str] = []
    lines = 0
    for number, raw in enumerate(body.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        lines += 1
        try:
            punches.append(_attlog_line(line, zone))
        except ValueError as exc:
            problems.append(f"ATTLOG line {number}: {exc}: {line!r}")
    return AttlogUpload(punches, problems, lines)


def _attlog_line(line: str, zone: ZoneInfo) -> Punch:
    fields = line.split("\t")
    if len(fields) < 2:
        raise ValueError("expected PIN<TAB>time<TAB>status<TAB>verify")
    pin = fields[0].strip()
    if not pin or len(pin) > 24 or not pin.isalnum():
        raise ValueError(f"PIN {pin!r} is not 1-24 letters or digits")
    try:
        when = datetime.strptime(fields[1].strip(), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - device wall clock
    except ValueError:
        raise ValueError(f"impossible time {fields[1]!r}") from None
    state = _small_int(fields, 2, "status")
    verify = _small_int(fields, 3, "verify")
    return Punch(
        user_id=pin,
        device_uid=None,
        device_time=when,
        occurred_at=when.replace(tzinfo=zone),
        verify_mode=verify,
        punch_state=state,
        log_index=None,
    )


def _small_int(fields: list[str], index: int, name: str) -> int:
    text = fields[index].strip() if index < len(fields) else "0"
    if not text.isdigit() or int(text) > _MAX_VERIFY:
        raise ValueError(f"{name} {text!r} is not a number 0-255")
    return int(text)


@dataclass(frozen=True)
class CommandResult:
    """One line of a ``/iclock/devicecmd`` body: ``ID=…&Return=…&CMD=…`` (§4.4)."""

    command_id: str
    return_code: int
    command: str


def parse_command_results(body: str) -> list[CommandResult]:
    """The command results in a devicecmd body; INFO's extra key=value lines are skipped."""
    results: list[CommandResult] = []
    for raw in body.replace("\r", "").split("\n"):
        if not raw.startswith("ID="):
            continue
        parts = dict(part.partition("=")[::2] for part in raw.split("&"))
        try:
            code = int(parts.get("Return", ""))
        except ValueError:
            code = -1  # unreadable: treat as a failure (Appendix 1: -1 bad parameter)
        results.append(CommandResult(parts.get("ID", ""), code, parts.get("CMD", "")))
    return results


@dataclass(frozen=True)
class DeviceInfo:
    """The ``INFO=`` of a getrequest poll: firmware, users, fingerprints, records, IP (§4.4)."""

    firmware: str
    users: int | None
    fingers: int | None
    records: int | None
    address: str | None


def parse_info(info: str) -> DeviceInfo:
    parts = info.split(",")

    def number(i: int) -> int | None:
        return int(parts[i]) if i < len(parts) and parts[i].strip().isdigit() else None

    return DeviceInfo(
        firmware=parts[0].strip(),
        users=number(1),
        fingers=number(2),
        records=number(3),
        address=parts[4].strip() if len(parts) > 4 and parts[4].strip() else None,
    )


def count_operlog(body: str) -> int:
    """How many lines an OPERLOG body carries (OPLOG, USER, FP), for the ``OK:<n>`` reply."""
    return sum(1 for line in body.replace("\r", "").split("\n") if line.strip())
