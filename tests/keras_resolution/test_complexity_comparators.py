"""Complexity, budgets, logging and the scale learning rate on models that mix
ResolutionLayer, DiffStride2D and FixedSpectralPooling2D (issue 11, item 3)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import DiffStride2D
from keras_resolution import FixedSpectralPooling2D
from keras_resolution import ResolutionLayer


def mixed_model(penalty=None, definition="linear"):
    """64x64 -> Resolution 0.5 -> 32x32 -> DiffStride (2, 4) -> 24x16 ->
    fixed spectral pooling 2 -> 12x8, with convolutions in between."""
    inputs = keras.Input((64, 64, 2))
    h = ResolutionLayer(0.5, name="r")(inputs)
    h = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1")(h)
    h = DiffStride2D((2.0, 4.0), name="ds")(h)
    h = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c2")(h)
    h = FixedSpectralPooling2D(2, name="sp")(h)
    h = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c3")(h)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling2D()(h))
    return kr.ResolutionModel(inputs, outputs, penalty=penalty, complexity_definition=definition)


# By hand. Resolution: q = 32, 32. DiffStride on 32x32 at (2, 4): T_h = 8,
# T_w = 32 / 8 + 1 = 5, so q_h = 2 (8 + 4) = 24, q_w = 2 (5 + 4) - 2 = 16.
# Fixed on 24x16 at 2: 12x8. Full: the built input sizes 64x64, 32x32, 24x16.
LINEAR, AREA = 64 + 40 + 20, 1024 + 384 + 96
FULL_LINEAR, FULL_AREA = 128 + 64 + 40, 4096 + 1024 + 384


def test_complexity_of_a_mixed_model_by_hand():
    model = mixed_model()
    assert [layer.name for layer in kr.complexity_layers(model)] == ["r", "ds", "sp"]
    assert [layer.name for layer in kr.resolution_layers(model)] == ["r"]
    assert float(kr.complexity(model, "linear")) == LINEAR
    assert float(kr.complexity(model, "area")) == AREA
    assert kr.full_complexity(model, "linear") == FULL_LINEAR
    assert kr.full_complexity(model, "area") == FULL_AREA
    assert model.complexity_full == FULL_LINEAR
    assert model.get_layer("ds").output_sizes == (24, 16)
    assert model.get_layer("sp").output_sizes == (12, 8)


def test_complexity_gradient_reaches_scales_and_strides_only():
    model = mixed_model()
    with tf.GradientTape() as tape:
        C = kr.complexity(model, "linear")
    variables = [model.get_layer("r").scale, model.get_layer("ds").strides]
    ds_dscale, dC_dstride = tape.gradient(C, [v.value for v in variables])
    np.testing.assert_allclose(ds_dscale.numpy(), [64.0, 64.0])  # d(64 s)/ds
    np.testing.assert_allclose(dC_dstride.numpy(), [-32 / 4.0, -32 / 16.0])  # -H / S^2


@pytest.mark.parametrize(
    "penalty, expected",
    [
        (kr.QuadraticTarget(0.25, 100.0), 100.0 * (LINEAR / FULL_LINEAR - 0.25) ** 2),
        (kr.HingeCap(100.0, 0.5), 0.5 * (LINEAR - 100.0)),
    ],
)
def test_budgets_on_a_mixed_model(penalty, expected):
    model = mixed_model(penalty)
    C, value = model.complexity_penalty_loss()
    assert float(C) == LINEAR
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_a_hinge_cap_trains_scales_down_and_strides_up():
    # model.fit's TensorFlow graph: sizes after the Resolution layer are
    # tensors, so DiffStride2D and FixedSpectralPooling2D take their graph
    # paths, and their complexities are computed inside the step.
    x = np.random.default_rng(0).normal(size=(8, 64, 64, 2)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    model = mixed_model(kr.HingeCap(80.0, 0.05))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0,
                        callbacks=[kr.ComplexityLogger()])
    scale = keras.ops.convert_to_numpy(model.get_layer("r").scale)
    strides = keras.ops.convert_to_numpy(model.get_layer("ds").strides)
    assert np.all(scale < 0.5) and np.all(strides > [2.0, 4.0]), (scale, strides)
    logged = history.history["complexity_linear"]
    assert logged[-1] < LINEAR
    assert logged[-1] == pytest.approx(float(kr.complexity(model)), abs=1e-4)


def test_complexity_logger_logs_every_kind_of_layer():
    model = mixed_model()
    logger = kr.ComplexityLogger("area")
    logger.set_model(model)
    logs = logger.complexity_logs()
    assert logs["complexity_area"] == AREA
    assert logs["complexity_area_fraction"] == pytest.approx(AREA / FULL_AREA)
    assert logs["complexity_area/ds"] == 384.0 and logs["complexity_area/sp"] == 96.0
    sizes = [logs[f"size/{key}"] for key in ("r/h", "ds/h", "ds/w", "sp/w")]
    assert sizes == [32, 24, 16, 8]
    assert logs["scale/r/w"] == 0.5
    assert (logs["stride/ds/h"], logs["stride/ds/w"]) == (2.0, 4.0)
    assert not any(key.startswith(("stride/sp", "scale/sp", "scale/ds")) for key in logs)


def test_shared_stride_is_logged_on_both_axes():
    layer = DiffStride2D(3.0, shared_stride=True, name="shared")
    layer(np.ones((1, 16, 16, 1), "float32"))
    logs = kr.ComplexityLogger(layers=[layer]).complexity_logs()
    assert (logs["stride/shared/h"], logs["stride/shared/w"]) == (3.0, 3.0)


def test_scale_learning_rate_factor_applies_to_diffstride_strides():
    assert kr.is_scale_variable(mixed_model().get_layer("ds").strides)
    model = mixed_model(kr.HingeCap(10.0, 0.01))  # Steps far from the bounds.
    x = np.random.default_rng(0).normal(size=(4, 64, 64, 2)).astype("float32")
    y = np.zeros((4, 2), "float32")
    initial = model.get_weights()

    def step(optimizer):
        model.set_weights(initial)
        before = {v.path: np.array(v.numpy()) for v in model.trainable_variables}
        # Eager: the step is the same, without 5 s of tracing per compile.
        model.compile(optimizer, "mse", run_eagerly=True)
        model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        return {v.path: np.array(v.numpy()) - before[v.path] for v in model.trainable_variables}

    plain = step(keras.optimizers.SGD(0.01))
    scaled = step(kr.ResolutionSGD(0.01, scale_learning_rate_factor=0.1))
    for path in plain:
        factor = 0.1 if path in ("r/scale", "ds/strides") else 1.0
        assert np.max(np.abs(plain[path])) > 1e-6, path
        # Updates of values up to 4.0 stored in float32: exact to two ulps.
        np.testing.assert_allclose(scaled[path], factor * plain[path], rtol=1e-3, atol=1e-6,
                                   err_msg=path)


def test_complexity_floor_by_hand_and_the_model_left_as_it_was():
    inputs = keras.Input((64, 64, 2))
    h = ResolutionLayer(0.5, min_scale=0.25, name="r")(inputs)
    h = keras.layers.Conv2D(3, 3, padding="same", name="c1")(h)
    h = DiffStride2D((2.0, 4.0), name="ds")(h)
    h = FixedSpectralPooling2D(2, name="sp")(h)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    model = kr.ResolutionModel(inputs, outputs)
    before = [keras.ops.convert_to_numpy(v) for v in model.variables]
    # At the floor: the Resolution layer at its smallest scale, 64 -> 16
    # (16 + 16); DiffStride at an unbounded stride keeps 10x10 of 16x16 (its
    # ramp of R = 4 outside T = 1); fixed pooling halves 10x10 to 4x5 (the
    # height made even). Over C_full = 128 + 64 + 40 (the built input sizes).
    assert kr.complexity_floor(model) == (32 + 20 + 9) / 232
    assert kr.complexity_floor(model, "area") == (256 + 100 + 20) / (4096 + 1024 + 384)
    for variable, value in zip(model.variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)
    assert float(kr.complexity(model)) == LINEAR
    fixed = keras.Sequential([keras.Input((8, 8, 1)), FixedSpectralPooling2D(2)])
    assert kr.complexity_floor(fixed) == 1.0  # no learned rate


def test_register_a_layer_of_ones_own():
    class Crop(keras.layers.Layer):
        rank = 2
        static_sizes = False

        def call(self, x):
            return x[:, :4, :4]

        def complexity(self, definition="linear"):
            return keras.ops.convert_to_tensor(8.0 if definition == "linear" else 16.0)

        def full_complexity(self, definition="linear"):
            return 16.0

    assert not isinstance(Crop(), kr.ComplexityLayer)
    kr.ComplexityLayer.register(Crop)
    assert float(kr.complexity([Crop(), Crop()])) == 16.0
    assert kr.full_complexity([Crop()]) == 16.0
