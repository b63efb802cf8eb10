"""training.detection.evaluation.predict_detections: one trace, the records'
order, boxes in each image's own pixels."""

import keras
import numpy as np
from keras import ops

from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset
from training.detection.data.pipeline import make_detection_dataset
from training.detection.data.voc_reader import load_voc_directory
from training.detection.evaluation import predict_detections

IMAGE_SIZE = 32
BOX = [2.0, 4.0, 10.0, 20.0]  # xyxy, model pixels


class MeanBrightnessDetector(keras.Model):
    """One detection per image: `BOX`, class 1, scored by the image's mean
    pixel; and class -1 padding rows, as KerasCV's decoder pads."""

    def call(self, images):
        count = ops.shape(images)[0]
        score = ops.mean(images, axis=(1, 2, 3)) / 255.0
        boxes = ops.tile(ops.convert_to_tensor([[BOX, [-1.0] * 4]]), (count, 1, 1))
        classes = ops.tile(ops.convert_to_tensor([[1.0, -1.0]]), (count, 1))
        confidence = ops.stack([score, -ops.ones_like(score)], axis=1)
        return {"boxes": boxes, "classes": classes, "confidence": confidence}


def _records(tmp_path, count):
    config = EmbeddedConfig(seed=3, num_train=count, num_val=1, num_test=1)
    directory = ensure_embedded_dataset(config, tmp_path)
    return load_voc_directory(directory, "train", EMBEDDED_CLASSES)[0]


def test_a_short_last_batch_is_padded_so_predict_traces_once(tmp_path):
    records = _records(tmp_path, 5)  # Batches of 2, 2 and 1.
    model = MeanBrightnessDetector()
    detections = predict_detections(model, records, IMAGE_SIZE, 2, progress=False)

    assert model.predict_function.experimental_get_tracing_count() == 1
    assert len(detections) == 5
    [(images, _)] = list(make_detection_dataset(records, IMAGE_SIZE, 5))
    expected_scores = np.mean(images.numpy(), axis=(1, 2, 3)) / 255.0
    for record, detection, score in zip(records, detections, expected_scores):
        np.testing.assert_allclose(detection["scores"], [score], rtol=1e-6)
        np.testing.assert_array_equal(detection["classes"], [1])
        scale = np.array([record.width, record.height] * 2) / IMAGE_SIZE
        np.testing.assert_allclose(detection["boxes"], [np.array(BOX) * scale], rtol=1e-6)
