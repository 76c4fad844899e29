"""Proxy sign-in (代签) and backfill (补签) detectors: each a named pure rule over punches and faces.

Every hit is a P6 suspicion with its evidence and a confidence, for a human to review; none is a
sanction. Thresholds come from settings (server.services.attendance_settings).
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from server.domain.incidents import DetectedIncident, Prohibition

BIOMETRIC = frozenset({"fingerprint", "face", "palm"})
# Where the server serves a face observation's evidence snapshot (server/api/faces.py); face
# evidence links it, so a reviewer opens the picture, not only an id.
FACE_SNAPSHOT_PATH = "/api/v1/faces/observations/{event_id}/snapshot"
_BY_TIME = attrgetter("at", "event_id")


@dataclass(frozen=True)
class DetectorThresholds:
    face_window_seconds: int = 30
    burst_window_seconds: int = 20
    burst_min_people: int = 3
    recurring_pair_gap_seconds: int = 15
    recurring_pair_min_days: int = 5
    recurring_pair_lookback_days: int = 28
    backfill_max_delay_minutes: int = 24 * 60
    future_tolerance_seconds: int = 300
    face_mismatch_enabled: bool = True
    nobody_identified_enabled: bool = True


class PunchFact(NamedTuple):
    event_id: str
    staff_id: str
    device_id: str
    site_id: str | None
    at: datetime  # occurred_at: the terminal's time
    observed_at: datetime  # when the edge first saw the record
    verify_method: str
    flags: tuple[str, ...] = ()


class FaceFact(NamedTuple):
    event_id: str
    camera_id: str
    at: datetime
    staff_id: str | None  # None: a face the camera could not identify
    liveness_ok: bool | None = None  # None: the camera does not report liveness
    liveness: str | None = None  # the camera's verdict as it reported it (e.g. failed_still)


@dataclass(frozen=True)
class DetectionInputs:
    punches: Sequence[PunchFact]
    faces: Sequence[FaceFact]
    cameras_of_terminal: Mapping[str, tuple[str, ...]]
    travel_minutes: Mapping[tuple[str, str], int] = field(default_factory=dict)
    biometric_required: frozenset[str] = frozenset()  # staff whose timetable requires it
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # recurring_pair looks back a fixed number of days before each day it judges; these are the
    # punches of that longer span (None: the same as ``punches``).
    pair_punches: Sequence[PunchFact] | None = None
    # The days findings are made for (local dates, inclusive); None: every day in the data.
    first_day: date | None = None
    last_day: date | None = None


def _hit(
    rule: str, key: str, punch: PunchFact, zone: ZoneInfo, summary: str, confidence: float, **evidence: object
) -> DetectedIncident:
    return DetectedIncident(
        key=f"P6:{rule}:{key}",
        staff_id=punch.staff_id,
        prohibition=Prohibition.P6,
        rule=rule,
        day=punch.at.astimezone(zone).date(),
        summary=summary,
        evidence={"punches": [punch.event_id], "at": punch.at.isoformat(), "device": punch.device_id}
        | evidence,
        confidence=confidence,
    )


class _FaceIndex:
    """Faces per camera, sorted by time, for window look-ups by bisection."""

    def __init__(self, faces: Iterable[FaceFact]) -> None:
        by_camera: dict[str, list[FaceFact]] = defaultdict(list)
        for face in faces:
            by_camera[face.camera_id].append(face)
        self._faces = {camera: sorted(items, key=_BY_TIME) for camera, items in by_camera.items()}
        self._times = {camera: [f.at for f in items] for camera, items in self._faces.items()}

    def around(self, cameras: Iterable[str], at: datetime, seconds: int) -> list[FaceFact]:
        window = timedelta(seconds=seconds)
        found = []
        for camera in cameras:
            times = self._times.get(camera)
            if not times:
                continue
            low = bisect_left(times, at - window)
            high = bisect_right(times, at + window)
            found += self._faces[camera][low:high]
        return found


def _unmatched_punches(
    inputs: DetectionInputs, t: DetectorThresholds
) -> Iterator[tuple[PunchFact, tuple[str, ...], list[FaceFact]]]:
    """Punches at a terminal with a linked camera that did not see the punching person within
    the window, with the terminal's cameras and the faces they saw."""
    index = _FaceIndex(inputs.faces)
    for punch in inputs.punches:
        cameras = inputs.cameras_of_terminal.get(punch.device_id, ())
        if not cameras:
            continue
        seen = index.around(cameras, punch.at, t.face_window_seconds)
        if any(f.staff_id == punch.staff_id for f in seen):
            continue
        yield punch, cameras, seen


def _face_evidence(faces: Iterable[FaceFact]) -> dict[str, object]:
    ids = [f.event_id for f in faces]
    return {"faces": ids, "snapshots": [FACE_SNAPSHOT_PATH.format(event_id=i) for i in ids]}


def face_mismatch(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """The terminal's linked camera identified someone else, and not the punching person, within
    the window around the punch."""
    found = []
    for punch, cameras, seen in _unmatched_punches(inputs, t):
        known = sorted({f.staff_id for f in seen if f.staff_id is not None})
        if not known:
            continue
        found.append(
            _hit(
                "face_mismatch",
                punch.event_id,
                punch,
                inputs.zone,
                f"camera saw {', '.join(known)}, not {punch.staff_id}, at the punch",
                0.8,
                **_face_evidence(seen),
                seen_staff=known,
                cameras=list(cameras),
                thresholds={"face_window_seconds": t.face_window_seconds},
            )
        )
    return found


def nobody_identified(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """A punch at a terminal with a linked camera, and the camera identified nobody at all within
    the window (it saw no face, or only faces it could not identify)."""
    found = []
    for punch, cameras, seen in _unmatched_punches(inputs, t):
        if any(f.staff_id is not None for f in seen):
            continue
        found.append(
            _hit(
                "nobody_identified",
                punch.event_id,
                punch,
                inputs.zone,
                "punch with nobody identified by the terminal's camera",
                0.5,
                **_face_evidence(seen),
                cameras=list(cameras),
                thresholds={"face_window_seconds": t.face_window_seconds},
            )
        )
    return found


def punch_burst(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """Several different people punching at one terminal within seconds, more than its camera saw:
    each puncher the camera did not see is suspected."""
    index = _FaceIndex(inputs.faces)
    by_terminal: dict[str, list[PunchFact]] = defaultdict(list)
    for punch in inputs.punches:
        by_terminal[punch.device_id].append(punch)
    window = timedelta(seconds=t.burst_window_seconds)
    found: dict[str, DetectedIncident] = {}
    for terminal, punches in by_terminal.items():
        punches.sort(key=_BY_TIME)
        start = 0
        for end in range(len(punches)):
            while punches[end].at - punches[start].at > window:
                start += 1
            if end + 1 - start < t.burst_min_people:
                continue
            group = punches[start : end + 1]
            people = sorted({p.staff_id for p in group})
            if len(people) < t.burst_min_people:
                continue
            middle = group[0].at + (group[-1].at - group[0].at) / 2
            seconds = t.burst_window_seconds + t.face_window_seconds
            seen_faces = index.around(inputs.cameras_of_terminal.get(terminal, ()), middle, seconds)
            seen = {f.staff_id for f in seen_faces}
            if len(seen - {None}) >= len(people):
                continue
            for punch in group:
                if punch.staff_id in seen or punch.event_id in found:
                    continue
                found[punch.event_id] = _hit(
                    "punch_burst",
                    punch.event_id,
                    punch,
                    inputs.zone,
                    f"{len(people)} people punched within {t.burst_window_seconds}s; the camera saw {len(seen - {None})}",
                    0.6,
                    burst=[p.event_id for p in group],
                    people=people,
                    **_face_evidence(seen_faces),
                    thresholds={
                        "burst_window_seconds": t.burst_window_seconds,
                        "burst_min_people": t.burst_min_people,
                        "face_window_seconds": t.face_window_seconds,
                    },
                )
    return list(found.values())


def non_biometric_punch(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """A card or password punch by someone whose timetable requires a biometric."""
    return [
        _hit(
            "non_biometric",
            p.event_id,
            p,
            inputs.zone,
            f"punched by {p.verify_method} where a biometric is required",
            0.9,
            verify_method=p.verify_method,
            thresholds={"require_biometric": True, "biometric_methods": sorted(BIOMETRIC)},
        )
        for p in inputs.punches
        if p.staff_id in inputs.biometric_required and p.verify_method not in BIOMETRIC
    ]


def impossible_travel(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """Two punches of one person at two sites closer in time than the travel time between them."""
    by_staff: dict[str, list[PunchFact]] = defaultdict(list)
    for punch in inputs.punches:
        if punch.site_id is not None:
            by_staff[punch.staff_id].append(punch)
    found = []
    for punches in by_staff.values():
        punches.sort(key=_BY_TIME)
        for before, after in itertools.pairwise(punches):
            if before.site_id == after.site_id:
                continue
            assert before.site_id is not None
            assert after.site_id is not None
            needed = inputs.travel_minutes.get((before.site_id, after.site_id))
            if needed is None:
                needed = inputs.travel_minutes.get((after.site_id, before.site_id))
            took = (after.at - before.at).total_seconds() / 60
            if needed is not None and took < needed:
                found.append(
                    _hit(
                        "impossible_travel",
                        after.event_id,
                        after,
                        inputs.zone,
                        f"{took:.0f} min after a punch at {before.site_id}; travel takes {needed} min",
                        0.9,
                        punches=[before.event_id, after.event_id],
                        sites=[before.site_id, after.site_id],
                        travel_minutes=needed,
                        thresholds={"travel_minutes": needed},
                    )
                )
    return found


def recurring_pair(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """Two people punching one right after the other at the same terminal on many days.

    Each day the pair recurs on is judged over the same fixed look-back before it, whatever range
    a run covers, and the finding is keyed by the pair alone: one pattern is one incident, found
    again (not re-keyed, not withdrawn) by any later run over a day of it. One hit per day the
    pattern holds on; the engine keeps the earliest of the days it decides."""
    punches_seen = inputs.pair_punches if inputs.pair_punches is not None else inputs.punches
    by_terminal: dict[str, list[PunchFact]] = defaultdict(list)
    for punch in punches_seen:
        by_terminal[punch.device_id].append(punch)
    gap = timedelta(seconds=t.recurring_pair_gap_seconds)
    days: dict[tuple[str, str], dict[date, tuple[PunchFact, PunchFact]]] = defaultdict(dict)
    for punches in by_terminal.values():
        punches.sort(key=_BY_TIME)
        for first, second in itertools.pairwise(punches):
            if first.staff_id != second.staff_id and second.at - first.at <= gap:
                pair = (first.staff_id, second.staff_id)
                days[pair].setdefault(second.at.astimezone(inputs.zone).date(), (first, second))
    lookback = timedelta(days=t.recurring_pair_lookback_days - 1)
    found = []
    for (first_staff, second_staff), seen in sorted(days.items()):
        ordered = sorted(seen)
        for day in ordered:
            if (inputs.first_day and day < inputs.first_day) or (inputs.last_day and day > inputs.last_day):
                continue
            window = ordered[bisect_left(ordered, day - lookback) : bisect_right(ordered, day)]
            if len(window) < t.recurring_pair_min_days:
                continue
            found.append(
                _hit(
                    "recurring_pair",
                    f"{first_staff}:{second_staff}",
                    seen[day][1],
                    inputs.zone,
                    f"{second_staff} punched right after {first_staff} on {len(window)} days "
                    f"within {t.recurring_pair_lookback_days}",
                    0.4,
                    punches=sorted(e.event_id for d in window for e in seen[d]),
                    pair=[first_staff, second_staff],
                    days=[d.isoformat() for d in window],
                    thresholds={
                        "recurring_pair_gap_seconds": t.recurring_pair_gap_seconds,
                        "recurring_pair_min_days": t.recurring_pair_min_days,
                        "recurring_pair_lookback_days": t.recurring_pair_lookback_days,
                    },
                )
            )
    return found


def backfill(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """A record whose device time lies far before the edge first saw it, or in the future, or made
    while the terminal's clock was known to be wrong."""
    found = []
    late = timedelta(minutes=t.backfill_max_delay_minutes)
    ahead = timedelta(seconds=t.future_tolerance_seconds)
    for p in inputs.punches:
        reasons = []
        if p.observed_at - p.at > late or "device_time_far_before_observed" in p.flags:
            reasons.append("device_time_far_before_observed")
        if p.at - p.observed_at > ahead or "device_time_in_future" in p.flags:
            reasons.append("device_time_in_future")
        if "clock_unreliable" in p.flags:
            reasons.append("clock_unreliable")
        if reasons:
            found.append(
                _hit(
                    "backfill",
                    p.event_id,
                    p,
                    inputs.zone,
                    "record suspected backfilled: " + ", ".join(reasons),
                    0.7,
                    reasons=reasons,
                    observed_at=p.observed_at.isoformat(),
                    flags=list(p.flags),
                    thresholds={
                        "backfill_max_delay_minutes": t.backfill_max_delay_minutes,
                        "future_tolerance_seconds": t.future_tolerance_seconds,
                    },
                )
            )
    return found


def liveness_failed(inputs: DetectionInputs, t: DetectorThresholds) -> list[DetectedIncident]:
    """A face check-in of a known person that failed the camera's liveness check (a photo or a
    screen held up?). Such a face is no presence mark either (the engine leaves it out)."""
    return [
        DetectedIncident(
            key=f"P6:liveness_failed:{face.event_id}",
            staff_id=face.staff_id,
            prohibition=Prohibition.P6,
            rule="liveness_failed",
            day=face.at.astimezone(inputs.zone).date(),
            summary=f"face check-in failed the liveness check ({face.liveness or 'failed'})",
            evidence={
                "at": face.at.isoformat(),
                "camera": face.camera_id,
                "liveness": face.liveness,
                **_face_evidence([face]),
                "thresholds": {"liveness_required": "passed"},
            },
            confidence=0.7,
        )
        for face in inputs.faces
        if face.liveness_ok is False and face.staff_id is not None
    ]


RULES: dict[str, Callable[[DetectionInputs, DetectorThresholds], list[DetectedIncident]]] = {
    "face_mismatch": face_mismatch,
    "nobody_identified": nobody_identified,
    "punch_burst": punch_burst,
    "non_biometric": non_biometric_punch,
    "impossible_travel": impossible_travel,
    "recurring_pair": recurring_pair,
    "backfill": backfill,
    "liveness_failed": liveness_failed,
}


def enabled_rules(thresholds: DetectorThresholds) -> list[str]:
    """The rules to run: every rule, less those switched off in the settings."""
    off = {
        "face_mismatch": not thresholds.face_mismatch_enabled,
        "nobody_identified": not thresholds.nobody_identified_enabled,
    }
    return [name for name in RULES if not off.get(name, False)]


def detect_all(inputs: DetectionInputs, thresholds: DetectorThresholds) -> list[DetectedIncident]:
    """Every enabled rule's hits, in a stable order."""
    hits = [hit for name in enabled_rules(thresholds) for hit in RULES[name](inputs, thresholds)]
    return sorted(hits, key=lambda h: (h.key, h.day))
