"""``kaoqin users``: API users in the server's database. Passwords are read from standard input
(one line, when it is not a terminal) or a prompt, never from the command line, where every other
user of the machine could read them in the process list and the shell history."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _read_password(confirm: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != password:
        raise ValueError("password: the two entries differ")
    return password


def _open(config: Path | None) -> Any:
    from server.adapters.db import create_db_engine
    from server.adapters.migrate import migrate
    from server.settings import load_server_settings

    settings = load_server_settings(config)
    migrate(settings.database_url)
    return create_db_engine(settings.database_url)


def _audit(engine: Any, action: str, username: str, details: dict[str, Any]) -> None:
    from server.adapters.audit_log import AuditLog
    from server.domain.audit_chain import AuditRecord

    actor = f"cli:{getpass.getuser()}"
    AuditLog(engine).append(AuditRecord(datetime.now(UTC), actor, action, f"user:{username}", details))


def _run(args: argparse.Namespace) -> int:
    from server.adapters.user_store import UserExistsError, UserStore
    from server.services.auth import PasswordHashing, check_new_user
    from server.settings import SettingsError

    try:
        engine = _open(args.config)
    except SettingsError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    store = UserStore(engine)
    try:
        if args.action == "list":
            for user in store.all():
                state = "active" if user.active else f"disabled {user.disabled_at:%Y-%m-%d}"
                print(f"{user.username}\t{user.role}\t{user.staff_id or '-'}\t{state}")
            return 0
        if args.action == "disable":
            if not store.disable(args.username, datetime.now(UTC)):
                print(f"username: no active user {args.username!r}", file=sys.stderr)
                return 1
            _audit(engine, "users.disable", args.username, {})
            print(f"disabled {args.username}")
            return 0
        password = _read_password(confirm=True)
        if args.action == "set-password":
            existing = store.get(args.username)
            if existing is None:
                print(f"username: no user {args.username!r}", file=sys.stderr)
                return 1
            check_new_user(args.username, existing.role, existing.staff_id, password)
            store.set_password(args.username, PasswordHashing().hash(password))
            _audit(engine, "users.set_password", args.username, {})
            print(f"password of {args.username} changed")
            return 0
        role = check_new_user(args.username, args.role, args.staff_id, password)
        store.add(
            args.username, PasswordHashing().hash(password), role.value, args.staff_id, datetime.now(UTC)
        )
        _audit(engine, "users.add", args.username, {"role": role.value, "staff_id": args.staff_id})
        print(f"added {args.username} ({role.value}{', staff ' + args.staff_id if args.staff_id else ''})")
        return 0
    except (ValueError, UserExistsError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def add_users_parser(sub: Any) -> None:
    """Add ``kaoqin users add|list|disable|set-password`` to the CLI's sub-parsers."""
    group = sub.add_parser("users", help="API users and their roles")
    group.set_defaults(func=_run)
    users = group.add_subparsers(dest="action", required=True)
    config_help = "server YAML settings (the database)"
    add = users.add_parser("add", help="add a user; the password comes from stdin or a prompt")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=["admin", "hr", "inspector", "staff"])
    add.add_argument("--staff-id", default=None, help="for role staff: whose records they may see")
    for name, text in (
        ("disable", "stop a user signing in"),
        ("set-password", "new password from stdin/prompt"),
    ):
        command = users.add_parser(name, help=text)
        command.add_argument("--username", required=True)
        command.add_argument("--config", type=Path, help=config_help)
    add.add_argument("--config", type=Path, help=config_help)
    users.add_parser("list", help="every user with role and state").add_argument(
        "--config", type=Path, help=config_help
    )
