"""keras_resolution.DCTResize and AlignToMaxShape as layers: exact shapes,
both data formats, values against an independent SciPy DCT, and config and
.keras round trips."""

import math

import keras
import numpy as np
import pytest
import scipy.fft

import keras_resolution as kr
from keras_resolution import AlignToMaxShape
from keras_resolution import DCTResize

# The resize matrices and products are float32: agreement with the float64
# SciPy reference is to float32 rounding of sums of up to 52 terms of unit
# size (measured: at most 1.6e-5). A wrong amplitude or a wrong coefficient
# count is off by 1e-2 or more.
ATOL = 5e-5


def scipy_dct_resize(x, size, axes):
    """Reference: per axis, orthonormal DCT-II, keep or zero-pad to d_out
    coefficients, orthonormal inverse at d_out, times sqrt(d_out / d_in)."""
    y = np.asarray(x, dtype=np.float64)
    for axis, d_out in zip(axes, size):
        d_in = y.shape[axis]
        if d_in == d_out:
            continue
        coefficients = scipy.fft.dct(y, type=2, axis=axis, norm="ortho")
        # idct's `n` truncates or zero-pads the coefficients to d_out.
        y = math.sqrt(d_out / d_in) * scipy.fft.idct(
            coefficients, type=2, n=d_out, axis=axis, norm="ortho"
        )
    return y


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------- DCTResize


@pytest.mark.parametrize(
    "shape, size, data_format, expected",
    [
        ((2, 37, 52, 8), (40, 40), "channels_last", (2, 40, 40, 8)),
        ((2, 10, 20, 3), (40, 5), "channels_last", (2, 40, 5, 3)),
        ((2, 3, 10, 20), (6, 25), "channels_first", (2, 3, 6, 25)),
        ((2, 12, 5), (7,), "channels_last", (2, 7, 5)),
        ((2, 5, 12), (30,), "channels_first", (2, 5, 30)),
        ((1, 9, 9, 2), (9, 1), "channels_last", (1, 9, 1, 2)),
    ],
)
def test_dct_resize_layer_shapes_and_values(shape, size, data_format, expected):
    x = random(shape)
    layer = DCTResize(size, data_format=data_format)
    y = numpy(layer(x))
    assert y.shape == expected
    assert layer.compute_output_shape(shape) == expected
    symbolic = layer(keras.Input(shape[1:], batch_size=shape[0]))
    assert tuple(symbolic.shape) == expected
    axes = (1, 2)[: len(size)] if data_format == "channels_last" else (2, 3)[: len(size)]
    np.testing.assert_allclose(y, scipy_dct_resize(x, size, axes), atol=ATOL, rtol=0)


def test_dct_resize_channels_first_is_channels_last_transposed():
    x = random((2, 11, 17, 3), seed=1)
    last = numpy(DCTResize((8, 23))(x))
    first = numpy(DCTResize((8, 23), data_format="channels_first")(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(first, (0, 2, 3, 1)), last, atol=1e-6, rtol=0)


def test_dct_resize_keeps_a_constant_and_passes_equal_sizes_through():
    constant = np.full((1, 13, 7, 2), 2.5, "float32")
    np.testing.assert_allclose(numpy(DCTResize((5, 20))(constant)), 2.5, atol=1e-5, rtol=0)
    x = random((1, 13, 7, 2), seed=2)
    np.testing.assert_array_equal(numpy(DCTResize((13, 7))(x)), x)


def test_dct_resize_bad_arguments_name_them():
    with pytest.raises(ValueError, match="`size`"):
        DCTResize((0, 4))
    with pytest.raises(ValueError, match="data_format"):
        DCTResize((4, 4), data_format="nchw")
    with pytest.raises(ValueError, match="`size`"):
        DCTResize((4, 4, 4))(random((1, 8, 8, 2)))  # one entry per spatial axis


# ------------------------------------------------------- AlignToMaxShape


def test_align_to_max_shape_layer_shapes_and_values():
    a, b, c = random((2, 20, 30, 4), 3), random((2, 25, 10, 4), 4), random((2, 25, 30, 2), 5)
    layer = AlignToMaxShape()
    outputs = [numpy(t) for t in layer([a, b, c])]
    assert [t.shape for t in outputs] == [(2, 25, 30, 4), (2, 25, 30, 4), (2, 25, 30, 2)]
    assert layer.compute_output_shape([a.shape, b.shape, c.shape]) == [
        (2, 25, 30, 4), (2, 25, 30, 4), (2, 25, 30, 2),
    ]  # fmt: skip
    for x, y in zip((a, b), outputs):
        np.testing.assert_allclose(y, scipy_dct_resize(x, (25, 30), (1, 2)), atol=ATOL, rtol=0)
    np.testing.assert_array_equal(outputs[2], c)  # already at the target
    symbolic = layer([keras.Input(t.shape[1:]) for t in (a, b, c)])
    assert [tuple(t.shape) for t in symbolic] == [
        (None, 25, 30, 4), (None, 25, 30, 4), (None, 25, 30, 2),
    ]  # fmt: skip


def test_align_to_max_shape_channels_first_and_1d():
    a, b = random((1, 3, 6, 16), 6), random((1, 3, 9, 4), 7)
    outputs = [numpy(t) for t in AlignToMaxShape(data_format="channels_first")([a, b])]
    assert [t.shape for t in outputs] == [(1, 3, 9, 16), (1, 3, 9, 16)]
    for x, y in zip((a, b), outputs):
        np.testing.assert_allclose(y, scipy_dct_resize(x, (9, 16), (2, 3)), atol=ATOL, rtol=0)
    short, long = random((2, 7, 3), 8), random((2, 19, 3), 9)
    outputs = [numpy(t) for t in AlignToMaxShape()([short, long])]
    assert [t.shape for t in outputs] == [(2, 19, 3), (2, 19, 3)]
    np.testing.assert_allclose(outputs[0], scipy_dct_resize(short, (19,), (1,)), atol=ATOL, rtol=0)
    np.testing.assert_array_equal(outputs[1], long)


# ------------------------------------------------------ config, save/load


@pytest.mark.parametrize(
    "layer",
    [
        DCTResize((6, 25), data_format="channels_first", name="resize"),
        DCTResize((7,), name="resize_1d"),
        AlignToMaxShape(data_format="channels_first", name="align"),
    ],
)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert config["data_format"] == layer.data_format
    if isinstance(layer, DCTResize):
        assert tuple(config["size"]) == layer.size
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer) and again.get_config() == config


def test_keras_file_round_trip(tmp_path):
    a_in = keras.Input((3, 10, 20))
    b_in = keras.Input((3, 14, 8))
    a, b = AlignToMaxShape(data_format="channels_first", name="align")([a_in, b_in])
    h = keras.layers.Concatenate(axis=1)([a, b])
    out = DCTResize((6, 25), data_format="channels_first", name="resize")(h)
    model = keras.Model([a_in, b_in], out)
    x = [random((2, 3, 10, 20), 10), random((2, 3, 14, 8), 11)]
    expected = numpy(model(x))
    assert expected.shape == (2, 6, 6, 25)
    path = str(tmp_path / "fixed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for name in ("align", "resize"):
        assert loaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    assert loaded.get_layer("resize").size == (6, 25)
    np.testing.assert_array_equal(numpy(loaded(x)), expected)
    # The reference, composed independently.
    aligned = [scipy_dct_resize(t, (14, 20), (2, 3)) for t in x]
    reference = scipy_dct_resize(np.concatenate(aligned, axis=1), (6, 25), (2, 3))
    np.testing.assert_allclose(expected, reference, atol=ATOL, rtol=0)


def test_layers_are_the_functions():
    x = random((1, 9, 12, 2), 12)
    np.testing.assert_array_equal(numpy(DCTResize((4, 30))(x)), numpy(kr.dct_resize(x, (4, 30))))
