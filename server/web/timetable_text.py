"""The timetable form's text for its seasonal versions, one version a line:

    summer 05-01..09-30 grace=5 in=60 out=240: morning 08:00-12:00, afternoon 15:00-18:00

``grace``, ``in`` and ``out`` (minutes) may be left out (their defaults apply); a session ending
the next day is written ``night 22:00-06:00+1``. The parsed dicts go through ``TimetableIn``, so
the API's checks (ranges, overlaps, the year covered) apply unchanged."""

from __future__ import annotations

import re
from typing import Any

_HEAD = re.compile(
    r"^(?P<name>\S+)\s+(?P<start>\d{2}-\d{2})\.\.(?P<end>\d{2}-\d{2})(?P<opts>(?:\s+\w+=\d+)*)\s*$"
)
_SESSION = re.compile(r"^(?P<name>\S+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})(?P<next>\+1)?$")
_OPTIONS = {"grace": "grace_minutes", "in": "in_window_minutes", "out": "out_window_minutes"}


class TimetableTextError(ValueError):
    """Names the line and what is wrong with it."""


def parse_versions(text: str) -> list[dict[str, Any]]:
    versions = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        head, colon, sessions_text = line.partition(":")
        match = _HEAD.match(head.strip())
        if not colon or not match:
            raise TimetableTextError(
                f"line {number}: write 'name MM-DD..MM-DD [grace=5] [in=60] [out=240]: session HH:MM-HH:MM, ...'"
            )
        version: dict[str, Any] = {
            "name": match["name"],
            "valid_from": match["start"],
            "valid_to": match["end"],
            "sessions": [],
        }
        for option in match["opts"].split():
            key, _, value = option.partition("=")
            if key not in _OPTIONS:
                raise TimetableTextError(f"line {number}: unknown setting {key!r} (use grace, in or out)")
            version[_OPTIONS[key]] = int(value)
        for part in sessions_text.split(","):
            session = _SESSION.match(part.strip())
            if not session:
                raise TimetableTextError(f"line {number}: {part.strip()!r} is not 'name HH:MM-HH:MM'")
            version["sessions"].append(
                {
                    "name": session["name"],
                    "start": session["start"].zfill(5),
                    "end": session["end"].zfill(5),
                    "ends_next_day": bool(session["next"]),
                }
            )
        versions.append(version)
    if not versions:
        raise TimetableTextError("write at least one version")
    return versions


def format_versions(versions: list[dict[str, Any]]) -> str:
    """The stored versions as the form's text (the inverse of ``parse_versions``)."""
    lines = []
    for v in versions:
        options = "".join(
            f" {short}={v[long]}" for short, long in _OPTIONS.items() if v.get(long) is not None
        )
        sessions = ", ".join(
            f"{s['name']} {str(s['start'])[:5]}-{str(s['end'])[:5]}{'+1' if s.get('ends_next_day') else ''}"
            for s in v["sessions"]
        )
        lines.append(f"{v['name']} {v['valid_from']}..{v['valid_to']}{options}: {sessions}")
    return "\n".join(lines)
