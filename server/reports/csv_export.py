"""The same reports as CSV, UTF-8 with a byte-order mark so Excel opens the Chinese text correctly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from server.reports.model import (
    LEGEND,
    TOTAL_COLUMNS,
    DepartmentSummaryRow,
    MonthSheet,
    Progress,
    month_title,
)
from server.reports.service import Register
from server.reports.xlsx import (
    INCIDENT_HEADERS,
    SUMMARY_HEADERS,
    WARNING_HEADERS,
    incident_rows,
    summary_rows,
    warning_rows,
)


def _csv(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def month_sheet_csv(data: MonthSheet, progress: Progress | None = None) -> bytes:
    """Title, department and month, the day-number header, a row per person (marks and totals), the legend."""
    rows: list[list[Any]] = [
        [data.title],
        [f"部门：{data.department_name}", f"月份：{month_title(data.month)}"],
        ["序号", "职工编号", "姓名", *(str(d.day.day) for d in data.days), *(h for h, _ in TOTAL_COLUMNS)],
        ["", "", "星期", *(d.weekday_zh for d in data.days), *("" for _ in TOTAL_COLUMNS)],
    ]
    for number, person in enumerate(data.people, start=1):
        rows.append(
            [
                number,
                person.staff_id,
                person.name,
                *(person.marks.get(d.day, "") for d in data.days),
                *(getattr(person.totals, attribute) for _, attribute in TOTAL_COLUMNS),
            ]
        )
        if progress:
            progress(number, len(data.people))
    rows.append(["说明：" + "　".join(f"{mark} {meaning}" for mark, meaning in LEGEND)])
    return _csv(rows)


def summary_csv(office_name: str, month: str, rows: Sequence[DepartmentSummaryRow]) -> bytes:
    return _csv(
        [[f"{office_name} {month_title(month)} 考勤汇总表"], list(SUMMARY_HEADERS), *summary_rows(rows)]
    )


def register_csv(office_name: str, register: Register, zone: ZoneInfo) -> bytes:
    """Both registers in one file, each under its own title and header row."""
    return _csv(
        [
            [f"{office_name} {register.year}年 违纪事件登记表"],
            list(INCIDENT_HEADERS),
            *incident_rows(register, zone),
            [],
            [f"{office_name} {register.year}年 效能告诫登记表"],
            list(WARNING_HEADERS),
            *warning_rows(register, zone),
        ]
    )
