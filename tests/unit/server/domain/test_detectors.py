from __future__ import annotations

from datetime import date, timedelta

from server.domain.detectors import (
    DetectionInputs,
    DetectorThresholds,
    FaceFact,
    PunchFact,
    backfill,
    detect_all,
    face_mismatch_and_nobody,
    impossible_travel,
    non_biometric_punch,
    punch_burst,
    recurring_pair,
)
from tests.unit.server.domain.conftest import ZONE, at

DAY = date(2025, 6, 10)
T = DetectorThresholds()


def punch(
    staff: str, hhmm: str, device: str = "T1", method: str = "fingerprint", site: str = "A", **kw
) -> PunchFact:
    moment = at(kw.pop("day", DAY), hhmm)
    return PunchFact(
        f"p-{staff}-{device}-{moment.isoformat()}",
        staff,
        device,
        site,
        moment,
        kw.pop("observed_at", moment),
        method,
        tuple(kw.pop("flags", ())),
    )


def face(
    staff: str | None, hhmm: str, camera: str = "C1", seconds: int = 0, liveness: bool | None = None
) -> FaceFact:
    moment = at(DAY, hhmm) + timedelta(seconds=seconds)
    return FaceFact(f"f-{staff}-{moment.isoformat()}", camera, moment, staff, liveness)


def inputs(punches, faces=(), **kw) -> DetectionInputs:
    return DetectionInputs(punches, list(faces), kw.pop("cameras", {"T1": ("C1",)}), zone=ZONE, **kw)


def test_face_mismatch_when_the_camera_saw_someone_else() -> None:
    hits = face_mismatch_and_nobody(inputs([punch("a", "08:00")], [face("b", "08:00", seconds=5)]), T)
    assert [(h.rule, h.staff_id, h.evidence["seen_staff"]) for h in hits] == [("face_mismatch", "a", ["b"])]
    assert hits[0].prohibition.value == "P6"
    assert 0 < hits[0].confidence < 1


def test_no_hit_when_the_camera_saw_the_punching_person_or_outside_the_window() -> None:
    assert (
        face_mismatch_and_nobody(inputs([punch("a", "08:00")], [face("a", "08:00"), face("b", "08:00")]), T)
        == []
    )
    far = face_mismatch_and_nobody(inputs([punch("a", "08:00")], [face("b", "08:01")]), T)
    assert [h.rule for h in far] == ["nobody_identified"]


def test_nobody_identified_only_at_terminals_with_a_camera() -> None:
    unknown_face = [face(None, "08:00")]
    assert [h.rule for h in face_mismatch_and_nobody(inputs([punch("a", "08:00")], unknown_face), T)] == [
        "nobody_identified"
    ]
    assert face_mismatch_and_nobody(inputs([punch("a", "08:00", device="T9")], unknown_face), T) == []


def test_burst_of_people_more_than_the_camera_saw() -> None:
    punches = [punch(s, "08:00") for s in ("a", "b", "c")]
    punches = [p._replace(at=p.at + timedelta(seconds=i * 4)) for i, p in enumerate(punches)]
    hits = punch_burst(inputs(punches, [face("a", "08:00", seconds=2)]), T)
    assert sorted(h.staff_id for h in hits) == ["b", "c"]
    all_seen = [face(s, "08:00", seconds=2) for s in ("a", "b", "c")]
    assert punch_burst(inputs(punches, all_seen), T) == []
    spread = [punch(s, f"08:0{i * 2}") for i, s in enumerate("abc")]
    assert punch_burst(inputs(spread), T) == []


def test_card_or_password_where_a_biometric_is_required() -> None:
    punches = [
        punch("a", "08:00", method="card"),
        punch("b", "08:00", method="password"),
        punch("c", "08:00", method="fingerprint"),
    ]
    hits = non_biometric_punch(inputs(punches, biometric_required=frozenset({"a", "c"})), T)
    assert [h.staff_id for h in hits] == ["a"]


def test_impossible_travel_between_two_sites() -> None:
    punches = [punch("a", "08:00", site="A", device="T1"), punch("a", "08:20", site="B", device="T2")]
    hits = impossible_travel(inputs(punches, travel_minutes={("A", "B"): 45}), T)
    assert [(h.rule, h.evidence["travel_minutes"]) for h in hits] == [("impossible_travel", 45)]
    assert impossible_travel(inputs(punches, travel_minutes={("B", "A"): 15}), T) == []


def test_recurring_pair_over_many_days() -> None:
    punches = []
    for offset in range(5):
        day = DAY + timedelta(days=offset)
        first = punch("a", "08:00", day=day)
        second = punch("b", "08:00", day=day)
        punches += [first, second._replace(at=second.at + timedelta(seconds=8))]
    hits = recurring_pair(inputs(punches), T)
    assert [(h.staff_id, h.evidence["pair"]) for h in hits] == [("b", ["a", "b"])]
    assert recurring_pair(inputs(punches[:8]), T) == []  # four days are not many enough


def test_backfill_far_before_observed_in_the_future_or_on_a_bad_clock_and_failed_liveness() -> None:
    moment = at(DAY, "08:00")
    late = punch("a", "08:00", observed_at=moment + timedelta(days=2))
    ahead = punch("b", "08:00", observed_at=moment - timedelta(hours=1))
    flagged = punch("c", "08:00", flags=["clock_unreliable"])
    fine = punch("d", "08:00", observed_at=moment + timedelta(minutes=3))
    hits = backfill(inputs([late, ahead, flagged, fine], [face("e", "08:00", liveness=False)]), T)
    assert sorted((h.staff_id, h.rule) for h in hits) == [
        ("a", "backfill"),
        ("b", "backfill"),
        ("c", "backfill"),
        ("e", "liveness_failed"),
    ]
    assert [h.evidence["reasons"] for h in hits if h.staff_id == "a"] == [["device_time_far_before_observed"]]


def test_detect_all_is_stable_whatever_the_input_order() -> None:
    punches = [punch(s, "08:00", method="card") for s in "abc"]
    first = detect_all(inputs(punches, biometric_required=frozenset("abc")), T)
    again = detect_all(inputs(list(reversed(punches)), biometric_required=frozenset("abc")), T)
    assert first == again
    assert len(first) > 0
