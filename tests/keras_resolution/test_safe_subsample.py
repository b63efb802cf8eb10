"""keras_resolution.SafeSubsample (issue 12, item 2): the subsampling tables of
both rules by hand, the nearest-neighbour resize of the official code, sizes
in TensorFlow graphs and under XLA, the continuous surrogate and its gradient
to sigma, complexity and budgets that act on sigma, logging, bad arguments."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import NJetConv2D
from keras_resolution import SafeSubsample
from keras_resolution.safe_subsample import safe_size

LN2 = math.log(2.0)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def njet(sigma, rule="code", r=4.0, static_sizes=False, name="njet", max_sigma=8.0):
    """An N-Jet layer of sigma with safe subsampling (order 1, 2 filters)."""
    subsample = SafeSubsample(r=r, rule=rule, static_sizes=static_sizes, name=f"{name}_ss")
    return NJetConv2D(2, order=1, init_log2_sigma=math.log2(sigma), max_sigma=max_sigma,
                      safe_subsample=subsample, name=name)


# --------------------------------------------------------------- size tables

# By hand. Code: int(s / max(1, 2^sigma / r)); paper: floor(s 2^(-sigma / r)).
SIZE_TABLE = [
    # size, sigma, r, code, paper
    (32, 1.0, 4.0, 32, 26),  # 2/4 < 1: no subsampling | 32 / 2^0.25 = 26.9
    (32, 2.0, 4.0, 32, 22),  # 4/4 = 1 | 32 / 2^0.5 = 22.6
    (32, 3.0, 4.0, 16, 19),  # 8/4 = 2 | 32 / 2^0.75 = 19.03
    (32, 4.0, 4.0, 8, 16),  # 16/4 = 4 | 32 / 2
    (32, 6.0, 4.0, 2, 11),  # 64/4 = 16 | 32 / 2^1.5 = 11.3
    (31, 2.0, 2.0, 15, 15),  # 31 / 2 = 15.5 under both rules at r = 2
    (31, 3.0, 6.0, 23, 21),  # 31 / (8/6) = 23.25 | 31 / 2^0.5 = 21.9
    (8, 8.0, 4.0, 1, 2),  # 8 / 64 = 0.125 -> at least 1 | 8 / 4
]


@pytest.mark.parametrize("size, sigma, r, code, paper", SIZE_TABLE)
def test_subsampling_table(size, sigma, r, code, paper):
    assert safe_size(size, sigma, r, "code") == code
    assert safe_size(size, sigma, r, "paper") == paper
    for rule, expected in (("code", code), ("paper", paper)):
        # Several rows sit exactly on an integer size (16, 8, 2): a float32
        # sigma one ulp above would round down below it, so the layer gets
        # sigma a hair below the table's.
        layer = njet(sigma * (1 - 1e-5), rule, r)
        y = layer(np.zeros((1, size, size + 1, 3), "float32"))
        assert tuple(y.shape) == (1, expected, safe_size(size + 1, sigma * (1 - 1e-5), r, rule), 2)
        assert layer.safe_subsample.output_sizes == tuple(y.shape[1:3])
        assert layer.compute_output_shape((1, size, size + 1, 3)) == tuple(y.shape)


def torch_nearest(x, size):
    """PyTorch's F.interpolate(x, size) (mode "nearest") on NHWC, in NumPy:
    source index min(floor(j * float32(in / out)), in - 1) per axis."""
    for axis, out in zip((1, 2), size):
        n = x.shape[axis]
        scale = np.float32(n) / np.float32(out)
        index = np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(int), n - 1)
        x = np.take(x, index, axis=axis)
    return x


def test_values_are_the_official_nearest_subsampling_then_the_convolution():
    x = random((2, 32, 27, 3))
    layer = njet(3.0, "paper")
    y = numpy(layer(x))
    plain = NJetConv2D(2, order=1, init_log2_sigma=math.log2(3.0), max_sigma=8.0)
    plain(x)
    plain.set_weights(layer.get_weights()[:2])
    expected = numpy(plain(torch_nearest(x, (19, 16))))  # 27 / 2^0.75 = 16.05
    np.testing.assert_array_equal(y, expected)
    # The subsampled map itself: rows floor(j 32 / 19), as PyTorch.
    sub = numpy(layer.safe_subsample(x))
    np.testing.assert_array_equal(sub, torch_nearest(x, (19, 16)))
    np.testing.assert_array_equal(sub[:, 2, 0], x[:, 3, 0])  # floor(2 * 32 / 19) = 3
    np.testing.assert_array_equal(sub[:, 0, 15], x[:, 0, 25])  # floor(15 * 27 / 16) = 25


def test_channels_first():
    x = random((1, 20, 14, 3))
    first = njet(4.0, "paper")
    first.safe_subsample.data_format = "channels_first"  # Set before building.
    first.safe_subsample.axes = (2, 3)
    first.data_format, first.channel_axis = "channels_first", 1
    last = njet(4.0, "paper")
    y_last = numpy(last(x))
    assert y_last.shape == (1, 10, 7, 2)  # 2^(-4/4) = 1/2
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    y_first = numpy(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(y_first, (0, 2, 3, 1)), y_last, atol=1e-5)


def test_sizes_computed_in_a_tensorflow_graph():
    layer = njet(3.0, "code")
    layer(np.zeros((1, 16, 16, 3), "float32"))
    step = tf.function(
        lambda x: layer(x, training=True), input_signature=[tf.TensorSpec((None, None, None, 3))]
    )
    for size, sigma in [((19, 23), 3.0), ((32, 12), 5.0), ((16, 16), 1.5)]:
        layer.log2_sigma.assign([math.log2(sigma)])
        x = random((2, *size, 3))
        expected = numpy(layer(x))  # Eager: sizes from the concrete sigma.
        assert expected.shape[1:3] == tuple(safe_size(d, sigma) for d in size)
        np.testing.assert_allclose(step(x).numpy(), expected, atol=1e-5)


def test_static_sizes_refuse_a_compiled_step_without_size_refresh():
    # Training with SizeRefresh under XLA and JAX jit: tests/backends.
    x, y = random((4, 12, 12, 3)), random((4, 2))
    inputs = keras.Input((12, 12, 3))
    h = njet(2.1, "code", static_sizes=True, max_sigma=3.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h)))
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=True)
    assert model.jit_compile is True  # static_sizes: the layers support jit.
    with pytest.raises(RuntimeError, match="SizeRefresh"):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)


def test_refresh_sizes_reports_a_change_of_integer_size_only():
    layer = njet(2.1, "code", static_sizes=True, max_sigma=3.0)
    layer(np.zeros((1, 16, 16, 3), "float32"))
    subsample = layer.safe_subsample
    assert subsample.output_sizes == (14, 14)  # 16 / (2^2.1 / 4) = 14.9
    layer.log2_sigma.assign([math.log2(2.12)])  # 14.7: same integer size
    assert subsample.refresh_sizes() is False
    layer.log2_sigma.assign([math.log2(2.5)])  # 16 / 1.41 = 11.3
    assert subsample.refresh_sizes() is True and subsample.output_sizes == (11, 11)
    assert layer.compute_output_shape((1, 16, 16, 3)) == (1, 11, 11, 2)
    assert subsample.supports_jit and not SafeSubsample().supports_jit


# ------------------------------------------------ complexity and its gradient


def complexity_and_gradient(layer, definition):
    with tf.GradientTape() as tape:
        value = kr.complexity(layer, definition)
    return float(value), float(tape.gradient(value, layer.log2_sigma.value).numpy()[0])


def test_complexity_by_hand_code_rule():
    layer = njet(3.0, "code")
    layer(np.zeros((1, 32, 24, 3), "float32"))
    # q = s r / 2^sigma: 16 and 12. dq/ds = dq/dsigma * sigma ln 2 = -q sigma ln2^2.
    linear, d_linear = complexity_and_gradient(layer, "linear")
    area, d_area = complexity_and_gradient(layer, "area")
    assert linear == pytest.approx(28.0) and area == pytest.approx(192.0)
    assert d_linear == pytest.approx(-28.0 * 3.0 * LN2**2, rel=1e-5)
    assert d_area == pytest.approx(-2 * 192.0 * 3.0 * LN2**2, rel=1e-5)
    assert kr.full_complexity(layer, "linear") == 56.0
    assert kr.full_complexity(layer, "area") == 768.0
    assert layer.safe_subsample.learned_rates() == {"sigma": [3.0, 3.0]}


def test_complexity_by_hand_paper_rule_is_continuous_below_the_realised_size():
    layer = njet(1.0, "paper")
    layer(np.zeros((1, 32, 32, 3), "float32"))
    q = 32 * 2 ** -0.25  # 26.91, realised 26
    linear, d_linear = complexity_and_gradient(layer, "linear")
    assert linear == pytest.approx(2 * q, rel=1e-6)
    assert layer.safe_subsample.output_sizes == (26, 26)
    # dq/ds = -q ln2 / r * sigma ln2.
    assert d_linear == pytest.approx(-2 * q * LN2**2 / 4.0, rel=1e-5)


def test_code_rule_surrogate_has_no_gradient_below_log2_r():
    # 2^sigma <= r: the official rule does not subsample, whatever sigma.
    layer = njet(1.5, "code")
    layer(np.zeros((1, 16, 16, 3), "float32"))
    value, gradient = complexity_and_gradient(layer, "linear")
    assert value == 32.0 and gradient == 0.0


def test_complexity_counts_safe_subsample_next_to_resolution_layers():
    inputs = keras.Input((16, 16, 3))
    h = kr.ResolutionLayer(0.5, name="res")(inputs)  # 8 x 8
    h = njet(4.0, "paper")(h)  # 8 / 2 = 4
    model = keras.Model(inputs, h)
    assert [layer.name for layer in kr.complexity_layers(model)] == ["res", "njet_ss"]
    assert float(kr.complexity(model, "linear")) == pytest.approx(16 + 8)
    assert kr.full_complexity(model, "linear") == 32 + 16


@pytest.mark.parametrize(
    "rule, sigma, penalty",
    [("paper", 1.0, kr.QuadraticTarget(0.25, weight=100.0)), ("code", 2.5, kr.HingeCap(4.0, 0.2))],
)
def test_a_budget_acts_on_sigma(rule, sigma, penalty):
    x, y = random((8, 16, 16, 3)), np.arange(8) % 2
    inputs = keras.Input((16, 16, 3))
    layer = njet(sigma, rule, max_sigma=4.0)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(layer(inputs)))
    model = kr.ResolutionModel(inputs, outputs, penalty=penalty, complexity_definition="linear")
    with tf.GradientTape() as tape:
        _, loss = model.complexity_penalty_loss()
    gradient = float(tape.gradient(loss, layer.log2_sigma.value).numpy()[0])
    assert gradient < 0, gradient  # The budget wants a larger sigma (smaller maps).
    before = float(kr.complexity(model))
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(True))
    logger = kr.ComplexityLogger("linear")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger])
    assert layer.sigma_value > sigma
    assert float(kr.complexity(model)) < before
    logs = history.history
    assert logs["sigma/njet_ss/h"][-1] == pytest.approx(layer.sigma_value)
    assert logs["size/njet_ss/h"][-1] == layer.safe_subsample.output_sizes[0]
    assert logs["complexity_linear"][-1] == pytest.approx(float(kr.complexity(model)), abs=1e-4)


# ---------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"r": 0.0}, "`r`"), ({"r": -4.0}, "`r`"), ({"r": float("inf")}, "`r`"),
     ({"r": "four"}, "`r`"), ({"rule": "round"}, "`rule`")],
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        SafeSubsample(**kwargs)


def test_an_untied_layer_says_how_to_tie_it():
    with pytest.raises(ValueError, match="safe_subsample="):
        SafeSubsample()(np.zeros((1, 8, 8, 1), "float32"))
