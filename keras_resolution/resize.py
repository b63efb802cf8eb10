"""Algorithm 1 as one linear map per axis, and the fixed DCT resizes.

Resizing one axis of a Resolution layer is linear in the input `x`, so the
whole of Algorithm 1 (forward transform, pad/truncate, relaxed mask, inverse
transform) fuses into a single `(d_out, d_in)` matrix `M(q)`:

    y = M(q) x,   M(q) = B(q) diag(w(q)) P T_in

`T_in` is a cached constant per input size; `P` keeps the first
`m = min(d_in, d_out)` coefficients (coefficients past `d_in` are the zeros of
the padding and drop out of the product); `w(q)` is the paper's taper; `B` is
the inverse transform, scaled by `sqrt(d_out / d_in)` so that a constant map
keeps its value (orthonormal transforms would otherwise change amplitude by
`sqrt(d_in / d_out)`).

Two choices of `B`, selected by `gradient=`:

* `"literal"`: Algorithm 1 as printed, `B = T(d_out)^-1` with `d_out`
  detached. The only path from `s` to the loss is the taper, and when
  upsampling beyond it (`q > d_in + taper - 1`) every tapered coefficient is
  zero padding, so `dL/ds` is exactly 0.
* `"exact"` (default): `B(q)` is the input basis sampled on an output grid of
  continuous length `q` (`transforms.synthesis_on_grid`). At integer `q` it
  is the same matrix as the literal one (exactly for the DCT); between
  integers the output grid moves with `q`, so the forward pass is a smooth
  function of `s` on each interval where `ceil(q)` is constant, and automatic
  differentiation returns its true derivative. That derivative includes the
  "changed output basis" term of the paper's section 4, which the literal
  algorithm drops, and is non-zero in every regime.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_resolution import transforms

GRADIENT_MODES = ("exact", "literal")


def check_gradient(gradient):
    """`gradient` if it is one of `GRADIENT_MODES`, else a ValueError naming
    the argument."""
    if gradient not in GRADIENT_MODES:
        raise ValueError(f"Unknown `gradient`: {gradient!r}. Expected one of {GRADIENT_MODES}.")
    return gradient


def output_length(q):
    """`d_out = ceil(q)`, detached: Algorithm 1, line 2.

    Args:
        q: Continuous target length (tensor).

    Returns:
        Integer tensor, never less than 1.
    """
    return ops.maximum(ops.cast(ops.ceil(ops.stop_gradient(q)), "int32"), 1)


def resize_matrix(d_in, s, d_out, taper=4.0, transform="dct", gradient="exact"):
    """The `(d_out, d_in)` matrix of Algorithm 1 for one axis.

    Args:
        d_in: Input length (Python int).
        s: Learnable scale for this axis (scalar tensor).
        d_out: Output length `ceil(d_in * s)`: a Python int when sizes are
            static, an int tensor when they are computed in the graph.
        taper: Taper length l of the relaxed mask.
        transform: `"dct"` or `"dft"`.
        gradient: `"exact"` or `"literal"` (see module docstring).

    Returns:
        Tensor `M` (dtype of `s`) with `y = M @ x` along the resized axis.
    """
    dtype = ops.dtype(s)
    q = size_as_float(d_in, dtype) * s                           # 1: q <- d_in * s
    # 2: d_out <- ceil(q).detach(), resolved by the caller (see output_length)
    m = _kept_coefficients(d_in, d_out)
    x_hat_rows = transforms.analysis_rows(transform, d_in, m, dtype)  # 3-4: x^ = P(T_in x, d_out)
    k = _index_range(1, m + 1, dtype)                        # 5: k = [1 .. d_out]
    w = ops.clip(_divide(ops.subtract(q + 1.0, k), taper), 0.0, 1.0)  # 6: w = clip((q+1-k)/l, 0, 1)
    y_tilde_rows = ops.multiply(ops.expand_dims(w, 1), x_hat_rows)  # 7: y~ = w * x^
    grid = q if gradient == "exact" else size_as_float(d_out, dtype)
    T_out_inv = transforms.synthesis_on_grid(transform, d_in, m, grid, d_out, dtype)
    return ops.matmul(T_out_inv, y_tilde_rows)               # 8: y = T_out^-1 y~


def resize_matrices(input_sizes, scales, output_sizes, taper=4.0, transform="dct", gradient="exact"):
    """`resize_matrix` of several axes at once, for static sizes.

    Builds every axis' matrix in one batched computation up to the
    basis' argument: the axes are stacked on a leading axis, each
    zero-padded to the largest `d_out`, `m = min(d_in, d_out)` and `d_in`
    (NumPy constants from `transforms.padded_analysis_rows` and
    `transforms.padded_grid_terms`), with `s` as one `(axes,)` vector. Each
    axis' unpadded corner is then taken out (one unstack when no axis is
    padded) for its cos/sin and its 2-D matmul. A traced graph gets one set
    of ops for the scale, mask and grid of all axes instead of one per axis
    (tracing time grows with the number of ops).

    Values: the padding only adds exact zeros, and cos, sin and the matmul
    run on each axis' own arrays, so every matrix is bit-identical to
    `resize_matrix`'s. Gradients with respect to `s` are bit-identical
    when no axis is padded (equal input and output sizes on all axes);
    otherwise they sum over padded arrays in another order and differ in
    the last bits.

    Args:
        input_sizes: Input length per axis (Python ints).
        scales: Learnable scale per axis, a `(axes,)` tensor.
        output_sizes: Output length per axis, `ceil(d_in * s)` (Python ints).
        taper: Taper length l of the relaxed mask.
        transform: `"dct"` or `"dft"`.
        gradient: `"exact"` or `"literal"` (see module docstring).

    Returns:
        List of tensors `M_i` (dtype of `scales`), `(output_sizes[i],
        input_sizes[i])` each, with `y = M_i @ x` along axis i.
    """
    input_sizes, output_sizes = tuple(input_sizes), tuple(output_sizes)
    dtype = ops.dtype(scales)
    m = tuple(min(d_in, d_out) for d_in, d_out in zip(input_sizes, output_sizes))
    # Every per-axis quantity below has shape (axes, 1, 1), (axes, m, 1) or
    # (axes, rows, columns): one reshape of s, and no expand_dims after it.
    scales = ops.reshape(scales, (len(input_sizes), 1, 1))
    q = ops.multiply(np.asarray(input_sizes, dtype)[:, None, None], scales)  # 1: q <- d_in * s
    # 2: d_out <- ceil(q).detach(), resolved by the caller (see output_length)
    x_hat_rows = transforms.padded_analysis_rows(transform, input_sizes, m, dtype)  # 3-4: x^ = P(T_in x, d_out)
    k = np.arange(1, max(m) + 1, dtype=dtype)[:, None]              # 5: k = [1 .. d_out]
    w = ops.clip(_divide(ops.subtract(q + 1.0, k), taper), 0.0, 1.0)  # 6: w = clip((q+1-k)/l, 0, 1)
    y_tilde_rows = ops.multiply(w, x_hat_rows)                      # 7: y~ = w * x^
    if gradient == "exact":
        grid = q
    else:
        grid = np.asarray(output_sizes, dtype)[:, None, None]
    phase, amplitude_cos, amplitude_sin = transforms.padded_grid_terms(
        transform, input_sizes, m, output_sizes, dtype
    )
    angle = ops.divide(phase, grid)  # The basis' argument, per axis (see synthesis_on_grid).
    # From here on one axis at a time, on its unpadded corner: the values of
    # cos and sin depend on where an element falls in the array (vectorized
    # or scalar code), and a batched matmul sums in another order than a 2-D
    # one, so per-axis arrays keep the values of `resize_matrix` bit for bit.
    # One unstack each, then a 2-D slice only for a padded axis (a slice
    # costs about eight ops with its gradient, an unstack two).
    angles, rows = ops.unstack(angle), ops.unstack(y_tilde_rows)
    matrices = []
    for i, (angle_i, rows_i, m_i) in enumerate(zip(angles, rows, m)):
        if (output_sizes[i], m_i) != tuple(angle.shape[1:]):
            angle_i = angle_i[: output_sizes[i], :m_i]
        if (m_i, input_sizes[i]) != tuple(y_tilde_rows.shape[1:]):
            rows_i = rows_i[:m_i, : input_sizes[i]]
        T_out_inv = ops.multiply(amplitude_cos[i, :, :m_i], ops.cos(angle_i))
        if amplitude_sin is not None:  # DFT: the sine rows (exact zeros in the other term).
            T_out_inv = ops.add(T_out_inv, ops.multiply(amplitude_sin[i, :, :m_i], ops.sin(angle_i)))
        matrices.append(ops.matmul(T_out_inv, rows_i))              # 8: y = T_out^-1 y~
    return matrices


def _divide(x, divisor):
    """`x / divisor` for a Python float divisor: multiplies by its
    reciprocal when that is exact (a power of two, as the default taper 4),
    which gives the same values and a cheaper gradient (the gradient of a
    division also differentiates its constant divisor)."""
    mantissa, _ = math.frexp(divisor)
    if mantissa == 0.5:
        return ops.multiply(x, 1.0 / divisor)
    return ops.divide(x, divisor)


def size_as_float(size, dtype):
    """A size as a float: a Python float for an int (no op in a graph)."""
    return float(size) if isinstance(size, int) else ops.cast(size, dtype)


def _index_range(start, stop, dtype):
    """`[start, stop)` as floats: a NumPy constant when both ends are ints."""
    if isinstance(start, int) and isinstance(stop, int):
        return np.arange(start, stop, dtype=dtype)
    return ops.cast(ops.arange(start, stop), dtype)


def _kept_coefficients(d_in, d_out):
    """m = min(d_in, d_out), a Python int whenever both sizes are (so JAX can
    slice with it)."""
    if isinstance(d_in, int) and isinstance(d_out, int):
        return min(d_in, d_out)
    return ops.minimum(d_in, d_out)


def apply_along_axis(x, matrix, axis):
    """Applies `matrix` (d_out, d_in) along `axis` of `x` without transposes.

    The axis is made the middle one of a 3D view `(before, d_in, after)`, then
    `matrix` multiplies it from the left as a batched matmul. Only reshapes
    are needed, whatever the axis.

    Args:
        x: Tensor of any rank >= 1.
        matrix: Tensor of shape `(d_out, x.shape[axis])`.
        axis: Non-negative axis index.

    Returns:
        Tensor with `x.shape[axis]` replaced by `d_out`.
    """
    return apply_along_axes(x, [matrix], [axis])


def apply_along_axes(x, matrices, axes):
    """`apply_along_axis` for each matrix and axis in turn, with one reshape
    between two products instead of two (each product's 3D output is
    reshaped straight into the next one's 3D view, both being views of the
    same row-major tensor): the same products, fewer ops in a graph.

    With static shapes, a matrix applied to a middle axis is broadcast to
    the batch of the 3D view explicitly: the batched product of equal batch
    shapes has a gradient of two products, where TensorFlow's gradient of a
    product that broadcasts adds shape arithmetic to each product
    (BENCHMARKS.md, issue 14 item 5; the broadcast's own gradient sums over
    the batch, as that one did: values and gradients are the same bits).
    With sizes known only in the graph the explicit broadcast needs shape
    ops of its own, more than it saves, so there the product broadcasts.

    Args:
        x: Tensor of any rank >= 1.
        matrices: Tensors of shape `(d_out_i, d_in_i)`.
        axes: Non-negative axis index of each matrix.

    Returns:
        Tensor with `x.shape[axes[i]]` replaced by `d_out_i`.
    """
    shape = list(shape_of(x))
    y = x
    for matrix, axis in zip(matrices, axes):
        before = 1
        for dim in shape[:axis]:
            before = before * dim
        after = 1
        for dim in shape[axis + 1 :]:
            after = after * dim
        matrix = ops.cast(matrix, x.dtype)
        matrix_shape = shape_of(matrix)
        if axis == len(shape) - 1:
            y = ops.matmul(ops.reshape(y, (before, shape[axis])), ops.transpose(matrix))
        else:
            if isinstance(before, int) and isinstance(matrix_shape, tuple):
                matrix = ops.broadcast_to(matrix, (before, *matrix_shape))
            y = ops.matmul(matrix, ops.reshape(y, (before, shape[axis], after)))
        shape[axis] = matrix_shape[0]
    return ops.reshape(y, tuple(shape))


def shape_of(x):
    """The shape of `x`: Python ints when all are static, else `ops.shape`
    (which on TensorFlow also adds a `Shape` constant to a graph even when
    the shape is static)."""
    shape = tuple(x.shape)
    if all(isinstance(dim, int) for dim in shape):
        return shape
    return ops.shape(x)


def standardize_data_format(data_format):
    """`"channels_last"` or `"channels_first"`; None gives Keras's default.

    Keras keeps its own version of this check private
    (`keras.src.backend.config.standardize_data_format`); this one has the
    same behaviour through the public `keras.config.image_data_format()`.

    Args:
        data_format: `"channels_last"`, `"channels_first"` (any case) or
            None.

    Returns:
        The data format in lower case.

    Example:

    >>> standardize_data_format("Channels_First")
    'channels_first'
    """
    if data_format is None:
        return keras.config.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', "
            f"'channels_last'}}. Received: data_format={data_format}"
        )
    return data_format


def spatial_axes(rank, data_format):
    """Indices of the resized axes of a (batch, ..., channels) tensor."""
    if data_format == "channels_first":
        return tuple(range(2, rank))
    return tuple(range(1, rank - 1))


def dct_resize(x, size, data_format="channels_last"):
    """Fixed DCT resize: frequency-domain truncation or zero-padding.

    No taper, no parameters: the lowest `min(d_in, d_out)` DCT coefficients
    of each axis are kept and inverted at the new size, with the amplitude
    compensated so that constant maps keep their value. Used to align branches
    before concatenation and to bring PANet outputs back to the head's
    strides. Sizes may be Python ints or int tensors (TensorFlow graphs whose
    sizes follow learned scales).

    Args:
        x: Tensor `(batch, height, width, channels)` (or 3D for 1D signals).
        size: Target sizes, one per spatial axis.
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        The resized tensor.

    Example:

    >>> x = keras.ops.ones((2, 10, 20, 3))
    >>> dct_resize(x, (40, 5)).shape
    (2, 40, 5, 3)
    """
    axes = spatial_axes(len(x.shape), data_format)
    if len(size) != len(axes):
        raise ValueError(
            f"`size` must have one entry per spatial axis ({len(axes)}), got {size}."
        )
    shape = ops.shape(x)
    for axis, d_out in zip(axes, size):
        d_in = shape[axis]
        if isinstance(d_out, int) and d_out < 1:
            raise ValueError(f"`size` entries must be >= 1, got {size}.")
        if isinstance(d_in, int) and isinstance(d_out, int):
            if d_in != d_out:
                x = apply_along_axis(x, fixed_resize_matrix(d_in, d_out), axis)
            continue
        # Sizes known only when the graph runs (they follow learned scales):
        # at equal sizes the matrix is T^T T = I, so skip the product then.
        # In a Resolution PANet at least one branch of every alignment is
        # already at the target size, and at s = 1 all of them are.
        x = ops.cond(
            ops.equal(d_in, d_out),
            lambda x=x: x,
            lambda x=x, d_in=d_in, d_out=d_out, axis=axis: apply_along_axis(
                x, fixed_resize_matrix(d_in, d_out), axis
            ),
        )
    return x


def fixed_resize_matrix(d_in, d_out, transform="dct"):
    """Constant `(d_out, d_in)` matrix of a taper-free transform resize:
    `sqrt(d_out / d_in) T(d_out)^-1 P T(d_in)`."""
    m = _kept_coefficients(d_in, d_out)
    T_in = transforms.analysis_matrix_of(transform, d_in)
    T_out_inv = transforms.synthesis_on_grid(transform, d_in, m, d_out, d_out, "float32")
    return ops.matmul(T_out_inv, T_in[:m])


def align_to_max_shape(tensors, data_format="channels_last"):
    """DCT-resizes every tensor to the largest size found on each spatial axis.

    This is the paper's rule before a concatenation of branches that may have
    learned different resolutions: target `(max(h_i), max(w_i))`.

    Args:
        tensors: List of tensors with the same rank.
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        List of tensors, all with the same spatial shape.
    """
    axes = spatial_axes(len(tensors[0].shape), data_format)
    shapes = [ops.shape(t) for t in tensors]
    target = []
    for axis in axes:
        sizes = [shape[axis] for shape in shapes]
        if all(isinstance(size, int) for size in sizes):
            target.append(max(sizes))
        else:
            target.append(ops.max(ops.stack([ops.cast(v, "int32") for v in sizes])))
    return [dct_resize(t, tuple(target), data_format) for t in tensors]
