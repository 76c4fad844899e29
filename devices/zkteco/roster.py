"""Users and fingerprint templates on a ZKTeco terminal through an open pyzk connection.

A terminal addresses users by slot (``uid``), the office by PIN (``user_id``); the same person
has different slots on different terminals, so every write looks the slot up by PIN first and
takes the next free slot for a new user. pyzk's ``set_user`` writes privilege 0 or 14 only.
"""

from __future__ import annotations

from typing import Any

from zk import const
from zk.finger import Finger
from zk.user import User

from devices.terminal import EnrolledUser, FingerTemplate

_MAX_UID = 0xFFFF


def enrolled(users: list[Any]) -> list[EnrolledUser]:
    return [
        EnrolledUser(str(u.user_id), str(u.name), int(u.privilege) == const.USER_ADMIN, int(u.card or 0))
        for u in users
    ]


def _slot(users: list[Any], user_id: str) -> int:
    for user in users:
        if str(user.user_id) == user_id:
            return int(user.uid)
    taken = {int(u.uid) for u in users}
    free = next((uid for uid in range(1, _MAX_UID) if uid not in taken), None)
    if free is None:
        raise ValueError("no free user slot on the terminal")
    return free


def _pyzk_user(uid: int, user: EnrolledUser) -> User:
    privilege = const.USER_ADMIN if user.admin else const.USER_DEFAULT
    return User(uid, user.name, privilege, "", "", user.user_id, user.card)


def write_user(conn: Any, user: EnrolledUser) -> None:
    uid = _slot(conn.get_users(), user.user_id)
    privilege = const.USER_ADMIN if user.admin else const.USER_DEFAULT
    conn.set_user(uid=uid, name=user.name, privilege=privilege, user_id=user.user_id, card=user.card)


def remove_user(conn: Any, user_id: str) -> bool:
    for user in conn.get_users():
        if str(user.user_id) == user_id:
            conn.delete_user(uid=int(user.uid))
            return True
    return False


def read_templates(conn: Any) -> dict[str, list[FingerTemplate]]:
    by_uid = {int(u.uid): str(u.user_id) for u in conn.get_users()}
    out: dict[str, list[FingerTemplate]] = {}
    for finger in conn.get_templates():
        user_id = by_uid.get(int(finger.uid))
        if user_id is not None:  # a template of a deleted slot belongs to nobody
            out.setdefault(user_id, []).append(FingerTemplate(int(finger.fid), bytes(finger.template)))
    return out


def write_templates(conn: Any, user: EnrolledUser, templates: list[FingerTemplate]) -> None:
    uid = _slot(conn.get_users(), user.user_id)
    fingers = [Finger(uid, t.finger, 1, t.template) for t in templates]
    conn.save_user_template(_pyzk_user(uid, user), fingers)
