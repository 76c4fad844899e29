"""API users in the database, and the lookups that say whose record something is (staff scoping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters import tables as t
from server.adapters.tables_attendance import absences, efficiency_warnings, incidents, staff_terminal_ids
from server.adapters.tables_auth import api_users


class UserExistsError(ValueError):
    """A user of that name is already stored."""


@dataclass(frozen=True)
class StoredUser:
    username: str
    password_hash: str
    role: str
    staff_id: str | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, username: str, password_hash: str, role: str, staff_id: str | None, at: datetime) -> None:
        row = {
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "staff_id": staff_id,
            "created_at": at,
            "disabled_at": None,
        }
        try:
            with self._engine.begin() as c:
                c.execute(insert(api_users).values(row))
        except IntegrityError:
            raise UserExistsError(f"username: {username!r} already exists") from None

    def get(self, username: str) -> StoredUser | None:
        with self._engine.connect() as c:
            row = c.execute(select(api_users).where(api_users.c.username == username)).first()
        return None if row is None else StoredUser(**row._asdict())

    def all(self) -> list[StoredUser]:
        with self._engine.connect() as c:
            rows = c.execute(select(api_users).order_by(api_users.c.username)).all()
        return [StoredUser(**row._asdict()) for row in rows]

    def set_password(self, username: str, password_hash: str) -> bool:
        with self._engine.begin() as c:
            done = c.execute(
                update(api_users).where(api_users.c.username == username).values(password_hash=password_hash)
            )
        return bool(done.rowcount)

    def disable(self, username: str, at: datetime) -> bool:
        with self._engine.begin() as c:
            done = c.execute(
                update(api_users)
                .where(api_users.c.username == username, api_users.c.disabled_at.is_(None))
                .values(disabled_at=at)
            )
        return bool(done.rowcount)


class RecordOwners:
    """Whose punches, incidents, warnings, absences and face snapshots these are: the access policy
    asks before letting a staff user see one record by its id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _one(self, column: object, where: object) -> str | None:
        with self._engine.connect() as c:
            value = c.execute(select(column).where(where)).scalar()  # type: ignore[call-overload]
        return None if value is None else str(value)

    def terminal_user_ids(self, staff_id: str) -> list[str]:
        with self._engine.connect() as c:
            rows = c.execute(
                select(staff_terminal_ids.c.user_id)
                .where(staff_terminal_ids.c.staff_id == staff_id)
                .order_by(staff_terminal_ids.c.user_id)
            ).scalars()
            return list(rows)

    def of_incident(self, incident_id: str) -> str | None:
        return self._one(incidents.c.staff_id, incidents.c.incident_id == incident_id)

    def of_warning(self, warning_id: str) -> str | None:
        return self._one(efficiency_warnings.c.staff_id, efficiency_warnings.c.warning_id == warning_id)

    def of_absence(self, absence_id: str) -> str | None:
        return self._one(absences.c.staff_id, absences.c.absence_id == absence_id)

    def of_face_observation(self, event_id: str) -> str | None:
        return self._one(t.face_observations.c.staff_id, t.face_observations.c.event_id == event_id)
