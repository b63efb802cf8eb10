"""Mean average precision at an IoU threshold, with Pascal VOC conventions.

This is our own NumPy implementation of the Pascal VOC detection metric
(mAP@0.5). It follows the VOC development kit (`VOCevaldet.m`):

1. Detections of one class are ranked by descending score over the whole
   dataset (ties keep the input order: image index, then position in the
   image).
2. Each detection is compared with the ground-truth boxes of its own class in
   its own image and assigned to the one with the highest IoU. If that IoU is
   at least `iou_threshold`:
   - a *difficult* ground truth makes the detection "ignored": it is neither
     a true nor a false positive (it is removed from the ranking);
   - otherwise, the first (highest scoring) detection assigned to a ground
     truth is a true positive and every later one is a false positive
     (duplicate).
   Otherwise the detection is a false positive. As in the development kit,
   the assignment goes to the highest-IoU ground truth even when that one is
   already taken; the detection does not fall back to a second-best box.
3. Recall is true positives over the number of non-difficult ground truths;
   precision is true positives over counted (non-ignored) detections.
4. Average precision is either
   - `"voc07"`: the VOC2007 11-point interpolated AP, the mean over
     t = 0, 0.1, ..., 1 of the highest precision at recall >= t (0 if that
     recall is never reached), or
   - `"area"`: the VOC2010+ AP, the area under the precision envelope
     (precision made non-increasing in recall), summed exactly at every
     recall change.
5. mAP is the mean of AP over classes that have at least one non-difficult
   ground truth. A class without any (no boxes at all, or only difficult
   ones) has AP `NaN` and is left out of the mean: its precision-recall curve
   is undefined, and counting it as 0 or 1 would move the mean by a class
   that cannot be measured.

Boxes are `(x1, y1, x2, y2)` in continuous pixel coordinates. Box area is
`(x2 - x1) * (y2 - y1)` without the development kit's `+ 1` pixel term (the
VOC reader in `training.detection.data.voc` converts VOC's inclusive 1-based pixel
indices to these edge coordinates, so areas agree with pixel counts).
Boxes with `x2 < x1` or `y2 < y1` have zero area and never match.

Comparison with COCO AP50 (pycocotools): COCO's "AP at IoU=.50" differs from
this metric, typically by one to several points, because

- COCO samples the precision envelope at 101 recall points (0, 0.01, ..., 1)
  instead of 11 points (VOC07) or the exact area (VOC2010+);
- COCO has no "difficult" flag: a difficult object is either an ordinary
  ground truth (lowering recall when missed) or absent (making detections on
  it false positives); only `iscrowd` regions are ignored, with a different
  overlap measure;
- COCO matches a detection to the best *still unmatched* ground truth, where
  VOC assigns it to the best ground truth and counts a duplicate if that one
  is taken;
- COCO keeps at most 100 detections per image (`maxDets`).

On data without difficult objects and without competing overlaps the
`"area"` method and COCO AP50 differ only by the 101-point sampling (at most
about 0.01 per class).
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from training.common.tables import format_table

VOC07 = "voc07"
AREA = "area"
METHODS = (VOC07, AREA)

# Class id that marks padding rows (KerasCV pads boxes and classes with -1).
PADDING_CLASS = -1

_METHOD_TITLES = {
    VOC07: "VOC07 11-point",
    AREA: "area under the precision envelope",
}


@dataclasses.dataclass(frozen=True, eq=False)
class DetectionEvaluation:
    """The result of `evaluate_detections`.

    Per-class arrays have shape `(num_classes,)` and are indexed by class id.

    Attributes:
        mean_average_precision: Mean of `average_precision` over classes with
            at least one non-difficult ground truth; `NaN` if there is none.
        average_precision: AP per class, `NaN` for classes without
            non-difficult ground truth.
        num_ground_truth: Non-difficult ground-truth boxes per class (the
            recall denominator).
        num_difficult: Difficult ground-truth boxes per class.
        num_detections: Detections per class that were counted (detections
            assigned to a difficult ground truth are not counted).
        num_true_positives: True positives per class.
        num_ignored: Detections per class assigned to a difficult ground
            truth.
        max_recall: Recall reached by the whole ranking per class (`NaN`
            without ground truth). A low value usually means the detector's
            confidence threshold was too high for evaluation.
        method: `"voc07"` or `"area"`.
        iou_threshold: The IoU threshold used for matching.
        num_images: Number of evaluated images.
    """

    mean_average_precision: float
    average_precision: np.ndarray
    num_ground_truth: np.ndarray
    num_difficult: np.ndarray
    num_detections: np.ndarray
    num_true_positives: np.ndarray
    num_ignored: np.ndarray
    max_recall: np.ndarray
    method: str
    iou_threshold: float
    num_images: int

    @property
    def num_classes(self):
        return len(self.average_precision)

    @property
    def evaluated_classes(self):
        """Class ids that enter the mean (non-difficult ground truth > 0)."""
        return np.flatnonzero(self.num_ground_truth > 0)

    def to_dict(self, class_names=None):
        """Returns the scores as a flat `{name: float}` dict.

        Keys are `"mAP"` and `"AP/<class name>"`; convenient for CSV or
        JSON logs.

        Args:
            class_names: Optional sequence of `num_classes` names. Defaults
                to the class ids.

        Returns:
            A dict of Python floats (`NaN` kept for classes without ground
            truth).
        """
        names = _check_class_names(class_names, self.num_classes)
        scores = {"mAP": float(self.mean_average_precision)}
        for name, value in zip(names, self.average_precision, strict=True):
            scores[f"AP/{name}"] = float(value)
        return scores

    def format_table(self, class_names=None):
        """Same as `format_average_precision_table(self, class_names)`."""
        return format_average_precision_table(self, class_names)


def evaluate_detections(
    predictions,
    ground_truths,
    num_classes,
    iou_threshold=0.5,
    method=VOC07,
):
    """Computes Pascal VOC mean average precision.

    See the module docstring for the exact conventions (greedy matching by
    score, difficult ground truth neither true nor false positive, duplicates
    are false positives, 11-point or area AP, classes without ground truth
    excluded from the mean) and for how this differs from COCO AP50.

    Evaluate predictions made with a low confidence threshold (e.g. 0.001):
    detections cut off by a high threshold lower recall and therefore AP.

    Args:
        predictions: Sequence with one mapping per image, holding
            `"boxes"`: `(N, 4)` array of `(x1, y1, x2, y2)` pixel boxes,
            `"classes"`: `(N,)` integer class ids and `"scores"` (or
            KerasCV's `"confidence"`): `(N,)` floats. Rows with class `-1`
            are padding and are skipped.
        ground_truths: Sequence with one mapping per image, in the same image
            order, holding `"boxes"` `(M, 4)`, `"classes"` `(M,)` and
            optionally `"difficult"` `(M,)` booleans (default all `False`).
            Rows with class `-1` are padding and are skipped. An image may
            have no ground truth.
        num_classes: Number of classes; class ids are `0..num_classes - 1`.
        iou_threshold: Minimum IoU for a match, in `(0, 1]`. A detection
            whose IoU equals the threshold matches (as in the VOC kit).
        method: `"voc07"` (11-point interpolation, the VOC2007 protocol) or
            `"area"` (area under the precision envelope, VOC2010+).

    Returns:
        A `DetectionEvaluation`.

    Raises:
        ValueError: if the inputs have wrong shapes, non-finite values, class
            ids out of range, different numbers of images, or an invalid
            `iou_threshold`, `method` or `num_classes`.

    Example:

    >>> import numpy as np
    >>> ground_truths = [{
    ...     "boxes": np.array([[0.0, 0.0, 10.0, 10.0]]),
    ...     "classes": np.array([0]),
    ...     "difficult": np.array([False]),
    ... }]
    >>> predictions = [{
    ...     "boxes": np.array([[1.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]),
    ...     "classes": np.array([0, 0]),
    ...     "scores": np.array([0.9, 0.8]),
    ... }]
    >>> result = evaluate_detections(predictions, ground_truths, num_classes=1)
    >>> float(result.mean_average_precision)
    1.0
    >>> int(result.num_true_positives[0])  # the second box is a duplicate
    1
    """
    num_classes = _check_num_classes(num_classes)
    iou_threshold = _check_iou_threshold(iou_threshold)
    if method not in METHODS:
        raise ValueError(
            f"`method` must be one of {METHODS}. Received: method={method!r}"
        )
    if isinstance(predictions, Mapping) or isinstance(ground_truths, Mapping):
        raise ValueError(
            "`predictions` and `ground_truths` must be sequences with one "
            "mapping per image. For a batched KerasCV dict, use "
            "`unbatch_detections` first."
        )
    if len(predictions) != len(ground_truths):
        raise ValueError(
            "`predictions` and `ground_truths` must have one entry per image "
            f"each. Received: {len(predictions)} predictions and "
            f"{len(ground_truths)} ground truths."
        )

    matches = _match_all_images(
        predictions, ground_truths, num_classes, iou_threshold
    )
    return _score_matches(matches, num_classes, iou_threshold, method)


def average_precision(recall, precision, method=VOC07):
    """Average precision from a ranked precision-recall curve.

    Args:
        recall: `(N,)` non-decreasing recall after each ranked detection.
        precision: `(N,)` precision after each ranked detection.
        method: `"voc07"` (mean of the best precision at recall >= t over
            t = 0, 0.1, ..., 1) or `"area"` (area under the precision
            envelope).

    Returns:
        A Python float in `[0, 1]`; 0 for an empty curve.

    Example:

    >>> # Ranking TP, FP, TP with 2 ground truths:
    >>> average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], method="area")
    0.8333333333333333
    """
    if method not in METHODS:
        raise ValueError(
            f"`method` must be one of {METHODS}. Received: method={method!r}"
        )
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(
            "`recall` and `precision` must be 1-D arrays of the same length. "
            f"Received shapes {recall.shape} and {precision.shape}."
        )
    if recall.size == 0:
        return 0.0
    # Envelope: the best precision at this or any higher recall.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    if method == AREA:
        recall_steps = np.diff(recall, prepend=0.0)
        return float(np.sum(recall_steps * envelope))
    # Thresholds computed as k / 10 so that a recall of exactly 3/10 meets
    # t = 0.3 (0.1 added up three times is 0.30000000000000004).
    thresholds = np.arange(11) / 10.0
    # Recall is non-decreasing: the detections with recall >= t are a suffix,
    # whose best precision is the envelope at its first element.
    first = np.searchsorted(recall, thresholds, side="left")
    reached = first < recall.size
    best = np.where(reached, envelope[np.minimum(first, recall.size - 1)], 0)
    return float(np.mean(best))


def format_average_precision_table(evaluation, class_names=None, digits=4):
    """Formats a `DetectionEvaluation` as a plain-text per-class table.

    Args:
        evaluation: A `DetectionEvaluation`.
        class_names: Optional sequence of `num_classes` names. Defaults to
            the class ids.
        digits: Decimal digits for AP values.

    Returns:
        A multi-line string: one row per class (AP, non-difficult and
        difficult ground truth, counted detections, true positives, recall
        reached) and a final mAP line that names the method and the classes
        left out of the mean.

    Example:

    >>> print(result.format_table(["cat", "dog"]))  # doctest: +SKIP
    class      AP  GT  difficult  detections  TP  max recall
    -----  ------  --  ---------  ----------  --  ----------
    cat    0.7500   4          1          10   3      0.7500
    dog       n/a   0          0           2   0         n/a
    mAP@0.5 (VOC07 11-point): 0.7500 over 1 of 2 classes
    (no ground truth, excluded: dog)
    """
    names = _check_class_names(class_names, evaluation.num_classes)
    rows = [
        {
            "class": name,
            "AP": _format_score(evaluation.average_precision[class_id], digits),
            "GT": int(evaluation.num_ground_truth[class_id]),
            "difficult": int(evaluation.num_difficult[class_id]),
            "detections": int(evaluation.num_detections[class_id]),
            "TP": int(evaluation.num_true_positives[class_id]),
            "max recall": _format_score(evaluation.max_recall[class_id], digits),
        }
        for class_id, name in enumerate(names)
    ]
    columns = ["class", "AP", "GT", "difficult", "detections", "TP", "max recall"]
    lines = [format_table(rows, columns, align_right=columns[1:])]
    threshold = f"{evaluation.iou_threshold:g}"
    title = _METHOD_TITLES[evaluation.method]
    num_evaluated = len(evaluation.evaluated_classes)
    lines.append(
        f"mAP@{threshold} ({title}): "
        f"{_format_score(evaluation.mean_average_precision, digits)} "
        f"over {num_evaluated} of {evaluation.num_classes} classes"
    )
    excluded = [
        names[class_id]
        for class_id in range(evaluation.num_classes)
        if evaluation.num_ground_truth[class_id] == 0
    ]
    if excluded:
        lines.append(f"(no ground truth, excluded: {', '.join(excluded)})")
    return "\n".join(lines)


def unbatch_detections(batch):
    """Splits a padded, batched detection dict into per-image dicts.

    KerasCV detectors return `{"boxes": (B, N, 4), "classes": (B, N),
    "confidence": (B, N)}` padded with class `-1`; ground-truth batches use
    the same layout. This returns `B` dicts of NumPy arrays with the padding
    rows removed, ready for `evaluate_detections`.

    Args:
        batch: Mapping of arrays (NumPy or tensors) whose first axis is the
            batch and which includes `"classes"`.

    Returns:
        A list of `B` dicts with the same keys.
    """
    arrays = {key: np.asarray(value) for key, value in batch.items()}
    if "classes" not in arrays:
        raise ValueError(
            f"`batch` must contain 'classes'. Received keys: {sorted(arrays)}"
        )
    classes = arrays["classes"]
    if classes.ndim != 2:
        raise ValueError(
            "`batch['classes']` must have shape (batch, num_boxes). Received "
            f"shape {classes.shape}."
        )
    images = []
    for index in range(classes.shape[0]):
        keep = classes[index] != PADDING_CLASS
        images.append(
            {key: value[index][keep] for key, value in arrays.items()}
        )
    return images


def pairwise_iou(boxes_a, boxes_b):
    """IoU between every box of `boxes_a` and every box of `boxes_b`.

    Args:
        boxes_a: `(N, 4)` array of `(x1, y1, x2, y2)` boxes.
        boxes_b: `(M, 4)` array of `(x1, y1, x2, y2)` boxes.

    Returns:
        `(N, M)` float64 array; 0 where the union is empty.
    """
    boxes_a = np.asarray(boxes_a, dtype=np.float64)
    boxes_b = np.asarray(boxes_b, dtype=np.float64)
    area_a = _box_area(boxes_a)
    area_b = _box_area(boxes_b)
    left = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    top = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    right = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2])
    bottom = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(
        bottom - top, 0, None
    )
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(
        intersection,
        union,
        out=np.zeros_like(intersection),
        where=union > 0,
    )


@dataclasses.dataclass(frozen=True)
class _Matches:
    """Every counted detection of the dataset, ranked, with its outcome."""

    classes: np.ndarray  # (D,) class ids in rank order
    is_true_positive: np.ndarray  # (D,) bool in rank order
    ignored_per_class: np.ndarray  # (C,) detections on difficult GT
    num_ground_truth: np.ndarray  # (C,) non-difficult
    num_difficult: np.ndarray  # (C,)
    num_images: int


def _match_all_images(predictions, ground_truths, num_classes, threshold):
    """Assigns every detection to a ground truth (or none), then ranks."""
    all_scores = []
    all_classes = []
    all_assigned = []  # global ground-truth index, -1 if below threshold
    all_gt_classes = []
    all_gt_difficult = []
    gt_offset = 0
    for image_index, (prediction, truth) in enumerate(
        zip(predictions, ground_truths, strict=True)
    ):
        boxes, classes, scores = _read_prediction(
            prediction, image_index, num_classes
        )
        gt_boxes, gt_classes, gt_difficult = _read_ground_truth(
            truth, image_index, num_classes
        )
        assigned = np.full(len(classes), -1, dtype=np.int64)
        if len(classes) and len(gt_classes):
            iou = pairwise_iou(boxes, gt_boxes)
            # A detection only competes for boxes of its own class.
            iou[classes[:, None] != gt_classes[None, :]] = -1.0
            best = np.argmax(iou, axis=1)
            best_iou = iou[np.arange(len(classes)), best]
            matched = best_iou >= threshold
            assigned[matched] = gt_offset + best[matched]
        gt_offset += len(gt_classes)
        all_scores.append(scores)
        all_classes.append(classes)
        all_assigned.append(assigned)
        all_gt_classes.append(gt_classes)
        all_gt_difficult.append(gt_difficult)

    scores = _concatenate(all_scores, np.float64)
    classes = _concatenate(all_classes, np.int64)
    assigned = _concatenate(all_assigned, np.int64)
    gt_classes = _concatenate(all_gt_classes, np.int64)
    gt_difficult = _concatenate(all_gt_difficult, bool)

    # One global ranking serves every class: a stable sort keeps the input
    # order among equal scores.
    order = np.argsort(-scores, kind="stable")
    classes = classes[order]
    assigned = assigned[order]

    is_matched = assigned >= 0
    on_difficult = np.zeros(len(assigned), dtype=bool)
    on_difficult[is_matched] = gt_difficult[assigned[is_matched]]
    candidates = np.flatnonzero(is_matched & ~on_difficult)
    # The first ranked detection assigned to a ground truth takes it; later
    # ones assigned to the same box are duplicates (false positives).
    _, first = np.unique(assigned[candidates], return_index=True)
    is_true_positive = np.zeros(len(assigned), dtype=bool)
    is_true_positive[candidates[first]] = True

    counted = ~on_difficult
    return _Matches(
        classes=classes[counted],
        is_true_positive=is_true_positive[counted],
        ignored_per_class=np.bincount(
            classes[on_difficult], minlength=num_classes
        ),
        num_ground_truth=np.bincount(
            gt_classes[~gt_difficult], minlength=num_classes
        ),
        num_difficult=np.bincount(
            gt_classes[gt_difficult], minlength=num_classes
        ),
        num_images=len(predictions),
    )


def _score_matches(matches, num_classes, iou_threshold, method):
    """Per-class precision-recall curves, AP and mAP from ranked matches."""
    ap = np.full(num_classes, np.nan)
    max_recall = np.full(num_classes, np.nan)
    num_detections = np.zeros(num_classes, dtype=np.int64)
    num_true_positives = np.zeros(num_classes, dtype=np.int64)
    # Group the ranking by class while keeping the rank order inside a class.
    by_class = np.argsort(matches.classes, kind="stable")
    starts = np.searchsorted(
        matches.classes[by_class], np.arange(num_classes + 1)
    )
    for class_id in range(num_classes):
        rows = by_class[starts[class_id] : starts[class_id + 1]]
        hits = matches.is_true_positive[rows]
        num_detections[class_id] = len(hits)
        num_true_positives[class_id] = int(np.sum(hits))
        num_positives = matches.num_ground_truth[class_id]
        if num_positives == 0:
            continue
        cumulative_hits = np.cumsum(hits)
        recall = cumulative_hits / num_positives
        precision = cumulative_hits / np.arange(1, len(hits) + 1)
        ap[class_id] = average_precision(recall, precision, method)
        max_recall[class_id] = recall[-1] if len(recall) else 0.0

    evaluated = matches.num_ground_truth > 0
    mean_ap = float(np.mean(ap[evaluated])) if evaluated.any() else math.nan
    return DetectionEvaluation(
        mean_average_precision=mean_ap,
        average_precision=ap,
        num_ground_truth=matches.num_ground_truth,
        num_difficult=matches.num_difficult,
        num_detections=num_detections,
        num_true_positives=num_true_positives,
        num_ignored=matches.ignored_per_class,
        max_recall=max_recall,
        method=method,
        iou_threshold=iou_threshold,
        num_images=matches.num_images,
    )


def _read_prediction(prediction, image_index, num_classes):
    where = f"predictions[{image_index}]"
    _check_mapping(prediction, where)
    if "scores" in prediction:
        scores = prediction["scores"]
    elif "confidence" in prediction:
        scores = prediction["confidence"]
    else:
        raise ValueError(
            f"{where} must contain 'scores' (or 'confidence'). Received "
            f"keys: {sorted(prediction)}"
        )
    boxes = _read_boxes(prediction, where)
    classes = _read_classes(prediction, where, num_classes, len(boxes))
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(
            f"{where}: expected {len(boxes)} scores (one per box), received "
            f"{len(scores)}."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{where}: scores must be finite.")
    keep = classes != PADDING_CLASS
    return boxes[keep], classes[keep], scores[keep]


def _read_ground_truth(truth, image_index, num_classes):
    where = f"ground_truths[{image_index}]"
    _check_mapping(truth, where)
    boxes = _read_boxes(truth, where)
    classes = _read_classes(truth, where, num_classes, len(boxes))
    if truth.get("difficult") is None:
        difficult = np.zeros(len(boxes), dtype=bool)
    else:
        difficult = np.asarray(truth["difficult"]).reshape(-1).astype(bool)
        if len(difficult) != len(boxes):
            raise ValueError(
                f"{where}: expected {len(boxes)} difficult flags (one per "
                f"box), received {len(difficult)}."
            )
    keep = classes != PADDING_CLASS
    return boxes[keep], classes[keep], difficult[keep]


def _check_mapping(entry, where):
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"{where} must be a mapping with 'boxes' and 'classes'. "
            f"Received: {type(entry).__name__}"
        )
    for key in ("boxes", "classes"):
        if key not in entry:
            raise ValueError(
                f"{where} must contain {key!r}. Received keys: {sorted(entry)}"
            )


def _read_boxes(entry, where):
    boxes = np.asarray(entry["boxes"], dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{where}['boxes'] must have shape (num_boxes, 4). Received "
            f"shape {boxes.shape}."
        )
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{where}['boxes'] must be finite.")
    return boxes


def _read_classes(entry, where, num_classes, num_boxes):
    raw = np.asarray(entry["classes"]).reshape(-1)
    if len(raw) != num_boxes:
        raise ValueError(
            f"{where}: expected {num_boxes} classes (one per box), received "
            f"{len(raw)}."
        )
    classes = raw.astype(np.int64)
    if len(raw) and (
        not np.all(classes == raw)
        or np.any((classes < PADDING_CLASS) | (classes >= num_classes))
    ):
        raise ValueError(
            f"{where}['classes'] must be integers in [0, {num_classes}) or "
            f"{PADDING_CLASS} for padding. Received: {np.unique(raw)}"
        )
    return classes


def _box_area(boxes):
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )


def _concatenate(arrays, dtype):
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(arrays).astype(dtype, copy=False)


def _check_num_classes(num_classes):
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ValueError(
            "`num_classes` must be a positive integer. Received: "
            f"num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_iou_threshold(iou_threshold):
    try:
        value = float(iou_threshold)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ValueError(
            "`iou_threshold` must be in (0, 1]. Received: "
            f"iou_threshold={iou_threshold!r}"
        )
    return value


def _check_class_names(class_names, num_classes):
    if class_names is None:
        return [str(class_id) for class_id in range(num_classes)]
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"`class_names` must have {num_classes} entries (one per class). "
            f"Received {len(names)}."
        )
    return names


def _format_score(value, digits):
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
