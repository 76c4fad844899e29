"""Faces followed across frames by box overlap, so each face is encoded once, not once per frame.

A camera at 15-30 fps sees a face move a few pixels between frames: greedy matching by
intersection-over-union is enough (the SORT idea without its Kalman filter; the face engine runs
detection on every processed frame, so there are no long gaps to predict across).
"""

from __future__ import annotations

from collections.abc import Sequence

from devices.face.backend import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def associate(
    boxes: Sequence[Box], detections: Sequence[Box], min_iou: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Greedy IoU matching: (track index, detection index) pairs, unmatched tracks, unmatched detections."""
    candidates = sorted(
        ((iou(box, det), t, d) for t, box in enumerate(boxes) for d, det in enumerate(detections)),
        reverse=True,
    )
    pairs: list[tuple[int, int]] = []
    used_tracks: set[int] = set()
    used_dets: set[int] = set()
    for overlap, t, d in candidates:
        if overlap < min_iou:
            break
        if t in used_tracks or d in used_dets:
            continue
        pairs.append((t, d))
        used_tracks.add(t)
        used_dets.add(d)
    lost = [t for t in range(len(boxes)) if t not in used_tracks]
    new = [d for d in range(len(detections)) if d not in used_dets]
    return pairs, lost, new
