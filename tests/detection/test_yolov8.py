"""Tests for detection.yolov8: the KerasCV YOLOv8 baseline with our PANet."""

import time

import keras
import keras_cv
import numpy as np
import pytest

from detection import PANetYOLOV8Detector
from detection import baseline_yolov8
from detection import build_backbone
from detection import panet_complexity

IMAGE_SIZE = 320
NUM_CLASSES = 3


def _batch(batch_size=2, max_boxes=4, seed=0):
    """Random images and xyxy boxes, padded with -1 as KerasCV expects."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (batch_size, IMAGE_SIZE, IMAGE_SIZE, 3))
    boxes = -np.ones((batch_size, max_boxes, 4), "float32")
    classes = -np.ones((batch_size, max_boxes), "float32")
    for i in range(batch_size):
        for j in range(1 + i % max_boxes):
            x, y = rng.uniform(0, IMAGE_SIZE - 100, 2)
            w, h = rng.uniform(20, 100, 2)
            boxes[i, j] = [x, y, x + w, y + h]
            classes[i, j] = rng.integers(NUM_CLASSES)
    return images.astype("float32"), {"boxes": boxes, "classes": classes}


def _compile(model):
    model.compile(
        box_loss="ciou",
        classification_loss="binary_crossentropy",
        optimizer=keras.optimizers.SGD(1e-3, momentum=0.9, global_clipnorm=10),
        jit_compile=False,
    )
    return model


def _trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.fixture(scope="module")
def trained():
    """An xyxy baseline after two training steps, and its batch."""
    keras.utils.set_random_seed(0)
    model = _compile(
        baseline_yolov8(
            NUM_CLASSES, bounding_box_format="xyxy", confidence_threshold=0.0
        )
    )
    images, labels = _batch()
    before = {v.path: v.numpy() for v in model.weights}
    history = model.fit(images, labels, batch_size=2, epochs=2, verbose=0)
    return model, images, history, before


def test_builds_fast_as_a_keras_cv_detector():
    start = time.perf_counter()
    model = baseline_yolov8(20)
    assert time.perf_counter() - start < 60
    assert isinstance(model, keras_cv.models.YOLOV8Detector)
    assert model.input_shape == (None, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert panet_complexity(model) == 11_500


def test_trainable_parameters_match_notes():
    model = baseline_yolov8(20)  # XS, frozen, fpn_depth=1.
    assert _trainable_count(model) == 2_152_444
    # Non-trainable: the backbone (1,277,680) and the PANet's and head's
    # batch-norm statistics (6,144).
    assert model.count_params() == 3_436_268
    unfrozen = baseline_yolov8(20, freeze_backbone=False)
    assert _trainable_count(unfrozen) > 3_400_000


def test_same_architecture_and_outputs_as_keras_cv():
    ours = baseline_yolov8(20)
    backbone = build_backbone("yolo_v8_xs", IMAGE_SIZE)
    backbone.trainable = False
    theirs = keras_cv.models.YOLOV8Detector(
        backbone=backbone,
        num_classes=20,
        bounding_box_format="xywh",
        fpn_depth=1,
    )
    assert [(v.path, v.shape) for v in ours.weights] == [
        (v.path, v.shape) for v in theirs.weights
    ]
    theirs.set_weights(ours.get_weights())
    images, _ = _batch(batch_size=1)
    ours_out, theirs_out = ours(images), theirs(images)
    for key in ("boxes", "classes"):
        np.testing.assert_array_equal(ours_out[key], theirs_out[key])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": -3}, "num_classes"),
        ({"image_size": 300}, "image_size"),
        ({"image_size": (320, 330)}, "image_size"),
        ({"image_size": 0}, "image_size"),
        ({"backbone": "efficientnet"}, "backbone"),
        ({"bounding_box_format": "xywhr"}, "bounding_box_format"),
        ({"fpn_depth": 0}, "fpn_depth"),
        ({"weights": "imagenet"}, "weights"),  # The XS backbone has "coco".
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, argument):
    kwargs = {"num_classes": 20, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        baseline_yolov8(**kwargs)


def test_fit_gives_finite_loss_and_trains_only_panet_and_head(trained):
    model, _, history, before = trained
    assert len(history.history["loss"]) == 2
    for key in ("loss", "box_loss", "class_loss"):
        assert np.isfinite(history.history[key]).all()
    changed = {
        v.path
        for v in model.weights
        if not np.array_equal(before[v.path], v.numpy())
    }
    backbone = {v.path for v in model.backbone.weights}
    assert changed and not changed & backbone
    assert any(path.startswith("pa_fpn_") for path in changed)


def test_predict_returns_boxes_in_requested_format(trained):
    model, images, _, _ = trained
    predictions = model.predict(images, verbose=0)
    assert predictions["boxes"].shape == (2, 100, 4)
    assert set(predictions) >= {"boxes", "classes", "confidence"}

    # The same weights with "xywh" give the same boxes, converted.
    xywh = baseline_yolov8(
        NUM_CLASSES, bounding_box_format="xywh", confidence_threshold=0.0
    )
    xywh.set_weights(model.get_weights())
    converted = keras_cv.bounding_box.convert_format(
        predictions["boxes"], source="xyxy", target="xywh"
    )
    np.testing.assert_allclose(
        xywh.predict(images, verbose=0)["boxes"], converted, atol=1e-3
    )


def test_confidence_threshold_filters_predictions():
    model = baseline_yolov8(NUM_CLASSES, confidence_threshold=1.0)
    images, _ = _batch(batch_size=1)
    predictions = model.predict(images, verbose=0)
    assert int(predictions["num_detections"][0]) == 0


def test_save_and_load_give_identical_predictions(trained, tmp_path):
    model, images, _, _ = trained
    path = str(tmp_path / "baseline.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, PANetYOLOV8Detector)
    assert loaded.bounding_box_format == "xyxy"
    assert loaded.prediction_decoder.confidence_threshold == 0.0
    # The backbone stays frozen after loading.
    assert _trainable_count(loaded) == _trainable_count(model)
    expected = model.predict(images, verbose=0)
    received = loaded.predict(images, verbose=0)
    for key in expected:
        np.testing.assert_array_equal(expected[key], received[key])
