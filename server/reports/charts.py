"""PNG charts for the pages and the workbooks, drawn with matplotlib's Agg renderer (no display, no
pyplot state shared between threads). matplotlib is imported on first use, never at import time.

Chinese text needs a CJK font: the first of ``CJK_FAMILIES`` that matplotlib finds is used, with
Chinese labels and department names. Without one (``fc-list :lang=zh`` is empty) the charts carry
English labels and department ids instead, which is better than names drawn as empty boxes."""

from __future__ import annotations

import functools
import io
import threading
from typing import TYPE_CHECKING, Any

from server.reports.service import Trend, Uptime

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Serif CJK SC",
    "SimHei",
    "Microsoft YaHei",
)
# (English, Chinese) of each label.
LABELS = {
    "late": ("late (people)", "迟到人数"),
    "absent": ("absent (people)", "旷工人数"),
    "day": ("day", "日"),
    "month": ("month", "月"),
    "trend": ("{what}: late and absent, {when}", "{what} {when} 迟到与旷工"),
    "all": ("all departments", "全部部门"),
    "uptime": ("Device uptime, {when}", "{when} 设备在线率"),
    "reachable": ("reachable (% of the reported time)", "在线时间占比（%）"),
    "no_reports": ("no device status reports in this period", "本期间没有设备状态上报"),
}

# matplotlib's font cache and text layout are not made for threads: pages and export jobs draw one at a time.
_DRAWING = threading.Lock()


@functools.cache
def cjk_family() -> str | None:
    """The CJK font family the charts use, or None when the machine has none."""
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


def _label(key: str, **values: str) -> str:
    english, chinese = LABELS[key]
    return (chinese if cjk_family() else english).format(**values)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _font() -> dict[str, Any]:
    family = cjk_family()
    return {"family": family} if family else {}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def trend_chart(trend: Trend, what: str | None, when: str) -> bytes:
    """Two panels, late and absent people per day (or month), a line per department. ``what`` is
    the department shown (None: all of them)."""
    with _DRAWING:
        return _trend_chart(trend, what, when)


def uptime_chart(uptime: list[Uptime], when: str) -> bytes:
    """A bar per device: the share of the period it was reachable."""
    with _DRAWING:
        return _uptime_chart(uptime, when)


def _trend_chart(trend: Trend, what: str | None, when: str) -> bytes:
    font = _font()
    figure = _figure(9, 5)
    late_axes, absent_axes = figure.subplots(2, 1, sharex=True)
    positions = list(range(len(trend.labels)))
    for department_id in trend.late:
        label = trend.names.get(department_id, department_id) if font else department_id
        late_axes.plot(positions, trend.late[department_id], marker="o", markersize=3, label=label)
        absent_axes.plot(positions, trend.absent[department_id], marker="o", markersize=3, label=label)
    late_axes.set_ylabel(_label("late"), **font)
    absent_axes.set_ylabel(_label("absent"), **font)
    absent_axes.set_xticks(positions, [label[-2:] for label in trend.labels], fontsize=7)
    by_day = bool(trend.labels) and len(trend.labels[0]) == 10
    absent_axes.set_xlabel(_label("day" if by_day else "month"), **font)
    for axes in (late_axes, absent_axes):
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    if trend.late:
        late_axes.legend(loc="upper right", prop={**font, "size": 7})
    shown = what if what is not None else _label("all")
    figure.suptitle(_label("trend", what=shown, when=when), **font)
    return _png(figure)


def _uptime_chart(uptime: list[Uptime], when: str) -> bytes:
    font = _font()
    figure = _figure(9, max(2.5, 0.35 * len(uptime) + 1.5))
    axes = figure.subplots()
    if not uptime:
        axes.text(0.5, 0.5, _label("no_reports"), ha="center", va="center", **font)
        axes.set_axis_off()
    else:
        names = [u.device_id for u in uptime]
        values = [100 * u.fraction for u in uptime]
        bars = axes.barh(names, values, color=["#4a7" if v >= 99 else "#d84" for v in values])
        axes.bar_label(bars, labels=[f"{v:.1f}%" for v in values], fontsize=7, padding=2)
        axes.set_xlim(0, 110)
        axes.set_xlabel(_label("reachable"), **font)
        axes.invert_yaxis()
    figure.suptitle(_label("uptime", when=when), **font)
    return _png(figure)
