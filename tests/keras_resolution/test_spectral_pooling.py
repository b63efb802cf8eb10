"""keras_resolution.FixedSpectralPooling2D: values against a NumPy
transcription of the official `FixedSpectralPooling` (google-research/
diffstride, `diffstride/pooling.py`), its shapes and even-height rule, the
DC gain, sizes known only in the graph, configs, saving and complexity."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import FixedSpectralPooling2D

# float32 matrices against float64 NumPy FFTs, outputs of unit size: the
# errors measured are below 1e-6 relative; a wrong bin or normalisation is
# off by 1e-2 or more.
RTOL = 2e-6


def official_fixed_spectral_pooling(x, strides):
    """The official FixedSpectralPooling.build/call, channels_last, in NumPy:
    sizes in float32 (`H // S`, height made even, both >= 2), the rows
    [:lower_height] and [upper_height:], columns [:upper_width], then
    irfft2 with fft_length (h, w)."""
    x = np.transpose(np.asarray(x, np.float64), (0, 3, 1, 2))
    height, width = x.shape[2:]
    strided_height = np.float32(height) // np.float32(strides[0])
    strided_height -= strided_height % 2
    strided_width = np.float32(width) // np.float32(strides[1])
    strided_height, strided_width = int(max(strided_height, 2)), int(max(strided_width, 2))
    lower_height = strided_height // 2
    upper_height = height - lower_height
    upper_width = strided_width // 2 + 1
    f_inputs = np.fft.rfft2(x)
    output = np.concatenate(
        [f_inputs[:, :, :lower_height, :upper_width], f_inputs[:, :, upper_height:, :upper_width]],
        axis=2,
    )
    result = np.fft.irfft2(output, s=(strided_height, strided_width))
    return np.transpose(result, (0, 2, 3, 1))


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_close(actual, expected):
    assert actual.shape == expected.shape
    error = np.max(np.abs(actual - expected)) / np.max(np.abs(expected))
    assert error < RTOL, error


@pytest.mark.parametrize("size", [(64, 64), (9, 9), (9, 10), (10, 9), (31, 17), (2, 2), (7, 7)])
@pytest.mark.parametrize("strides", [(2, 4), (1.3, 2.7), (1, 1), (3, 1.5)])
def test_values_equal_the_official_forward_pass(size, strides):
    x = random((2, *size, 3))
    expected = official_fixed_spectral_pooling(x, strides)
    assert_close(numpy(FixedSpectralPooling2D(strides)(x)), expected)


def test_channels_first_is_the_transposed_channels_last():
    x = random((2, 13, 11, 3))
    expected = official_fixed_spectral_pooling(x, (2, 3))
    y = FixedSpectralPooling2D((2, 3), data_format="channels_first")(np.transpose(x, (0, 3, 1, 2)))
    assert_close(np.transpose(numpy(y), (0, 2, 3, 1)), expected)


@pytest.mark.parametrize(
    "size, strides, expected",
    [
        ((64, 64), (2, 4), (32, 16)),  # The official test.
        ((18, 18), (2, 2), (8, 9)),  # Only the height is made even.
        ((7, 7), (2, 2), (2, 3)),
        ((3, 3), (4, 4), (2, 2)),  # At least 2.
        ((20, 20), (2.5, 2.5), (8, 8)),
    ],
)
def test_official_shapes(size, strides, expected):
    layer = FixedSpectralPooling2D(strides)
    y = layer(np.ones((1, *size, 2), "float32"))
    assert tuple(y.shape) == (1, *expected, 2)
    assert layer.compute_output_shape((1, *size, 2)) == (1, *expected, 2)
    assert layer.output_sizes == expected


def test_dc_gain_is_input_area_over_output_area():
    layer = FixedSpectralPooling2D((2, 4))
    y = numpy(layer(np.full((1, 64, 64, 1), 0.5, "float32")))
    np.testing.assert_allclose(y, 0.5 * 64 * 64 / (32 * 16), rtol=1e-5)


def test_sizes_known_only_in_the_graph():
    layer = FixedSpectralPooling2D((2, 3))
    step = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 3))])
    for size in [(19, 23), (16, 16)]:
        x = random((2, *size, 3))
        assert_close(step(x).numpy(), official_fixed_spectral_pooling(x, (2, 3)))
    assert layer.output_sizes == (8, 5)  # From the last recorded input, 16x16.


def test_functional_model_output_shape_and_unknown_sizes():
    inputs = keras.Input((None, None, 3))
    outputs = FixedSpectralPooling2D((2, 2))(inputs)
    assert tuple(outputs.shape) == (None, None, None, 3)
    outputs = FixedSpectralPooling2D((2, 2))(keras.Input((18, 18, 3)))
    assert tuple(outputs.shape) == (None, 8, 9, 3)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"strides": 0.5}, "`strides`"),
        ({"strides": (2, 0.9)}, "`strides`"),
        ({"strides": float("inf")}, "`strides`"),
        ({"strides": float("nan")}, "`strides`"),
        ({"strides": "two"}, "`strides`"),
        ({"strides": (2, 2, 2)}, "`strides`"),
        ({"data_format": "channels_middle"}, "`data_format`"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        FixedSpectralPooling2D(**kwargs)


def test_too_small_maps_are_refused():
    with pytest.raises(ValueError, match="`inputs`"):
        FixedSpectralPooling2D()(np.ones((1, 1, 8, 2), "float32"))


def test_config_round_trip_and_save_load(tmp_path):
    layer = FixedSpectralPooling2D((2, 1.5), data_format="channels_last", name="sp")
    config = layer.get_config()
    assert config["strides"] == (2.0, 1.5)
    assert FixedSpectralPooling2D.from_config(config).get_config() == config
    inputs = keras.Input((12, 12, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    x = random((2, 12, 12, 3))
    path = str(tmp_path / "sp.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(model(x)))
    assert loaded.get_layer("sp").get_config() == config


def test_complexity_is_the_realised_size_and_full_is_the_input():
    layer = FixedSpectralPooling2D((2, 4))
    layer(np.ones((1, 64, 64, 1), "float32"))
    assert float(layer.complexity("linear")) == 32 + 16
    assert float(layer.complexity("area")) == 32 * 16
    assert layer.full_complexity("linear") == 128.0
    assert layer.full_complexity("area") == 4096.0
    assert layer.learned_rates() == {}
    with pytest.raises(ValueError, match="`definition`"):
        layer.complexity("volume")
    assert isinstance(layer, kr.ComplexityLayer)
