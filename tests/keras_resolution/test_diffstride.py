"""keras_resolution.DiffStride2D against a NumPy transcription of the official
`DiffStride.call` (google-research/diffstride, `diffstride/pooling.py`):
values for odd and even sizes, the official shapes, the DC gain, the stride's
lower bound under a large optimizer step, dL/dS against finite differences,
sizes in graphs and under XLA, configs and saving, bad arguments."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import DiffStride2D

RTOL = 2e-6  # Measured below 1e-6 relative; a wrong bin is off by 1e-2 or more.
CROSS_ENTROPY = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def official_diffstride(x, strides, smoothness=4.0, cropping=True, shared_stride=False,
                        dtype=np.float32):
    """The official DiffStride.call, channels_last, in NumPy.

    Thresholds in `dtype` (float32 as the official code; float64 for finite
    differences), the in-call `assign` of max(S, H / (H - R)), the mask on
    the `fftshift`ed vertical positions, `tf.where(mask > 0)` cropping and
    `irfft2` with its default size.
    """
    f = dtype
    x = np.transpose(np.asarray(x, np.float64), (0, 3, 1, 2))
    height, width = x.shape[2:]
    R = f(smoothness)
    min_vertical_stride = f(height) / (f(height) - R)
    min_horizontal_stride = f(width) / (f(width) - R)
    strides = np.asarray(strides, f)
    if shared_stride:
        vertical_stride = horizontal_stride = max(
            strides[0], min_vertical_stride, min_horizontal_stride
        )
    else:
        vertical_stride = max(strides[0], min_vertical_stride)
        horizontal_stride = max(strides[1], min_horizontal_stride)
    vertical_stride, horizontal_stride = max(vertical_stride, f(1)), max(horizontal_stride, f(1))
    strided_height = max(f(height) / vertical_stride, f(2))
    strided_width = max(f(width) / horizontal_stride, f(2))
    lower_height = strided_height / f(2)
    upper_width = strided_width / f(2) + f(1)
    horizontal_positions = np.arange(width // 2 + 1, dtype=f)
    vertical_positions = np.arange(height // 2 + height % 2, dtype=f)
    vertical_positions = np.concatenate([vertical_positions[height % 2:][::-1], vertical_positions])

    def mask(threshold, positions):
        return np.clip((f(1) / R) * (R + threshold - positions), 0.0, 1.0)

    horizontal_mask = mask(upper_width, horizontal_positions)
    vertical_mask = np.fft.fftshift(mask(lower_height, vertical_positions))
    output = np.fft.rfft2(x) * horizontal_mask[None, None, None, :]
    output = output * vertical_mask[None, None, :, None]
    if cropping:
        output = output[:, :, vertical_mask > 0][:, :, :, horizontal_mask > 0]
    return np.transpose(np.fft.irfft2(output), (0, 2, 3, 1))


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_close(actual, expected, rtol=RTOL):
    assert actual.shape == expected.shape
    error = np.max(np.abs(actual - expected)) / np.max(np.abs(expected))
    assert error < rtol, error


# --------------------------------------------------------------- values


SIZES = [(64, 64), (9, 9), (9, 10), (10, 9), (31, 31), (17, 23), (12, 7), (5, 6)]
STRIDES = [(2.0, 4.0), (1.3, 2.7), (1.0, 1.0), (3.0, 1.5), (7.0, 7.0)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("strides", STRIDES)
def test_values_equal_the_official_forward_pass(size, strides):
    x = random((2, *size, 3))
    for cropping in (True, False):
        layer = DiffStride2D(strides, cropping=cropping)
        expected = official_diffstride(x, strides, cropping=cropping)
        assert_close(numpy(layer(x)), expected)
        assert layer.compute_output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("size", [(15, 12), (16, 13)])
def test_shared_stride_and_channels_first(size):
    x = random((2, *size, 3))
    shared = DiffStride2D(1.7, shared_stride=True)
    assert_close(numpy(shared(x)), official_diffstride(x, (1.7, 1.7), shared_stride=True))
    assert tuple(shared.strides.shape) == (1,)
    first = DiffStride2D((1.6, 2.2), data_format="channels_first")
    y = first(np.transpose(x, (0, 3, 1, 2)))
    assert_close(np.transpose(numpy(y), (0, 2, 3, 1)), official_diffstride(x, (1.6, 2.2)))


def test_odd_heights_follow_the_official_fftshift_positions():
    # Odd H = 9 at stride 9: T = 1, so positions < 5 are kept. The official
    # positions of rows 0..8 are [1, 2, 3, 4, 4, 3, 2, 1, 0]: rows 0-3 and
    # 4-8 are kept (9 rows), and row 0 (DC) has position 1, not 0. A
    # symmetric min(k, H - k) convention would weight rows differently.
    layer = DiffStride2D((9.0, 1.0))
    x = random((1, 9, 16, 2))
    expected = official_diffstride(x, (9.0, 1.0))
    assert_close(numpy(layer(x)), expected)
    rows = kr.spectral_pooling.kept_rows(9, 4, 5)
    np.testing.assert_array_equal(
        numpy(kr.diffstride.vertical_positions(rows, 9)), [1, 2, 3, 4, 4, 3, 2, 1, 0]
    )


# --------------------------------------------------------------- shapes


def closed_form(height, width, strides, R=4.0):
    """h = min(H, 2 ceil(T_h + R) - H % 2), w = min(2 (W // 2), 2 ceil(T_w + R) - 2)."""
    s_h = max(strides[0], height / (height - R))
    s_w = max(strides[1], width / (width - R))
    t_h = max(height / s_h, 2) / 2
    t_w = max(width / s_w, 2) / 2 + 1
    return (
        min(height, 2 * math.ceil(t_h + R) - height % 2),
        min(2 * (width // 2), 2 * math.ceil(t_w + R) - 2),
    )


@pytest.mark.parametrize(
    "size, strides, expected",
    [
        ((64, 64), (2.0, 4.0), (40, 24)),  # The official test.
        ((31, 31), (2.0, 2.0), (23, 24)),  # Odd: height odd, width even.
        ((32, 32), (1.0, 1.0), (32, 32)),  # Clamped to 32 / 28.
        ((33, 33), (1.0, 1.0), (33, 32)),  # Width always even.
    ],
)
def test_official_shapes(size, strides, expected):
    layer = DiffStride2D(strides)
    y = layer(np.ones((1, *size, 2), "float32"))
    assert tuple(y.shape) == (1, *expected, 2)
    assert layer.output_sizes == expected


def test_shapes_follow_the_closed_form():
    for height in range(9, 40, 3):
        for strides in [(1.0, 1.0), (1.5, 2.5), (2.0, 2.0), (3.3, 1.7), (6.0, 9.0)]:
            layer = DiffStride2D(strides)
            shape = layer.compute_output_shape((1, height, height + 1, 1))
            assert shape[1:3] == closed_form(height, height + 1, strides), (height, strides)


def test_resnet18_size_chain_at_initialisation():
    # The official ResNet-18 on CIFAR: a DiffStride at stride 1 after the
    # stem, then one at stride 2 in each of stages 2-4.
    x = np.ones((1, 32, 32, 1), "float32")
    sizes = []
    for strides in [(1.0, 1.0), (2.0, 2.0), (2.0, 2.0), (2.0, 2.0)]:
        x = DiffStride2D(strides)(x)
        sizes.append(tuple(x.shape[1:3]))
    assert sizes == [(32, 32), (24, 24), (20, 20), (18, 18)]


def test_dc_gain_is_input_area_over_output_area():
    y = numpy(DiffStride2D((2.0, 4.0))(np.full((1, 64, 64, 1), 0.5, "float32")))
    np.testing.assert_allclose(y, 0.5 * 64 * 64 / (40 * 24), rtol=1e-5)  # 4.27 x 0.5


# --------------------------------------------------------- lower bound


@pytest.mark.parametrize("shared", [False, True])
def test_lower_bound_holds_after_a_large_negative_step(shared):
    layer = DiffStride2D(2.0, shared_stride=shared, lower_limit_stride=1.0)
    x = random((2, 16, 12, 2))
    layer(x)
    bound = max(16 / 12, 12 / 8) if shared else [16 / 12, 12 / 8]
    optimizer = keras.optimizers.SGD(learning_rate=100.0)
    optimizer.apply_gradients([(tf.ones_like(layer.strides), layer.strides)])
    expected = np.broadcast_to(bound, layer.strides.shape)
    np.testing.assert_allclose(numpy(layer.strides), expected, rtol=1e-6)
    # The forward pass is the official one, which clamps with `assign`.
    assert_close(numpy(layer(x)), official_diffstride(x, (0.5, 0.5), shared_stride=shared))


def test_call_clamps_input_sizes_other_than_the_built_ones():
    layer = DiffStride2D(1.2)
    layer(random((1, 32, 32, 2)))  # Built: bound 32 / 28 < 1.2.
    x = random((1, 10, 12, 2))  # Bounds 10 / 6 and 12 / 8, above 1.2.
    assert_close(numpy(layer(x)), official_diffstride(x, (1.2, 1.2)))
    np.testing.assert_allclose(numpy(layer.strides), [1.2, 1.2])  # No assign.


def test_upper_limit_is_a_constraint_too():
    layer = DiffStride2D(2.0, upper_limit_stride=3.0)
    layer(random((1, 16, 16, 1)))
    keras.optimizers.SGD(100.0).apply_gradients([(-tf.ones_like(layer.strides), layer.strides)])
    np.testing.assert_allclose(numpy(layer.strides), [3.0, 3.0])


# ---------------------------------------------------------------- gradient


def loss_weights(shape, seed=3):
    return random(shape, seed)


@pytest.mark.parametrize(
    "size, strides, cropping",
    [((16, 16), (1.7, 2.3), True), ((15, 13), (2.6, 1.9), True),
     ((64, 64), (2.1, 3.9), True), ((14, 11), (1.9, 2.2), False)],
)
def test_stride_gradient_equals_central_finite_differences(size, strides, cropping):
    x = random((2, *size, 3))
    layer = DiffStride2D(strides, cropping=cropping)
    weights = loss_weights(layer(x).shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * weights)
    gradient = tape.gradient(loss, layer.strides.value).numpy()
    eps = 1e-4
    expected = []
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = eps
        plus, minus = (
            official_diffstride(x, shifted, cropping=cropping, dtype=np.float64)
            for shifted in (np.add(strides, step), np.subtract(strides, step))
        )
        assert plus.shape == minus.shape == tuple(weights.shape)  # Same kept bins.
        expected.append(np.sum((plus - minus) * weights) / (2 * eps))
    assert np.all(np.abs(expected) > 1e-2), expected
    np.testing.assert_allclose(gradient, expected, rtol=2e-3, atol=1e-3)


def test_no_gradient_once_the_nominal_size_is_below_two():
    # H / S_h = 16 / 10 < 2: T_h = max(H / S_h, 2) / 2 no longer depends on S_h.
    layer = DiffStride2D((10.0, 2.0))
    x = random((1, 16, 16, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * loss_weights((1, 10, 16, 2)))
    gradient = tape.gradient(loss, layer.strides.value).numpy()
    assert gradient[0] == 0.0 and gradient[1] != 0.0


def test_gradient_flows_at_the_clamped_lower_bound():
    # As the official `assign`: the clamp is the identity for the gradient.
    layer = DiffStride2D(1.0)
    x = random((1, 12, 12, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * loss_weights((1, 12, 12, 2)))
    assert np.all(tape.gradient(loss, layer.strides.value).numpy() != 0.0)


# ----------------------------------------------------- sizes and training


def test_sizes_computed_in_a_tensorflow_graph():
    layer = DiffStride2D((1.8, 2.4))
    step = tf.function(
        lambda x: layer(x, training=True), input_signature=[tf.TensorSpec((None, None, None, 3))]
    )
    for size in [(19, 23), (16, 16), (64, 64)]:
        x = random((2, *size, 3))
        assert_close(step(x).numpy(), official_diffstride(x, (1.8, 2.4)))


def classifier(pooling, size=16):
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    # A nonlinearity after the pooling: GAP alone sees only the DC bin,
    # which the mask never touches, so its output would not depend on S.
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(pooling(h))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, outputs)


def test_fit_moves_the_strides():
    x, y = random((16, 16, 16, 3)), np.arange(16) % 3
    model = classifier(DiffStride2D(2.0, name="ds"))
    model.compile(keras.optimizers.SGD(0.1), CROSS_ENTROPY)
    assert model.jit_compile is False  # "auto": the layer does not support jit.
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    strides = numpy(model.get_layer("ds").strides)
    assert np.all(np.isfinite(strides)) and np.any(np.abs(strides - 2.0) > 1e-5), strides


def test_static_sizes_refuse_a_compiled_step_without_size_refresh():
    # Training with SizeRefresh under XLA and JAX jit: tests/backends.
    x, y = random((8, 16, 16, 3)), random((8, 3))
    model = classifier(DiffStride2D((1.9, 2.9), static_sizes=True))
    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=True)
    with pytest.raises(RuntimeError, match="SizeRefresh"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_without_static_sizes_jit_auto_picks_the_graph_path():
    model = classifier(DiffStride2D(2.0))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    assert model.jit_compile is False


# ------------------------------------------------------ config and saving


def test_config_round_trip_and_save_load(tmp_path):
    layer = DiffStride2D(
        (1.5, 2.5), smoothness=3.0, cropping=True, lower_limit_stride=1.1,
        upper_limit_stride=5.0, data_format="channels_last", name="ds",
    )
    config = layer.get_config()
    assert DiffStride2D.from_config(config).get_config() == config
    model = classifier(layer, size=12)
    x, y = random((8, 12, 12, 3)), np.arange(8) % 3
    model.compile(keras.optimizers.SGD(0.5), CROSS_ENTROPY)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = str(tmp_path / "ds.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(numpy(loaded.get_layer("ds").strides), numpy(layer.strides))
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)
    assert loaded.get_layer("ds").get_config() == config
    assert kr.is_scale_variable(loaded.get_layer("ds").strides)


# ---------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"strides": 0.9}, "`strides`"),
        ({"strides": (2.0, -1.0)}, "`strides`"),
        ({"strides": float("inf")}, "`strides`"),
        ({"strides": (2.0, float("nan"))}, "`strides`"),
        ({"smoothness": 0.0}, "`smoothness`"),
        ({"smoothness": -1.0}, "`smoothness`"),
        ({"smoothness": float("nan")}, "`smoothness`"),
        ({"data_format": "NHWC"}, "`data_format`"),
        ({"strides": (2.0, 3.0), "shared_stride": True}, "`strides`"),
        ({"lower_limit_stride": 0.5}, "`lower_limit_stride`"),
        ({"upper_limit_stride": float("inf")}, "`upper_limit_stride`"),
        ({"strides": 4.0, "upper_limit_stride": 3.0}, "`strides`"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        DiffStride2D(**kwargs)


@pytest.mark.parametrize("size", [(4, 16), (16, 3), (5, 5)])
def test_maps_too_small_for_the_ramp_are_refused(size):
    with pytest.raises(ValueError, match="`smoothness`"):
        DiffStride2D(smoothness=4.0 if size != (5, 5) else 5.0)(np.ones((1, *size, 1), "float32"))


# -------------------------------------------------------------- complexity


def test_complexity_by_hand_and_its_gradient():
    layer = DiffStride2D((2.0, 4.0))
    layer(np.ones((1, 64, 64, 1), "float32"))
    # T_h = 16, T_w = 9: q_h = 2 (16 + 4) = 40, q_w = 2 (9 + 4) - 2 = 24.
    with tf.GradientTape(persistent=True) as tape:
        linear = layer.complexity("linear")
        area = layer.complexity("area")
    assert float(linear) == 64.0 and float(area) == 960.0
    # dq/dS = -H / S^2: -16 and -4.
    np.testing.assert_allclose(tape.gradient(linear, layer.strides.value).numpy(), [-16.0, -4.0])
    np.testing.assert_allclose(
        tape.gradient(area, layer.strides.value).numpy(), [-16.0 * 24, -4.0 * 40]
    )
    assert layer.full_complexity("linear") == 128.0
    assert layer.full_complexity("area") == 4096.0
    assert layer.learned_rates() == {"stride": [2.0, 4.0]}


def test_complexity_is_continuous_below_the_realised_size():
    layer = DiffStride2D(2.0)
    layer(np.ones((1, 31, 31, 1), "float32"))
    # T_h = 7.75: 2 (11.75) - 1 = 22.5 (realised 23); T_w = 8.75: 23.5 (24).
    np.testing.assert_allclose(float(layer.complexity("linear")), 22.5 + 23.5)
    assert layer.output_sizes == (23, 24)
    clipped = DiffStride2D(1.0)
    clipped(np.ones((1, 9, 9, 1), "float32"))
    assert float(clipped.complexity("linear")) == 9 + 8  # At most H and 2 (W // 2).


# ---------------------------------------------------- one instance, two paths


def test_one_instance_on_two_paths_shares_its_strides():
    # The official ResNet applies the same DiffStride after the main path's
    # conv and after the shortcut's 1x1 conv: one S, gradients from both.
    layer = DiffStride2D((1.7, 2.3))
    a, b = random((2, 16, 13, 3), 1), random((2, 16, 13, 3), 2)
    assert_close(numpy(layer(a)), official_diffstride(a, (1.7, 2.3)))
    assert_close(numpy(layer(b)), official_diffstride(b, (1.7, 2.3)))
    assert len(layer.trainable_variables) == 1
    weights = loss_weights(layer(a).shape)
    with tf.GradientTape(persistent=True) as tape:
        loss_a = tf.reduce_sum(layer(a) * weights)
        loss_b = tf.reduce_sum(layer(b) * weights)
        total = loss_a + loss_b
    separate = [tape.gradient(loss, layer.strides.value).numpy() for loss in (loss_a, loss_b)]
    np.testing.assert_allclose(
        tape.gradient(total, layer.strides.value).numpy(), separate[0] + separate[1], rtol=1e-5
    )
    assert np.all(np.abs(separate[0] - separate[1]) > 1e-3)  # Two different contributions.


def test_mixed_float16_computes_in_float16_and_keeps_float32_strides():
    x = random((2, 16, 13, 3))
    weights = loss_weights((2, 16, 12, 3))
    reference_layer = DiffStride2D((1.7, 2.3))
    with tf.GradientTape() as tape:
        reference = reference_layer(x)
        reference_loss = tf.reduce_sum(reference * weights)
    reference_gradient = tape.gradient(reference_loss, reference_layer.strides.value).numpy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = DiffStride2D((1.7, 2.3))
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, "float32") * weights)
        gradient = tape.gradient(loss, layer.strides.value).numpy()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == "float16" and layer.strides.dtype == "float32"
    assert_close(numpy(y).astype("float32"), numpy(reference), rtol=5e-3)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=2e-2)
