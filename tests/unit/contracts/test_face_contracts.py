"""Face observation and gallery payloads: what they accept and what they refuse, with reasons."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts import FaceLiveness, FaceObservation, FaceOutcome, decode_event, encode, event_topic
from contracts.codec import ContractError
from contracts.faces import (
    GALLERY_BUCKETS,
    GalleryHead,
    decode_gallery_message,
    gallery_bucket,
    pack_encoding,
    unpack_encoding,
)
from contracts.topics import EventKind, gallery_bucket_topic, gallery_head_topic

AT = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _face(**fields: object) -> FaceObservation:
    base: dict[str, object] = {"outcome": FaceOutcome.KNOWN, "staff_id": "S-1", "distance": 0.4}
    return FaceObservation.create(edge_id="e1", camera_id="c1", track_id=3, occurred_at=AT, **(base | fields))


def test_a_face_observation_round_trips_with_its_evidence() -> None:
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0rest").decode()
    event = _face(
        liveness=FaceLiveness.FAILED_NO_BLINK, quality=0.7, snapshot_jpeg_b64=jpeg, blink_required=True
    )
    again = decode_event(event_topic("e1", EventKind.FACE, "c1"), encode(event))
    assert again == event
    assert isinstance(again, FaceObservation)
    assert again.liveness_ok is False
    assert _face().liveness_ok is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"outcome": FaceOutcome.UNKNOWN}, "unknown face has none"),
        ({"staff_id": None}, "known face needs its staff_id"),
        ({"snapshot_jpeg_b64": "not base64!"}, "not base64"),
        ({"snapshot_jpeg_b64": base64.b64encode(b"GIF89a").decode()}, "not a JPEG"),
        ({"quality": 1.5}, "less than or equal to 1"),
    ],
)
def test_inconsistent_observations_are_refused_with_the_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        _face(**fields)


def test_encodings_pack_to_684_characters_and_back() -> None:
    values = [i / 1000 for i in range(128)]
    text = pack_encoding(values)
    assert len(text) == 684
    assert unpack_encoding(text) == pytest.approx(values, abs=1e-6)
    with pytest.raises(ValueError, match="128"):
        pack_encoding([0.0] * 127)
    with pytest.raises(ValueError, match="512 bytes"):
        unpack_encoding(base64.b64encode(b"short").decode())


def test_buckets_are_stable_and_in_range() -> None:
    assert gallery_bucket("S-0042") == gallery_bucket("S-0042")
    assert all(0 <= gallery_bucket(f"S-{i}") < GALLERY_BUCKETS for i in range(1000))
    assert len({gallery_bucket(f"S-{i}") for i in range(1000)}) > 400


def test_gallery_messages_decode_by_topic_and_an_empty_one_is_a_cleared_bucket() -> None:
    head = GalleryHead(version=3, buckets={5: 3}, published_at=AT)
    assert decode_gallery_message(gallery_head_topic(), encode(head)) == head
    assert decode_gallery_message(gallery_bucket_topic(5), b"") is None
    with pytest.raises(ContractError, match="GalleryBucket"):
        decode_gallery_message(gallery_bucket_topic(5), b'{"kind": "gallery_bucket"}')
