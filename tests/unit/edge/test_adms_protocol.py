"""ADMS text formats (zk-protocol.md §4) without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from edge.adms_protocol import handshake, parse_attlog, parse_command_results, parse_info, zone_option

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_attlog_lines_tolerate_crlf_and_extra_columns_and_keep_bad_lines() -> None:
    upload = parse_attlog(
        "1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0\r\n\n11\t2025-08-27 10:57:49\t0\t25\t0\t0\t0\t0\t0\t0\n"
        "x y\t2025-08-27 10:57:49\t0\t1\n5\t2025-08-27 10:57:49\tin\t1\n",
        SHANGHAI,
    )
    assert [(p.user_id, p.verify_mode, p.punch_state) for p in upload.punches] == [
        ("1452", 1, 0),
        ("11", 25, 0),
    ]
    assert upload.punches[0].occurred_at == datetime(2015, 7, 30, 15, 16, 28, tzinfo=SHANGHAI)
    assert upload.lines == 4
    assert upload.problems == [
        "ATTLOG line 4: PIN 'x y' is not 1-24 letters or digits: 'x y\\t2025-08-27 10:57:49\\t0\\t1'",
        "ATTLOG line 5: status 'in' is not a number 0-255: '5\\t2025-08-27 10:57:49\\tin\\t1'",
    ]


def test_handshake_first_line_and_zone() -> None:
    text = handshake(
        "SN1", stamps={"ATTLOG": "77"}, delay=10, zone="Asia/Kolkata", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    lines = text.splitlines()
    assert lines[0] == "GET OPTION FROM: SN1"
    assert "ATTLOGStamp=77" in lines
    assert "OPERLOGStamp=0" in lines
    assert "TimeZone=330" in lines  # +5:30 is given in minutes
    assert zone_option("Asia/Shanghai", datetime(2026, 1, 1, tzinfo=UTC)) == "8"


def test_command_results_and_info() -> None:
    results = parse_command_results(
        "ID=kq1&Return=0&CMD=DATA\r\nID=kq2&Return=-1005&CMD=INFO\nUserCount=3\nID=kq3&Return=x\n"
    )
    assert [(r.command_id, r.return_code) for r in results] == [("kq1", 0), ("kq2", -1005), ("kq3", -1)]
    info = parse_info("Ver 2.0.12-20150625,0,5,17,192.168.16.27,10,7,15,0,111")
    assert (info.firmware, info.users, info.fingers, info.records, info.address) == (
        "Ver 2.0.12-20150625",
        0,
        5,
        17,
        "192.168.16.27",
    )
