"""The edge's ADMS endpoint, driven by an HTTP client replaying the terminal's requests (zk-protocol.md §4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import EventKind, parse_topic, punch_event_id
from edge.adms_server import AdmsEndpoint
from edge.adms_settings import AdmsSettings, AdmsTerminalSettings
from edge.outbox import Outbox
from edge.ports import SystemClock

pytestmark = pytest.mark.integration

SERIAL = "CKJR201260001"
# The device's User-Agent and connection style (§4): plain text, Connection: close.
HEADERS = {"User-Agent": "iClock Proxy/1.09", "Connection": "close"}


@pytest.fixture
def adms(tmp_path: Path) -> Iterator[tuple[httpx.Client, AdmsEndpoint, Outbox]]:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    settings = AdmsSettings(
        host="127.0.0.1",
        port=0,
        terminals=[AdmsTerminalSettings(serial=SERIAL, timezone="Asia/Shanghai", record_capacity=6000)],
    )
    endpoint = AdmsEndpoint(settings, edge_id="edge-adms", outbox=outbox, clock=SystemClock()).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{endpoint.port}", headers=HEADERS, timeout=5) as client:
            yield client, endpoint, outbox
    finally:
        endpoint.stop()
        outbox.close()


def queued(outbox: Outbox, kind: EventKind) -> list[dict[str, Any]]:
    due = outbox.due(resend_after=3600, limit=10_000, max_unacked=10_000)
    return [json.loads(m.payload) for m in due if parse_topic(m.topic).kind == kind]


def test_handshake_sends_options_and_the_date_the_device_sets_its_clock_from(adms: Any) -> None:
    client, _, _ = adms
    reply = client.get(
        "/iclock/cdata", params={"SN": SERIAL, "options": "all", "pushver": "2.4.1", "language": "83"}
    )
    assert reply.status_code == 200
    lines = reply.text.split("\n")
    assert lines[0] == f"GET OPTION FROM: {SERIAL}"
    options = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert options["ATTLOGStamp"] == "0"
    assert options["TimeZone"] == "8"
    assert options["Realtime"] == "1"
    assert options["TransFlag"].startswith("TransData AttLog\tOpLog")
    assert reply.headers["Date"].endswith(" GMT")
    sent = parsedate_to_datetime(reply.headers["Date"]).replace(tzinfo=UTC)  # GMT parses as naive
    assert abs((sent - datetime.now(UTC)).total_seconds()) < 5


def test_attlog_upload_becomes_punch_events_with_the_pull_ids_and_bad_lines_are_kept(adms: Any) -> None:
    client, _, outbox = adms
    body = (
        "1452\t2026-11-02 08:29:41\t0\t15\t0\t0\t0\r\n"  # CRLF, face
        "0042\t2026-11-02 08:30:05\t0\t1\t0\t0\t0\t0\t0\t0\n"  # ten columns, leading-zero PIN
        "77\t2026-02-30 08:31:00\t0\t1\t0\t0\t0\n"  # an impossible date
        "garbage line without tabs\n"
        "88\t2026-11-02 08:32:00\t1\t99\t0\t0\t0\n"  # a verify code the profile does not know
    )
    reply = client.post(
        "/iclock/cdata", params={"SN": SERIAL, "table": "ATTLOG", "Stamp": "9999"}, content=body
    )
    assert reply.status_code == 200
    assert reply.text == "OK:5"
    punches = {p["user_id"]: p for p in queued(outbox, EventKind.PUNCH)}
    assert set(punches) == {"1452", "0042", "88"}
    face = punches["1452"]
    assert face["source"] == "adms"
    assert face["verify_method"] == "face"
    assert face["occurred_at"] == "2026-11-02T08:29:41+08:00"
    assert face["event_id"] == punch_event_id(SERIAL, "1452", datetime(2026, 11, 2, 8, 29, 41), 0, 15)
    assert punches["88"]["verify_method"] == "unknown"
    assert "unknown_verify_code" in punches["88"]["flags"]
    problems = queued(outbox, EventKind.DEVICE_STATUS)[-1]["record_problems"]
    assert any("line 3: impossible time '2026-02-30 08:31:00'" in p for p in problems)
    assert any("line 4" in p and "garbage line" in p for p in problems)

    # The device re-sends the batch (no OK seen, CHECK, stamp 0): nothing is queued twice.
    again = client.post(
        "/iclock/cdata", params={"SN": SERIAL, "table": "ATTLOG", "Stamp": "9999"}, content=body
    )
    assert again.text == "OK:5"
    assert len(queued(outbox, EventKind.PUNCH)) == 3
    # The stored stamp goes back in the next handshake, so the device does not re-upload everything.
    handshake = client.get("/iclock/cdata", params={"SN": SERIAL, "options": "all"})
    assert "ATTLOGStamp=9999" in handshake.text


def test_commands_are_polled_and_their_results_recorded(adms: Any) -> None:
    client, endpoint, outbox = adms
    assert client.get("/iclock/getrequest", params={"SN": SERIAL}).text == "OK"
    first = endpoint.queue_command(
        SERIAL, "DATA UPDATE USERINFO PIN=1\tName=Wang Wei\tPri=0\tPasswd=\tCard=0\tGrp=1"
    )
    second = endpoint.queue_command(SERIAL, "INFO")
    info = "Ver 8.0.4.1-20220101,120,240,5123,192.168.1.77,10,7,15,0,111"
    reply = client.get("/iclock/getrequest", params={"SN": SERIAL, "INFO": info})
    assert reply.text.split("\n")[:2] == [
        f"C:{first}:DATA UPDATE USERINFO PIN=1\tName=Wang Wei\tPri=0\tPasswd=\tCard=0\tGrp=1",
        f"C:{second}:INFO",
    ]
    assert "Date" in reply.headers
    status = queued(outbox, EventKind.DEVICE_STATUS)[-1]
    assert (status["users"], status["fingers"], status["records"]) == (120, 240, 5123)
    assert status["address"] == "192.168.1.77"
    assert status["capacity_alert"] == "warning"
    assert status["alerts"] == ["records 5123 of 6000 (85%) used"]
    results = f"ID={first}&Return=0&CMD=DATA\nID={second}&Return=-1005&CMD=INFO\nUserCount=120\n"
    assert client.post("/iclock/devicecmd", params={"SN": SERIAL}, content=results).text == "OK"
    assert endpoint.results[first].return_code == 0
    assert endpoint.results[second].return_code == -1005  # device busy
    assert client.get("/iclock/ping", params={"SN": SERIAL}).text == "OK"


def test_operlog_is_acknowledged_line_by_line(adms: Any) -> None:
    client, _, _ = adms
    body = "OPLOG 4\t14\t2015-07-30 10:22:34\t0\t0\t0\t0\nUSER PIN=36234\tName=36234\tPri=0\tPasswd=\tCard=133440\tGrp=1\n"
    reply = client.post(
        "/iclock/cdata", params={"SN": SERIAL, "table": "OPERLOG", "Stamp": "1"}, content=body
    )
    assert reply.text == "OK:2"


def test_an_unknown_serial_is_refused_and_reported_as_unregistered(adms: Any) -> None:
    client, _, outbox = adms
    reply = client.post(
        "/iclock/cdata",
        params={"SN": "STRANGER01", "table": "ATTLOG"},
        content="1\t2026-11-02 08:00:00\t0\t1\n",
    )
    assert reply.status_code == 403
    assert client.get("/iclock/cdata", params={"SN": "STRANGER01", "options": "all"}).status_code == 403
    assert client.get("/iclock/getrequest").status_code == 403  # no serial at all
    assert queued(outbox, EventKind.PUNCH) == []
    reports = [s for s in queued(outbox, EventKind.DEVICE_STATUS) if s["device_id"] == "STRANGER01"]
    assert len(reports) == 1  # reported once, not once per request
    assert "unregistered device" in reports[0]["error"]


def test_a_silent_push_terminal_is_reported_unreachable_once_and_reachable_when_it_polls_again(
    tmp_path: Path,
) -> None:
    from tests.support.processes import wait_until
    from tests.unit.edge.fakes import FakeClock

    clock = FakeClock(datetime.now(UTC))
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    settings = AdmsSettings(
        host="127.0.0.1",
        port=0,
        delay_seconds=10,
        unreachable_after_polls=3,
        terminals=[AdmsTerminalSettings(serial=SERIAL, timezone="Asia/Shanghai")],
    )
    endpoint = AdmsEndpoint(
        settings, edge_id="edge-adms", outbox=outbox, clock=clock, watchdog_tick_seconds=0.02
    ).start()

    def statuses() -> list[dict[str, Any]]:
        return [s for s in queued(outbox, EventKind.DEVICE_STATUS) if s["device_id"] == SERIAL]

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{endpoint.port}", headers=HEADERS, timeout=5) as client:
            client.get("/iclock/cdata", params={"SN": SERIAL, "options": "all"})
            clock.advance(25)  # two and a half poll intervals: still there
            client.get("/iclock/getrequest", params={"SN": SERIAL})
            clock.advance(29)
            assert endpoint.watchdog.check() == []
            assert all(s["reachable"] for s in statuses())
            clock.advance(2)  # 31 s since its last request: three intervals of 10 s missed
            wait_until(lambda: any(not s["reachable"] for s in statuses()), 10, "an unreachable status")
            gone = statuses()[-1]
            assert gone["reachable"] is False
            assert gone["error"] == "no ADMS request for 31 s: 3 poll intervals of 10 s missed"
            last_contact = clock.current - timedelta(seconds=31)
            assert datetime.fromisoformat(gone["last_read_at"]) == last_contact
            clock.advance(600)
            assert endpoint.watchdog.check() == []  # reported once, not at every check
            clock.advance(1)
            client.get("/iclock/getrequest", params={"SN": SERIAL})
            back = statuses()[-1]
            assert (back["reachable"], back["error"]) == (True, None)
            assert [s["reachable"] for s in statuses()].count(False) == 1
    finally:
        endpoint.stop()
        outbox.close()


def test_the_attlog_stamp_is_saved_only_once_the_punches_are_queued(tmp_path: Path) -> None:
    class OutboxFailingOnce(Outbox):
        """The real outbox, whose first write of events fails (a full disk, say)."""

        failed = False

        def add(self, messages: Any, **kwargs: Any) -> int:
            messages = list(messages)
            if messages and not self.failed:
                self.failed = True
                raise OSError("disk full")
            return super().add(messages, **kwargs)

    outbox = OutboxFailingOnce(tmp_path / "outbox.sqlite3")
    settings = AdmsSettings(
        host="127.0.0.1", port=0, terminals=[AdmsTerminalSettings(serial=SERIAL, timezone="Asia/Shanghai")]
    )
    endpoint = AdmsEndpoint(settings, edge_id="edge-adms", outbox=outbox, clock=SystemClock()).start()
    body = "1452\t2026-11-02 08:29:41\t0\t15\t0\t0\t0\n"
    params = {"SN": SERIAL, "table": "ATTLOG", "Stamp": "4242"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{endpoint.port}", headers=HEADERS, timeout=5) as client:
            assert client.post("/iclock/cdata", params=params, content=body).status_code == 500
            assert queued(outbox, EventKind.PUNCH) == []
            handshake = client.get("/iclock/cdata", params={"SN": SERIAL, "options": "all"})
            assert "ATTLOGStamp=0" in handshake.text  # so the device sends the records again
            assert client.post("/iclock/cdata", params=params, content=body).text == "OK:1"
            assert len(queued(outbox, EventKind.PUNCH)) == 1
            handshake = client.get("/iclock/cdata", params={"SN": SERIAL, "options": "all"})
            assert "ATTLOGStamp=4242" in handshake.text
    finally:
        endpoint.stop()
        outbox.close()


def test_the_agent_serves_adms_and_sends_staff_to_push_terminals(mosquitto_url: str, tmp_path: Path) -> None:
    import uuid

    from contracts import EdgeCommand, TerminalUser, UpsertUsersCommand, command_topic, encode, event_topic
    from edge.agent import EdgeAgent
    from edge.settings import EdgeSettings
    from tests.support.brokers import Probe
    from tests.support.processes import wait_until

    edge_id = f"edge-{uuid.uuid4().hex[:8]}"
    settings = EdgeSettings(
        edge_id=edge_id,
        mqtt_url=mosquitto_url,
        outbox_path=tmp_path / "outbox.sqlite3",
        firmware_configs_dir=Path(__file__).resolve().parents[2] / "firmware_configs",
        adms=AdmsSettings(
            host="127.0.0.1",
            port=0,
            terminals=[
                AdmsTerminalSettings(serial=SERIAL, timezone="Asia/Shanghai", profile="speedface_v5l_push")
            ],
        ),
    )
    agent = EdgeAgent(settings)
    agent.start()
    server = Probe(mosquitto_url, event_topic(edge_id, EventKind.PUNCH, SERIAL))
    try:
        assert agent.adms is not None
        base = f"http://127.0.0.1:{agent.adms.port}"
        with httpx.Client(base_url=base, headers=HEADERS, timeout=5) as client:
            reply = client.post(
                "/iclock/cdata",
                params={"SN": SERIAL, "table": "ATTLOG", "Stamp": "1"},
                content="7\t2026-11-02 08:29:41\t0\t15\t0\t0\t0\n",
            )
            assert reply.text == "OK:1"
            command = EdgeCommand(
                command_id=uuid.uuid4().hex,
                edge_id=edge_id,
                issued_at=datetime.now(UTC),
                command=UpsertUsersCommand(users=[TerminalUser(user_id="7", name="Zhou Jun", admin=True)]),
            )
            server.publish(command_topic(edge_id), encode(command))

            def polled() -> str:
                return client.get("/iclock/getrequest", params={"SN": SERIAL}).text

            lines: list[str] = []
            wait_until(lambda: (text := polled()) != "OK" and not lines.append(text), 20, "the user command")
        assert "DATA UPDATE USERINFO PIN=7\tName=Zhou Jun\tPri=14" in lines[0]
        published = json.loads(server.get().payload)  # the pushed punch went out over MQTT
        assert (published["user_id"], published["source"], published["verify_method"]) == (
            "7",
            "adms",
            "face",
        )
    finally:
        server.close()
        agent.stop()
