"""From a detector and VOC records to mAP@0.5: predictions in image pixels,
ground truth with difficult flags, overall and per object-size band."""

import numpy as np

from training.common.full_batches import padded_to
from training.detection.data.pipeline import make_detection_dataset
from training.detection.average_precision import evaluate_detections
from training.detection.average_precision import unbatch_detections


def ground_truths_of(records):
    """Per-image ground-truth dicts (original pixels, difficult kept)."""
    return [
        {"boxes": r.boxes, "classes": r.classes, "difficult": r.difficult}
        for r in records
    ]


def predict_detections(model, records, image_size, batch_size, progress=True):
    """Runs `model.predict` and returns per-image detections in the pixels of
    each original image, `xyxy`, ready for `evaluate_detections`.

    The model's decoder decides the confidence threshold: evaluate with a low
    one (KerasCV's default 0.2 cuts recall and therefore AP).

    Every batch is padded with blank images to `batch_size` (their
    detections dropped), so `predict` traces once: a smaller last batch
    would trace it a second time, and a Resolution detector's trace is long.
    """
    dataset = make_detection_dataset(
        records, image_size, batch_size, bounding_box_format="xyxy"
    ).map(lambda images, targets: padded_to(images, batch_size))
    batched = model.predict(dataset, verbose=1 if progress else 0)
    detections = unbatch_detections(
        {key: np.asarray(batched[key]) for key in ("boxes", "classes", "confidence")}
    )[: len(records)]
    source_format = getattr(model, "bounding_box_format", "xyxy")
    for record, detection in zip(records, detections):
        boxes = _to_xyxy(detection["boxes"], source_format)
        scale = np.array([record.width, record.height] * 2, np.float32) / image_size
        detection["boxes"] = np.clip(
            boxes * scale, 0, [record.width, record.height] * 2
        )
        detection["classes"] = detection["classes"].astype(np.int64)
        detection["scores"] = detection.pop("confidence")
    return detections


def _to_xyxy(boxes, source_format):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if source_format == "xyxy":
        return boxes
    if source_format == "xywh":
        return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    if source_format == "center_xywh":
        half = boxes[:, 2:] / 2
        return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)
    raise ValueError(f"Cannot convert boxes from format {source_format!r} to xyxy.")


def restrict_to_size_band(predictions, ground_truths, low, high):
    """Detections and ground truth of one object-size band, for a band AP.

    Size is `sqrt(box area)` in pixels. As for COCO's area ranges, ground
    truth outside the band is ignored (marked difficult: matching it is
    neither a true nor a false positive), and detections outside the band
    are dropped.
    """
    def side(boxes):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
                       * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))

    band_truths = []
    for truth in ground_truths:
        sides = side(truth["boxes"])
        outside = (sides < low) | (sides >= high)
        band_truths.append({**truth, "difficult": np.asarray(truth["difficult"], bool) | outside})
    band_predictions = []
    for prediction in predictions:
        sides = side(prediction["boxes"])
        keep = (sides >= low) & (sides < high)
        band_predictions.append({key: np.asarray(value)[keep] for key, value in prediction.items()})
    return band_predictions, band_truths


def evaluate_predictions(predictions, records, num_classes, size_bands=None,
                         method="voc07"):
    """mAP@0.5 of per-image `predictions` against `records`, optionally per
    object-size band.

    Returns:
        `(evaluation, band_evaluations)`: a `DetectionEvaluation` and a dict
        band name -> `DetectionEvaluation` (empty without `size_bands`).
    """
    truths = ground_truths_of(records)
    evaluation = evaluate_detections(predictions, truths, num_classes, 0.5, method)
    bands = {}
    for name, (low, high) in (size_bands or {}).items():
        band_predictions, band_truths = restrict_to_size_band(predictions, truths, low, high)
        bands[name] = evaluate_detections(band_predictions, band_truths, num_classes, 0.5, method)
    return evaluation, bands
