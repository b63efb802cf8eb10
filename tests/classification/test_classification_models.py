"""ResNet-18 and the 1D CNN: structure, budget reference, a few training steps."""

import keras
import numpy as np
import pytest

import keras_resolution
from keras_resolution.applications.classifiers import MeanVariancePooling1D
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import fixed_complexity
from keras_resolution.applications.classifiers import site_sizes
from keras_resolution.applications.classifiers import size_complexity
from training.common.optimizers import make_optimizer


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def _names(model, kind):
    return [layer.name for layer in model.layers if isinstance(layer, kind)]


def test_resnet18_puts_one_resolution_layer_where_each_stage_downsamples():
    model = build_classifier("resnet18", (32, 32, 3), 10, "dct", 0.25, width=4)
    assert _names(model, keras_resolution.ResolutionLayer) == [
        "stage2_resolution", "stage3_resolution", "stage4_resolution",
    ]  # fmt: skip
    strides = {layer.strides for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}
    assert strides == {(1, 1)}  # every fixed-rate resize replaced
    # s = 1: no downsampling anywhere, so the initial complexity is C_full.
    assert site_sizes(model) == {"stage2": (32, 32), "stage3": (32, 32), "stage4": (32, 32)}
    assert float(keras_resolution.complexity(model)) == model.complexity_full == 192.0
    assert size_complexity(model) == 192.0  # from the integer sizes


def test_resnet18_baseline_strides_and_its_budget():
    model = build_classifier("resnet18", (32, 32, 3), 10, "fixed", width=4)
    assert not _names(model, keras_resolution.ResolutionLayer)
    assert site_sizes(model) == {"stage2": (16, 16), "stage3": (8, 8), "stage4": (4, 4)}
    assert fixed_complexity(model) == 56.0
    assert fixed_complexity(model, "area") == 16 * 16 + 8 * 8 + 4 * 4
    c_base, c_full, sizes = budget_reference("resnet18", (32, 32, 3), 10, width=4)
    assert (c_base, c_full) == (56.0, 192.0)
    # Same architecture apart from the resizes: the Resolution model adds
    # exactly 2 trainable parameters (one scale per axis) per Resolution layer.
    resolution = build_classifier("resnet18", (32, 32, 3), 10, "dct", 0.5, width=4)
    assert _trainable(resolution) - _trainable(model) == 3 * 2


def test_radio_cnn_has_a_resolution_layer_after_each_of_seven_convolutions():
    model = build_classifier("radio_cnn", (1024, 2), 24, "dft", 0.1)
    names = [layer.name for layer in model.layers]
    for index in range(1, 8):
        assert names.index(f"conv{index}_resolution") == names.index(f"conv{index}") + 1
    assert model.get_layer("conv7").filters == 64 and model.get_layer("conv7").kernel_size == (3,)
    assert [model.get_layer(n).units for n in ("dense1", "dense2", "classifier")] == [128, 128, 24]
    assert model.complexity_full == 7 * 1024
    baseline = build_classifier("radio_cnn", (1024, 2), 24, "fixed")
    assert not _names(baseline, keras_resolution.ResolutionLayer)
    assert fixed_complexity(baseline) == 7 * 1024  # no resizing: C_base = C_full


def test_mean_variance_pooling():
    x = np.stack([np.arange(6.0).reshape(3, 2), np.ones((3, 2))]).astype("float32")
    y = keras.ops.convert_to_numpy(MeanVariancePooling1D()(x))
    np.testing.assert_allclose(y, [[2, 3, 8 / 3, 8 / 3], [1, 1, 0, 0]], rtol=1e-6)


@pytest.mark.parametrize(
    "dataset, transform",
    [
        ("tiny_radio", "dft"),
        ("tiny_radio", "fixed"),
        ("tiny_images", "dct"),
        pytest.param("tiny_images", "fixed", marks=pytest.mark.slow),  # tracing ResNet: ~15 s
    ],
)
def test_both_models_train_a_few_steps(dataset, transform, request):
    data = request.getfixturevalue(dataset)
    kwargs = {"width": 4} if data.architecture == "resnet18" else {}
    model = build_classifier(
        data.architecture, data.input_shape, data.num_classes, transform, 0.25, **kwargs
    )
    optimizer = make_optimizer("adam", 1e-2, scale_learning_rate_factor=4.0)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy())
    x, y = data.train.read(np.arange(64))
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    if transform != "fixed":
        assert history.history["complexity"][-1] < model.complexity_full  # the budget pulls


def test_objective_is_cross_entropy_plus_quadratic_budget(tiny_radio):
    model = build_classifier(
        "radio_cnn", tiny_radio.input_shape, 8, "dct", 0.25, penalty_weight=100.0
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy())
    x, y = tiny_radio.train.read(np.arange(32))
    cross_entropy = float(keras.losses.SparseCategoricalCrossentropy()(y, model.predict(x, verbose=0)))
    total = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    # C = C_full at s = 1, so the budget term is 100 * (1 - 0.25)^2.
    np.testing.assert_allclose(total["loss"], cross_entropy + 100 * 0.75**2, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(architecture="vgg"), "architecture"),
        (dict(transform="wavelet"), "transform"),
        (dict(target_budget=0.0), r"p\* must lie in \(0, 1\]"),
        (dict(target_budget=1.5), r"p\* must lie in \(0, 1\]"),
        (dict(target_budget=float("nan")), r"p\* must lie in \(0, 1\]"),
        (dict(target_budget=None), "p\\* must be a number"),
        (dict(penalty_weight=-1.0), "lambda"),
        (dict(num_classes=1), "num_classes"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    arguments = dict(
        architecture="radio_cnn", input_shape=(32, 2), num_classes=8, transform="dct",
        target_budget=0.5,
    )  # fmt: skip
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_classifier(**arguments)
