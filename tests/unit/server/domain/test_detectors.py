from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from server.domain.detectors import (
    FACE_SNAPSHOT_PATH,
    RULES,
    DetectionInputs,
    DetectorThresholds,
    FaceFact,
    PunchFact,
    backfill,
    detect_all,
    face_mismatch,
    impossible_travel,
    liveness_failed,
    nobody_identified,
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
    seen = face("b", "08:00", seconds=5)
    hits = face_mismatch(inputs([punch("a", "08:00")], [seen]), T)
    assert [(h.rule, h.staff_id, h.evidence["seen_staff"]) for h in hits] == [("face_mismatch", "a", ["b"])]
    assert hits[0].prohibition.value == "P6"
    assert 0 < hits[0].confidence < 1
    assert hits[0].evidence["faces"] == [seen.event_id]
    assert hits[0].evidence["snapshots"] == [f"/api/v1/faces/observations/{seen.event_id}/snapshot"]
    assert hits[0].evidence["thresholds"] == {"face_window_seconds": 30}
    assert nobody_identified(inputs([punch("a", "08:00")], [seen]), T) == []


def test_no_face_hit_when_the_camera_saw_the_punching_person() -> None:
    both = inputs([punch("a", "08:00")], [face("a", "08:00"), face("b", "08:00")])
    assert face_mismatch(both, T) == []
    assert nobody_identified(both, T) == []


def test_a_face_outside_the_window_is_nobody_identified_not_a_mismatch() -> None:
    far = inputs([punch("a", "08:00")], [face("b", "08:01")])
    assert face_mismatch(far, T) == []
    assert [h.rule for h in nobody_identified(far, T)] == ["nobody_identified"]
    wide = DetectorThresholds(face_window_seconds=90)
    assert [h.rule for h in face_mismatch(far, wide)] == ["face_mismatch"]
    assert nobody_identified(far, wide) == []


def test_nobody_identified_only_at_terminals_with_a_camera() -> None:
    unknown_face = [face(None, "08:00")]
    hits = nobody_identified(inputs([punch("a", "08:00")], unknown_face), T)
    assert [h.rule for h in hits] == ["nobody_identified"]
    assert hits[0].evidence["snapshots"] == [FACE_SNAPSHOT_PATH.format(event_id=unknown_face[0].event_id)]
    assert hits[0].evidence["thresholds"] == {"face_window_seconds": 30}
    assert face_mismatch(inputs([punch("a", "08:00")], unknown_face), T) == []
    assert nobody_identified(inputs([punch("a", "08:00", device="T9")], unknown_face), T) == []


def test_each_face_rule_has_its_own_switch() -> None:
    data = inputs([punch("a", "08:00"), punch("c", "09:00")], [face("b", "08:00")])
    assert sorted(h.rule for h in detect_all(data, T)) == ["face_mismatch", "nobody_identified"]
    no_mismatch = replace(T, face_mismatch_enabled=False)
    assert [h.rule for h in detect_all(data, no_mismatch)] == ["nobody_identified"]
    no_nobody = replace(T, nobody_identified_enabled=False)
    assert [h.rule for h in detect_all(data, no_nobody)] == ["face_mismatch"]


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
    assert hits[0].evidence["thresholds"] == {"travel_minutes": 45}


def pair_days(days: list[date]) -> list[PunchFact]:
    punches = []
    for day in days:
        second = punch("b", "08:00", day=day)
        punches += [punch("a", "08:00", day=day), second._replace(at=second.at + timedelta(seconds=8))]
    return punches


def test_recurring_pair_over_many_days() -> None:
    punches = pair_days([DAY + timedelta(days=n) for n in range(5)])
    hits = recurring_pair(inputs(punches), T)
    assert [(h.key, h.staff_id, h.day, h.evidence["pair"]) for h in hits] == [
        ("P6:recurring_pair:a:b", "b", DAY + timedelta(days=4), ["a", "b"])
    ]
    assert hits[0].evidence["thresholds"]["recurring_pair_lookback_days"] == 28
    assert recurring_pair(inputs(punches[:8]), T) == []  # four days are not many enough


def test_recurring_pair_is_keyed_and_judged_the_same_whatever_the_range() -> None:
    days = [DAY + timedelta(days=n) for n in range(8)]
    punches = pair_days(days)
    whole = recurring_pair(inputs(punches), T)
    assert {h.key for h in whole} == {"P6:recurring_pair:a:b"}
    assert [h.day for h in whole] == days[4:]  # each day from the fifth on holds the pattern
    # A run over the last day only, given the look-back's punches, finds the same pattern.
    last = recurring_pair(
        DetectionInputs(
            [p for p in punches if p.at.date() == days[-1]],
            [],
            {},
            zone=ZONE,
            pair_punches=punches,
            first_day=days[-1],
            last_day=days[-1],
        ),
        T,
    )
    assert [(h.key, h.day) for h in last] == [("P6:recurring_pair:a:b", days[-1])]
    assert last[0].evidence == whole[-1].evidence
    # Days spread wider than the look-back are not a pattern.
    spread = pair_days([DAY + timedelta(days=10 * n) for n in range(5)])
    assert recurring_pair(inputs(spread), T) == []
    assert len(recurring_pair(inputs(spread), replace(T, recurring_pair_lookback_days=41))) == 1


def test_backfill_far_before_observed_in_the_future_or_on_a_bad_clock() -> None:
    moment = at(DAY, "08:00")
    late = punch("a", "08:00", observed_at=moment + timedelta(days=2))
    ahead = punch("b", "08:00", observed_at=moment - timedelta(hours=1))
    flagged = punch("c", "08:00", flags=["clock_unreliable"])
    fine = punch("d", "08:00", observed_at=moment + timedelta(minutes=3))
    hits = backfill(inputs([late, ahead, flagged, fine]), T)
    assert sorted((h.staff_id, h.rule) for h in hits) == [
        ("a", "backfill"),
        ("b", "backfill"),
        ("c", "backfill"),
    ]
    assert [h.evidence["reasons"] for h in hits if h.staff_id == "a"] == [["device_time_far_before_observed"]]


def test_a_face_that_failed_liveness() -> None:
    spoofed = face("e", "08:00", liveness=False)._replace(liveness="failed_still")
    faces = [
        spoofed,
        face("f", "08:00", liveness=True),
        face("g", "08:00"),
        face(None, "08:00", liveness=False),
    ]
    hits = liveness_failed(inputs([], faces), T)
    assert [(h.staff_id, h.rule, h.key) for h in hits] == [
        ("e", "liveness_failed", f"P6:liveness_failed:{spoofed.event_id}")
    ]
    assert hits[0].evidence["liveness"] == "failed_still"
    assert hits[0].evidence["snapshots"] == [FACE_SNAPSHOT_PATH.format(event_id=spoofed.event_id)]


def test_every_rule_hit_carries_its_thresholds_and_face_hits_their_snapshots() -> None:
    burst = [
        punch(s, "09:00")._replace(at=at(DAY, "09:00") + timedelta(seconds=i * 4))
        for i, s in enumerate("xyz")
    ]
    data = inputs(
        [
            punch("a", "08:00", method="card"),
            punch("a", "08:20", site="B", device="T2"),
            punch("c", "10:00", observed_at=at(DAY, "10:00") + timedelta(days=2)),
            punch("n", "11:00"),
            *burst,
            *pair_days([DAY - timedelta(days=n) for n in range(1, 6)]),
        ],
        [face("b", "08:00"), face("x", "09:00"), face("e", "12:00", liveness=False)],
        biometric_required=frozenset({"a"}),
        travel_minutes={("A", "B"): 45},
    )
    hits = detect_all(data, T)
    assert {h.rule for h in hits} == set(RULES)
    for hit in hits:
        assert hit.evidence["thresholds"], hit.rule
        if hit.rule in ("face_mismatch", "nobody_identified", "punch_burst", "liveness_failed"):
            assert hit.evidence["snapshots"] == [
                FACE_SNAPSHOT_PATH.format(event_id=i) for i in hit.evidence["faces"]
            ], hit.rule


def test_detect_all_is_stable_whatever_the_input_order() -> None:
    punches = [punch(s, "08:00", method="card") for s in "abc"]
    first = detect_all(inputs(punches, biometric_required=frozenset("abc")), T)
    again = detect_all(inputs(list(reversed(punches)), biometric_required=frozenset("abc")), T)
    assert first == again
    assert len(first) > 0
