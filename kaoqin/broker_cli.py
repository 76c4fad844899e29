"""``kaoqin broker password-file``: Mosquitto's password file, written from the edge_credentials table.

The server's own user comes first (its password read from the server's ``mqtt_password_file`` and
hashed here), then every edge that is not revoked, with the hash stored at registration or rotation.
The file is replaced atomically, so a broker reloading at that moment reads the old or the new one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# Readable by the broker's group, by nobody else: the hashes are offline-guessable in principle.
_FILE_MODE = 0o640


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename.

    A file that exists keeps its group (and owner, when we may set it): once an operator has given
    it to the broker's group (``chgrp mosquitto``), every rewrite stays readable by the broker."""
    previous = path.stat() if path.exists() else None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _FILE_MODE)
        if previous is not None:
            owner = previous.st_uid if os.geteuid() == 0 else -1
            os.chown(temporary, owner, previous.st_gid)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def cmd_password_file(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.adapters.db import create_db_engine
    from server.adapters.edge_credential_store import SqlCredentialStore
    from server.services.edge_credentials import CredentialError, EdgeCredentials, render_password_file
    from server.settings import SettingsError, load_server_settings

    try:
        settings = load_server_settings(args.config)
        if settings.mqtt_username is None:
            raise SettingsError(
                f"{args.config or 'the environment'} sets no mqtt_username and mqtt_password_file: "
                "the server's own broker user must be in the password file"
            )
        server_password = settings.mqtt_password()
        assert server_password is not None  # the settings allow the username only with the file
    except SettingsError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    engine = create_db_engine(settings.database_url)
    try:
        service = EdgeCredentials(SqlCredentialStore(engine), reserved_usernames=[settings.mqtt_username])
        entries = service.password_file_entries(settings.mqtt_username, server_password)
        revoked = sum(1 for credential in service.list_all() if not credential.active)
    except CredentialError as exc:
        print(f"password file not written: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(
            f"password file not written: cannot read edge_credentials from {settings.database_url} "
            f"({str(exc).splitlines()[0]}); start the server once so it migrates the database",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    try:
        write_atomically(args.output, render_password_file(entries))
    except OSError as exc:
        print(f"password file not written to {args.output}: {exc.strerror}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.output}: the server's user {settings.mqtt_username!r} and {len(entries) - 1} edge(s)"
        f" ({revoked} revoked left out); reload the broker (SIGHUP) to apply it"
    )
    return 0


def add_broker_parser(sub: Any) -> None:
    """Add ``kaoqin broker password-file`` to the CLI's sub-parsers."""
    broker = sub.add_parser("broker", help="the MQTT broker's files").add_subparsers(
        dest="what", required=True
    )
    password_file = broker.add_parser(
        "password-file",
        help="write Mosquitto's password file from the registered edges and the server's user",
    )
    password_file.add_argument(
        "--config", type=Path, help="server YAML settings (database_url, mqtt_username, mqtt_password_file)"
    )
    password_file.add_argument("--output", type=Path, required=True, help="the password file to (re)write")
    password_file.set_defaults(func=cmd_password_file)
