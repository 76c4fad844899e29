"""The append-only audit log on SQLite or PostgreSQL: appends serialised on the head row, verification.

Two writers must never both read the same head and fork the chain, so every append first takes
the write lock: ``SELECT ... FOR UPDATE`` on the head row in PostgreSQL (other server processes
wait on the row), ``BEGIN IMMEDIATE`` in SQLite (the database's single write lock, taken before
the head is read). The entry and the new head are written in that one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from server.adapters.db import is_sqlite
from server.adapters.tables_auth import audit_head, audit_log
from server.domain.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    ChainReport,
    canonical_json,
    chain_next,
    verify_chain,
)

_PAGE = 1000


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(str(engine.url))

    def _locked_head(self, c: Connection) -> tuple[int, str]:
        query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        if self._sqlite:
            c.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            query = query.with_for_update()
        row = c.execute(query).first()
        if row is None:  # the migration creates the row; a hand-made database may lack it
            c.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
            return 0, GENESIS_HASH
        return int(row.seq), str(row.hash)

    def append(self, record: AuditRecord) -> AuditEntry:
        """Add ``record`` after the current head and return it with its seq and hash."""
        details = canonical_json(record.details)  # refuses NaN and non-JSON values before locking
        with self._engine.connect() as c:
            head_seq, head_hash = self._locked_head(c)
            entry = chain_next(record, head_seq, head_hash)
            c.execute(
                insert(audit_log).values(
                    seq=entry.seq,
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    details=details,
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                )
            )
            c.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=entry.seq, hash=entry.hash))
            c.commit()
        return entry

    def head(self) -> tuple[int, str] | None:
        with self._engine.connect() as c:
            row = c.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        return None if row is None else (int(row.seq), str(row.hash))

    def entries(self, after_seq: int = 0) -> Iterator[AuditEntry]:
        """Every entry in seq order, read a page at a time."""
        last = after_seq
        while True:
            with self._engine.connect() as c:
                rows = c.execute(
                    select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(_PAGE)
                ).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < _PAGE:
                return
            last = int(rows[-1].seq)

    def search(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[AuditEntry]:
        """Entries newest first, by exact actor and action and within [since, until)."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        if action:
            query = query.where(audit_log.c.action == action)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        with self._engine.connect() as c:
            rows = c.execute(query).all()
        return [_entry(row) for row in rows]

    def actions(self) -> list[str]:
        """Every action name in the log, for the filter's choices."""
        with self._engine.connect() as c:
            return sorted(str(a) for a in c.execute(select(audit_log.c.action).distinct()).scalars())

    def verify(self) -> ChainReport:
        return verify_chain(self.entries(), self.head())


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=int(row.seq),
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=_parsed(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _parsed(details: str) -> dict[str, Any]:
    try:
        value = json.loads(details)
    except ValueError:
        value = None
    # A row edited into something that is not a JSON object cannot match its hash; keep the text
    # so verification reports that row instead of failing.
    return value if isinstance(value, dict) else {"unparseable details": details}
