"""``kaoqin report ...`` and ``kaoqin rules replay``'s progress bar, through the real CLI entry point
on a decided November in SQLite: the files written are read back; bad input is one line naming it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from kaoqin.cli import main
from kaoqin.progress import TextProgress
from server.adapters.db import create_db_engine
from server.adapters.migrate import migrate
from tests.support.attendance_world import AttendanceWorld, attendance_app
from tests.support.report_world import MONTH, build_november

pytestmark = pytest.mark.integration


@pytest.fixture
def world(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AttendanceWorld]:
    migrate(sqlite_url)
    monkeypatch.setenv("KAOQIN_SERVER_DATABASE_URL", sqlite_url)
    engine = create_db_engine(sqlite_url)
    try:
        with TestClient(attendance_app(engine)) as client:
            world = AttendanceWorld(engine, client)
            build_november(world)
            yield world
    finally:
        engine.dispose()


def test_report_monthly_writes_the_sheet_with_a_progress_bar_per_person(
    world: AttendanceWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text("reports:\n  office_name: 民政局\n")
    output = tmp_path / "november.xlsx"
    code = main(
        ["report", "monthly", "--month", MONTH, "--department", "social", "--format", "xlsx",
         "--output", str(output), "--config", str(config)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {output}" in captured.out
    sheet = load_workbook(io.BytesIO(output.read_bytes()))["考勤表"]
    assert sheet["A1"].value == "民政局 2026年11月 考勤表"
    bars = [line for line in captured.err.splitlines() if line.startswith("monthly 2026-11 [")]
    assert bars[-1].endswith("] 10/10")  # 4 people read, 4 written, 2 charts
    assert bars[-1].count("#") == 30
    assert len(bars) >= 3


def test_report_summary_and_register_as_csv_default_to_their_names(
    world: AttendanceWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "summary", "--month", MONTH, "--format", "csv"]) == 0
    text = (tmp_path / "attendance-summary-2026-11.csv").read_bytes().decode("utf-8-sig")
    assert "法规科" in text
    assert "社会救助科" in text
    # November's P1 absences (b on 4 Nov, d on 2 Nov) were raised by the engine: the register has them.
    assert main(["report", "register", "--year", "2026", "--format", "csv"]) == 0
    register = (tmp_path / "register-2026.csv").read_bytes().decode("utf-8-sig")
    assert "P1" in register
    assert "b" in register


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["report", "monthly", "--month", "2026-10", "--department", "social"], 1,
         "report refused: no attendance data for department 'social'"),
        (["report", "monthly", "--month", "2026-11", "--department", "nope"], 2,
         "report refused: department: no such department 'nope'"),
        (["report", "summary", "--month", "11/2026"], 2, "report refused: month: '11/2026' is not a month"),
        (["report", "register", "--year", "2019"], 1, "report refused: no incidents and no warnings in 2019"),
    ],
)  # fmt: skip
def test_bad_report_requests_are_one_line_naming_what_to_fix(
    world: AttendanceWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written


def test_rules_replay_shows_a_progress_bar_over_the_people(
    world: AttendanceWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "replay", "--from", "2026-11-01", "--to", "2026-11-30"]) == 0
    captured = capsys.readouterr()
    bars = [line for line in captured.err.splitlines() if line.startswith("replay 2026-11-01..2026-11-30")]
    assert bars[-1].endswith("] 5/5")  # five people decided
    assert "days that would change: 0" in captured.out  # already decided: the replay agrees


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_redraws_in_place_on_a_terminal_and_prints_tenths_elsewhere() -> None:
    terminal = _Terminal()
    bar = TextProgress("x", terminal)
    for done in range(1, 4):
        bar(done, 3)
    assert terminal.getvalue().count("\r") == 3
    assert terminal.getvalue().endswith("] 3/3\n")
    piped = io.StringIO()
    bar = TextProgress("x", piped)
    for done in range(1, 101):
        bar(done, 100)
    lines = piped.getvalue().splitlines()
    assert len(lines) == 11  # the first step, then each tenth
    assert lines[-1].endswith("100/100")
