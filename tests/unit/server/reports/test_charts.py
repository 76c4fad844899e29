"""Charts are PNGs of the expected size, in Chinese with the machine's CJK font and in English
(department ids, not names) without one, so no name is ever drawn as empty boxes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from server.reports import charts
from server.reports.service import Trend, Uptime

TREND = Trend(["2026-11-01", "2026-11-02"], {"social": [0, 1]}, {"social": [1, 0]}, {"social": "社会救助科"})


def size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_the_labels_are_chinese_exactly_when_a_cjk_font_is_found() -> None:
    family = charts.cjk_family()
    assert charts._label("late") == ("迟到人数" if family else "late (people)")
    assert charts._font() == ({"family": family} if family else {})
    assert size(charts.trend_chart(TREND, "社会救助科", "2026-11")) == (900, 500)


def test_without_a_cjk_font_the_labels_are_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_family", lambda: None)
    assert charts._label("trend", what="social", when="2026-11") == "social: late and absent, 2026-11"
    assert charts._font() == {}
    assert size(charts.trend_chart(TREND, "social", "2026-11")) == (900, 500)
    assert size(charts.uptime_chart([], "2026-11")) == (900, 250)
    assert size(charts.uptime_chart([Uptime("T1", "terminal", 0.5, 3)], "2026-11"))[0] == 900
