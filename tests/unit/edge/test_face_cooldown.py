"""One check-in per person per camera per cooldown; failed liveness does not use it up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devices.face.engine import FaceSighting
from devices.face.liveness import Liveness
from edge.face_checkin import CheckInCooldown

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _seen(staff_id: str | None, seconds: float, liveness: Liveness = Liveness.PASSED) -> FaceSighting:
    at = T0 + timedelta(seconds=seconds)
    return FaceSighting(1, staff_id, 0.4, 0.9, liveness, b"", 5, at, at)


def test_the_same_person_within_the_cooldown_is_one_check_in() -> None:
    cooldown = CheckInCooldown(300)
    assert cooldown.allow(_seen("a", 0))
    assert not cooldown.allow(_seen("a", 299))
    assert cooldown.allow(_seen("b", 10))
    assert cooldown.allow(_seen("a", 300))


def test_a_photo_that_failed_liveness_does_not_block_the_real_person() -> None:
    cooldown = CheckInCooldown(300)
    assert cooldown.allow(_seen("a", 0, Liveness.FAILED_STILL))
    assert not cooldown.allow(_seen("a", 5, Liveness.FAILED_STILL))
    assert cooldown.allow(_seen("a", 10))


def test_unknown_faces_are_each_reported() -> None:
    cooldown = CheckInCooldown(300)
    assert cooldown.allow(_seen(None, 0))
    assert cooldown.allow(_seen(None, 1))
