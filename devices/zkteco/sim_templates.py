"""Fingerprint templates in the simulator: the DB_RRQ dataset and pyzk's ``save_user_template`` upload.

Layouts as pyzk 0.9 reads and writes them (``zk/base.py`` ``get_templates`` and
``save_user_template``, ``zk/finger.py``):

- dataset: ``u32 total`` then per template ``<HHbb`` (entry size = template + 6, uid, finger
  index, valid) and the template bytes;
- upload (CMD_PREPARE_DATA + CMD_DATA chunks, then CMD_SAVE_USERTEMPS ``<IHH`` 12, 0, 8):
  ``<III`` (user length, table length, templates length), the user record with a leading 0x02
  tag (29 or 73 bytes), a table of ``<bHbI`` (2, uid, 0x10 + finger index, offset) and the
  templates, each ``<H`` length + bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from devices.zkteco.records import UserRecord, decode_user

_ENTRY = struct.Struct("<HHbb")
_HEAD = struct.Struct("<III")
_TABLE = struct.Struct("<bHbI")
_FINGER_BASE = 0x10


def encode_templates_blob(templates: Mapping[tuple[int, int], bytes]) -> bytes:
    """The CMD_DB_RRQ dataset of every (uid, finger) template, ordered by uid and finger."""
    body = b"".join(
        _ENTRY.pack(len(t) + _ENTRY.size, uid, fid, 1) + t for (uid, fid), t in sorted(templates.items())
    )
    return struct.pack("<I", len(body)) + body


@dataclass(frozen=True)
class TemplateUpload:
    """What one ``save_user_template`` carried: the user and their templates by finger index."""

    user: UserRecord
    templates: dict[int, bytes]


def decode_template_upload(buffer: bytes) -> TemplateUpload:
    """Parse the uploaded buffer; raises ValueError naming the part that does not fit."""
    if len(buffer) < _HEAD.size:
        raise ValueError(f"template upload of {len(buffer)} bytes has no header")
    user_len, table_len, fingers_len = _HEAD.unpack_from(buffer)
    if _HEAD.size + user_len + table_len + fingers_len != len(buffer):
        raise ValueError("template upload lengths do not add up to the buffer")
    user_part = buffer[_HEAD.size : _HEAD.size + user_len]
    if user_len not in (29, 73) or user_part[0] != 2:
        raise ValueError(f"user record of {user_len} bytes is neither the 29- nor the 73-byte tagged form")
    user = decode_user(user_part[1:])
    table = buffer[_HEAD.size + user_len : _HEAD.size + user_len + table_len]
    fingers = buffer[_HEAD.size + user_len + table_len :]
    templates: dict[int, bytes] = {}
    for offset in range(0, len(table) - _TABLE.size + 1, _TABLE.size):
        _tag, uid, finger, start = _TABLE.unpack_from(table, offset)
        if uid != user.uid:
            raise ValueError(f"template table names uid {uid}, the user record uid {user.uid}")
        (size,) = struct.unpack_from("<H", fingers, start)
        templates[finger - _FINGER_BASE] = bytes(fingers[start + 2 : start + 2 + size])
    return TemplateUpload(user, templates)
