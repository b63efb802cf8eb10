"""Tests for detection.backbones (offline)."""

import warnings

import keras
import numpy as np
import pytest

from detection import backbones
from detection.backbones import PretrainedWeightsUnavailableWarning
from detection.backbones import build_backbone


def _offline(*args, **kwargs):
    raise OSError("Failed to resolve 'api.kaggle.com' (simulated offline)")


def _xs_weights_file(tmp_path, seed):
    keras.utils.set_random_seed(seed)
    model = build_backbone("yolo_v8_xs", 320)
    path = str(tmp_path / "xs.weights.h5")
    model.save_weights(path)
    return model, path


def test_yolo_v8_xs_matches_preset_size():
    model = build_backbone("yolo_v8_xs", 320)
    assert model.count_params() == 1_277_680  # KerasCV preset metadata.
    assert model.input_shape == (None, 320, 320, 3)
    assert {"P3", "P4", "P5"} <= set(model.pyramid_level_inputs)


def test_resnet50_matches_preset_size():
    model = build_backbone("resnet50", 320)
    assert model.count_params() == 23_561_152  # KerasCV preset metadata.
    p5 = model.get_layer(model.pyramid_level_inputs["P5"])
    assert tuple(p5.output.shape[1:]) == (10, 10, 2048)


def test_unknown_backbone_names_argument():
    with pytest.raises(ValueError, match="`backbone`"):
        build_backbone("yolo_v9_xxl")


@pytest.mark.parametrize("weights", ["imagenet", "no_such_file.weights.h5", 3])
def test_unknown_weights_names_argument(weights):
    # "imagenet" exists for resnet50 only; the XS backbone has "coco".
    with pytest.raises(ValueError, match="`weights`"):
        build_backbone("yolo_v8_xs", weights=weights)


def test_no_weights_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_backbone("yolo_v8_xs", 320, weights=None)


def test_offline_preset_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(backbones, "_load_preset", _offline)
    with pytest.warns(PretrainedWeightsUnavailableWarning) as record:
        model = build_backbone("yolo_v8_xs", 320, weights="coco")
    assert len(record) == 1
    message = str(record[0].message)
    assert "yolo_v8_xs_backbone_coco" in message and "RANDOM" in message
    assert model.count_params() == 1_277_680


def test_weights_file_is_loaded(tmp_path):
    source, path = _xs_weights_file(tmp_path, seed=1)
    keras.utils.set_random_seed(2)
    model = build_backbone("yolo_v8_xs", 320, weights=path)
    for expected, loaded in zip(source.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(expected, loaded)


def test_keras_file_is_loaded(tmp_path):
    keras.utils.set_random_seed(3)
    source = build_backbone("yolo_v8_xs", 320)
    path = str(tmp_path / "xs.keras")
    source.save(path)
    model = build_backbone("yolo_v8_xs", 320, weights=path)
    for expected, loaded in zip(source.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(expected, loaded)


def test_mismatched_weights_file_raises_clearly(tmp_path):
    _, path = _xs_weights_file(tmp_path, seed=4)
    with pytest.raises(ValueError, match="does not match"):
        build_backbone("resnet50", 320, weights=path)


def test_mismatched_weights_leave_target_untouched():
    target = build_backbone("yolo_v8_xs", 320)
    before = target.get_weights()
    other = build_backbone("resnet50", 320)
    with pytest.raises(ValueError, match="do not match"):
        backbones._assign_weights(target, other, "yolo_v8_xs", "a test")
    for expected, kept in zip(before, target.get_weights()):
        np.testing.assert_array_equal(expected, kept)


def test_weights_file_missing_a_layer_raises(tmp_path):
    import h5py

    _, path = _xs_weights_file(tmp_path, seed=5)
    with h5py.File(path, "r+") as file:
        del file["layers/conv2d_26"]  # The last conv's kernel.
    with pytest.raises(ValueError, match="does not match"):
        build_backbone("yolo_v8_xs", 320, weights=path)


def test_a_frozen_random_backbone_is_warned_about_loudly():
    import detection

    with pytest.warns(detection.RandomFrozenBackboneWarning, match="RANDOM yolo_v8_xs"):
        detection.baseline_yolov8(num_classes=2, image_size=64, freeze_backbone=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", detection.RandomFrozenBackboneWarning)
        detection.baseline_yolov8(num_classes=2, image_size=64, freeze_backbone=False)
