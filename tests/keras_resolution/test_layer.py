"""keras_resolution.ResolutionLayer on TensorFlow: sizes, the gradient dL/ds,
amplitude, bounds, and bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resolution import ResolutionLayer
from keras_resolution import dct_resize

SIZES = [1, 2, 3, 7, 16, 33, 40]
SCALES = [0.1, 0.37, 0.5, 1.0, 1.3, 2.0, 3.9]


def expected_size(d_in, s, min_size=1, max_size=None):
    """ceil(d_in * s) in float32, as the layer computes it, then clipped."""
    q = np.float32(d_in) * np.float32(s)
    size = max(int(np.ceil(q)), min_size)
    return size if max_size is None else min(size, max_size)


def spatial_shape(y, data_format="channels_last"):
    shape = tuple(y.shape)
    return shape[2:] if data_format == "channels_first" else shape[1:-1]


# ------------------------------------------------------------------- sizes


@pytest.mark.parametrize("s", SCALES)
def test_output_size_is_ceil_of_q_1d_eager(s):
    for d in SIZES:
        y = ResolutionLayer(s)(tf.ones((2, d, 3)))
        assert spatial_shape(y) == (expected_size(d, s),), (d, s)


@pytest.mark.parametrize("s", SCALES)
def test_output_size_is_ceil_of_q_2d_eager(s):
    scales = (s, SCALES[-1 - SCALES.index(s)])  # a different scale per axis
    for h, w in zip(SIZES, reversed(SIZES)):
        y = ResolutionLayer(list(scales))(tf.ones((1, h, w, 2)))
        expected = (expected_size(h, scales[0]), expected_size(w, scales[1]))
        assert spatial_shape(y) == expected, (h, w, scales)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("s", SCALES)
def test_output_size_is_ceil_of_q_in_tf_function_with_dynamic_sizes(rank, s):
    """Sizes only known when the graph runs: one trace, every input size."""
    layer = ResolutionLayer(s)
    spec = tf.TensorSpec((None,) * (rank + 1) + (2,))
    layer.build(spec.shape)  # variables exist before tracing: one trace
    resize = tf.function(layer, input_signature=[spec])
    for d in SIZES:
        other = SIZES[-1 - SIZES.index(d)]
        x = tf.random.normal((1, d, 2) if rank == 1 else (1, d, other, 2))
        y = resize(x)
        expected = tuple(expected_size(n, s) for n in x.shape[1:-1])
        assert spatial_shape(y) == expected, (x.shape, s)
        # Same numbers as an eager layer, whose sizes are Python ints and
        # whose basis matrices are cached float64 constants (float32 noise).
        eager = ResolutionLayer(s)(x).numpy()
        np.testing.assert_allclose(y.numpy(), eager, rtol=1e-4, atol=1e-4)
    assert resize.experimental_get_tracing_count() == 1


def test_input_of_length_one_works_in_both_directions():
    x = tf.fill((2, 1, 1, 4), 3.0)
    for s, size in ((1.0, 1), (0.3, 1), (2.0, 2), (3.9, 4)):
        y = ResolutionLayer(s, taper=1.0)(x)
        assert spatial_shape(y) == (size, size)
        assert np.all(np.isfinite(y.numpy()))
    # A length-1 constant is a constant at any size once q >= taper.
    y = ResolutionLayer(3.9, taper=1.0)(x)
    assert np.max(np.abs(y.numpy() - 3.0)) < 1e-5


def test_sizes_that_round_to_one_work_and_keep_a_gradient_path():
    layer = ResolutionLayer([0.1, 0.01])
    x = tf.random.normal((2, 7, 40, 3))
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(y)
    assert spatial_shape(y) == (1, 1)
    grad = tape.gradient(loss, layer.scale)
    assert grad is not None and np.all(np.isfinite(grad.numpy()))


def test_min_size_clips_the_output_size():
    assert spatial_shape(ResolutionLayer(0.1, min_size=3)(tf.ones((1, 40, 2)))) == (4,)
    assert spatial_shape(ResolutionLayer(0.1, min_size=3)(tf.ones((1, 10, 2)))) == (3,)
    # A layer reused on a smaller input clips there too.
    layer = ResolutionLayer(0.1, min_size=3)
    layer(tf.ones((1, 40, 2)))
    assert spatial_shape(layer(tf.ones((1, 10, 2)))) == (3,)


def test_max_size_clips_the_output_size():
    layer = ResolutionLayer(3.0, max_size=50)
    assert spatial_shape(layer(tf.ones((1, 10, 2)))) == (30,)
    assert spatial_shape(layer(tf.ones((1, 40, 2)))) == (50,)
    assert spatial_shape(ResolutionLayer(3.0, max_size=50)(tf.ones((1, 40, 2)))) == (50,)


def test_channels_first_equals_channels_last_transposed():
    x_last = tf.random.normal((2, 10, 12, 3))
    x_first = tf.transpose(x_last, (0, 3, 1, 2))
    for scales in ([0.6, 1.7], [2.0, 0.37]):
        y_last = ResolutionLayer(scales)(x_last)
        y_first = ResolutionLayer(scales, data_format="channels_first")(x_first)
        assert spatial_shape(y_first, "channels_first") == spatial_shape(y_last)
        np.testing.assert_allclose(
            tf.transpose(y_first, (0, 2, 3, 1)).numpy(), y_last.numpy(), atol=1e-5
        )
    y_last = ResolutionLayer(1.3)(tf.transpose(x_first[:, :, :, 0], (0, 2, 1)))
    y_first = ResolutionLayer(1.3, data_format="channels_first")(x_first[:, :, :, 0])
    np.testing.assert_allclose(tf.transpose(y_first, (0, 2, 1)).numpy(), y_last.numpy(), atol=1e-5)


def test_symbolic_output_shape_matches_the_eager_one():
    inputs = keras.Input((33, 16, 5))
    outputs = ResolutionLayer([0.37, 1.3])(inputs)
    assert tuple(outputs.shape) == (None, 13, 21, 5)
    model = keras.Model(inputs, outputs)
    assert tuple(model(tf.ones((2, 33, 16, 5))).shape) == (2, 13, 21, 5)


# ---------------------------------------------------------------- gradient


def loss_and_gradient(layer, x, weights):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(weights * layer(x))
    return float(loss), tape.gradient(loss, layer.scale).numpy()


def finite_difference(layer, x, weights, h=1e-6):
    """Central differences (L(s + h) - L(s - h)) / 2h per axis, in the
    layer's dtype (float64 in these tests)."""
    base = layer.scale.numpy()
    grad = []
    for i in range(base.shape[0]):
        step = np.zeros_like(base)
        step[i] = h
        layer.scale.assign(base + step)
        plus = float(tf.reduce_sum(weights * layer(x)))
        layer.scale.assign(base - step)
        minus = float(tf.reduce_sum(weights * layer(x)))
        layer.scale.assign(base)
        grad.append((plus - minus) / (2 * h))
    return np.array(grad)


def make_gradient_case(transform, rank, s, gradient, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 32, 3) if rank == 1 else (2, 24, 20, 2)
    # Offsets keep q = d_in * s away from integers (the kinks of the taper
    # and the jumps of ceil).
    scales = [s + 0.0137 * (i + 1) for i in range(rank)]
    layer = ResolutionLayer(scales, transform=transform, gradient=gradient, dtype="float64")
    x = tf.constant(rng.normal(size=shape))
    weights = tf.constant(rng.normal(size=layer(x).shape))
    return layer, x, weights


@pytest.mark.parametrize("s", [0.5, 1.0, 1.05, 2.0])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("transform", ["dct", "dft"])
def test_exact_gradient_matches_finite_differences(transform, rank, s):
    layer, x, weights = make_gradient_case(transform, rank, s, "exact", seed=rank * 10 + int(s * 100))
    assert layer.scale.dtype == "float64"
    _, grad = loss_and_gradient(layer, x, weights)
    fd = finite_difference(layer, x, weights, h=1e-6)
    assert np.all(np.abs(fd) > 1e-3), fd  # non-zero in every regime
    # In float64 with h = 1e-6 the central difference is good to ~1e-9
    # (truncation h^2 and rounding eps / h); measured: at most 3.1e-9 over
    # these 16 cases. A wrong derivative term would show at 1e-2 or more.
    relative = np.abs(grad - fd) / np.abs(fd)
    assert np.all(relative < 1e-8), (grad, fd, relative)


@pytest.mark.parametrize("s", [0.5, 1.0, 1.05])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("transform", ["dct", "dft"])
def test_literal_gradient_matches_finite_differences_near_the_taper(transform, rank, s):
    layer, x, weights = make_gradient_case(transform, rank, s, "literal", seed=1)
    assert layer.scale.dtype == "float64"
    _, grad = loss_and_gradient(layer, x, weights)
    # With d_out fixed the literal loss is linear in s between the kinks of
    # the mask (q at an integer), so a central difference has no truncation
    # error: h = 1e-4 (q moves by at most 0.004, far from any kink) keeps
    # the rounding error small. Measured: at most 1.2e-10 over these cases.
    fd = finite_difference(layer, x, weights, h=1e-4)
    assert np.all(np.abs(fd) > 1e-2), fd
    relative = np.abs(grad - fd) / np.abs(fd)
    assert np.all(relative < 1e-8), (grad, fd, relative)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("transform", ["dct", "dft"])
def test_literal_gradient_is_exactly_zero_when_upsampling_beyond_the_taper(transform, rank):
    layer, x, weights = make_gradient_case(transform, rank, 2.0, "literal", seed=2)
    d_in = np.array(x.shape[1:-1], dtype=float)
    assert np.all(d_in * layer.scale.numpy() > d_in + layer.taper - 1)  # far upsampling
    _, grad = loss_and_gradient(layer, x, weights)
    assert np.all(grad == 0.0), grad
    # The exact mode, same forward sizes, same data: non-zero.
    exact = ResolutionLayer(
        layer.scale.numpy().tolist(), transform=transform, gradient="exact", dtype="float64"
    )
    _, exact_grad = loss_and_gradient(exact, x, weights)
    assert np.all(np.abs(exact_grad) > 1e-3), exact_grad


def test_exact_and_literal_forward_passes_agree_at_integer_q():
    x = tf.random.normal((2, 16, 12, 3), dtype=tf.float64)
    for scales in ([0.5, 0.25], [1.0, 1.0], [2.0, 1.5], [1.25, 3.0]):
        exact = ResolutionLayer(scales, gradient="exact", dtype="float64")(x)
        literal = ResolutionLayer(scales, gradient="literal", dtype="float64")(x)
        np.testing.assert_allclose(exact.numpy(), literal.numpy(), atol=1e-12)


def test_forward_pass_is_continuous_across_integer_q():
    """Exact mode: the output near an integer q = n from above is the output
    at q = n with one more, almost fully tapered, coefficient."""
    x = tf.random.normal((1, 20, 2), dtype=tf.float64)
    at = ResolutionLayer(0.75, dtype="float64")(x).numpy()  # q = 15
    above = ResolutionLayer(0.75 + 1e-9, dtype="float64")(x).numpy()  # d_out = 16
    assert above.shape[1] == at.shape[1] + 1
    np.testing.assert_allclose(above[:, :15], at, atol=1e-6)


# --------------------------------------------------------------- amplitude


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("d_in,s", [(16, 0.25), (16, 0.5), (16, 1.0), (16, 1.3), (16, 2.0), (10, 3.9), (40, 0.1), (7, 0.6)])
def test_constant_map_is_preserved_when_q_reaches_the_taper(transform, d_in, s):
    assert d_in * s >= 4.0 - 1e-6
    x1 = tf.fill((2, d_in, 3), -1.75)
    y1 = ResolutionLayer(s, transform=transform)(x1).numpy()
    assert np.max(np.abs(y1 + 1.75)) < 1e-5
    x2 = tf.fill((2, d_in, 9, 3), 2.5)
    y2 = ResolutionLayer([s, 1.0], transform=transform)(x2).numpy()
    assert np.max(np.abs(y2 - 2.5)) < 1e-5


def test_constant_shorter_than_the_taper_is_attenuated_by_the_first_weight():
    """Documented: for q < taper the paper's mask also scales the mean, by
    w_1 = clip(q / taper, 0, 1)."""
    y = ResolutionLayer(0.25)(tf.fill((1, 8, 1), 1.0)).numpy()  # q = 2, w_1 = 0.5
    np.testing.assert_allclose(y, 0.5, atol=1e-6)


def periodic_cosine(n, f, shape_tail=(3,)):
    t = np.arange(n) / n
    return np.cos(2 * np.pi * f * t + 0.3)


def dct_cosine(n, k):
    return np.cos(np.pi * k * (np.arange(n) + 0.5) / n)


@pytest.mark.parametrize("transform", ["dct", "dft"])
def test_low_frequency_cosine_survives_downsample_then_upsample(transform):
    n = 32
    # Frequency well below both the small size (16) and its taper region.
    signal = dct_cosine(n, 3) if transform == "dct" else periodic_cosine(n, 2)
    x = tf.constant(np.tile(signal[None, :, None], (2, 1, 4)), tf.float32)
    down = ResolutionLayer(0.5, transform=transform)(x)
    assert spatial_shape(down) == (16,)
    back = ResolutionLayer(2.0, transform=transform)(down).numpy()
    assert back.shape == x.shape
    assert np.max(np.abs(back - x.numpy())) < 1e-4
    if transform == "dct":
        fixed = dct_resize(dct_resize(x, (16,)), (32,)).numpy()
        assert np.max(np.abs(fixed - x.numpy())) < 1e-4
        # The learnable layer and the fixed resize agree on this band-limited map.
        np.testing.assert_allclose(down.numpy(), dct_resize(x, (16,)).numpy(), atol=1e-5)


@pytest.mark.parametrize("transform", ["dct", "dft"])
def test_low_frequency_image_survives_downsample_then_upsample_2d(transform):
    h, w = 32, 24
    if transform == "dct":
        image = dct_cosine(h, 2)[:, None] * dct_cosine(w, 3)[None, :]
    else:
        image = periodic_cosine(h, 1)[:, None] * periodic_cosine(w, 2)[None, :]
    x = tf.constant(np.tile(image[None, :, :, None], (1, 1, 1, 2)), tf.float32)
    down = ResolutionLayer(0.5, transform=transform)(x)
    assert spatial_shape(down) == (16, 12)
    back = ResolutionLayer(2.0, transform=transform)(down).numpy()
    assert np.max(np.abs(back - x.numpy())) < 1e-4
    if transform == "dct":
        fixed = dct_resize(dct_resize(x, (16, 12)), (32, 24)).numpy()
        assert np.max(np.abs(fixed - x.numpy())) < 1e-4


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), "big", None, [1.0, float("nan")]])
def test_bad_scale_is_a_value_error_naming_scale(scale):
    with pytest.raises(ValueError, match="`scale`"):
        ResolutionLayer(scale)


@pytest.mark.parametrize("taper", [0.0, -2.0, float("nan"), "wide"])
def test_bad_taper_is_a_value_error_naming_taper(taper):
    with pytest.raises(ValueError, match="`taper`"):
        ResolutionLayer(taper=taper)


def test_unknown_transform_and_gradient_name_the_argument():
    with pytest.raises(ValueError, match="`transform`"):
        ResolutionLayer(transform="wavelet")
    with pytest.raises(ValueError, match="`gradient`"):
        ResolutionLayer(gradient="straight-through")


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"min_size": 0}, "`min_size`"),
        ({"min_size": 2.5}, "`min_size`"),
        ({"max_size": 0}, "`max_size`"),
        ({"min_scale": -1.0}, "`min_scale`"),
        ({"max_scale": float("inf")}, "`max_scale`"),
        ({"min_scale": 2.0, "max_scale": 1.0}, "`min_scale`"),
        ({"data_format": "nhwc"}, "data_format"),
    ],
)
def test_bad_bounds_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ResolutionLayer(**kwargs)


def test_data_format_defaults_to_keras_image_data_format():
    assert ResolutionLayer(data_format="Channels_First").data_format == "channels_first"
    default = keras.config.image_data_format()
    try:
        keras.config.set_image_data_format("channels_first")
        assert ResolutionLayer().data_format == "channels_first"
    finally:
        keras.config.set_image_data_format(default)
    assert ResolutionLayer().data_format == default


def test_scale_outside_explicit_scale_bounds_is_refused_at_build():
    with pytest.raises(ValueError, match="`scale`"):
        ResolutionLayer(5.0)(tf.ones((1, 8, 2)))  # default max_scale = 4
    with pytest.raises(ValueError, match="`scale`"):
        ResolutionLayer(0.2, min_scale=0.5)(tf.ones((1, 8, 2)))


def test_wrong_number_of_scales_for_the_rank():
    with pytest.raises(ValueError, match="`scale`"):
        ResolutionLayer([1.0, 1.0, 1.0])(tf.ones((1, 8, 8, 2)))
    with pytest.raises(ValueError, match="`scale`"):
        ResolutionLayer([1.0, 1.0])(tf.ones((1, 8, 2)))


@pytest.mark.parametrize("shape", [(4, 8), (2, 4, 4, 4, 3), (5,)])
def test_wrong_input_rank_names_inputs(shape):
    with pytest.raises(ValueError, match="`inputs` of rank 3"):
        ResolutionLayer()(tf.ones(shape))
    with pytest.raises(ValueError, match="`inputs` of rank 3"):
        ResolutionLayer()(keras.Input(shape[1:]))


@pytest.mark.parametrize("shape", [(None, None, None), (None, None), (8, 8, None)])
def test_unknown_channel_count_names_inputs(shape):
    with pytest.raises(ValueError, match="channel dimension of `inputs`"):
        ResolutionLayer()(keras.Input(shape))


def test_channels_first_unknown_channel_count():
    with pytest.raises(ValueError, match="channel dimension of `inputs`"):
        ResolutionLayer(data_format="channels_first")(keras.Input((None, 8, 8)))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_non_float_input_names_inputs(dtype):
    with pytest.raises(ValueError, match="`inputs` must be a float tensor"):
        ResolutionLayer()(tf.zeros((2, 8, 8, 3), dtype=dtype))
    # Also when a functional model is built, not only when data arrives.
    with pytest.raises(ValueError, match="`inputs` must be a float tensor"):
        ResolutionLayer()(keras.Input((8, 8, 3), dtype=dtype))


# ----------------------------------------------------------------- bounds


def push_scale(layer, x, direction, learning_rate=1e6):
    """One SGD step with a huge learning rate on +/- the layer's complexity."""
    optimizer = keras.optimizers.SGD(learning_rate)
    with tf.GradientTape() as tape:
        layer(x)
        loss = direction * layer.complexity("linear")
    grads = tape.gradient(loss, [layer.scale])
    optimizer.apply_gradients(zip(grads, [layer.scale]))
    return layer.scale.numpy()


def test_optimizer_step_below_the_bound_is_clipped_to_min_size():
    x = tf.ones((1, 10, 20, 2))
    layer = ResolutionLayer(1.0, min_size=2)
    scale = push_scale(layer, x, +1.0)
    np.testing.assert_allclose(scale, [2 / 10, 2 / 20], rtol=1e-6)
    assert spatial_shape(layer(x)) == (2, 2)
    assert layer.output_sizes == (2, 2)


@pytest.mark.parametrize("d_in,min_size", [(21, 3), (13, 7), (19, 15), (21, 11), (11, 29)])
def test_lower_bound_gives_exactly_min_size_despite_float32_rounding(d_in, min_size):
    """float32(min_size / d_in) * d_in exceeds min_size for these pairs, so a
    naive bound would leave ceil(q) = min_size + 1 as the smallest size."""
    assert np.float32(d_in) * np.float32(min_size / d_in) > min_size  # the trap
    x = tf.ones((1, d_in, 2))
    layer = ResolutionLayer(3.9, min_size=min_size)
    push_scale(layer, x, +1.0)
    assert spatial_shape(layer(x)) == (min_size,)
    assert layer.output_sizes == (min_size,)


def test_optimizer_step_above_the_bound_is_clipped_to_max_scale_and_max_size():
    x = tf.ones((1, 10, 20, 2))
    layer = ResolutionLayer(1.0, max_scale=2.5, max_size=30)
    scale = push_scale(layer, x, -1.0)
    np.testing.assert_allclose(scale, [2.5, 30 / 20], rtol=1e-6)
    assert spatial_shape(layer(x)) == (25, 30)


def test_explicit_min_scale_bounds_the_step():
    x = tf.ones((1, 16, 2))
    layer = ResolutionLayer(1.0, min_scale=0.3)
    np.testing.assert_allclose(push_scale(layer, x, +1.0), [0.3], rtol=1e-6)
    assert spatial_shape(layer(x)) == (expected_size(16, 0.3),)


def test_fit_with_a_huge_step_stays_in_bounds_without_exception():
    import keras_resolution as kr

    inputs = keras.Input((12, 12, 2))
    resized = ResolutionLayer(1.0, min_size=3, name="r")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(resized)
    model = kr.ResolutionModel(inputs, outputs, penalty=kr.QuadraticTarget(0.01, weight=1e4))
    model.compile(keras.optimizers.SGD(1e4), "mse")
    x = np.ones((8, 12, 12, 2), "float32")
    history = model.fit(x, np.zeros((8, 2), "float32"), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    layer = model.get_layer("r")
    np.testing.assert_allclose(layer.scale.numpy(), [0.25, 0.25], rtol=1e-6)
    assert tuple(model(x).shape) == (8, 2)
    assert layer.output_sizes == (3, 3)
