"""Greedy IoU association of detections with tracks."""

from __future__ import annotations

import pytest

from devices.face.tracking import associate, iou


def test_iou_of_identical_disjoint_and_half_overlapping_boxes() -> None:
    box = (0, 100, 100, 0)
    assert iou(box, box) == 1.0
    assert iou(box, (200, 300, 300, 200)) == 0.0
    assert iou(box, (0, 150, 100, 50)) == pytest.approx(50 * 100 / (2 * 100 * 100 - 50 * 100))


def test_each_detection_goes_to_the_track_it_overlaps_most() -> None:
    tracks = [(0, 100, 100, 0), (0, 400, 100, 300)]
    detections = [(0, 405, 100, 305), (5, 105, 105, 5), (300, 500, 400, 400)]
    pairs, lost, new = associate(tracks, detections, 0.3)
    assert sorted(pairs) == [(0, 1), (1, 0)]
    assert lost == []
    assert new == [2]


def test_a_track_with_no_overlapping_detection_is_lost() -> None:
    pairs, lost, new = associate([(0, 100, 100, 0)], [(0, 190, 100, 90)], 0.3)
    assert pairs == []
    assert lost == [0]
    assert new == [0]
