"""Reports on a real database (SQLite and PostgreSQL) from a generated, really decided month
(tests/support/report_world.py): the monthly sheet's layout read back with openpyxl (title, headers,
marks in the right cells, totals, shading, legend, print setup, charts), its CSV, the department
summary, the year's register with a head's escalation, device uptime, and empty months refused."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from contracts import DeviceStatus
from contracts.events import DeviceKind
from server.adapters.attendance_store import NotFoundError
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from server.reports.exports import ExportFormat, ExportKind, ExportSpec, produce
from server.reports.model import EmptyReport
from server.reports.service import ReportService
from server.reports.settings import ReportSettings
from server.reports.xlsx import FIRST_DAY_COLUMN, FIRST_PERSON_ROW
from server.services.ingest import IngestBatch
from tests.support.attendance_world import ZONE, AttendanceWorld, attendance_app, local
from tests.support.report_world import HOLIDAY, MONTH, build_november, workdays

pytestmark = pytest.mark.integration


@pytest.fixture
def world(database_url: str) -> Iterator[AttendanceWorld]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            yield AttendanceWorld(engine, client)
    finally:
        engine.dispose()


def service_of(world: AttendanceWorld) -> ReportService:
    return ReportService(world.engine, ReportSettings(office_name="民政局"), ZONE)


def column_of(day: int) -> int:
    return FIRST_DAY_COLUMN + day - 1


def test_the_monthly_sheet_has_the_offices_layout_marks_totals_and_shading(world: AttendanceWorld) -> None:
    build_november(world)
    steps: list[tuple[int, int]] = []
    export = produce(
        service_of(world),
        ExportSpec(ExportKind.MONTHLY, ExportFormat.XLSX, month=MONTH, department_id="social"),
        lambda done, total: steps.append((done, total)),
    )
    assert export.filename == "attendance-social-2026-11.xlsx"
    book = load_workbook(io.BytesIO(export.content))
    sheet = book["考勤表"]
    assert sheet["A1"].value == "民政局 2026年11月 考勤表"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    last_column = FIRST_DAY_COLUMN + 30 + 10 - 1  # 30 days, 10 totals
    assert f"A1:{get_column_letter(last_column)}1" in merged
    assert sheet["A2"].value == "部门：社会救助科"
    assert "月份：2026年11月" in [c.value for c in sheet[2]]
    assert (sheet.cell(4, 1).value, sheet.cell(4, 2).value) == ("序号", "姓名")
    assert [sheet.cell(4, column_of(d)).value for d in (1, 2, 30)] == [1, 2, 30]
    assert sheet.cell(5, column_of(1)).value == "日"  # 1 Nov 2026 is a Sunday
    assert sheet.cell(5, column_of(2)).value == "一"
    headers = [sheet.cell(4, c).value for c in range(column_of(31), last_column + 1)]
    assert headers[:3] == ["出勤天数", "迟到次数", "迟到分钟"]

    rows = {sheet.cell(r, 2).value: r for r in range(FIRST_PERSON_ROW, FIRST_PERSON_ROW + 4)}
    assert set(rows) == {"王处长", "张伟", "李娜", "刘洋"}
    b = rows["李娜"]
    marks = {d: sheet.cell(b, column_of(d)).value for d in (1, 2, 3, 4, 5, 6, 10, 12)}
    assert marks == {1: "休", 2: "√", 3: "迟", 4: "旷", 5: "假", 6: "早", 10: "休", 12: "差"}
    assert sheet.cell(rows["刘洋"], column_of(9)).value == "缺"
    totals = {h: sheet.cell(b, column_of(31) + n).value for n, h in enumerate(headers)}
    working = len(workdays())
    assert totals["出勤天数"] == working - 3  # absent, leave, trip
    assert (totals["迟到次数"], totals["迟到分钟"]) == (1, 20)
    assert (totals["早退次数"], totals["早退分钟"]) == (1, 30)
    assert (totals["旷工天数"], totals["请假天数"], totals["出差天数"]) == (1, 1, 1)
    assert sheet.cell(rows["张伟"], column_of(31)).value == working

    shaded = sheet.cell(b, column_of(1)).fill.start_color.rgb  # a Sunday
    assert shaded == "FFD9D9D9"
    assert sheet.cell(b, column_of(HOLIDAY.day)).fill.start_color.rgb == shaded  # the office's holiday
    assert sheet.cell(b, column_of(2)).fill.start_color.rgb != shaded  # a Monday
    assert sheet.cell(b, column_of(2)).border.left.style == "thin"
    legend = next(c.value for c in sheet["A"] if isinstance(c.value, str) and c.value.startswith("说明"))
    for text in (
        "√ 出勤",
        "迟 迟到",
        "早 早退",
        "缺 缺卡",
        "旷 旷工",
        "假 请假",
        "差 出差",
        "公 公务外出",
        "休",
    ):
        assert text in legend
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert len(book["图表"]._images) == 2  # the trend and the device uptime
    assert steps[-1][0] == steps[-1][1] == 2 * 4 + 2  # each person read and written, two charts


def test_the_csv_holds_the_same_marks_and_totals(world: AttendanceWorld) -> None:
    build_november(world)
    export = produce(
        service_of(world),
        ExportSpec(ExportKind.MONTHLY, ExportFormat.CSV, month=MONTH, department_id="social"),
    )
    assert export.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese as UTF-8
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0] == ["民政局 2026年11月 考勤表"]
    header = rows[2]
    assert header[:4] == ["序号", "职工编号", "姓名", "1"]
    b = next(r for r in rows if len(r) > 2 and r[1] == "b")
    assert [b[header.index(str(d))] for d in (3, 4, 5, 6, 12)] == ["迟", "旷", "假", "早", "差"]
    assert b[header.index("迟到分钟")] == "20"
    assert b[header.index("旷工天数")] == "1"
    assert rows[-1][0].startswith("说明：")


def test_the_summary_has_a_row_per_department_with_its_rate(world: AttendanceWorld) -> None:
    build_november(world)
    export = produce(service_of(world), ExportSpec(ExportKind.SUMMARY, ExportFormat.XLSX, month=MONTH))
    sheet = load_workbook(io.BytesIO(export.content))["部门汇总"]
    assert sheet["A1"].value == "民政局 2026年11月 考勤汇总表"
    rows = {sheet.cell(r, 1).value: [c.value for c in sheet[r]] for r in (4, 5)}
    working = len(workdays())
    legal = rows["法规科"]
    assert legal[1:3] == [1, working]
    assert legal[3] == pytest.approx((working - 1) / working, abs=1e-4)
    assert legal[6] == 1  # absent days
    social = rows["社会救助科"]
    assert social[1] == 4
    assert social[4:8] == [1, 1, 1, 1]  # late, early, absent, leave
    # trip counts as attended: 4 people, b absent 1 day and on leave 1 day
    assert social[3] == pytest.approx((4 * working - 2) / (4 * working), abs=1e-4)


def test_an_empty_month_an_unknown_department_and_a_bad_month_are_named(world: AttendanceWorld) -> None:
    build_november(world)
    service = service_of(world)
    with pytest.raises(EmptyReport, match=r"no attendance data for department 'social'.*in 2026-10"):
        produce(
            service,
            ExportSpec(ExportKind.MONTHLY, ExportFormat.XLSX, month="2026-10", department_id="social"),
        )
    with pytest.raises(EmptyReport, match="no attendance data in 2026-10"):
        produce(service, ExportSpec(ExportKind.SUMMARY, ExportFormat.CSV, month="2026-10"))
    with pytest.raises(NotFoundError, match=r"department: no such department 'nope'.*legal, social"):
        produce(service, ExportSpec(ExportKind.MONTHLY, ExportFormat.CSV, month=MONTH, department_id="nope"))
    with pytest.raises(ValueError, match=r"month: '2026-13' is not a month"):
        produce(service, ExportSpec(ExportKind.SUMMARY, ExportFormat.CSV, month="2026-13"))
    with pytest.raises(EmptyReport, match="no incidents and no warnings in 2019"):
        produce(service, ExportSpec(ExportKind.REGISTER, ExportFormat.XLSX, year=2019))


def _warn(world: AttendanceWorld, staff_id: str, day: date) -> str:
    incident = world.ok(
        "POST",
        "/api/v1/incidents",
        json={
            "staff_id": staff_id,
            "prohibition": "P2",
            "summary": f"代签 {day.isoformat()}",
            "occurred_at": local(day, "10:00").isoformat(),
            "reported_by": "inspector",
        },
    )
    for action in ("review", "confirm"):
        world.ok(
            "POST",
            f"/api/v1/incidents/{incident['incident_id']}/decision",
            json={"action": action, "decided_by": "hr", "reason": action},
        )
    warning = world.ok(
        "POST",
        "/api/v1/warnings",
        json={"incident_id": incident["incident_id"], "issued_by": "局长", "reason": "P2"},
    )
    return str(warning["warning_id"])


def test_the_register_lists_the_years_incidents_and_warnings_with_the_heads_escalation(
    world: AttendanceWorld,
) -> None:
    build_november(world)
    year = world.client.app.state.attendance.engine.clock().astimezone(ZONE).year  # warnings: year of issue
    first, second = _warn(world, "a", date(year, 3, 2)), _warn(world, "b", date(year, 3, 3))
    export = produce(service_of(world), ExportSpec(ExportKind.REGISTER, ExportFormat.XLSX, year=year))
    book = load_workbook(io.BytesIO(export.content))
    warnings = book["效能告诫"]
    assert warnings["A1"].value == f"民政局 {year}年 效能告诫登记表"
    header = [c.value for c in warnings[3]]
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in warnings.iter_rows(min_row=4)]
    escalation = next(r for r in rows if r["类别"] == "负责人连带告诫")
    assert escalation["姓名"] == "王处长"
    assert escalation["序号"] == 1
    assert set(escalation["引发告诫"].split(", ")) == {first, second}
    assert {r["姓名"] for r in rows if r["类别"] == "本人告诫"} == {"张伟", "李娜"}
    incidents = book["违纪事件"]
    summaries = [c.value for c in incidents["J"][3:]]
    assert f"代签 {year}-03-02" in summaries
    assert len(book["图表"]._images) == 1

    as_csv = produce(service_of(world), ExportSpec(ExportKind.REGISTER, ExportFormat.CSV, year=year))
    text = as_csv.content.decode("utf-8-sig")
    assert f"{year}年 违纪事件登记表" in text
    assert "负责人连带告诫" in text


def test_device_uptime_weights_each_report_by_the_time_until_the_next(world: AttendanceWorld) -> None:
    build_november(world)  # T1 reported once, reachable, on 1 Dec: outside November
    day = date(2026, 11, 20)
    world.reported("T2", local(day, "00:00"))
    down = DeviceStatus.create(
        edge_id="edge-bureau",
        device_id="T2",
        device_kind=DeviceKind.TERMINAL,
        occurred_at=local(day, "06:00"),
        reachable=False,
        error="timeout",
    )
    world.ingest.store_batch(IngestBatch(events=[down]), down.occurred_at)
    world.reported("T2", local(day, "12:00"))
    world.reported("T2", local(day + timedelta(days=1), "00:00"))
    uptime = {u.device_id: u for u in service_of(world).uptime(MONTH)}
    # Reachable 00:00-06:00 and 12:00 onwards (to the month's end); down 06:00-12:00.
    covered = (local(date(2026, 12, 1), "00:00") - local(day, "00:00")).total_seconds()
    assert uptime["T2"].fraction == pytest.approx(1 - 6 * 3600 / covered)
    assert uptime["T2"].reports == 4
    assert "T1" not in uptime
