"""keras_resolution.resize: fixed DCT resizes and branch alignment."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_resolution import align_to_max_shape
from keras_resolution import dct_resize
from keras_resolution import resize


def cosine_map(h, w, fy=1, fx=2, batch=2, channels=3):
    """A DCT basis image: cos(pi fy (i+1/2)/h) cos(pi fx (j+1/2)/w), exactly
    representable by the lowest DCT coefficients at any size > max(fy, fx)."""
    i = (np.arange(h) + 0.5) / h
    j = (np.arange(w) + 0.5) / w
    image = np.cos(np.pi * fy * i)[:, None] * np.cos(np.pi * fx * j)[None, :]
    return np.broadcast_to(image[None, :, :, None], (batch, h, w, channels)).astype("float32")


def test_dct_resize_exact_shapes():
    x = tf.ones((2, 10, 20, 3))
    assert tuple(dct_resize(x, (40, 5)).shape) == (2, 40, 5, 3)
    assert tuple(dct_resize(x, (1, 1)).shape) == (2, 1, 1, 3)
    assert tuple(dct_resize(tf.ones((4, 9, 6)), (13,)).shape) == (4, 13, 6)
    assert tuple(dct_resize(tf.ones((2, 3, 10, 20)), (7, 8), "channels_first").shape) == (2, 3, 7, 8)


def test_dct_resize_is_identity_when_size_is_equal():
    x = tf.random.normal((2, 10, 20, 3))
    np.testing.assert_array_equal(dct_resize(x, (10, 20)).numpy(), x.numpy())
    # One axis equal, the other resized: the equal axis is untouched.
    y = dct_resize(x, (10, 40))
    np.testing.assert_allclose(dct_resize(y, (10, 20)).numpy(), x.numpy(), atol=1e-5)


@pytest.mark.parametrize("size", [(1, 1), (3, 7), (10, 20), (33, 64), (64, 5)])
def test_dct_resize_preserves_a_constant(size):
    x = tf.fill((2, 10, 20, 3), 2.5)
    y = dct_resize(x, size).numpy()
    assert np.max(np.abs(y - 2.5)) < 1e-5


@pytest.mark.parametrize("h,w", [(16, 16), (10, 20), (7, 33)])
def test_dct_resize_round_trip_of_band_limited_map(h, w):
    x = cosine_map(h, w)
    up = dct_resize(x, (3 * h, 2 * w))
    # Upsampling evaluates the same cosines on the finer grid...
    np.testing.assert_allclose(up.numpy(), cosine_map(3 * h, 2 * w), atol=1e-5)
    # ...and truncating back returns the input.
    back = dct_resize(up, (h, w)).numpy()
    assert np.max(np.abs(back - x)) < 1e-5


def test_dct_resize_downsample_then_upsample_keeps_low_frequencies():
    x = cosine_map(32, 32, fy=2, fx=3)
    small = dct_resize(x, (8, 8))
    np.testing.assert_allclose(small.numpy(), cosine_map(8, 8, fy=2, fx=3), atol=1e-5)
    back = dct_resize(small, (32, 32)).numpy()
    assert np.max(np.abs(back - x)) < 1e-5


def test_dct_resize_matches_scipy_truncation():
    """Fixed resize == sqrt(d_out/d_in) * IDCT_{d_out}(first coefficients)."""
    import scipy.fft

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 12, 1)).astype("float64")
    for d_out in (5, 12, 20):
        coefficients = scipy.fft.dct(x[0, :, 0], norm="ortho")
        padded = np.zeros(d_out)
        m = min(12, d_out)
        padded[:m] = coefficients[:m]
        expected = math.sqrt(d_out / 12) * scipy.fft.idct(padded, norm="ortho")
        got = dct_resize(tf.constant(x, tf.float32), (d_out,)).numpy()[0, :, 0]
        np.testing.assert_allclose(got, expected, atol=2e-6)


def test_dct_resize_rejects_bad_sizes():
    x = tf.ones((2, 10, 20, 3))
    with pytest.raises(ValueError, match="`size`"):
        dct_resize(x, (10,))
    with pytest.raises(ValueError, match="`size`"):
        dct_resize(x, (0, 5))


def test_dct_resize_with_tensor_sizes_inside_tf_function():
    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3)), tf.TensorSpec((2,), tf.int32)])
    def resize_to(x, size):
        return dct_resize(x, (size[0], size[1]))

    x = cosine_map(12, 9)
    y = resize_to(x, tf.constant([24, 18]))
    assert tuple(y.shape) == (2, 24, 18, 3)
    np.testing.assert_allclose(y.numpy(), cosine_map(24, 18), atol=1e-5)
    z = resize_to(x, tf.constant([6, 5]))
    assert tuple(z.shape) == (2, 6, 5, 3)


def test_dct_resize_skips_equal_sizes_known_only_in_the_graph():
    # Sizes that follow learned scales are tensors: an axis whose size is
    # already the target is left exactly as it is, and so is its gradient.
    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3)), tf.TensorSpec((2,), tf.int32)])
    def resize_with_gradient(x, size):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = dct_resize(x, (size[0], size[1]))
            loss = tf.reduce_sum(y * tf.cos(y))
        return y, tape.gradient(loss, x)

    x = tf.random.normal((2, 12, 9, 3))
    y, grad = resize_with_gradient(x, tf.constant([12, 9]))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(grad.numpy(), (tf.cos(x) - x * tf.sin(x)).numpy(), rtol=1e-6)
    y, _ = resize_with_gradient(x, tf.constant([12, 18]))
    np.testing.assert_allclose(y.numpy(), dct_resize(x, (12, 18)).numpy(), atol=1e-5)


def test_align_to_max_shape_picks_max_height_and_max_width():
    branches = [tf.fill((2, 10, 20, 3), 1.0), tf.fill((2, 16, 8, 5), 2.0), tf.fill((2, 5, 5, 1), 3.0)]
    aligned = align_to_max_shape(branches)
    assert [tuple(t.shape) for t in aligned] == [(2, 16, 20, 3), (2, 16, 20, 5), (2, 16, 20, 1)]
    for t, value in zip(aligned, (1.0, 2.0, 3.0)):
        assert np.max(np.abs(t.numpy() - value)) < 1e-5
    # The branch that already has the target shape is returned unchanged.
    same = [tf.random.normal((1, 6, 7, 2)), tf.random.normal((1, 3, 4, 2))]
    aligned = align_to_max_shape(same)
    np.testing.assert_array_equal(aligned[0].numpy(), same[0].numpy())


def test_align_to_max_shape_channels_first_and_1d():
    aligned = align_to_max_shape([tf.ones((2, 3, 4, 9)), tf.ones((2, 5, 7, 2))], "channels_first")
    assert [tuple(t.shape) for t in aligned] == [(2, 3, 7, 9), (2, 5, 7, 9)]
    aligned = align_to_max_shape([tf.ones((2, 4, 3)), tf.ones((2, 11, 3))])
    assert [tuple(t.shape) for t in aligned] == [(2, 11, 3), (2, 11, 3)]


def test_align_to_max_shape_with_dynamic_sizes():
    spec = tf.TensorSpec((None, None, None, 2))

    @tf.function(input_signature=[spec, spec])
    def align(a, b):
        return align_to_max_shape([a, b])

    a, b = align(tf.ones((1, 4, 9, 2)), tf.ones((1, 6, 3, 2)))
    assert tuple(a.shape) == tuple(b.shape) == (1, 6, 9, 2)
    assert np.max(np.abs(a.numpy() - 1.0)) < 1e-5


def test_apply_along_axis_matches_einsum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    M = rng.normal(size=(4, 6)).astype("float32")
    got = ops.convert_to_numpy(resize.apply_along_axis(x, M, 2))
    np.testing.assert_allclose(got, np.einsum("oj,bhjc->bhoc", M, x), atol=1e-5)
    M = rng.normal(size=(7, 3)).astype("float32")
    got = ops.convert_to_numpy(resize.apply_along_axis(x, M, 3))
    np.testing.assert_allclose(got, np.einsum("oc,bhwc->bhwo", M, x), atol=1e-5)
