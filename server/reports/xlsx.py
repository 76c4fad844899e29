"""The workbooks: the monthly sheet laid out like the sheet a government office files (merged title,
department and month, a row per person, a column per day with the marks, totals, a legend, borders,
rest days and holidays shaded, printed landscape one page wide), the department summary and the year's
register. Charts, when given, are embedded as PNG images."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.reports.model import (
    LEGEND,
    TOTAL_COLUMNS,
    DepartmentSummaryRow,
    MonthSheet,
    Progress,
    month_title,
)
from server.reports.service import Register

SHADE = PatternFill("solid", start_color="FFD9D9D9", end_color="FFD9D9D9")  # rest days and holidays
HEADER_FILL = PatternFill("solid", start_color="FFEFEFEF", end_color="FFEFEFEF")
THIN = Side(style="thin", color="FF000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
FIRST_DAY_COLUMN = 3  # A: 序号, B: 姓名, then one column per day
HEADER_ROWS = (4, 5)  # day number, then weekday
FIRST_PERSON_ROW = 6


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _landscape_one_page_wide(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True


def _embed(sheet: Worksheet, png: bytes, anchor: str) -> None:
    image = Image(io.BytesIO(png))
    sheet.add_image(image, anchor)


def month_sheet_workbook(
    sheet_data: MonthSheet, charts: Sequence[bytes] = (), progress: Progress | None = None
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "考勤表"
    write_month_sheet(sheet, sheet_data, progress)
    if charts:
        chart_sheet = workbook.create_sheet("图表")
        for n, png in enumerate(charts):
            _embed(chart_sheet, png, f"A{1 + n * 28}")
    return _save(workbook)


def write_month_sheet(sheet: Worksheet, data: MonthSheet, progress: Progress | None = None) -> None:
    days = len(data.days)
    first_total = FIRST_DAY_COLUMN + days
    last_column = first_total + len(TOTAL_COLUMNS) - 1
    last = get_column_letter(last_column)

    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"] = data.title
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = CENTRE
    sheet.row_dimensions[1].height = 30
    half = get_column_letter(first_total - 1)
    sheet.merge_cells(f"A2:{half}2")
    sheet["A2"] = f"部门：{data.department_name}"
    sheet.merge_cells(f"{get_column_letter(first_total)}2:{last}2")
    sheet.cell(2, first_total, f"月份：{month_title(data.month)}")
    sheet.cell(2, first_total).alignment = Alignment(horizontal="right")

    top, weekday_row = HEADER_ROWS
    for column, text in ((1, "序号"), (2, "姓名")):
        sheet.merge_cells(start_row=top, start_column=column, end_row=weekday_row, end_column=column)
        sheet.cell(top, column, text)
    for offset, day in enumerate(data.days):
        column = FIRST_DAY_COLUMN + offset
        sheet.cell(top, column, day.day.day)
        sheet.cell(weekday_row, column, day.weekday_zh)
        sheet.column_dimensions[get_column_letter(column)].width = 3.6
    for offset, (header, _) in enumerate(TOTAL_COLUMNS):
        column = first_total + offset
        sheet.merge_cells(start_row=top, start_column=column, end_row=weekday_row, end_column=column)
        sheet.cell(top, column, header)
        sheet.column_dimensions[get_column_letter(column)].width = 6
    sheet.column_dimensions["A"].width = 5
    sheet.column_dimensions["B"].width = 10
    sheet.row_dimensions[top].height = 30

    for number, person in enumerate(data.people, start=1):
        row = FIRST_PERSON_ROW + number - 1
        sheet.cell(row, 1, number)
        sheet.cell(row, 2, person.name)
        for offset, day in enumerate(data.days):
            mark = person.marks.get(day.day)
            if mark:
                sheet.cell(row, FIRST_DAY_COLUMN + offset, mark)
        for offset, (_, attribute) in enumerate(TOTAL_COLUMNS):
            sheet.cell(row, first_total + offset, getattr(person.totals, attribute))
        if progress:
            progress(number, len(data.people))
    last_row = FIRST_PERSON_ROW + len(data.people) - 1

    for row in range(top, max(last_row, weekday_row) + 1):
        for column in range(1, last_column + 1):
            cell = sheet.cell(row, column)
            cell.border = BORDER
            cell.alignment = CENTRE
            if row in HEADER_ROWS:
                cell.font = Font(bold=True)
                cell.fill = HEADER_FILL
            offset = column - FIRST_DAY_COLUMN
            if 0 <= offset < days and data.days[offset].shaded:
                cell.fill = SHADE

    legend_row = max(last_row, weekday_row) + 2
    sheet.merge_cells(f"A{legend_row}:{last}{legend_row}")
    sheet.cell(
        legend_row,
        1,
        "说明：" + "　".join(f"{mark} {meaning}" for mark, meaning in LEGEND) + "　灰色为休息日/节假日",
    )
    sheet.merge_cells(f"A{legend_row + 1}:{last}{legend_row + 1}")
    sheet.cell(legend_row + 1, 1, "制表人：　　　　　　审核人：　　　　　　日期：")
    sheet.freeze_panes = sheet.cell(FIRST_PERSON_ROW, FIRST_DAY_COLUMN)
    sheet.print_title_rows = f"{top}:{weekday_row}"
    _landscape_one_page_wide(sheet)


SUMMARY_HEADERS = (
    "部门",
    "人数",
    "应出勤人天",
    "出勤率",
    "迟到次数",
    "早退次数",
    "旷工天数",
    "请假天数",
    "出差天数",
    "公出天数",
)


def summary_rows(rows: Sequence[DepartmentSummaryRow]) -> list[list[Any]]:
    return [
        [
            r.name,
            r.headcount,
            r.totals.working_days,
            None if r.present_rate is None else round(r.present_rate, 4),
            r.totals.late_count,
            r.totals.early_count,
            r.totals.absent_days,
            r.totals.leave_days,
            r.totals.trip_days,
            r.totals.duty_days,
        ]
        for r in rows
    ]


def summary_workbook(
    office_name: str, month: str, rows: Sequence[DepartmentSummaryRow], charts: Sequence[bytes] = ()
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "部门汇总"
    last = get_column_letter(len(SUMMARY_HEADERS))
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"] = f"{office_name} {month_title(month)} 考勤汇总表"
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = CENTRE
    _table(sheet, 3, SUMMARY_HEADERS, summary_rows(rows))
    for row in range(4, 4 + len(rows)):
        sheet.cell(row, 4).number_format = "0.0%"
    _landscape_one_page_wide(sheet)
    for n, png in enumerate(charts):
        _embed(sheet, png, f"A{6 + len(rows) + n * 28}")
    return _save(workbook)


def _table(sheet: Worksheet, first_row: int, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(first_row, column, header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        sheet.column_dimensions[get_column_letter(column)].width = max(10, 2 * len(header) + 2)
    for r, values in enumerate(rows, start=first_row + 1):
        for column, value in enumerate(values, start=1):
            sheet.cell(r, column, value)
    for row in sheet.iter_rows(min_row=first_row, max_row=first_row + len(rows), max_col=len(headers)):
        for cell in row:
            cell.border = BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True)
    sheet.freeze_panes = sheet.cell(first_row + 1, 1)


INCIDENT_HEADERS = (
    "编号",
    "发生时间",
    "姓名",
    "职工编号",
    "部门",
    "违反条款",
    "来源",
    "规则",
    "状态",
    "摘要",
    "置信度",
)
WARNING_HEADERS = (
    "编号",
    "告诫时间",
    "姓名",
    "职工编号",
    "部门",
    "类别",
    "序号",
    "所涉事件",
    "引发告诫",
    "事由",
    "告诫人",
    "撤销时间",
    "撤销原因",
)
WARNING_KINDS = {"personal": "本人告诫", "escalation": "负责人连带告诫"}


def _local(value: Any, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def incident_rows(register: Register, zone: ZoneInfo) -> list[list[Any]]:
    return [
        [
            i["incident_id"],
            _local(i["occurred_at"], zone),
            register.names.get(i["staff_id"], ""),
            i["staff_id"],
            register.departments.get(i["department_id"], i["department_id"]),
            i["prohibition"],
            i["source"],
            i["rule"] or "",
            i["state"],
            i["summary"],
            i["confidence"],
        ]
        for i in register.incidents
    ]


def warning_rows(register: Register, zone: ZoneInfo) -> list[list[Any]]:
    return [
        [
            w["warning_id"],
            _local(w["issued_at"], zone),
            register.names.get(w["staff_id"], ""),
            w["staff_id"],
            register.departments.get(w["department_id"], w["department_id"]),
            WARNING_KINDS.get(w["kind"], w["kind"]),
            w["ordinal"],
            w["incident_id"] or "",
            ", ".join(w["caused_by"] or []),
            w["reason"],
            w["issued_by"],
            _local(w["withdrawn_at"], zone),
            w["withdrawn_reason"] or "",
        ]
        for w in register.warnings
    ]


def register_workbook(
    office_name: str, register: Register, zone: ZoneInfo, charts: Sequence[bytes] = ()
) -> bytes:
    workbook = Workbook()
    incidents = workbook.active
    assert incidents is not None
    incidents.title = "违纪事件"
    for sheet, title, headers, rows in (
        (incidents, "违纪事件登记表", INCIDENT_HEADERS, incident_rows(register, zone)),
        (workbook.create_sheet("效能告诫"), "效能告诫登记表", WARNING_HEADERS, warning_rows(register, zone)),
    ):
        last = get_column_letter(len(headers))
        sheet.merge_cells(f"A1:{last}1")
        sheet["A1"] = f"{office_name} {register.year}年 {title}"
        sheet["A1"].font = Font(size=16, bold=True)
        sheet["A1"].alignment = CENTRE
        _table(sheet, 3, headers, rows)
        _landscape_one_page_wide(sheet)
    if charts:
        chart_sheet = workbook.create_sheet("图表")
        for n, png in enumerate(charts):
            _embed(chart_sheet, png, f"A{1 + n * 28}")
    return _save(workbook)
