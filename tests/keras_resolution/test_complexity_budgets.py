"""keras_resolution.complexity and keras_resolution.budgets: values,
derivatives, validation, and a classifier trained to a complexity target."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import ResolutionLayer


def called(layer, shape, dtype="float32"):
    layer(tf.ones(shape, dtype))
    return layer


# ------------------------------------------------------------ per layer


def test_layer_complexity_linear_is_sum_and_area_is_product_of_q():
    layer = called(ResolutionLayer([0.5, 1.3]), (1, 20, 30, 2))
    q_h, q_w = 20 * 0.5, 30 * 1.3
    np.testing.assert_allclose(float(layer.complexity("linear")), q_h + q_w, rtol=1e-6)
    np.testing.assert_allclose(float(layer.complexity("area")), q_h * q_w, rtol=1e-6)
    np.testing.assert_allclose(float(layer.complexity()), q_h + q_w, rtol=1e-6)  # default
    layer_1d = called(ResolutionLayer(0.37), (1, 33, 2))
    np.testing.assert_allclose(float(layer_1d.complexity("linear")), 33 * 0.37, rtol=1e-6)
    np.testing.assert_allclose(float(layer_1d.complexity("area")), 33 * 0.37, rtol=1e-6)


def test_complexity_is_continuous_q_not_the_integer_size():
    layer = called(ResolutionLayer(0.51), (1, 10, 2))  # q = 5.1, size 6
    np.testing.assert_allclose(float(layer.complexity()), 5.1, rtol=1e-6)
    assert layer.output_sizes == (6,)


def test_complexity_gradient_with_respect_to_s():
    d_h, d_w, s_h, s_w = 20, 30, 0.5, 1.3
    layer = called(ResolutionLayer([s_h, s_w]), (1, d_h, d_w, 2))
    with tf.GradientTape(persistent=True) as tape:
        area = layer.complexity("area")
        linear = layer.complexity("linear")
    np.testing.assert_allclose(
        tape.gradient(area, layer.scale).numpy(), [d_h * d_w * s_w, d_h * d_w * s_h], rtol=1e-6
    )
    np.testing.assert_allclose(tape.gradient(linear, layer.scale).numpy(), [d_h, d_w], rtol=1e-6)


def test_complexity_uses_the_current_input_size():
    layer = ResolutionLayer(0.5)
    called(layer, (1, 40, 2))
    np.testing.assert_allclose(float(layer.complexity()), 20.0)
    called(layer, (1, 12, 2))
    np.testing.assert_allclose(float(layer.complexity()), 6.0)
    # C_full stays the one of the size it was built with.
    assert layer.full_complexity() == 40.0


def test_full_complexity_is_complexity_at_s_equal_one():
    layer = called(ResolutionLayer([0.3, 2.0]), (1, 12, 17, 2))
    assert layer.full_complexity("linear") == 29.0
    assert layer.full_complexity("area") == 204.0
    ones = called(ResolutionLayer(1.0), (1, 12, 17, 2))
    assert float(ones.complexity("area")) == ones.full_complexity("area")


def test_unknown_definition_names_the_argument():
    layer = called(ResolutionLayer(), (1, 8, 2))
    with pytest.raises(ValueError, match="`definition`"):
        layer.complexity("volume")
    with pytest.raises(ValueError, match="`definition`"):
        layer.full_complexity("volume")


def test_full_complexity_of_unknown_sizes_is_refused():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, ResolutionLayer(0.5)(inputs))
    with pytest.raises(ValueError, match="unknown input sizes"):
        kr.full_complexity(model)


# ------------------------------------------------------------ model total


def two_layer_model():
    inputs = keras.Input((16, 16, 2))
    h = ResolutionLayer(0.5, name="first")(inputs)
    h = keras.layers.Conv2D(3, 3, padding="same")(h)
    outputs = ResolutionLayer([1.5, 0.25], name="second")(h)
    return keras.Model(inputs, outputs)


def test_model_complexity_sums_the_layers():
    model = two_layer_model()
    model(tf.ones((1, 16, 16, 2)))
    assert [layer.name for layer in kr.resolution_layers(model)] == ["first", "second"]
    # first: 16x16 -> q = (8, 8); second sees 8x8 -> q = (12, 2).
    np.testing.assert_allclose(float(kr.complexity(model)), (8 + 8) + (12 + 2), rtol=1e-6)
    np.testing.assert_allclose(float(kr.complexity(model, "area")), 64 + 24, rtol=1e-6)
    per_layer = sum(float(layer.complexity("area")) for layer in kr.resolution_layers(model))
    np.testing.assert_allclose(float(kr.complexity(model, "area")), per_layer, rtol=1e-6)
    # C_full: each layer at s = 1 on the size it was built with.
    assert kr.full_complexity(model) == 32 + 16
    assert kr.full_complexity(model, "area") == 256 + 64
    # Lists of layers are accepted too.
    np.testing.assert_allclose(
        float(kr.complexity(kr.resolution_layers(model)[:1], "area")), 64.0, rtol=1e-6
    )


def test_model_complexity_is_differentiable_in_every_scale():
    model = two_layer_model()
    model(tf.ones((1, 16, 16, 2)))
    first, second = kr.resolution_layers(model)
    with tf.GradientTape() as tape:
        total = kr.complexity(model, "area")
    g_first, g_second = tape.gradient(total, [first.scale, second.scale])
    np.testing.assert_allclose(g_first.numpy(), [16 * 16 * 0.5] * 2, rtol=1e-6)
    np.testing.assert_allclose(g_second.numpy(), [8 * 8 * 0.25, 8 * 8 * 1.5], rtol=1e-6)


def test_complexity_without_resolution_layers_is_zero():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert float(kr.complexity(model)) == 0.0
    assert kr.full_complexity(model) == 0


def test_complexity_total_is_float32_with_float64_layers():
    layers = [called(ResolutionLayer(0.5, dtype="float64"), (1, 8, 2), "float64"), called(ResolutionLayer(0.25), (1, 8, 2))]
    total = kr.complexity(layers)
    assert total.dtype == tf.float32
    np.testing.assert_allclose(float(total), 4.0 + 2.0)


# ---------------------------------------------------------------- budgets


def test_quadratic_target_values_and_gradient():
    penalty = kr.QuadraticTarget(0.25, weight=100.0)
    assert float(penalty(50.0, 100.0)) == pytest.approx(6.25)
    assert float(penalty(25.0, 100.0)) == 0.0
    assert float(penalty(tf.constant(10.0), 100.0)) == pytest.approx(100 * 0.15**2)
    C = tf.Variable(60.0)
    with tf.GradientTape() as tape:
        value = penalty(C, 200.0)
    # d/dC weight (C/C_full - p)^2 = 2 weight (C/C_full - p) / C_full
    assert float(tape.gradient(value, C)) == pytest.approx(2 * 100 * (0.3 - 0.25) / 200)
    assert kr.QuadraticTarget.from_config(penalty.get_config()).get_config() == {"target": 0.25, "weight": 100.0}


def test_hinge_cap_values_and_gradient():
    penalty = kr.HingeCap(100.0, weight=0.01)
    assert float(penalty(150.0, 200.0)) == pytest.approx(0.5)
    assert float(penalty(100.0)) == 0.0
    assert float(penalty(20.0)) == 0.0
    for C_value, expected in ((150.0, 0.01), (80.0, 0.0)):
        C = tf.Variable(C_value)
        with tf.GradientTape() as tape:
            value = penalty(C)
        assert float(tape.gradient(value, C)) == pytest.approx(expected)
    assert kr.HingeCap.from_config(penalty.get_config()).get_config() == {"cap": 100.0, "weight": 0.01}


@pytest.mark.parametrize("target", [0.0, -0.1, 1.5, float("nan"), "half", None])
def test_quadratic_target_rejects_bad_target(target):
    with pytest.raises(ValueError, match="`target`"):
        kr.QuadraticTarget(target)


@pytest.mark.parametrize("cap", [0.0, -5.0, float("inf"), float("nan"), "big", None])
def test_hinge_cap_rejects_bad_cap(cap):
    with pytest.raises(ValueError, match="`cap`"):
        kr.HingeCap(cap, 1.0)


@pytest.mark.parametrize("weight", [-1.0, float("inf"), float("nan"), "heavy"])
def test_budgets_reject_bad_weight(weight):
    with pytest.raises(ValueError, match="`weight`"):
        kr.QuadraticTarget(0.5, weight)
    with pytest.raises(ValueError, match="`weight`"):
        kr.HingeCap(10.0, weight)


def test_zero_weight_is_allowed():
    assert float(kr.QuadraticTarget(0.5, 0.0)(10.0, 100.0)) == 0.0
    assert float(kr.HingeCap(1.0, 0.0)(10.0)) == 0.0


# -------------------------------------------------------- trained budget


def small_classifier(penalty, definition="linear"):
    inputs = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = ResolutionLayer(name="r1")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = ResolutionLayer(name="r2")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(4)(h)
    return kr.ResolutionModel(inputs, outputs, penalty=penalty, complexity_definition=definition)


def classification_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 32, 32, 3)).astype("float32")
    return x, rng.integers(0, 4, n)


@pytest.mark.parametrize("definition", ["linear", "area"])
def test_classifier_trained_with_fit_reaches_the_quadratic_target(definition):
    """QuadraticTarget(0.25, 100) pulls C to 0.25 C_full within 10%.

    Plain SGD: the penalty gradient is proportional to the distance to the
    target, so steps shrink as C approaches it (Adam's sign-like steps of
    ~lr per step overshoot it instead).
    """
    x, y = classification_data()
    model = small_classifier(kr.QuadraticTarget(0.25, 100.0), definition)
    full = kr.full_complexity(model, definition)
    assert full == (128.0 if definition == "linear" else 2048.0)
    model.compile(
        keras.optimizers.SGD(0.02 if definition == "linear" else 0.005),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert model.jit_compile is False  # the TF path with sizes as tensors
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    # The layers' complexity uses their current input sizes: run once more so
    # r2 sees r1's final output size.
    model.predict(x[:1], verbose=0)
    fraction = float(kr.complexity(model, definition)) / full
    print(f"final complexity fraction ({definition}): {fraction:.4f}")
    assert abs(fraction - 0.25) <= 0.1 * 0.25, (fraction, history.history)
    # The budget metrics are in the logs, and the layers really shrank.
    assert {"loss", "complexity", "complexity_penalty"} <= set(history.history)
    assert history.history["complexity_penalty"][-1] < history.history["complexity_penalty"][0]
    r1, r2 = kr.resolution_layers(model)
    assert all(size < 32 for size in r1.output_sizes + r2.output_sizes)
    assert tuple(model.predict(x[:2], verbose=0).shape) == (2, 4)


def test_hinge_cap_penalty_in_fit_brings_complexity_under_the_cap():
    x, y = classification_data(32)
    capped = small_classifier(kr.HingeCap(cap=64.0, weight=0.05))  # C_full = 128
    capped.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = capped.fit(x, y, epochs=4, batch_size=16, verbose=0)
    penalties = history.history["complexity_penalty"]
    assert penalties[0] > 0.0 and penalties[-1] < penalties[0]
    capped.predict(x[:1], verbose=0)
    final = float(kr.complexity(capped))
    print(f"hinge: C = {final:.2f} for cap 64 (C_full 128), penalties {penalties}")
    assert final <= 64.0 * 1.1


# ------------------------------------------------------------ save / load


def _assert_same_budget(rebuilt, model):
    assert type(rebuilt) is kr.ResolutionModel
    assert isinstance(rebuilt.complexity_penalty, kr.HingeCap)
    assert rebuilt.complexity_penalty.get_config() == {"cap": 300.0, "weight": 0.05}
    assert rebuilt.complexity_definition == "area"
    assert rebuilt.complexity_full == model.complexity_full == 2 * 32.0 * 32.0


def test_resolution_model_round_trips_through_config_and_keras_file(tmp_path):
    """`from_config` goes through the public `keras.Model.from_config`."""
    model = small_classifier(kr.HingeCap(cap=300.0, weight=0.05), "area")
    model.get_layer("r1").scale.assign([0.7, 0.55])
    x, _ = classification_data(4)
    expected = model.predict(x, verbose=0)

    rebuilt = kr.ResolutionModel.from_config(model.get_config())
    _assert_same_budget(rebuilt, model)
    assert rebuilt.get_config() == model.get_config()

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    _assert_same_budget(loaded, model)
    np.testing.assert_array_equal(loaded.get_layer("r1").scale.numpy(), np.float32([0.7, 0.55]))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
