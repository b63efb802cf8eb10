"""keras_resolution.NJetConv2D and gaussian_derivative_basis (issue 12, item 1):
the 1-D basis against SciPy's Gaussian derivative kernels, the 2-D basis,
the masked maximal-grid convolution against the exact-size one (SciPy
correlation), dL/ds against finite differences, the basis-first forward
(output and gradients) against the full-kernel convolution, the extent
tables of both rules, configs and saving, the optimizer factor, bad
arguments."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

import keras_resolution as kr
from keras_resolution import NJetConv2D
from keras_resolution import gaussian_derivative_basis
from keras_resolution.njet import basis_orders
from keras_resolution.njet import filter_half_width


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random(shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def scipy_kernel(sigma, order, half_width):
    """SciPy's Gaussian derivative kernel of `order` and radius `half_width`
    (float64): the response of `gaussian_filter1d` to a unit impulse."""
    impulse = np.zeros(2 * half_width + 1)
    impulse[half_width] = 1.0
    return ndimage.gaussian_filter1d(
        impulse, sigma, order=order, mode="constant", cval=0.0, radius=half_width
    )


# ----------------------------------------------------------- the 1-D basis


@pytest.mark.parametrize("sigma, half_width", [(1.0, 3), (1.3, 4), (0.6, 2), (2.7, 7), (4.0, 9)])
def test_1d_basis_is_sigma_power_times_scipy_gaussian_derivative(sigma, half_width):
    basis = numpy(gaussian_derivative_basis(sigma, 5, half_width, dtype="float64"))
    assert basis.shape == (6, 2 * half_width + 1) and basis.dtype == np.float64
    for m in range(6):
        expected = sigma**m * scipy_kernel(sigma, m, half_width)
        np.testing.assert_allclose(basis[m], expected, rtol=0, atol=1e-10, err_msg=f"m={m}")
    assert abs(basis[0].sum() - 1.0) < 1e-12  # Normalised over the truncated support.


def test_the_official_form_without_scale_normalisation_is_not_scipy():
    # The test above can fail: without sigma^m the order-3 basis at
    # sigma = 2.7 differs from SciPy's kernel by a factor 2.7^3.
    basis = numpy(gaussian_derivative_basis(2.7, 3, 7, dtype="float64"))
    assert np.max(np.abs(basis[3] - scipy_kernel(2.7, 3, 7))) > 1e-2


def test_basis_on_a_larger_grid_is_zero_outside_and_equal_inside():
    exact = numpy(gaussian_derivative_basis(1.3, 3, 4, dtype="float64"))
    grid = numpy(gaussian_derivative_basis(1.3, 3, tf.constant(4.0, "float64"), 9, "float64"))
    assert grid.shape == (4, 19)
    np.testing.assert_array_equal(grid[:, :5], 0.0)
    np.testing.assert_array_equal(grid[:, -5:], 0.0)
    np.testing.assert_allclose(grid[:, 5:-5], exact, rtol=0, atol=1e-15)


def test_2d_basis_number_and_order():
    assert basis_orders(0) == [(0, 0)]
    assert basis_orders(2) == [(0, 2), (0, 1), (0, 0), (1, 1), (1, 0), (2, 0)]
    for order in range(6):
        orders = basis_orders(order)
        assert len(orders) == len(set(orders)) == (order + 1) * (order + 2) // 2
        assert all(i + j <= order for i, j in orders)
    layer = NJetConv2D(5, order=3, max_sigma=1.0)  # A 7x7 grid: the exact size.
    layer(np.zeros((1, 8, 8, 2), "float32"))
    assert tuple(layer.alphas.shape) == (10, 2, 5) and layer.num_basis == 10
    # Coefficient f of basis_orders(3)[f] = (i, j) gives G^i along the rows
    # (height) times G^j along the columns (width), as the official einsum.
    g = numpy(gaussian_derivative_basis(1.0, 3, 3))
    for f, (i, j) in enumerate(basis_orders(3)):
        alphas = np.zeros((10, 2, 5), "float32")
        alphas[f, 0, 0] = 1.0
        layer.alphas.assign(alphas)
        np.testing.assert_allclose(kernel_of(layer)[:, :, 0, 0], np.outer(g[i], g[j]), atol=1e-7)


# ------------------------------------------------------------- the filters


def kernel_of(layer, size=None):
    """The layer's (exact-size) kernel, read from its impulse responses."""
    size = size or 2 * layer.max_half_width + 1
    channels = layer.alphas.shape[1]
    center = layer.max_half_width
    kernel = np.zeros((2 * center + 1, 2 * center + 1, channels, layer.filters))
    for c in range(channels):
        impulse = np.zeros((1, 2 * center + 1, 2 * center + 1, channels), "float32")
        impulse[0, center, center, c] = 1.0
        # Cross-correlation: the response to an impulse is the flipped kernel.
        kernel[:, :, c, :] = numpy(layer(impulse))[0, ::-1, ::-1, :]
    margin = (2 * center + 1 - size) // 2
    return kernel[margin: margin + size, margin: margin + size]


def test_one_hot_order_zero_coefficient_gives_a_kernel_summing_to_one():
    for order in (0, 2, 3):
        layer = NJetConv2D(1, order=order, init_log2_sigma=0.4)
        layer(np.zeros((1, 8, 8, 1), "float32"))
        alphas = np.zeros((layer.num_basis, 1, 1), "float32")
        alphas[basis_orders(order).index((0, 0))] = 1.0
        layer.alphas.assign(alphas)
        kernel = kernel_of(layer)[:, :, 0, 0]
        assert abs(kernel.sum() - 1.0) < 1e-6
        assert np.all(kernel >= 0)  # A Gaussian blur.


def exact_size_reference(x, alphas, sigma, order, half_width):
    """The official convolution with an exact (2f + 1)^2 filter, independent
    of the layer: SciPy kernels, scipy.ndimage.correlate with zero padding."""
    g = [sigma**m * scipy_kernel(sigma, m, half_width) for m in range(order + 1)]
    basis = np.stack([np.outer(g[i], g[j]) for i, j in basis_orders(order)])
    kernel = np.einsum("fhw,fco->hwco", basis, alphas.astype("float64"))
    out = np.zeros((*x.shape[:3], alphas.shape[2]))
    for n in range(x.shape[0]):
        for o in range(alphas.shape[2]):
            for c in range(x.shape[3]):
                out[n, :, :, o] += ndimage.correlate(
                    x[n, :, :, c].astype("float64"), kernel[:, :, c, o], mode="constant"
                )
    return out


@pytest.mark.parametrize(
    "log2_sigma, rule, order",
    [(0.0, "code", 3), (0.0, "paper", 3), (0.6, "code", 2), (-0.8, "paper", 1), (1.4, "code", 3)],
)
def test_masked_maximal_grid_convolution_equals_the_exact_size_convolution(log2_sigma, rule, order):
    x = random((2, 11, 9, 3))
    layer = NJetConv2D(4, order=order, init_log2_sigma=log2_sigma, size_rule=rule)
    y = numpy(layer(x))
    sigma = layer.sigma_value
    assert layer.half_width < layer.max_half_width  # The grid really is larger.
    expected = exact_size_reference(x, numpy(layer.alphas), sigma, order, layer.half_width)
    assert y.shape == expected.shape == (2, 11, 9, 4)
    error = np.max(np.abs(y - expected)) / np.max(np.abs(expected))
    assert error < 2e-6, error
    # The outer taps are exactly zero: the kernel has the exact size.
    kernel = kernel_of(layer)
    f, M = layer.half_width, layer.max_half_width
    inside = np.zeros(kernel.shape[:2], bool)
    inside[M - f: M + f + 1, M - f: M + f + 1] = True
    assert np.all(kernel[~inside] == 0.0)
    assert np.all(np.abs(kernel[inside]).sum(axis=(-1, -2)) > 0)


def test_channels_first_and_bias():
    x = random((2, 10, 10, 3))
    last = NJetConv2D(4, order=2, use_bias=True, bias_initializer="ones")
    first = NJetConv2D(4, order=2, use_bias=True, data_format="channels_first")
    y_last = numpy(last(x))
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    y_first = np.transpose(numpy(first(np.transpose(x, (0, 3, 1, 2)))), (0, 2, 3, 1))
    np.testing.assert_allclose(y_first, y_last, atol=1e-5)
    no_bias = NJetConv2D(4, order=2)
    no_bias(x)
    no_bias.set_weights(last.get_weights()[:2])
    np.testing.assert_allclose(y_last - numpy(no_bias(x)), 1.0, atol=1e-5)


# ---------------------------------------------------------------- gradient


@pytest.mark.parametrize("log2_sigma, rule", [(0.3, "code"), (0.3, "paper"), (-0.6, "code")])
def test_sigma_gradient_equals_central_finite_differences(log2_sigma, rule):
    x = random((2, 9, 9, 2), dtype="float64")
    layer = NJetConv2D(3, order=3, init_log2_sigma=log2_sigma, size_rule=rule, dtype="float64")
    weights = random((2, 9, 9, 3), seed=5, dtype="float64")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * weights)
    gradient = float(tape.gradient(loss, layer.log2_sigma.value).numpy()[0])
    half_width = layer.half_width
    eps = 1e-5
    values = []
    for s in (log2_sigma + eps, log2_sigma - eps):
        layer.log2_sigma.assign([s])
        assert layer.half_width == half_width  # The extent does not jump.
        values.append(float(np.sum(numpy(layer(x)) * weights)))
    expected = (values[0] - values[1]) / (2 * eps)
    assert abs(expected) > 1e-1, expected
    assert abs(gradient - expected) <= 1e-6 * abs(expected), (gradient, expected)


def test_gradients_are_finite_at_the_smallest_sigma_on_the_largest_grid():
    # sigma = 1/4 on the grid of sigma = 4 (half-width 9): Hermite values
    # outside the support would be huge; they are masked before, not after.
    layer = NJetConv2D(2, order=4, init_log2_sigma=-2.0, min_sigma=0.25)
    x = random((1, 12, 12, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, [layer.log2_sigma.value, layer.alphas.value])
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    assert grads[0].numpy()[0] != 0.0


# ------------------------------------------------- the basis-first forward


def full_kernel_output(layer, x):
    """The layer's output as the official code computes it: one `ops.conv`
    with the full filter `kernel()` (what `call` computed before it went
    basis-first), after the safe subsampling, with the bias."""
    if layer.safe_subsample is not None:
        x = layer.safe_subsample(x)
    channels_first = layer.data_format == "channels_first"
    if channels_first:
        x = keras.ops.transpose(x, (0, 2, 3, 1))
    y = keras.ops.conv(x, layer.kernel(), padding="same")
    if layer.bias is not None:
        y = y + layer.bias
    return keras.ops.transpose(y, (0, 3, 1, 2)) if channels_first else y


def njet_case(order, log2_sigma, data_format, shape, dtype="float32", **kwargs):
    """A layer with 5 filters, built for `shape` (channels last) with random
    alphas and bias, and a random input of that shape in `data_format`."""
    layer = NJetConv2D(5, order=order, init_log2_sigma=log2_sigma, use_bias=True,
                       data_format=data_format, dtype=dtype, **kwargs)
    x = random(shape, seed=3, dtype=dtype)
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    layer.build(x.shape)
    layer.alphas.assign(random(layer.alphas.shape, seed=1, dtype=dtype))
    layer.bias.assign(random(layer.bias.shape, seed=2, dtype=dtype))
    return layer, x


# s = -2 (sigma = 1/4, the smallest: half-width 1), 0.3 (half-width 3), 1.3
# (6) and 2 (sigma = 4, the largest: half-width 9, the grid's); maps of odd
# and even sizes, smaller than the 19x19 grid.
SIGMAS = (-2.0, 0.3, 1.3, 2.0)
SHAPES = ((2, 11, 8, 3), (1, 6, 13, 3))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_basis_first_output_equals_the_full_kernel_convolution(order, data_format):
    half_widths = []
    for log2_sigma in SIGMAS:
        for shape in SHAPES:
            layer, x = njet_case(order, log2_sigma, data_format, shape)
            y, expected = numpy(layer(x)), numpy(full_kernel_output(layer, x))
            assert y.shape == expected.shape == layer.compute_output_shape(x.shape)
            error = np.max(np.abs(y - expected)) / np.max(np.abs(expected))
            assert error < 1e-5, (log2_sigma, shape, error)
        half_widths.append(layer.half_width)
    assert half_widths == [1, 3, 6, 9] and layer.max_half_width == 9


def test_basis_first_output_after_safe_subsampling():
    # sigma a hair below 3 (r = 4, code rule): 20x17 -> int(20 / 2) x int(17 / 2).
    layer, x = njet_case(2, math.log2(3.0) - 1e-6, "channels_last", (2, 20, 17, 3),
                         safe_subsample=kr.SafeSubsample(rule="code"))
    y, expected = numpy(layer(x)), numpy(full_kernel_output(layer, x))
    assert y.shape == expected.shape == (2, 10, 8, 5)
    assert np.max(np.abs(y - expected)) / np.max(np.abs(expected)) < 1e-5


@pytest.mark.parametrize(
    "order, log2_sigma, data_format",
    [(0, 0.3, "channels_last"), (1, -1.0, "channels_first"), (2, 1.3, "channels_last"),
     (3, 0.3, "channels_first"), (3, 1.9, "channels_last")],
)
def test_basis_first_gradients_equal_the_full_kernel_ones(order, log2_sigma, data_format):
    """dL/dx, dL/dalphas, dL/ds and dL/dbias of the basis-first forward are
    those of the full-kernel convolution, in float64 to rounding and in
    float32 to 1e-5 of their scale; dL/ds is also central finite
    differences of the basis-first forward (float64)."""
    for dtype, tolerance in (("float32", 1e-5), ("float64", 1e-12)):
        layer, x = njet_case(order, log2_sigma, data_format, (2, 9, 12, 3), dtype)
        x = tf.constant(x)
        target = random(layer.compute_output_shape(x.shape), seed=4, dtype=dtype)
        variables = [x, layer.alphas.value, layer.log2_sigma.value, layer.bias.value]

        def loss_of(forward):
            return tf.reduce_sum((forward(x) - target) ** 2)

        gradients = []
        for forward in (layer, lambda x: full_kernel_output(layer, x)):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = loss_of(forward)
            gradients.append([g.numpy() for g in tape.gradient(loss, variables)])
        for name, got, expected in zip(("x", "alphas", "log2_sigma", "bias"), *gradients):
            error = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
            assert error < tolerance, (dtype, name, error)
    # The float64 layer: finite differences at a fixed half-width.
    half_width, eps, values = layer.half_width, 1e-5, []
    for s in (log2_sigma + eps, log2_sigma - eps):
        layer.log2_sigma.assign([s])
        assert layer.half_width == half_width
        values.append(float(loss_of(layer)))
    expected = (values[0] - values[1]) / (2 * eps)
    gradient = float(gradients[0][2][0])
    assert abs(expected) > 1e-1 and abs(gradient - expected) <= 1e-6 * abs(expected)


# ------------------------------------------------------------- size tables

# Filter size 2f + 1 by hand, for k = 2: code f = ceil(2 sigma + 0.5),
# paper f = ceil(2 sigma).
EXTENT_TABLE = [
    # sigma, code, paper
    (0.5, 5, 3),
    (1.0, 7, 5),
    (1.2, 7, 7),
    (1.3, 9, 7),
    (1.5, 9, 7),
    (2.0, 11, 9),
    (3.0, 15, 13),
    (4.0, 19, 17),
]


@pytest.mark.parametrize("sigma, code, paper", EXTENT_TABLE)
def test_filter_size_table(sigma, code, paper):
    assert 2 * filter_half_width(sigma, 2.0, "code") + 1 == code
    assert 2 * filter_half_width(sigma, 2.0, "paper") + 1 == paper
    for rule, size in (("code", code), ("paper", paper)):
        layer = NJetConv2D(1, order=1, init_log2_sigma=math.log2(sigma), size_rule=rule)
        layer(np.zeros((1, 4, 4, 1), "float32"))
        assert layer.kernel_size == size
        # The realised support, from the impulse response, in the layer's arithmetic.
        support = np.abs(kernel_of(layer)[:, :, 0, 0]) > 0
        assert support.any(axis=0).sum() == support.any(axis=1).sum() == size, (rule, sigma)


def test_grid_follows_max_sigma_and_k():
    assert NJetConv2D(1).max_half_width == 9  # ceil(2 * 4 + 0.5)
    assert NJetConv2D(1, size_rule="paper").max_half_width == 8
    assert NJetConv2D(1, max_sigma=2.0, k=3.0).max_half_width == 7  # ceil(6.5)
    # s is bounded by float32(log2 6), whose 2^s is 6.0000005: the paper's
    # ceil(2 sigma) is 13 there, not 12, and the grid must hold it.
    layer = NJetConv2D(1, order=0, size_rule="paper", max_sigma=6.0,
                       init_log2_sigma=math.log2(6.0))
    layer(np.zeros((1, 4, 4, 1), "float32"))
    assert layer.half_width == layer.max_half_width == 13
    assert np.all(kernel_of(layer)[:, :, 0, 0] != 0)  # The whole support, not truncated.


# ------------------------------------------------- bounds, training, optimizer


def test_sigma_stays_within_its_bounds_after_a_large_step():
    layer = NJetConv2D(2, order=1, min_sigma=0.5, max_sigma=2.0)
    x = random((1, 8, 8, 1))
    layer(x)
    keras.optimizers.SGD(100.0).apply_gradients([(-tf.ones((1,)), layer.log2_sigma)])
    assert layer.sigma_value == 2.0 and layer.kernel_size == 11
    keras.optimizers.SGD(100.0).apply_gradients([(tf.ones((1,)), layer.log2_sigma)])
    assert layer.sigma_value == 0.5
    assert np.isfinite(numpy(layer(x))).all()


def test_fit_learns_sigma_and_learn_sigma_false_freezes_it():
    x = random((8, 12, 12, 2))
    y = np.arange(8) % 2
    inputs = keras.Input((12, 12, 2))
    h = NJetConv2D(4, order=2, max_sigma=2.0, name="njet")(inputs)
    h = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(h))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    s = float(numpy(model.get_layer("njet").log2_sigma)[0])
    assert abs(s) > 1e-4, s
    frozen = NJetConv2D(4, learn_sigma=False)
    frozen(x)
    assert [v.path for v in frozen.trainable_variables] == [frozen.alphas.path]


def test_scale_learning_rate_factor_applies_to_log2_sigma():
    layer = NJetConv2D(2, order=1)
    layer(random((1, 8, 8, 1)))
    assert kr.is_scale_variable(layer.log2_sigma)
    assert not kr.is_scale_variable(layer.alphas)
    grads = [tf.ones_like(layer.alphas.value), tf.ones_like(layer.log2_sigma.value)]
    steps = []
    for optimizer in (keras.optimizers.SGD(0.1), kr.ResolutionSGD(0.1, scale_learning_rate_factor=0.25)):
        alphas, s = numpy(layer.alphas), numpy(layer.log2_sigma)
        optimizer.apply_gradients(zip(grads, [layer.alphas, layer.log2_sigma]))
        steps.append((numpy(layer.alphas) - alphas, numpy(layer.log2_sigma) - s))
    np.testing.assert_allclose(steps[1][0], steps[0][0], rtol=1e-5)
    np.testing.assert_allclose(steps[1][1], 0.25 * steps[0][1], rtol=1e-5)


def test_mixed_float16_computes_in_float16_and_keeps_a_float32_sigma():
    x = random((2, 10, 10, 3))
    reference = NJetConv2D(4, order=3, init_log2_sigma=0.3, max_sigma=2.0)
    expected = numpy(reference(x))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = NJetConv2D(4, order=3, init_log2_sigma=0.3, max_sigma=2.0)
        layer(x)
        layer.set_weights(reference.get_weights())
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, "float32"))
        gradient = tape.gradient(loss, layer.log2_sigma.value).numpy()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == "float16" and layer.log2_sigma.dtype == "float32"
    error = np.max(np.abs(numpy(y).astype("float32") - expected)) / np.max(np.abs(expected))
    assert error < 5e-3, error
    assert np.isfinite(gradient).all() and gradient[0] != 0.0


# ------------------------------------------------------ config and saving


def test_config_round_trip_and_save_load(tmp_path):
    layer = NJetConv2D(
        4, order=2, k=1.5, init_log2_sigma=0.5, min_sigma=0.5, max_sigma=3.0,
        size_rule="paper", use_bias=True, alpha_regularizer=keras.regularizers.L2(1e-3),
        safe_subsample=kr.SafeSubsample(r=2.0, rule="paper", name="ss"), name="njet",
    )
    config = layer.get_config()
    assert NJetConv2D.from_config(config).get_config() == config
    inputs = keras.Input((12, 12, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(outputs))
    x, y = random((8, 12, 12, 3)), np.arange(8) % 2
    model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    s = float(numpy(layer.log2_sigma)[0])
    assert s != 0.5
    path = str(tmp_path / "njet.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    njet = loaded.get_layer("njet")
    # With the sublayer's build config, whose shape JSON turns into a list.
    assert json.loads(json.dumps(njet.get_config())) == json.loads(json.dumps(layer.get_config()))
    assert float(numpy(njet.log2_sigma)[0]) == s
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)
    assert kr.is_scale_variable(njet.log2_sigma)
    assert njet.safe_subsample.source() is njet
    assert njet.safe_subsample.output_sizes == layer.safe_subsample.output_sizes


# ---------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"order": -1}, "`order`"),
        ({"order": 1.5}, "`order`"),
        ({"min_sigma": 2.0, "max_sigma": 1.0}, "`min_sigma`"),
        ({"max_sigma": float("inf")}, "`max_sigma`"),
        ({"min_sigma": float("nan")}, "`min_sigma`"),
        ({"min_sigma": 0.0}, "`min_sigma`"),
        ({"init_log2_sigma": 3.0}, "`init_log2_sigma`"),
        ({"init_log2_sigma": float("nan")}, "`init_log2_sigma`"),
        ({"k": 0.0}, "`k`"),
        ({"size_rule": "exact"}, "`size_rule`"),
        ({"filters": 0}, "`filters`"),
        ({"safe_subsample": "yes"}, "`safe_subsample`"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    kwargs = {"filters": 2, **kwargs}
    with pytest.raises(ValueError, match=argument):
        NJetConv2D(**kwargs)


@pytest.mark.parametrize(
    "args, argument",
    [((1.0, -1, 3), "`order`"), ((0.0, 2, 3), "`sigma`"), ((float("inf"), 2, 3), "`sigma`"),
     ((1.0, 2, -1), "`half_width`"), ((1.0, 2, 5, 3), "`half_width`")],
)
def test_basis_bad_arguments_are_named(args, argument):
    with pytest.raises(ValueError, match=argument):
        gaussian_derivative_basis(*args)
