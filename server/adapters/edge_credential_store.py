"""The ``edge_credentials`` table behind :class:`server.services.edge_credentials.CredentialStore`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters.tables_edge_credentials import edge_credentials as table
from server.services.edge_credentials import EdgeAlreadyRegistered, EdgeCredential


def _credential(row: Any) -> EdgeCredential:
    return EdgeCredential(
        edge_id=row.edge_id,
        username=row.username,
        password_hash=row.password_hash,
        generation=row.generation,
        issued_at=row.issued_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


class SqlCredentialStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, credential: EdgeCredential) -> None:
        try:
            with self._engine.begin() as c:
                c.execute(
                    insert(table).values(
                        edge_id=credential.edge_id,
                        username=credential.username,
                        password_hash=credential.password_hash,
                        generation=credential.generation,
                        issued_at=credential.issued_at,
                    )
                )
        except IntegrityError:
            # The primary key or the unique username: either way that edge already has credentials.
            raise EdgeAlreadyRegistered(
                f"edge {credential.edge_id!r} is already registered; rotate its credentials instead "
                f"(POST /api/v1/edges/{credential.edge_id}/credentials/rotate)"
            ) from None

    def get(self, edge_id: str) -> EdgeCredential | None:
        with self._engine.connect() as c:
            row = c.execute(select(table).where(table.c.edge_id == edge_id)).first()
        return _credential(row) if row is not None else None

    def list_all(self) -> list[EdgeCredential]:
        with self._engine.connect() as c:
            return [_credential(row) for row in c.execute(select(table).order_by(table.c.edge_id))]

    def replace_hash(
        self, edge_id: str, *, expected_generation: int, password_hash: str, rotated_at: datetime
    ) -> bool:
        # Compare-and-set on the generation: of two rotations at once only one wins, so no response
        # hands out a password that the other one has already overwritten.
        with self._engine.begin() as c:
            result = c.execute(
                update(table)
                .where(
                    table.c.edge_id == edge_id,
                    table.c.generation == expected_generation,
                    table.c.revoked_at.is_(None),
                )
                .values(
                    password_hash=password_hash, generation=expected_generation + 1, rotated_at=rotated_at
                )
            )
        return bool(result.rowcount == 1)

    def mark_revoked(self, edge_id: str, revoked_at: datetime) -> bool:
        with self._engine.begin() as c:
            result = c.execute(
                update(table)
                .where(table.c.edge_id == edge_id, table.c.revoked_at.is_(None))
                .values(revoked_at=revoked_at)
            )
        return bool(result.rowcount == 1)
