"""``kaoqin audit verify``: recompute the audit log's hash chain; exit 1 naming the first broken seq."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _verify(args: argparse.Namespace) -> int:
    from server.adapters.audit_log import AuditLog
    from server.adapters.db import create_db_engine
    from server.settings import SettingsError, load_server_settings

    try:
        settings = load_server_settings(args.config)
    except SettingsError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    engine = create_db_engine(settings.database_url)
    try:
        report = AuditLog(engine).verify()
    finally:
        engine.dispose()
    if report.intact:
        print(f"audit log intact: {report.count} entries; head seq {report.head_seq} hash {report.head_hash}")
        return 0
    print(
        f"audit log BROKEN at seq {report.broken_seq}: {report.problem}"
        f" ({report.count} entries verified before it)",
    )
    return 1


def add_audit_parser(sub: Any) -> None:
    """Add ``kaoqin audit verify`` to the CLI's sub-parsers."""
    audit = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        dest="what", required=True
    )
    verify = audit.add_parser("verify", help="check the hash chain; exit 1 naming the first broken seq")
    verify.add_argument("--config", type=Path, help="server YAML settings (the database)")
    verify.set_defaults(func=_verify)
