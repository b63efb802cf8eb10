"""ResolutionSGD / ResolutionAdam: the scales step at factor x the rate, and
only the Resolution scales, recognised by identity and not by name."""

import keras
import numpy as np
import pytest

import keras_resolution as kr
from keras_resolution.layer import is_scale_variable
from keras_resolution.optimizers import swap_average_weights


def _one_step(optimizer):
    keras.utils.set_random_seed(0)
    layer = kr.ResolutionLayer(1.0)
    dense = keras.layers.Dense(1)
    inputs = keras.Input((8, 2))
    model = keras.Model(inputs, dense(layer(inputs)))
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).normal(size=(4, 8, 2)).astype("float32")
    y = np.ones((4, 8, 1), "float32")
    kernel_before = np.asarray(dense.kernel).copy()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    return (np.asarray(layer.scale) - 1.0), np.asarray(dense.kernel) - kernel_before


@pytest.mark.parametrize("cls", [kr.ResolutionSGD, kr.ResolutionAdam])
def test_scale_step_is_factor_times_the_plain_step(cls):
    plain_scale, plain_kernel = _one_step(cls(learning_rate=0.01))
    slow_scale, slow_kernel = _one_step(cls(learning_rate=0.01, scale_learning_rate_factor=0.1))
    assert np.all(plain_scale != 0)
    # s is stored near 1.0 in float32: steps are exact to two ulps of 1.0.
    np.testing.assert_allclose(slow_scale, 0.1 * plain_scale, rtol=0, atol=2.4e-7)
    np.testing.assert_allclose(slow_kernel, plain_kernel, rtol=1e-5)


def test_factor_must_be_positive_and_round_trips():
    with pytest.raises(ValueError, match="scale_learning_rate_factor"):
        kr.ResolutionSGD(0.1, scale_learning_rate_factor=0)
    optimizer = kr.ResolutionAdam(1e-3, scale_learning_rate_factor=0.25)
    again = kr.ResolutionAdam.from_config(optimizer.get_config())
    assert again.scale_learning_rate_factor == 0.25


# ------------------------------------- other layers' variables named "scale"
def _model_with_other_scales():
    """Resolution layer, then RMSNormalization and Attention(use_scale=True):
    three trainable variables named "scale", one of them a Resolution scale."""
    inputs = keras.Input((12, 4))
    h = kr.ResolutionLayer(0.9, name="res")(inputs)
    h = keras.layers.RMSNormalization(name="rms")(h)
    h = keras.layers.Attention(use_scale=True, name="attention")([h, h])
    outputs = keras.layers.Dense(1, name="out")(keras.layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.set_weights(
        [
            rng.normal(0.0, 0.5, v.shape).astype("float32")
            if v.path == "out/kernel"
            else np.asarray(v)
            for v in model.weights
        ]
    )
    return model


def _step_updates(model, optimizer):
    """One full-batch fit step from the model's current weights: the update
    of every trainable variable, keyed by path; the weights are restored."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 12, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    before = model.get_weights()
    start = {v.path: np.asarray(v).copy() for v in model.trainable_variables}
    model.compile(optimizer, "mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    updates = {v.path: np.asarray(v) - start[v.path] for v in model.trainable_variables}
    model.set_weights(before)
    return updates


@pytest.mark.parametrize(
    "plain, resolution",
    [
        (keras.optimizers.SGD, kr.ResolutionSGD),
        (keras.optimizers.Adam, kr.ResolutionAdam),
    ],
)
@pytest.mark.parametrize("factor", [0.1, 10.0])
def test_only_the_resolution_scale_update_is_scaled(plain, resolution, factor):
    model = _model_with_other_scales()
    named_scale = sorted(v.path for v in model.trainable_variables if v.name == "scale")
    assert named_scale == ["attention/scale", "res/scale", "rms/scale"]
    marked = [v.path for v in model.trainable_variables if is_scale_variable(v)]
    assert marked == ["res/scale"]

    reference = _step_updates(model, plain(learning_rate=0.01))
    updates = _step_updates(
        model, resolution(learning_rate=0.01, scale_learning_rate_factor=factor)
    )
    assert set(updates) == set(reference)
    for path, step in reference.items():
        # Every variable moved, far more than float32 rounding near 1.0.
        assert np.max(np.abs(step)) > 2e-5, (path, step)
        expected = factor * step if path == "res/scale" else step
        # Steps of variables stored near 1.0 are exact to about two ulps.
        np.testing.assert_allclose(
            updates[path], expected, rtol=1e-4, atol=2.4e-7, err_msg=path
        )


def test_scale_marks_survive_save_and_load(tmp_path):
    model = _model_with_other_scales()
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    marked = [v.path for v in loaded.trainable_variables if is_scale_variable(v)]
    assert marked == ["res/scale"]
    assert is_scale_variable(loaded.get_layer("res").scale)
    assert not is_scale_variable(loaded.get_layer("rms").scale)


def test_is_scale_variable_needs_the_layer_that_made_it():
    layer = kr.ResolutionLayer(0.5)
    layer.build((None, 8, 3))
    other = kr.ResolutionLayer(0.5)
    other.build((None, 8, 3))
    assert is_scale_variable(layer.scale) and is_scale_variable(other.scale)
    assert not is_scale_variable(layer.input_size)
    assert not is_scale_variable(keras.Variable(np.ones(1, "float32"), name="scale"))
    assert not is_scale_variable(np.ones(1))


# ------------------------------------------------- moving average of weights
def _recorded_fit(optimizer, epochs):
    """Fits a Dense model one epoch per `fit` call (as the run loop does) and
    records the kernel after every step; returns (model, kernels)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    kernels = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: kernels.append(np.asarray(model.layers[0].kernel))
    )
    for epoch in range(epochs):
        model.fit(x, y, batch_size=4, initial_epoch=epoch, epochs=epoch + 1, shuffle=False,
                  verbose=0, callbacks=[record])  # fmt: skip
    return model, kernels


def test_averages_follow_the_formula_and_the_raw_weights_keep_training():
    momentum = 0.6
    optimizer = kr.ResolutionSGD(
        0.1, use_ema=True, ema_momentum=momentum, ema_overwrite_at_fit_end=False
    )
    model, kernels = _recorded_fit(optimizer, epochs=3)
    expected = kernels[0]  # Keras's first average is the first step's weights.
    for kernel in kernels[1:]:
        expected = momentum * expected + (1.0 - momentum) * kernel
    kernel = model.layers[0].kernel
    np.testing.assert_array_equal(np.asarray(kernel), kernels[-1])  # raw weights kept
    assert swap_average_weights(optimizer)
    np.testing.assert_allclose(np.asarray(kernel), expected, rtol=1e-6, atol=1e-7)
    assert swap_average_weights(optimizer)  # and back
    np.testing.assert_array_equal(np.asarray(kernel), kernels[-1])


def test_by_default_fit_ends_on_the_averages_as_in_keras():
    optimizer = kr.ResolutionAdam(0.05, use_ema=True, ema_momentum=0.5)
    model, kernels = _recorded_fit(optimizer, epochs=1)
    expected = 0.5 * kernels[0] + 0.5 * kernels[1]
    np.testing.assert_allclose(np.asarray(model.layers[0].kernel), expected, rtol=1e-6)
    again = kr.ResolutionAdam.from_config(
        kr.ResolutionAdam(0.1, use_ema=True, ema_overwrite_at_fit_end=False).get_config()
    )
    assert again.ema_overwrite_at_fit_end is False and again.use_ema


def test_swap_does_nothing_without_averages():
    model, kernels = _recorded_fit(kr.ResolutionSGD(0.1), epochs=1)
    assert not swap_average_weights(model.optimizer)
    np.testing.assert_array_equal(np.asarray(model.layers[0].kernel), kernels[-1])
    assert not swap_average_weights(kr.ResolutionSGD(0.1, use_ema=True))  # not built
