"""Browser tests: Playwright for Python driving Debian's Chromium (never Playwright's own download,
which cannot work here) against a real ``kaoqin server`` process on SQLite with its embedded broker.

Chromium comes from KAOQIN_CHROMIUM or /usr/bin/chromium (``.ci/run`` installs it); without it the
tests skip with how to install it, and on CI a skip fails (tests/conftest.py). Each browser context
gets its own empty user-data-dir, and screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.faults.rig import ServerRig

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = os.environ.get("KAOQIN_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        pytest.skip(f"no Chromium at {path}: apt-get install chromium (or set KAOQIN_CHROMIUM)")
    return path


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in the main
    # thread until it stops, and later tests that call asyncio.run() there would fail.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def new_context(
    playwright: Playwright, chromium_executable: str, tmp_path: Path
) -> Iterator[Callable[[], BrowserContext]]:
    """Opens browser contexts (each a fresh Chromium on an empty user-data-dir); closes them after."""
    opened: list[BrowserContext] = []

    def open_context() -> BrowserContext:
        profile = tmp_path / f"chromium-profile-{len(opened)}"
        profile.mkdir()
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            locale="zh-CN",
        )
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[ServerRig]:
    """``kaoqin server`` in a process on a free port, SQLite in tmp_path, its own embedded broker."""
    rig = ServerRig(workdir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}")
    rig.start()
    try:
        yield rig
    finally:
        rig.stop()


def base_url(rig: ServerRig) -> str:
    return f"http://127.0.0.1:{rig.http_port}"


def api(rig: ServerRig, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url(rig), headers=headers, timeout=10)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Saves a full-page screenshot as test-output/screenshots/<test>-<name>.png."""
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page: Page, rig: ServerRig, username: str, password: str) -> None:
    """Through the sign-in page, as a person would."""
    page.goto(base_url(rig) + "/")
    page.get_by_label(re.compile("用户名|Username")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(password)
    page.get_by_role("button", name=re.compile("登录|Sign in")).click()
    page.wait_for_url(re.compile(r".*/(dashboard|me)(\?.*)?$"))
