"""The attendance pages and exports against the real app (create_app on SQLite under its lifespan,
real sign-in through the page): the day view, the monthly sheet, an export as a background job
polled to the download (read back with openpyxl), an empty month's clear message, a person's month
with the snapshot behind a face check-in (its view audited), and staff confined to their own month."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from server.services.attendance_settings import AttendanceSettings
from tests.integration.test_web_foundation import HTML, csrf_of, sign_in_page
from tests.support.attendance_world import AttendanceWorld, attendance_app, local
from tests.support.auth import add_user, running_app
from tests.support.processes import wait_until
from tests.support.report_world import MONTH, build_november

pytestmark = pytest.mark.integration
NOV_3 = "2026-11-03"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, str, dict[str, str]]]:
    """The app on a decided November; ``events`` names a face check-in of b with a snapshot."""
    database_url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    migrate(database_url)
    engine = create_db_engine(database_url)
    events: dict[str, str] = {}
    try:
        with TestClient(attendance_app(engine)) as client:
            world = AttendanceWorld(engine, client)
            build_november(world)
            day = local(date(2026, 11, 3), "08:49")
            events["b_face"] = world.face(
                "C1", "b", day, terminal="T1", snapshot_jpeg=b"\xff\xd8\xff\xe0 b-face"
            )
            events["a_face"] = world.face(
                "C1", "a", day, terminal="T1", snapshot_jpeg=b"\xff\xd8\xff\xe0 a-face"
            )
    finally:
        engine.dispose()
    with running_app(database_url, attendance=AttendanceSettings(decide_interval_seconds=0)) as client:
        yield client, database_url, events


def signed_in(client: TestClient, database_url: str, role: str, staff_id: str | None = None) -> str:
    username, password = add_user(database_url, role, staff_id=staff_id)
    assert sign_in_page(client, username, password).status_code == 303
    return username


def export(client: TestClient, page_html: str, **fields: str) -> tuple[str, dict[str, Any]]:
    """Start an export as the page's form does, follow it to its job, poll until it finishes."""
    reply = client.post(
        "/exports", data={"csrf_token": csrf_of(page_html), **fields}, headers=HTML, follow_redirects=False
    )
    assert reply.status_code == 303, reply.text
    job_page = reply.headers["location"]
    wait_until(
        lambda: client.get(job_page + "/status").json()["state"] not in ("queued", "running"),
        30,
        "the export",
    )
    return job_page, client.get(job_page + "/status").json()


def test_hr_sees_the_sheet_and_downloads_the_xlsx_from_a_background_job(
    app: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = app
    signed_in(client, database_url, "hr")
    page = client.get(f"/attendance/month?department=social&month={MONTH}", headers=HTML)
    assert page.status_code == 200
    assert "社会救助科 2026-11 月度考勤表" in page.text
    assert 'data-day="3">迟</td>' in page.text
    assert 'src="/attendance/charts/trend.png?department=social&month=2026-11"' in page.text
    chart = client.get("/attendance/charts/trend.png?department=social&month=2026-11")
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")

    job_page, status = export(
        client, page.text, kind="monthly", format="xlsx", department="social", month=MONTH
    )
    assert status["state"] == "done"
    assert status["done"] == status["total"] == 10
    done_page = client.get(job_page, headers=HTML)
    assert f'href="{job_page}/file"' in done_page.text
    assert "refresh" not in done_page.text  # finished: no more reloading
    download = client.get(job_page + "/file")
    assert download.headers["content-disposition"] == 'attachment; filename="attendance-social-2026-11.xlsx"'
    sheet = load_workbook(io.BytesIO(download.content))["考勤表"]
    assert sheet["A1"].value == "XX局 2026年11月 考勤表"

    # someone else's export is not theirs to see
    signed_in(client, database_url, "hr")
    assert client.get(job_page + "/status").status_code == 404


def test_an_export_for_an_empty_month_says_so_on_the_page(
    app: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = app
    signed_in(client, database_url, "admin")
    page = client.get("/attendance/month?department=social&month=2026-10", headers=HTML)
    assert page.status_code == 200
    assert "社会救助科 2026-10 没有考勤数据" in page.text
    job_page, status = export(
        client, page.text, kind="monthly", format="xlsx", department="social", month="2026-10"
    )
    assert status["state"] == "refused"
    shown = client.get(job_page, headers=HTML)
    assert shown.status_code == 200
    assert "无法导出：no attendance data for department &#39;social&#39;" in shown.text
    assert client.get(job_page + "/file").status_code == 409

    bad = client.post(
        "/exports", data={"csrf_token": csrf_of(page.text), "kind": "monthly", "format": "pdf"}, headers=HTML
    )
    assert bad.status_code == 422
    assert "导出请求有误：format: &#39;pdf&#39;; one of xlsx, csv" in bad.text


def test_the_day_view_shows_each_persons_status_and_punches_in_office_time(
    app: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, _ = app
    signed_in(client, database_url, "inspector")
    page = client.get(f"/attendance?department=social&day={NOV_3}", headers=HTML)
    assert page.status_code == 200
    assert "社会救助科 2026-11-03 考勤" in page.text
    row = page.text.split('data-staff="b"')[1].split("</tr>")[0]
    assert 'data-status="late">迟到' in row
    assert "<td>20</td>" in row
    assert "打卡 08:50:00 T1" in row  # 00:50 UTC shown in Shanghai time
    assert "人脸 08:49:00 C1" in row
    english = client.get(f"/attendance?department=social&day={NOV_3}&lang=en", headers=HTML)
    assert "punch 08:50:00 at T1" in english.text
    assert client.get("/attendance?department=nope", headers=HTML).status_code == 404
    bad_day = client.get("/attendance?day=3.11.2026", headers=HTML)  # English is remembered now
    assert bad_day.status_code == 422
    assert "Enter the day as YYYY-MM-DD" in bad_day.text


def test_staff_see_only_their_own_month_and_its_snapshots_are_audited(
    app: tuple[TestClient, str, dict[str, str]],
) -> None:
    client, database_url, events = app
    username = signed_in(client, database_url, "staff", staff_id="b")
    own = client.get("/attendance", headers=HTML)
    assert own.url.path == "/attendance/staff/b"
    mine = client.get(f"/attendance/staff/b?month={MONTH}", headers=HTML)
    assert mine.status_code == 200
    assert "李娜 2026-11 考勤明细" in mine.text
    day = mine.text.split(f'data-day="{NOV_3}"')[1].split("</tr>")[0]
    assert "迟 迟到" in day
    snapshot_link = f"/attendance/staff/b/snapshots/{events['b_face']}"
    assert snapshot_link in day
    snapshot = client.get(snapshot_link)
    assert snapshot.status_code == 200
    assert snapshot.content == b"\xff\xd8\xff\xe0 b-face"
    audit = [e for e in client.app.state.audit_log.entries() if e.target == snapshot_link]  # type: ignore[attr-defined]
    assert [(e.actor, e.details["status"]) for e in audit] == [(username, 200)]

    other = client.get(f"/attendance/staff/a?month={MONTH}", headers=HTML)
    assert other.status_code == 403
    assert "您的角色无权查看此页面" in other.text
    assert client.get(f"/attendance/staff/a/snapshots/{events['a_face']}", headers=HTML).status_code == 403
    assert client.get(f"/attendance/staff/b/snapshots/{events['a_face']}").status_code == 404  # not hers
    assert client.get(f"/attendance/month?department=social&month={MONTH}", headers=HTML).status_code == 403
    assert client.post("/exports", data={"kind": "monthly"}, headers=HTML).status_code == 403


def test_a_replay_runs_as_a_job_and_its_report_is_shown(app: tuple[TestClient, str, dict[str, str]]) -> None:
    client, database_url, _ = app
    signed_in(client, database_url, "hr")
    form = client.get("/attendance/replay", headers=HTML)
    assert form.status_code == 200
    backwards = client.post(
        "/attendance/replay",
        data={"csrf_token": csrf_of(form.text), "from": "2026-11-30", "to": "2026-11-01"},
        headers=HTML,
    )
    assert backwards.status_code == 422
    assert 'id="f-to-error">to: 2026-11-01 is before from: 2026-11-30' in backwards.text
    reply = client.post(
        "/attendance/replay",
        data={"csrf_token": csrf_of(form.text), "from": "2026-11-01", "to": "2026-11-30"},
        headers=HTML,
        follow_redirects=False,
    )
    assert reply.status_code == 303
    job_page = reply.headers["location"]
    wait_until(lambda: client.get(job_page + "/status").json()["state"] == "done", 30, "the replay")
    status = client.get(job_page + "/status").json()
    assert status["done"] == status["total"] == 5  # five people decided
    shown = client.get(job_page, headers=HTML)
    assert "规则重算预演 2026-11-01 至 2026-11-30" in shown.text
    assert "2026-11-01..2026-11-30: 150 day(s) decided, 0 pending" in shown.text
    # The face check-ins were stored after November was decided: b's 3 Nov gains a mark (still
    # late), and camera C1 watching T1 makes every punch it did not see a nobody_identified.
    assert "days that would change: 1\n  b 2026-11-03: late -&gt; late" in shown.text
    assert "P6:nobody_identified:" in shown.text

    signed_in(client, database_url, "inspector")
    assert client.get("/attendance/replay", headers=HTML).status_code == 403
