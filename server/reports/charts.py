"""PNG charts for the pages and the workbooks, drawn with matplotlib's Agg renderer (no display,
no pyplot state shared between threads). matplotlib is imported on first use, never at import time.

The machine has no CJK font (``fc-list :lang=zh`` is empty), so the charts carry English labels and
department / device ids rather than Chinese names, which would be drawn as empty boxes."""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

from server.reports.service import Trend, Uptime

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib's font cache and text layout are not made for threads: pages and export jobs draw one at a time.
_DRAWING = threading.Lock()


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def trend_chart(trend: Trend, title: str) -> bytes:
    """Two panels, late and absent people per day (or month), a line per department."""
    with _DRAWING:
        return _trend_chart(trend, title)


def uptime_chart(uptime: list[Uptime], title: str) -> bytes:
    """A bar per device: the share of the period it was reachable."""
    with _DRAWING:
        return _uptime_chart(uptime, title)


def _trend_chart(trend: Trend, title: str) -> bytes:
    figure = _figure(9, 5)
    late_axes, absent_axes = figure.subplots(2, 1, sharex=True)
    positions = list(range(len(trend.labels)))
    for department_id in trend.late:
        late_axes.plot(positions, trend.late[department_id], marker="o", markersize=3, label=department_id)
        absent_axes.plot(
            positions, trend.absent[department_id], marker="o", markersize=3, label=department_id
        )
    late_axes.set_ylabel("late (people)")
    absent_axes.set_ylabel("absent (people)")
    short = [label[-2:] for label in trend.labels]
    absent_axes.set_xticks(positions, short, fontsize=7)
    absent_axes.set_xlabel("day" if trend.labels and len(trend.labels[0]) == 10 else "month")
    for axes in (late_axes, absent_axes):
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    if trend.late:
        late_axes.legend(fontsize=7, loc="upper right")
    figure.suptitle(title)
    return _png(figure)


def _uptime_chart(uptime: list[Uptime], title: str) -> bytes:
    figure = _figure(9, max(2.5, 0.35 * len(uptime) + 1.5))
    axes = figure.subplots()
    if not uptime:
        axes.text(0.5, 0.5, "no device status reports in this period", ha="center", va="center")
        axes.set_axis_off()
    else:
        names = [u.device_id for u in uptime]
        values = [100 * u.fraction for u in uptime]
        bars = axes.barh(names, values, color=["#4a7" if v >= 99 else "#d84" for v in values])
        axes.bar_label(bars, labels=[f"{v:.1f}%" for v in values], fontsize=7, padding=2)
        axes.set_xlim(0, 110)
        axes.set_xlabel("reachable (% of the reported time)")
        axes.invert_yaxis()
    figure.suptitle(title)
    return _png(figure)
