"""Spectral pooling: crop the 2-D spectrum of a feature map, invert it smaller.

`spectral_crop` is the linear map shared by `FixedSpectralPooling2D` (this
module), `DiffStride2D` (`keras_resolution.diffstride`) and, with its
matrices computed once (`spectral_crop_operators`, `apply_spectral_crop`),
`FrozenDiffStride2D`: NumPy's
`irfft2(crop(rfft2(x) * mask), s=output_size)`, which is what the official
DiffStride code computes with `tf.signal.rfft2d`/`irfft2d`. `keras.ops` has
no 2-D real FFT, so each axis is a small complex matrix, written as real
(cos, sin) pairs:

* width: `K = F_w diag(m_w) B`, the real DFT of the input width restricted
  to the kept columns `0 .. n_w - 1`, the column mask, and the inverse real
  DFT of size `w_out` (weights 1 for the DC and Nyquist bins, 2 for the
  others, over `w_out`: `numpy.fft.irfft`, which drops the imaginary parts
  of the DC and Nyquist bins);
* height: `M = E diag(m_h) F_h`, the full DFT of the input height
  restricted to the kept rows `[0, low) + [H - high, H)`, the row mask, and
  the complex inverse DFT of size `h_out` over the kept rows in their order.

Then `y = Re(M x K) = M_re x K_re - M_im x K_im`, three matrix products
whatever the crop. Sizes are Python ints (cached NumPy matrices) or, in
TensorFlow graphs whose sizes follow a learned stride, int tensors.
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_resolution.complexity_definitions import measure
from keras_resolution.resize import apply_along_axis
from keras_resolution.resize import spatial_axes
from keras_resolution.resize import standardize_data_format


def kept_rows(height, low, high):
    """Row indices `[0, low) + [height - high, height)` of a full DFT."""
    if all(isinstance(v, int) for v in (height, low, high)):
        return np.concatenate([np.arange(low), np.arange(height - high, height)])
    return ops.concatenate([ops.arange(low), height - high + ops.arange(high)])


def _phases(frequencies, samples, n):
    """(cos, sin) of `2 pi f t / n`, shape (len(f), len(t)), float32; the
    product is reduced modulo n in integers first, so large f t stay exact."""
    if isinstance(n, int) and isinstance(frequencies, np.ndarray):
        return _numpy_phases(tuple(frequencies.tolist()), int(samples), n)
    frequencies = ops.cast(frequencies, "int32")
    t = ops.arange(samples, dtype="int32")
    angle = ops.cast((frequencies[:, None] * t[None, :]) % n, "float32") * (
        2.0 * math.pi / ops.cast(n, "float32")
    )
    return ops.cos(angle), ops.sin(angle)


@functools.lru_cache(maxsize=512)
def _numpy_phases(frequencies, samples, n):
    angle = 2.0 * np.pi * ((np.asarray(frequencies)[:, None] * np.arange(samples)) % n) / n
    return np.cos(angle).astype("float32"), np.sin(angle).astype("float32")


def _constant(value):
    return ops.convert_to_tensor(value, "float32") if isinstance(value, np.ndarray) else value


def _irfft_weights(n_bins, n_out):
    """Per-bin weight of `numpy.fft.irfft(., n_out)`: 1 for DC and Nyquist
    (`2 l == n_out`), 2 otherwise, over `n_out`."""
    if isinstance(n_bins, int) and isinstance(n_out, int):
        l = np.arange(n_bins)
        weights = np.where((l == 0) | (2 * l == n_out), 1.0, 2.0) / n_out
        return ops.convert_to_tensor(weights, "float32")
    l = ops.arange(n_bins)
    ones = (l == 0) | (2 * l == n_out)
    return ops.where(ones, 1.0, 2.0) / ops.cast(n_out, "float32")


def width_operator(width, n_columns, column_mask, width_out):
    """`K = F_w diag(m_w) B` (width x width_out) as (K_re, K_im)."""
    cos_f, sin_f = map(_constant, _phases(kept_rows(n_columns, n_columns, 0), width, width))
    cos_b, sin_b = map(_constant, _phases(kept_rows(n_columns, n_columns, 0), width_out, width_out))
    # F_w[t, l] = exp(-2 pi i l t / W) * m_w[l]; B[l, v] = c_l exp(2 pi i l v / w_out).
    scale = column_mask * _irfft_weights(n_columns, width_out)
    f_re, f_im = ops.transpose(cos_f * scale[:, None]), -ops.transpose(sin_f * scale[:, None])
    k_re = ops.matmul(f_re, cos_b) - ops.matmul(f_im, sin_b)
    k_im = ops.matmul(f_re, sin_b) + ops.matmul(f_im, cos_b)
    return k_re, k_im


def height_operator(height, rows, row_mask, height_out):
    """`M = E diag(m_h) F_h` (height_out x height) as (M_re, M_im)."""
    cos_f, sin_f = map(_constant, _phases(rows, height, height))
    n_rows = ops.shape(rows)[0] if not isinstance(rows, np.ndarray) else len(rows)
    cos_e, sin_e = map(_constant, _phases(kept_rows(n_rows, n_rows, 0), height_out, height_out))
    # F_h[i, t] = exp(-2 pi i r_i t / H) * m_h[i]; E[j, i] = exp(2 pi i i j / h_out) / h_out.
    scale = row_mask / ops.cast(height_out, "float32")
    e_re, e_im = ops.transpose(cos_e) * scale[None, :], ops.transpose(sin_e) * scale[None, :]
    m_re = ops.matmul(e_re, cos_f) + ops.matmul(e_im, sin_f)
    m_im = ops.matmul(e_im, cos_f) - ops.matmul(e_re, sin_f)
    return m_re, m_im


def spectral_crop_operators(height, width, rows, n_columns, output_size, row_mask=None,
                            column_mask=None):
    """The constant matrices of `spectral_crop` for an input of `(height,
    width)`: `[K_re | K_im]` transposed, and `(M_re, M_im)`.

    Args:
        height, width: The input's spatial sizes.
        rows, n_columns, output_size, row_mask, column_mask: As for
            `spectral_crop`.

    Returns:
        `(width_matrix, (m_re, m_im))`: `width_matrix` of shape
        `(2 w_out, width)` and `m_re`, `m_im` of shape `(h_out, height)`,
        the arguments of `apply_spectral_crop`.
    """
    height_out, width_out = output_size
    n_rows = len(rows) if isinstance(rows, np.ndarray) else ops.shape(rows)[0]
    if row_mask is None:
        row_mask = ops.ones((n_rows,), "float32")
    if column_mask is None:
        column_mask = ops.ones((n_columns,), "float32")
    k_re, k_im = width_operator(width, n_columns, column_mask, width_out)
    m_re, m_im = height_operator(height, rows, row_mask, height_out)
    return ops.transpose(ops.concatenate([k_re, k_im], 1)), (m_re, m_im)


def apply_spectral_crop(inputs, width_matrix, height_matrices, data_format="channels_last"):
    """`y = M_re x K_re - M_im x K_im`: the three products of
    `spectral_crop`, from the matrices of `spectral_crop_operators`.

    Args:
        inputs: 4D tensor, `(batch, height, width, channels)` or channels
            first.
        width_matrix: `[K_re | K_im]` transposed, `(2 w_out, width)`.
        height_matrices: `(M_re, M_im)`, each `(h_out, height)`.
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        Tensor with the spatial sizes replaced by `(h_out, w_out)`.
    """
    h_axis, w_axis = spatial_axes(4, data_format)
    m_re, m_im = height_matrices
    widths = apply_along_axis(inputs, width_matrix, w_axis)
    x_k_re, x_k_im = ops.split(widths, 2, axis=w_axis)
    return apply_along_axis(x_k_re, m_re, h_axis) - apply_along_axis(x_k_im, m_im, h_axis)


def spectral_crop(inputs, rows, n_columns, output_size, row_mask=None, column_mask=None,
                  data_format="channels_last"):
    """`irfft2(crop(rfft2(x) * masks), s=output_size)` over the spatial axes.

    Args:
        inputs: 4D tensor, `(batch, height, width, channels)` or channels
            first.
        rows: Kept row indices of the full DFT along the height (`kept_rows`).
        n_columns: Number of kept real-DFT columns `0 .. n_columns - 1`.
        output_size: `(h_out, w_out)` of the inverse, NumPy's `s`.
        row_mask, column_mask: Mask values of the kept rows and columns
            (float32 tensors; None means ones).
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        Tensor with the spatial sizes replaced by `output_size`.
    """
    h_axis, w_axis = spatial_axes(4, data_format)
    shape = ops.shape(inputs)
    width_matrix, height_matrices = spectral_crop_operators(
        shape[h_axis], shape[w_axis], rows, n_columns, output_size, row_mask, column_mask
    )
    return apply_spectral_crop(inputs, width_matrix, height_matrices, data_format)


def fixed_pooling_sizes(height, width, strides):
    """The official FixedSpectralPooling sizes, computed in float32 as it does.

    `h = H // S_h` made even, `w = W // S_w`, both at least 2.

    Returns:
        `(h_out, w_out)` as Python ints.
    """
    s_h, s_w = (np.float32(s) for s in strides)
    strided_height = np.float32(height) // s_h
    strided_height -= strided_height % 2
    strided_width = np.float32(width) // s_w
    return int(max(strided_height, 2)), int(max(strided_width, 2))


def check_strides(strides, name="strides"):
    """Two finite floats >= 1 from a number or a pair, else a ValueError."""
    values = strides if isinstance(strides, (list, tuple)) else (strides, strides)
    try:
        values = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number or two numbers, got {strides!r}.") from None
    if len(values) != 2 or not all(math.isfinite(v) and v >= 1.0 for v in values):
        raise ValueError(f"`{name}` must be one or two finite numbers >= 1, got {strides!r}.")
    return values


@keras.saving.register_keras_serializable(package="keras_resolution")
class FixedSpectralPooling2D(keras.layers.Layer):
    """Fixed spectral pooling, the baseline of the official DiffStride code.

    For an input of height `H` and width `W`, the output is
    `h = H // S_h` rounded down to an even number and `w = W // S_w` (both at
    least 2; only the height is made even, as in the official
    `FixedSpectralPooling`). The layer keeps the rows `[0, h/2)` and
    `[H - h/2, H)` of the 2-D spectrum and its real-DFT columns
    `[0, w//2 + 1)`, and inverts at `(h, w)` with NumPy's (and TensorFlow's)
    `irfft2` normalisation, so a constant map is multiplied by `H W / (h w)`.
    No folding of the Nyquist bin, no frequency dropout.

    Sizes follow the input: Python ints when the input sizes are static,
    int tensors in TensorFlow graphs where they are not.

    Args:
        strides: Stride per axis, a number or `(S_h, S_w)`, each finite and
            >= 1 (floats allowed: the sizes are `H // S_h` in float32).
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first with
        `data_format="channels_first"`); height and width at least 2.

    Output shape:
        `(batch, h, w, channels)` as above.

    Example:

    >>> FixedSpectralPooling2D((2, 4))(keras.ops.ones((1, 64, 64, 3))).shape
    (1, 32, 16, 3)
    """

    rank = 2  # Resized axes (`keras_resolution.ComplexityLayer`).
    static_sizes = False  # Sizes follow the input only, never a learned value.

    def __init__(self, strides=(2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_strides(strides)
        self.data_format = standardize_data_format(data_format)
        self.axes = spatial_axes(4, self.data_format)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"FixedSpectralPooling2D expects 4D `inputs`, got shape {tuple(input_shape)}."
            )
        sizes = [input_shape[axis] for axis in self.axes]
        _check_min_size(sizes, 2, "2")
        self.input_size = self.add_weight(
            name="input_size",
            shape=(2,),
            initializer=keras.initializers.Constant([d or 0 for d in sizes]),
            trainable=False,
            dtype="int32",
            aggregation="only_first_replica",
        )
        self.nominal_input_sizes = sizes

    def _sizes(self, height, width):
        """(low rows, high rows, columns, h_out, w_out); ints or int tensors."""
        if isinstance(height, int) and isinstance(width, int):
            h_out, w_out = fixed_pooling_sizes(height, width, self.strides)
            return h_out // 2, h_out // 2, w_out // 2 + 1, h_out, w_out
        s_h, s_w = self.strides
        h_out = ops.cast(ops.floor(ops.cast(height, "float32") / s_h), "int32")
        h_out = ops.maximum(h_out - h_out % 2, 2)
        w_out = ops.maximum(ops.cast(ops.floor(ops.cast(width, "float32") / s_w), "int32"), 2)
        return h_out // 2, h_out // 2, w_out // 2 + 1, h_out, w_out

    def call(self, inputs):
        shape = ops.shape(inputs)
        height, width = shape[self.axes[0]], shape[self.axes[1]]
        _check_min_size([height, width], 2, "2")
        self.input_size.assign(ops.cast(ops.stack([height, width]), "int32"))
        low, high, columns, h_out, w_out = self._sizes(height, width)
        rows = kept_rows(height, low, high)  # [:lower_height] + [upper_height:]
        return spectral_crop(inputs, rows, columns, (h_out, w_out), data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        sizes = [shape[axis] for axis in self.axes]
        if None not in sizes:
            out = fixed_pooling_sizes(*sizes, self.strides)
        else:
            out = (None, None)
        for axis, size in zip(self.axes, out):
            shape[axis] = size
        return tuple(shape)

    @property
    def output_sizes(self):
        """`(h, w)` produced for the last recorded input size."""
        return fixed_pooling_sizes(*ops.convert_to_numpy(self.input_size).tolist(), self.strides)

    def learned_rates(self):
        """No learned rate: an empty dict (see `keras_resolution.ComplexityLayer`)."""
        return {}

    def complexity(self, definition="linear"):
        """The realised output sizes `(h, w)` for the last recorded input,
        measured by `definition`, as a float32 scalar (no gradient: nothing
        here is learned). Computed with tensors, so it runs inside a
        training step too."""
        *_, h_out, w_out = self._sizes(self.input_size[0], self.input_size[1])
        return measure([ops.cast(h_out, "float32"), ops.cast(w_out, "float32")], definition)

    def full_complexity(self, definition="linear"):
        """The built input sizes measured by `definition` (no pooling)."""
        return full_complexity_of(self, definition)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides, "data_format": self.data_format}


def _check_min_size(sizes, minimum, text):
    """ValueError naming `inputs` when a static spatial size is below `minimum`."""
    static = [d for d in sizes if isinstance(d, int)]
    if any(d < minimum for d in static):
        raise ValueError(
            f"`inputs`: height and width must be at least {text}, got {tuple(sizes)}."
        )


def full_complexity_of(layer, definition):
    """`definition` of the sizes `layer` was built with; ValueError if unknown."""
    if any(d is None for d in layer.nominal_input_sizes):
        raise ValueError(
            f"{layer.name} was built with unknown input sizes "
            f"{layer.nominal_input_sizes}; C_full needs static sizes."
        )
    return float(measure(layer.nominal_input_sizes, definition))
