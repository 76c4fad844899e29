"""Sign-in rules that need no database: login limits over a window, production secrets, new users."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kaoqin.cli import main
from server.services.auth import LoginLimiter, LoginThrottled, check_new_user, token_secret
from server.services.auth_settings import AuthSettings
from server.settings import ServerSettings, SettingsError, load_server_settings

STRONG = "k3Y-" + "q7" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_username_is_limited_after_its_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(AuthSettings(login_failures_per_username=5, login_window_seconds=300), clock)
    for _ in range(5):
        limiter.check("li", "10.0.0.1")
        limiter.failed("li", "10.0.0.1")
        clock.now += 10
    with pytest.raises(LoginThrottled) as throttled:
        limiter.check("li", "10.0.0.2")
    assert throttled.value.retry_after_seconds == 300 - 50
    limiter.check("wang", "10.0.0.3")  # other names and addresses are not affected
    clock.now += 300 - 50
    limiter.check("li", "10.0.0.2")  # the first failure has left the window


def test_an_address_is_limited_across_usernames_and_success_clears_only_the_username() -> None:
    clock = Clock()
    limiter = LoginLimiter(AuthSettings(login_failures_per_address=3, login_failures_per_username=3), clock)
    for name in ("a", "b", "c"):
        limiter.failed(name, "203.0.113.9")
    with pytest.raises(LoginThrottled, match="address"):
        limiter.check("d", "203.0.113.9")
    limiter.succeeded("a")
    with pytest.raises(LoginThrottled, match="address"):
        limiter.check("a", "203.0.113.9")


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        ({}, "no auth.token_secret"),
        ({"token_secret": "changeme"}, "well-known default"),
        ({"token_secret": "short-but-not-default"}, "at least 32"),
    ],
)
def test_production_refuses_a_missing_default_or_short_secret(auth: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ServerSettings(environment="production", auth=AuthSettings(**auth))


def test_production_accepts_a_long_random_secret_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token.secret"
    secret_file.write_text(STRONG + "\n")
    settings = ServerSettings(environment="production", auth=AuthSettings(token_secret_file=secret_file))
    assert token_secret(settings.auth) == STRONG


def test_kaoqin_server_with_production_settings_and_no_secret_exits_2_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAOQIN_SERVER_ENVIRONMENT", raising=False)
    config = tmp_path / "server.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'k.sqlite3'}\nenvironment: production\n")
    with pytest.raises(SettingsError, match=r"auth\.token_secret"):
        load_server_settings(config)
    assert main(["server", "--config", str(config)]) == 2
    assert "auth.token_secret" in capsys.readouterr().err


def test_development_makes_a_random_secret_per_process_and_says_tokens_die_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        first, second = token_secret(AuthSettings()), token_secret(AuthSettings())
    assert first != second
    assert len(first) >= 32
    assert "dies when the process stops" in caplog.text


@pytest.mark.parametrize(
    ("username", "role", "staff_id", "password", "problem"),
    [
        ("li", "boss", None, "long-enough-password", "role"),
        ("li", "staff", None, "long-enough-password", "staff_id"),
        ("li", "hr", None, "short", "password"),
        ("li wang", "hr", None, "long-enough-password", "username"),
    ],
)
def test_a_new_user_that_could_not_work_is_refused_naming_the_field(
    username: str, role: str, staff_id: str | None, password: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        check_new_user(username, role, staff_id, password)


def test_failures_of_many_names_are_forgotten_once_expired_at_a_constant_cost() -> None:
    clock = Clock()
    limiter = LoginLimiter(AuthSettings(login_window_seconds=60), clock, max_tracked=100)
    for n in range(5000):  # a flood of live failures: pruning must not rescan on every one
        limiter.failed(f"name-{n}", f"addr-{n}")
    assert len(limiter._failures) == 10_000
    clock.now += 61
    for n in range(limiter._prune_at):
        limiter.failed(f"late-{n}", "192.0.2.1")
    assert not any(value.startswith(("name-", "addr-")) for _, value in limiter._failures)  # expired: gone
    limiter.check("name-1", "addr-1")  # and count no more
