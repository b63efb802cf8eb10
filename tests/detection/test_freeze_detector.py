"""detection.freeze_detector and FrozenYOLOV8Detector (issue 14, item 1).

A Resolution YOLOv8 at 128x128 with random weights, its 22 PANet scales
moved away from 1 (0.7 to 1.3, so that sizes differ from the baseline's
and from each other), is frozen. What is shown: the raw outputs (boxes and
classes) are the trained model's to float32 rounding; every frozen resize
has the size the trained layer produced; no scale variable and no
Resolution layer is left, every shape is static, and only alignments and
output resizes that still resize are kept; `keras_resolution.freeze` does
the same through the registered hook; a `.keras` round trip gives identical
outputs; a baseline freezes to an equivalent copy; a DiffStride PANet with
its strides moved freezes with the same guarantees; bad input raises.

Building, calling and loading a detector cost seconds each, whatever the
image size (eager per-layer overhead, not arithmetic), so each detector is
built, frozen and run once per module and shared by the tests: the
Resolution detector is frozen through `keras_resolution.freeze` (the hook,
which calls `freeze_detector`), the DiffStride and baseline detectors by
`freeze_detector` directly, so both entry points are checked.
"""

import keras
import numpy as np
import pytest

import keras_resolution as kr
from detection import FrozenYOLOV8Detector
from detection import baseline_yolov8
from detection import diffstride_yolov8
from detection import freeze_detector
from detection import resolution_yolov8

SIZE = 128
# Scales cycled over the PANet blocks in build order.
SCALES = ([0.7, 1.3], [1.3, 0.7], [0.8, 0.9], [1.2, 1.1])
RTOL = 1e-5  # Float32 rounding of sums over a few hundred terms.


def _images(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")


def _outputs(model, images):
    outputs = model(images, training=False)
    return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}


def _assert_same_outputs(actual, expected):
    assert actual.keys() == expected.keys() == {"boxes", "classes"}
    for key in expected:
        assert actual[key].shape == expected[key].shape
        scale = float(np.max(np.abs(expected[key])))
        assert float(np.max(np.abs(actual[key] - expected[key]))) <= RTOL * scale, key


def _layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


@pytest.fixture(scope="module")
def trained():
    """The detector with moved scales, its outputs, its frozen copy (by
    `keras_resolution.freeze`) and the frozen copy's outputs."""
    keras.utils.set_random_seed(0)
    model = resolution_yolov8(3, image_size=SIZE, freeze_backbone=False)
    for index, (_, layer, _) in enumerate(model.panet_blocks()):
        layer.scale.assign(SCALES[index % len(SCALES)])
    images = _images()
    expected = _outputs(model, images)  # Also records every layer's sizes.
    frozen = kr.freeze(model)
    return model, images, expected, frozen, _outputs(frozen, images)


@pytest.fixture(scope="module")
def baseline():
    keras.utils.set_random_seed(1)
    return baseline_yolov8(3, image_size=64, freeze_backbone=False)


def test_freeze_keeps_the_detector_outputs(trained):
    _, _, expected, frozen, actual = trained
    assert isinstance(frozen, FrozenYOLOV8Detector)
    _assert_same_outputs(actual, expected)


def test_keras_resolution_freeze_uses_the_detector_hook(trained):
    model, _, _, frozen, _ = trained
    # `trained` froze through keras_resolution.freeze: the registered
    # freeze_detector ran, recording each Resolution layer's scale.
    assert isinstance(frozen, FrozenYOLOV8Detector)
    assert frozen.panet_scales == {
        name: keras.ops.convert_to_numpy(layer.scale).tolist()
        for name, layer, _ in model.panet_blocks()
    }


def test_frozen_resizes_have_the_trained_sizes(trained):
    model, _, _, frozen, _ = trained
    learned = {f"{name}_resolution": layer.output_sizes for name, layer, _ in model.panet_blocks()}
    frozen_sizes = {
        layer.name: layer.output_size for layer in _layers_of(frozen, kr.FrozenResolutionLayer)
    }
    assert frozen_sizes == learned
    assert len(learned) == 22
    # The scales moved every size away from its input's.
    assert all(
        layer.output_size != layer.input_size
        for layer in _layers_of(frozen, kr.FrozenResolutionLayer)
    )


def test_frozen_detector_has_no_scale_and_static_shapes(trained):
    model, _, _, frozen, _ = trained
    assert kr.resolution_layers(frozen) == []
    assert not any(kr.is_scale_variable(v) for v in frozen.weights)
    # The trained model's trainable weights are the frozen one's plus 22 scales.
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert sum(int(np.prod(v.shape)) for v in frozen.trainable_weights) == trainable - 44
    for layer in frozen.layers:
        for tensor in keras.tree.flatten(layer.output):
            assert None not in tuple(tensor.shape[1:]), layer.name


def test_only_resizes_that_resize_are_kept(trained):
    model, images, _, frozen, _ = trained
    # The sizes the trained model's alignments and output resizes receive
    # when it runs (its graph's shapes are those of s = 1).
    resizes = _layers_of(model, (kr.AlignToMaxShape, kr.DCTResize))
    probe = keras.Model(model.input, [layer.input for layer in resizes])
    received = probe(images[:1], training=False)
    needed = set()
    for layer, inputs in zip(resizes, received):
        sizes = {tuple(t.shape[1:3]) for t in keras.tree.flatten(inputs)}
        if isinstance(layer, kr.DCTResize):
            sizes.add(layer.size)
        if len(sizes) > 1:
            needed.add(layer.name)
    kept = {layer.name for layer in _layers_of(frozen, (kr.AlignToMaxShape, kr.DCTResize))}
    assert kept == needed
    assert 0 < len(kept) < len(resizes)


def test_frozen_detector_keras_round_trip(trained, tmp_path):
    _, images, _, frozen, expected = trained
    path = tmp_path / "frozen.keras"
    frozen.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, FrozenYOLOV8Detector)
    assert loaded.panet_scales == frozen.panet_scales
    actual = _outputs(loaded, images)
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


def test_a_baseline_freezes_to_an_equivalent_copy(baseline):
    images = _images(1)[:, :64, :64]
    frozen = freeze_detector(baseline)
    assert frozen.panet_scales == {}
    assert not _layers_of(frozen, (kr.FrozenResolutionLayer, kr.AlignToMaxShape, kr.DCTResize))
    actual, expected = _outputs(frozen, images), _outputs(baseline, images)
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


def test_bad_input_raises_naming_the_argument(baseline):
    with pytest.raises(ValueError, match=r"^`model` must be a PANetYOLOV8Detector"):
        freeze_detector(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match=r"^`panet_scales` names no PANet convolution: \['nope'\]"):
        FrozenYOLOV8Detector(baseline.backbone, 3, "xywh", panet_scales={"nope": [0.5, 0.5]})


def test_a_diffstride_detector_freezes_too(tmp_path):
    keras.utils.set_random_seed(2)
    model = diffstride_yolov8(3, image_size=SIZE, freeze_backbone=False)
    for (_, layer, _), strides in zip(model.panet_blocks(), ([2.6, 1.7], [1.5, 2.9])):
        layer.strides.assign(strides)
    images = _images(1, seed=3)
    expected = _outputs(model, images)
    frozen = freeze_detector(model)
    assert isinstance(frozen, FrozenYOLOV8Detector)
    pools = {layer.name: layer.output_size for layer in _layers_of(frozen, kr.FrozenDiffStride2D)}
    assert pools == {
        f"{name}_diffstride": layer.output_sizes for name, layer, _ in model.panet_blocks()
    }
    assert not any(kr.is_scale_variable(v) for v in frozen.weights)
    frozen_outputs = _outputs(frozen, images)
    _assert_same_outputs(frozen_outputs, expected)
    path = tmp_path / "frozen_diffstride.keras"
    frozen.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.panet_strides == frozen.panet_strides
    actual = _outputs(loaded, images)
    for key in expected:
        np.testing.assert_array_equal(actual[key], frozen_outputs[key])
