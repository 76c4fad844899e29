"""Users and fingerprint templates on a ZKTeco terminal through an open pyzk connection.

A terminal addresses users by slot (``uid``), the office by PIN (``user_id``); the same person
has different slots on different terminals, so every write looks the slot up by PIN first and
takes the next free slot for a new user.

Privilege byte (``zk-protocol.md`` §2.5): 0 user, 14 admin, and bit 0 set = disabled: the terminal
keeps the user and their fingerprints but refuses their verification. pyzk's ``set_user`` writes
privilege 0 or 14 only, so a disabled user's record is written as CMD_USER_WRQ ourselves, in the
layout (28 or 72 bytes, §2.6) pyzk found on the device, on pyzk's own session.
"""

from __future__ import annotations

from typing import Any

from zk import const
from zk.finger import Finger
from zk.user import User

from devices.terminal import EnrolledUser, FingerTemplate
from devices.zkteco.records import UserRecord, encode_user

_MAX_UID = 0xFFFF
_DISABLED = 0x01  # §2.5: privilege bit 0


def enrolled(users: list[Any]) -> list[EnrolledUser]:
    return [
        EnrolledUser(
            str(u.user_id),
            str(u.name),
            int(u.privilege) & ~_DISABLED == const.USER_ADMIN,
            int(u.card or 0),
            not int(u.privilege) & _DISABLED,
        )
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


def _privilege(user: EnrolledUser) -> int:
    role = int(const.USER_ADMIN if user.admin else const.USER_DEFAULT)
    return role if user.enabled else role | _DISABLED


def _pyzk_user(uid: int, user: EnrolledUser) -> User:
    return User(uid, user.name, _privilege(user), "", "", user.user_id, user.card)


def write_user(conn: Any, user: EnrolledUser) -> None:
    uid = _slot(conn.get_users(), user.user_id)
    privilege = _privilege(user)
    if user.enabled:
        conn.set_user(uid=uid, name=user.name, privilege=privilege, user_id=user.user_id, card=user.card)
        return
    record = UserRecord(uid=uid, user_id=user.user_id, name=user.name, privilege=privilege, card=user.card)
    size = 28 if int(getattr(conn, "user_packet_size", 72)) == 28 else 72
    reply = conn._ZK__send_command(const.CMD_USER_WRQ, encode_user(record, size))
    if not reply.get("status"):
        raise ValueError(f"the terminal refused to disable user {user.user_id}")
    conn.refresh_data()


def disable_user(conn: Any, user_id: str) -> bool:
    for user in enrolled(conn.get_users()):
        if user.user_id == user_id:
            write_user(conn, EnrolledUser(user.user_id, user.name, user.admin, user.card, enabled=False))
            return True
    return False


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
