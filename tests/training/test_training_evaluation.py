"""Tests for training.detection.average_precision (VOC mAP@0.5 in NumPy).

Expected AP values are computed by hand in the comments: ranking, then
precision and recall after each counted detection, then AP.
"""

import math
import time

import numpy as np
import pytest

from training.detection.average_precision import average_precision
from training.detection.average_precision import evaluate_detections
from training.detection.average_precision import format_average_precision_table
from training.detection.average_precision import pairwise_iou
from training.detection.average_precision import unbatch_detections

# Four well separated 10x10 boxes; a detection equal to one of them has
# IoU 1 with it and IoU 0 with the others.
BOX_A = [0.0, 0.0, 10.0, 10.0]
BOX_B = [20.0, 0.0, 30.0, 10.0]
BOX_C = [40.0, 0.0, 50.0, 10.0]
BOX_D = [60.0, 0.0, 70.0, 10.0]
NOWHERE = [200.0, 200.0, 210.0, 210.0]


def truth(boxes, classes, difficult=None):
    entry = {
        "boxes": np.array(boxes, dtype=np.float64).reshape(-1, 4),
        "classes": np.array(classes, dtype=np.int64),
    }
    if difficult is not None:
        entry["difficult"] = np.array(difficult, dtype=bool)
    return entry


def detections(boxes, classes, scores):
    return {
        "boxes": np.array(boxes, dtype=np.float64).reshape(-1, 4),
        "classes": np.array(classes, dtype=np.int64),
        "scores": np.array(scores, dtype=np.float64),
    }


def evaluate_both(predictions, ground_truths, num_classes=1, **kwargs):
    return (
        evaluate_detections(
            predictions, ground_truths, num_classes, method="voc07", **kwargs
        ),
        evaluate_detections(
            predictions, ground_truths, num_classes, method="area", **kwargs
        ),
    )


def test_perfect_predictions_score_one():
    ground_truths = [
        truth([BOX_A, BOX_B], [0, 1]),
        truth([BOX_C], [2]),
        truth([], []),
    ]
    predictions = [
        detections([BOX_A, BOX_B], [0, 1], [0.9, 0.8]),
        detections([BOX_C], [2], [0.7]),
        detections([], [], []),
    ]
    for result in evaluate_both(predictions, ground_truths, num_classes=3):
        assert result.mean_average_precision == 1.0
        np.testing.assert_array_equal(result.average_precision, [1, 1, 1])
        np.testing.assert_array_equal(result.num_true_positives, [1, 1, 1])
        np.testing.assert_array_equal(result.max_recall, [1, 1, 1])


def test_eleven_point_and_area_differ_on_constructed_case():
    # 4 ground truths of class 0; ranking TP, FP, TP, FP.
    #   cumulative TP: 1, 1, 2, 2
    #   recall:    1/4, 1/4, 2/4, 2/4
    #   precision: 1/1, 1/2, 2/3, 2/4
    #   envelope:  1,   2/3, 2/3, 1/2
    # area  = (1/4 - 0) * 1 + (2/4 - 1/4) * 2/3 = 1/4 + 1/6 = 5/12
    # voc07 = thresholds 0, .1, .2 -> first recall >= t is 1/4 -> 1 (3 pts)
    #         thresholds .3, .4, .5 -> first recall >= t is 2/4 -> 2/3
    #         thresholds .6 ... 1.0 -> never reached -> 0 (5 pts)
    #         (3 * 1 + 3 * 2/3) / 11 = 5/11
    ground_truths = [
        truth([BOX_A, BOX_B], [0, 0]),
        truth([BOX_C, BOX_D], [0, 0]),
    ]
    predictions = [
        detections([BOX_A, NOWHERE], [0, 0], [0.9, 0.8]),
        detections([BOX_C, NOWHERE], [0, 0], [0.7, 0.6]),
    ]
    voc07, area = evaluate_both(predictions, ground_truths)
    assert voc07.mean_average_precision == pytest.approx(5 / 11, abs=1e-12)
    assert area.mean_average_precision == pytest.approx(5 / 12, abs=1e-12)
    assert voc07.max_recall[0] == 0.5


def test_recall_exactly_on_an_eleven_point_threshold():
    # 10 ground truths, 3 found by the three top detections, then nothing.
    # recall 3/10 must meet t = 0.3 exactly:
    # voc07 = (t = 0, .1, .2, .3 -> precision 1) / 11 = 4/11
    ground_truths = [truth([BOX_A], [0]) for _ in range(10)]
    predictions = [detections([BOX_A], [0], [1.0 - i / 100]) for i in range(3)]
    predictions += [detections([], [], []) for _ in range(7)]
    voc07, area = evaluate_both(predictions, ground_truths)
    assert voc07.mean_average_precision == pytest.approx(4 / 11, abs=1e-12)
    # area = 3/10 * 1
    assert area.mean_average_precision == pytest.approx(0.3, abs=1e-12)


def test_difficult_ground_truth_is_neither_true_nor_false_positive():
    # One image: BOX_A ordinary, BOX_B difficult, both class 0.
    # Ranking by score: on B (0.9), NOWHERE (0.8), on A (0.7), on B (0.6).
    # Both detections on B are ignored (the second one is not a duplicate
    # false positive either), so the counted ranking is FP, TP with 1
    # ordinary ground truth:
    #   recall 0, 1; precision 0, 1/2; envelope 1/2, 1/2
    #   area  = (1 - 0) * 1/2 = 1/2
    #   voc07 = every threshold first reached at the TP -> 1/2
    # (Counting B as an ordinary box would give TP, FP, TP -> 5/6 (area);
    # counting detections on B as false positives would give 1/3.)
    ground_truths = [truth([BOX_A, BOX_B], [0, 0], difficult=[False, True])]
    predictions = [
        detections(
            [BOX_B, NOWHERE, BOX_A, BOX_B], [0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6]
        )
    ]
    for result in evaluate_both(predictions, ground_truths):
        assert result.mean_average_precision == pytest.approx(0.5, abs=1e-12)
        assert result.num_ground_truth[0] == 1
        assert result.num_difficult[0] == 1
        assert result.num_ignored[0] == 2
        assert result.num_detections[0] == 2
        assert result.num_true_positives[0] == 1


def test_missed_difficult_ground_truth_does_not_lower_recall():
    # BOX_A ordinary and found, BOX_B difficult and missed: recall 1/1.
    ground_truths = [truth([BOX_A, BOX_B], [0, 0], difficult=[False, True])]
    predictions = [detections([BOX_A], [0], [0.9])]
    for result in evaluate_both(predictions, ground_truths):
        assert result.mean_average_precision == 1.0
        assert result.max_recall[0] == 1.0


def test_duplicates_are_false_positives():
    # Ground truth A and B. Ranking: on A (0.9) TP, on A again (0.8)
    # duplicate FP, on B (0.7) TP.
    #   recall 1/2, 1/2, 1; precision 1, 1/2, 2/3; envelope 1, 2/3, 2/3
    #   area  = 1/2 * 1 + 1/2 * 2/3 = 5/6
    #   voc07 = t = 0 ... .5 (6 pts) -> 1; t = .6 ... 1 (5 pts) -> 2/3
    #         = (6 + 10/3) / 11 = 28/33
    ground_truths = [truth([BOX_A, BOX_B], [0, 0])]
    shifted_a = [1.0, 0.0, 10.0, 10.0]  # IoU 0.9 with A
    predictions = [
        detections([BOX_A, shifted_a, BOX_B], [0, 0, 0], [0.9, 0.8, 0.7])
    ]
    voc07, area = evaluate_both(predictions, ground_truths)
    assert voc07.mean_average_precision == pytest.approx(28 / 33, abs=1e-12)
    assert area.mean_average_precision == pytest.approx(5 / 6, abs=1e-12)
    assert area.num_true_positives[0] == 2
    assert area.num_detections[0] == 3


def test_higher_score_wins_over_higher_iou():
    # Two detections on A: IoU 0.6 with score 0.9, IoU 1.0 with score 0.8.
    # The higher score is processed first and takes A; the better-placed box
    # is the duplicate. Ranking TP, FP over 2 ground truths (B missed):
    #   recall 1/2, 1/2; precision 1, 1/2 -> area = 1/2 * 1 = 1/2
    ground_truths = [truth([BOX_A, BOX_B], [0, 0])]
    loose_a = [0.0, 0.0, 6.0, 10.0]  # IoU 60/100 = 0.6 with A
    predictions = [detections([loose_a, BOX_A], [0, 0], [0.9, 0.8])]
    result = evaluate_detections(
        predictions, ground_truths, num_classes=1, method="area"
    )
    assert result.mean_average_precision == pytest.approx(0.5, abs=1e-12)
    assert result.num_true_positives[0] == 1


def test_taken_best_match_does_not_fall_back_to_second_best():
    # VOC assigns each detection to its highest-IoU ground truth of the
    # class, taken or not. Ground truths: A = [0, 0, 10, 10] and
    # E = [2, 0, 12, 10] (IoU(A, E) = 80 / 120).
    # d1 = A (score 0.9): IoU 1 with A -> TP on A.
    # d2 = [1, 0, 11, 10] (score 0.8): IoU 90/110 with A and with E; argmax
    #   takes the first, A, which is taken -> duplicate FP, although E is
    #   free and overlaps just as much. (COCO would match it to E.)
    # Ranking TP, FP over 2 ground truths:
    #   recall 1/2, 1/2; precision 1, 1/2 -> area = 1/2
    box_e = [2.0, 0.0, 12.0, 10.0]
    ground_truths = [truth([BOX_A, box_e], [0, 0])]
    predictions = [
        detections([BOX_A, [1.0, 0.0, 11.0, 10.0]], [0, 0], [0.9, 0.8])
    ]
    result = evaluate_detections(
        predictions, ground_truths, num_classes=1, method="area"
    )
    assert result.mean_average_precision == pytest.approx(0.5, abs=1e-12)
    assert result.num_true_positives[0] == 1


def test_detection_only_matches_its_own_class():
    # A detection of class 1 exactly on a class 0 box is a false positive
    # for class 1 and does not take the class 0 box.
    ground_truths = [truth([BOX_A], [0])]
    predictions = [detections([BOX_A, BOX_A], [1, 0], [0.9, 0.8])]
    result = evaluate_detections(predictions, ground_truths, num_classes=2)
    assert result.average_precision[0] == 1.0
    assert math.isnan(result.average_precision[1])  # class 1 has no GT
    assert result.num_detections[1] == 1
    assert result.num_true_positives[1] == 0


def test_iou_equal_to_threshold_matches():
    # [0, 0, 10, 5] covers half of A: IoU = 50 / 100 = 0.5 exactly.
    half_a = [0.0, 0.0, 10.0, 5.0]
    assert pairwise_iou([half_a], [BOX_A])[0, 0] == 0.5
    ground_truths = [truth([BOX_A], [0])]
    predictions = [detections([half_a], [0], [0.9])]
    assert (
        evaluate_detections(predictions, ground_truths, 1).average_precision[0]
        == 1.0
    )
    assert (
        evaluate_detections(
            predictions, ground_truths, 1, iou_threshold=0.51
        ).average_precision[0]
        == 0.0
    )


def test_empty_classes_are_nan_and_excluded_from_the_mean():
    # Class 0: GT A found -> AP 1.
    # Class 1: GT B, no detection -> AP 0 (included in the mean).
    # Class 2: detections but no ground truth -> NaN, excluded.
    # Class 3: only a difficult ground truth -> NaN, excluded.
    # Class 4: nothing at all -> NaN, excluded.
    # mAP = (1 + 0) / 2 = 1/2
    ground_truths = [
        truth([BOX_A, BOX_B, BOX_C], [0, 1, 3], difficult=[False, False, True])
    ]
    predictions = [detections([BOX_A, BOX_D], [0, 2], [0.9, 0.8])]
    for result in evaluate_both(predictions, ground_truths, num_classes=5):
        assert result.mean_average_precision == 0.5
        np.testing.assert_array_equal(
            result.average_precision, [1.0, 0.0, np.nan, np.nan, np.nan]
        )
        np.testing.assert_array_equal(result.evaluated_classes, [0, 1])
        assert result.max_recall[1] == 0.0


def test_no_ground_truth_anywhere_gives_nan():
    ground_truths = [truth([], [])]
    predictions = [detections([BOX_A], [0], [0.5])]
    result = evaluate_detections(predictions, ground_truths, num_classes=2)
    assert math.isnan(result.mean_average_precision)
    assert "excluded: 0, 1" in result.format_table()


def test_detections_on_images_without_ground_truth_are_false_positives():
    # Image 0: GT A, detection on A (0.5). Image 1: no GT, a detection with
    # score 0.9. Ranking FP, TP over 1 ground truth:
    #   recall 0, 1; precision 0, 1/2 -> area = 1/2, voc07 = 1/2
    # Image 2 has neither ground truth nor detections.
    ground_truths = [truth([BOX_A], [0]), truth([], []), truth([], [])]
    predictions = [
        detections([BOX_A], [0], [0.5]),
        detections([BOX_A], [0], [0.9]),
        detections([], [], []),
    ]
    for result in evaluate_both(predictions, ground_truths):
        assert result.mean_average_precision == pytest.approx(0.5, abs=1e-12)
        assert result.num_images == 3


def test_equal_scores_keep_input_order():
    # Equal scores: the earlier detection (image 0) ranks first.
    # Image 0: FP; image 1: TP. Ranking FP, TP -> area 1/2.
    ground_truths = [truth([], []), truth([BOX_A], [0])]
    predictions = [
        detections([BOX_A], [0], [0.5]),
        detections([BOX_A], [0], [0.5]),
    ]
    result = evaluate_detections(predictions, ground_truths, 1, method="area")
    assert result.mean_average_precision == pytest.approx(0.5, abs=1e-12)


def test_padding_rows_and_confidence_key():
    # KerasCV layout: padded with class -1, scores under "confidence".
    batch_predictions = {
        "boxes": np.array([[BOX_A, NOWHERE], [BOX_B, BOX_B]]),
        "classes": np.array([[0, -1], [0, -1]]),
        "confidence": np.array([[0.9, 0.99], [0.8, 0.99]]),
    }
    batch_truths = {
        "boxes": np.array([[BOX_A, [-1.0] * 4], [BOX_B, [-1.0] * 4]]),
        "classes": np.array([[0, -1], [0, -1]]),
    }
    predictions = unbatch_detections(batch_predictions)
    assert [len(p["classes"]) for p in predictions] == [1, 1]
    ground_truths = unbatch_detections(batch_truths)
    result = evaluate_detections(predictions, ground_truths, 1)
    assert result.mean_average_precision == 1.0
    # Padding rows are also skipped when passed directly.
    padded = [
        {key: value[0] for key, value in batch_predictions.items()},
        {key: value[1] for key, value in batch_predictions.items()},
    ]
    result = evaluate_detections(padded, ground_truths, 1)
    assert result.num_detections[0] == 2


def test_average_precision_function():
    # TP, FP, TP with 2 ground truths: area 5/6 (see duplicates test).
    assert average_precision(
        [0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], method="area"
    ) == pytest.approx(5 / 6)
    assert average_precision([], [], method="voc07") == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"method": "coco"}, "method"),
    ],
)
def test_invalid_arguments(kwargs, message):
    arguments = {"num_classes": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate_detections(
            [detections([], [], [])], [truth([], [])], **arguments
        )


@pytest.mark.parametrize(
    "prediction, ground_truth, message",
    [
        (detections([BOX_A], [3], [0.5]), truth([], []), r"predictions\[0\]"),
        (detections([BOX_A], [0], [0.5]), truth([BOX_A], [-2]), "classes"),
        (detections([BOX_A], [0], [0.5, 0.4]), truth([], []), "scores"),
        (detections([BOX_A], [0], [np.nan]), truth([], []), "finite"),
        (
            detections([BOX_A], [0], [0.5]),
            truth([BOX_A], [0], difficult=[1, 0]),
            "difficult",
        ),
        ({"boxes": [BOX_A], "classes": [0]}, truth([], []), "scores"),
        (detections([], [], []), {"boxes": [[1.0, 2.0, 3.0]]}, "classes"),
        (
            detections([], [], []),
            {"boxes": [[1.0, 2.0, 3.0]], "classes": [0]},
            "shape",
        ),
    ],
)
def test_invalid_inputs_name_the_image(prediction, ground_truth, message):
    with pytest.raises(ValueError, match=message):
        evaluate_detections([prediction], [ground_truth], num_classes=2)


def test_image_count_mismatch():
    with pytest.raises(ValueError, match="one entry per image"):
        evaluate_detections([detections([], [], [])], [], num_classes=1)


def test_format_table():
    ground_truths = [truth([BOX_A, BOX_B], [0, 0], difficult=[False, True])]
    predictions = [detections([BOX_A, NOWHERE], [0, 1], [0.9, 0.8])]
    result = evaluate_detections(predictions, ground_truths, num_classes=2)
    table = format_average_precision_table(result, ["cat", "dog"])
    lines = table.splitlines()
    assert lines[0].split() == [
        "class",
        "AP",
        "GT",
        "difficult",
        "detections",
        "TP",
        "max",
        "recall",
    ]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["cat", "1.0000", "1", "1", "1", "1", "1.0000"]
    assert lines[3].split() == ["dog", "n/a", "0", "0", "1", "0", "n/a"]
    assert lines[2].index("1.0000") + 6 == lines[0].index("AP") + 2  # numbers right-aligned
    assert lines[4] == "mAP@0.5 (VOC07 11-point): 1.0000 over 1 of 2 classes"
    assert lines[5] == "(no ground truth, excluded: dog)"
    assert result.to_dict(["cat", "dog"])["AP/cat"] == 1.0
    with pytest.raises(ValueError, match="class_names"):
        result.format_table(["cat"])


def reference_voc_evaluation(predictions, ground_truths, num_classes, method):
    """Literal, loop-by-loop port of the VOC kit's per-class evaluation."""
    aps = []
    for class_id in range(num_classes):
        records = []
        taken = {}
        num_positives = 0
        for image, (prediction, truth_entry) in enumerate(
            zip(predictions, ground_truths, strict=True)
        ):
            mask = truth_entry["classes"] == class_id
            difficult = truth_entry.get(
                "difficult", np.zeros(len(mask), dtype=bool)
            )[mask]
            num_positives += int(np.sum(~difficult))
            taken[image] = np.zeros(int(np.sum(mask)), dtype=bool)
            for box, cls, score in zip(
                prediction["boxes"],
                prediction["classes"],
                prediction["scores"],
                strict=True,
            ):
                if cls == class_id:
                    records.append((-score, len(records), image, box))
        records.sort(key=lambda record: (record[0], record[1]))
        hits = []
        for _, _, image, box in records:
            truth_entry = ground_truths[image]
            mask = truth_entry["classes"] == class_id
            gt_boxes = truth_entry["boxes"][mask]
            difficult = truth_entry.get(
                "difficult", np.zeros(len(mask), dtype=bool)
            )[mask]
            best_iou, best = -1.0, -1
            for index, gt_box in enumerate(gt_boxes):
                iou = pairwise_iou([box], [gt_box])[0, 0]
                if iou > best_iou:
                    best_iou, best = iou, index
            if best >= 0 and best_iou >= 0.5:
                if difficult[best]:
                    continue
                if not taken[image][best]:
                    taken[image][best] = True
                    hits.append(True)
                else:
                    hits.append(False)
            else:
                hits.append(False)
        if num_positives == 0:
            aps.append(np.nan)
            continue
        hits = np.array(hits, dtype=bool)
        true_positives = np.cumsum(hits)
        false_positives = np.cumsum(~hits)
        recall = true_positives / num_positives
        precision = true_positives / np.maximum(
            true_positives + false_positives, 1
        )
        if method == "voc07":
            ap = 0.0
            for k in range(11):
                above = precision[recall >= k / 10]
                ap += (above.max() if above.size else 0.0) / 11
        else:
            padded_recall = np.concatenate([[0.0], recall, [1.0]])
            padded_precision = np.concatenate([[0.0], precision, [0.0]])
            for i in range(len(padded_precision) - 2, -1, -1):
                padded_precision[i] = max(
                    padded_precision[i], padded_precision[i + 1]
                )
            changes = np.flatnonzero(padded_recall[1:] != padded_recall[:-1])
            ap = float(
                np.sum(
                    (padded_recall[changes + 1] - padded_recall[changes])
                    * padded_precision[changes + 1]
                )
            )
        aps.append(ap)
    return np.array(aps)


def random_dataset(rng, num_images, num_classes, detections_per_image):
    def random_boxes(count):
        corner = rng.uniform(0, 60, (count, 2))
        size = rng.uniform(5, 40, (count, 2))
        return np.concatenate([corner, corner + size], axis=1)

    predictions, ground_truths = [], []
    for _ in range(num_images):
        num_truths = int(rng.integers(0, 6))
        gt_boxes = random_boxes(num_truths)
        gt_classes = rng.integers(0, num_classes, num_truths)
        ground_truths.append(
            {
                "boxes": gt_boxes,
                "classes": gt_classes,
                "difficult": rng.random(num_truths) < 0.2,
            }
        )
        boxes = random_boxes(detections_per_image)
        classes = rng.integers(0, num_classes, detections_per_image)
        # Jittered copies of the ground truth, some of them twice.
        copies = (
            rng.integers(0, num_truths, 2 * num_truths) if num_truths else []
        )
        for row, source in enumerate(copies[:detections_per_image]):
            boxes[row] = gt_boxes[source] + rng.normal(0, 2, 4)
            classes[row] = gt_classes[source]
        predictions.append(
            {
                "boxes": boxes,
                "classes": classes,
                "scores": rng.random(detections_per_image),
            }
        )
    return predictions, ground_truths


@pytest.mark.parametrize("method", ["voc07", "area"])
def test_matches_literal_reference_on_random_data(method):
    rng = np.random.default_rng(7)
    predictions, ground_truths = random_dataset(
        rng, num_images=60, num_classes=4, detections_per_image=12
    )
    expected = reference_voc_evaluation(
        predictions, ground_truths, num_classes=4, method=method
    )
    result = evaluate_detections(
        predictions, ground_truths, num_classes=4, method=method
    )
    np.testing.assert_allclose(result.average_precision, expected, atol=1e-12)
    assert 0.2 < result.mean_average_precision < 0.95


def test_speed_voc2007_test_size():
    # VOC 2007 test: 4,952 images; 100 detections each, 20 classes.
    rng = np.random.default_rng(0)
    predictions, ground_truths = random_dataset(
        rng, num_images=4952, num_classes=20, detections_per_image=100
    )
    start = time.perf_counter()
    result = evaluate_detections(predictions, ground_truths, num_classes=20)
    elapsed = time.perf_counter() - start
    assert result.num_detections.sum() + result.num_ignored.sum() == 495200
    # Measured about 0.5 s on 2 CPU cores; the bound leaves room for slow CI.
    assert elapsed < 10.0, f"evaluation took {elapsed:.2f} s"


def test_close_to_pycocotools_ap50_without_difficult_objects():
    """Compares the "area" method with pycocotools' AP at IoU 0.50.

    The two differ by design (see training.detection.average_precision's module docstring):
    COCO samples the precision envelope at 101 recall points, has no
    difficult flag, and matches a detection to the best *unmatched* ground
    truth. Here there are no difficult objects and the ground-truth boxes of
    an image do not overlap, so only the 101-point sampling remains: each
    class may differ by at most one recall step of 0.01 times the precision.
    The VOC07 11-point value is further away.
    """
    # A test dependency (pyproject's `test` extra): it runs in CI, never skips.
    from pycocotools import coco
    from pycocotools import cocoeval

    rng = np.random.default_rng(3)
    num_classes = 3
    predictions, ground_truths = [], []
    for _ in range(40):
        # Ground truth on a grid of disjoint 30x30 cells.
        cells = rng.choice(9, size=int(rng.integers(1, 5)), replace=False)
        corner = np.stack([cells % 3 * 40.0, cells // 3 * 40.0], axis=1)
        gt_boxes = np.concatenate([corner, corner + 30.0], axis=1)
        gt_classes = rng.integers(0, num_classes, len(cells))
        ground_truths.append(truth(gt_boxes, gt_classes))
        jitter = rng.normal(0, 4, gt_boxes.shape)
        false_corner = rng.uniform(0, 120, (5, 2))
        boxes = np.concatenate(
            [
                gt_boxes + jitter,
                np.concatenate([false_corner, false_corner + 20.0], axis=1),
            ]
        )
        classes = np.concatenate([gt_classes, rng.integers(0, num_classes, 5)])
        predictions.append(detections(boxes, classes, rng.random(len(classes))))

    images, annotations, results = [], [], []
    for image_id, (prediction, truth_entry) in enumerate(
        zip(predictions, ground_truths, strict=True), start=1
    ):
        images.append({"id": image_id, "width": 200, "height": 200})
        for box, cls in zip(
            truth_entry["boxes"], truth_entry["classes"], strict=True
        ):
            width, height = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [box[0], box[1], width, height],
                    "area": width * height,
                    "iscrowd": 0,
                }
            )
        for box, cls, score in zip(
            prediction["boxes"],
            prediction["classes"],
            prediction["scores"],
            strict=True,
        ):
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": float(score),
                }
            )
    ground_truth_api = coco.COCO()
    ground_truth_api.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c + 1} for c in range(num_classes)],
    }
    ground_truth_api.createIndex()
    evaluator = cocoeval.COCOeval(
        ground_truth_api, ground_truth_api.loadRes(results), "bbox"
    )
    evaluator.evaluate()
    evaluator.accumulate()
    # precision: [iou thresholds, recall points, classes, areas, max dets];
    # IoU index 0 is 0.50, area index 0 is "all", max-dets index 2 is 100.
    coco_precision = evaluator.eval["precision"][0, :, :, 0, 2]
    coco_ap50 = np.mean(coco_precision, axis=0)

    ours = evaluate_detections(
        predictions, ground_truths, num_classes, method="area"
    )
    np.testing.assert_allclose(ours.average_precision, coco_ap50, atol=0.01)
    voc07 = evaluate_detections(predictions, ground_truths, num_classes)
    assert not np.allclose(voc07.average_precision, coco_ap50, atol=0.01)
