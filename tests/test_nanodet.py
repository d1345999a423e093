"""NanoDet pre/post-processing and box arithmetic, on synthetic tensors (no TensorFlow)."""

import numpy as np
import pytest

from actors.models import nanodet
from actors.models.coco import LABELS
from actors.models.detection import nms, per_class_nms


def empty_outputs():
    return [np.zeros((g * g, 80), np.float32) for g in (52, 26, 13)] + [
        np.zeros((g * g, 44), np.float32) for g in (52, 26, 13)
    ]


def put(outputs, grid, row, col, label, score, sides):
    """One confident cell; sides = (l, t, r, b) in bins, put as a near-certain logit."""
    scores = next(o for o in outputs if o.shape == (grid * grid, 80))
    boxes = next(o for o in outputs if o.shape == (grid * grid, 44))
    cell = row * grid + col
    scores[cell, LABELS.index(label)] = score
    logits = np.full((4, 11), -30.0, np.float32)
    for side, bin_ in enumerate(sides):
        logits[side, bin_] = 30.0
    boxes[cell] = logits.reshape(44)


def test_preprocess_is_bgr_normalised_channels_first():
    image = np.zeros((1, 416, 416, 3), np.uint8)
    image[..., 0] = 255  # pure red in RGB
    x = nanodet.preprocess(image)
    assert x.shape == (1, 3, 416, 416) and x.dtype == np.float32
    # channel 2 is red after RGB→BGR; the others are zero pixels normalised
    assert np.allclose(x[0, 2], (255 - 123.675) / 58.395)
    assert np.allclose(x[0, 0], (0 - 103.53) / 57.375)


def test_decode_places_the_box_from_its_cell_and_bins():
    outputs = empty_outputs()
    # grid 13 → stride 32; cell (row 6, col 6) centre (208, 208); sides 2 bins = 64 px
    put(outputs, 13, 6, 6, "cup", 0.9, (2, 2, 2, 2))
    (cup,) = nanodet.decode(outputs, threshold=0.5)
    assert cup.label == "cup" and cup.score == pytest.approx(0.9)
    assert np.allclose(cup.box, np.array([144, 144, 272, 272]) / 416, atol=1e-4)


def test_decode_threshold_and_per_class_nms():
    outputs = empty_outputs()
    put(outputs, 52, 20, 20, "person", 0.8, (3, 3, 3, 3))
    put(outputs, 52, 20, 21, "person", 0.7, (3, 3, 3, 3))  # same person, next cell: suppressed
    put(outputs, 52, 20, 21, "dog", 0.6, (3, 3, 3, 3))  # other class, same place: kept
    put(outputs, 26, 3, 3, "cat", 0.2, (1, 1, 1, 1))  # under the threshold
    found = nanodet.decode(outputs, threshold=0.3)
    assert [(d.label, round(d.score, 1)) for d in found] == [("person", 0.8), ("dog", 0.6)]


def test_decode_rejects_outputs_of_another_model():
    with pytest.raises(ValueError, match="unexpected NanoDet outputs"):
        nanodet.decode([np.zeros((100, 80), np.float32)], 0.5)


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.5, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, iou=0.5) == [1, 2]
    assert per_class_nms(boxes, scores, np.array([0, 1, 0]), iou=0.5) == [1, 2, 0]


def test_iou_of_two_boxes():
    from actors.models.detection import iou

    assert iou((0, 0, 2, 2), (0, 0, 2, 2)) == 1.0
    assert iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
