"""Orthonormal transforms T(n), generated per size, and their continuous bases.

A Resolution layer needs two things from a transform:

* the analysis matrix `T_n` (n x n, orthonormal, rows ordered from low to
  high frequency), so that truncating or zero-padding the coefficient vector
  keeps the lowest frequencies;
* the synthesis basis of the *input* size evaluated on an output grid of
  continuous length `q`. At integer `q` this is (up to the amplitude factor
  sqrt(q / n)) the inverse transform of size q; between integers it moves
  continuously with `q`, which is what gives the exact gradient its
  non-zero derivative in every regime (see `resize.py`).

Two transforms are provided:

* `"dct"`: the orthonormal DCT-II. Basis k at input sample n is
  `a_k cos(pi k (n + 1/2) / N)`; the output grid of length q samples the same
  cosines at `u_j = (j + 1/2) N / q`.
* `"dft"`: the real-valued orthonormal DFT, rows ordered DC, cos 1, sin 1,
  cos 2, sin 2, ..., (Nyquist cos for even N). Keeping the first m rows keeps
  the low frequencies of both signs symmetrically, as spectral pooling does.
  The output grid samples the periodic interpolant at `u_j = j N / q`.

Analysis matrices are NumPy constants cached per size; synthesis bases are
built with `keras.ops` because they depend on the (possibly traced) `q`.
"""

import functools
import math

import numpy as np
from keras import ops

TRANSFORMS = ("dct", "dft")


def check_transform(transform):
    """Returns `transform` if it is known, else raises a `ValueError`."""
    if transform not in TRANSFORMS:
        raise ValueError(
            f"Unknown `transform`: {transform!r}. Expected one of {TRANSFORMS}."
        )
    return transform


def _dft_frequency_and_phase(n_coefficients):
    """Frequency index and cos(0)/sin(1) flag of the first real-DFT rows."""
    k = np.arange(n_coefficients)
    frequency = (k + 1) // 2
    is_sine = (k % 2 == 0) & (k > 0)
    return frequency, is_sine


def _amplitudes(transform, n, n_coefficients):
    """Orthonormal row amplitudes a_k of T(n) for its first rows."""
    amplitude = np.full(n_coefficients, math.sqrt(2.0 / n))
    amplitude[0] = math.sqrt(1.0 / n)
    if transform == "dft" and n % 2 == 0 and n_coefficients == n:
        amplitude[n - 1] = math.sqrt(1.0 / n)  # Nyquist row cos(pi n).
    return amplitude


@functools.lru_cache(maxsize=256)
def analysis_matrix(transform, n):
    """The orthonormal analysis matrix T(n) as a float64 NumPy array.

    Args:
        transform: `"dct"` or `"dft"`.
        n: Positive integer size.

    Returns:
        Array of shape `(n, n)` with `T @ T.T == I`; row k is the k-th
        lowest-frequency basis vector.

    Example:

    >>> T = analysis_matrix("dct", 8)
    >>> np.allclose(T @ T.T, np.eye(8))
    True
    """
    check_transform(transform)
    samples = np.arange(n)
    amplitude = _amplitudes(transform, n, n)[:, None]
    if transform == "dct":
        k = np.arange(n)[:, None]
        matrix = amplitude * np.cos(np.pi * k * (samples + 0.5) / n)
    else:
        frequency, is_sine = _dft_frequency_and_phase(n)
        angle = 2.0 * np.pi * frequency[:, None] * samples / n
        matrix = amplitude * np.where(is_sine[:, None], np.sin(angle), np.cos(angle))
    matrix.setflags(write=False)
    return matrix


def synthesis_on_grid(transform, n, n_coefficients, q, d_out, dtype="float32"):
    """Synthesis basis of T(n) sampled on an output grid of continuous length q.

    Entry `[j, k]` is basis function k of the size-`n` transform evaluated at
    output sample j of a grid that stretches the n input samples over q
    output samples (`j = 0 .. d_out - 1`). Multiplying coefficients of a
    length-n signal by this matrix evaluates the signal's band-limited
    interpolant on the new grid, so a constant stays the same constant. With
    `q = d_out = n` it is `T(n)^T`, which is how sizes only known in the graph
    get their analysis matrix (`analysis_matrix_of`).

    When the three sizes are Python ints, everything but the division by q
    is a NumPy constant (`_grid_terms`), so a static graph gets a handful of
    ops per matrix rather than dozens (tracing time grows with their count).

    Args:
        transform: `"dct"` or `"dft"`.
        n: Input size; Python int or scalar int tensor.
        n_coefficients: Number of low-frequency coefficients kept,
            `min(n, d_out)`; Python int or scalar int tensor.
        q: Continuous output length, scalar tensor (differentiable).
        d_out: Integer output length; Python int or scalar int tensor.
        dtype: Float dtype of the result.

    Returns:
        Tensor of shape `(d_out, n_coefficients)`.
    """
    phase, amplitude, is_sine = _grid_terms(transform, n, n_coefficients, d_out, dtype)
    angle = ops.divide(phase, ops.cast(q, dtype))  # The basis' argument at u_j = j N / q.
    if transform == "dct":
        return ops.multiply(amplitude, ops.cos(angle))
    return ops.multiply(amplitude, ops.where(is_sine, ops.sin(angle), ops.cos(angle)))


def _grid_terms(transform, n, n_coefficients, d_out, dtype):
    """`(phase, amplitude, is_sine)` of `synthesis_on_grid`: its entry
    `[j, k]` is `amplitude[k] cos(phase[j, k] / q)` (`sin` where `is_sine`).

    DCT: `phase = pi k (j + 1/2)`, since `u_j = (j + 1/2) N / q` enters as
    `pi k u_j / N`; DFT: `phase = 2 pi f_k j`. Computed in float64 NumPy when
    every size is a Python int, with `keras.ops` otherwise (the same lines
    run on both).
    """
    static = all(isinstance(size, int) for size in (n, n_coefficients, d_out))
    xp = np if static else ops

    def as_float(value):
        return np.asarray(value, "float64") if static else ops.cast(value, dtype)

    j = as_float(xp.arange(d_out))[:, None]
    k_int = xp.arange(n_coefficients)
    is_unpaired = k_int == 0  # DC, and the DFT Nyquist row cos(pi n) below.
    if transform == "dft":
        is_unpaired = is_unpaired | ((k_int == n - 1) & (n % 2 == 0))
    n_float = as_float(n)
    amplitude = xp.where(is_unpaired, xp.sqrt(1.0 / n_float), xp.sqrt(2.0 / n_float))[None, :]
    if transform == "dct":
        phase = math.pi * as_float(k_int)[None, :] * (j + 0.5)
    else:
        phase = 2.0 * math.pi * as_float((k_int + 1) // 2)[None, :] * j
    is_sine = ((k_int % 2 == 0) & (k_int > 0))[None, :]
    if static:
        return phase.astype(dtype), amplitude.astype(dtype), is_sine
    return phase, amplitude, is_sine


def padded_grid_terms(transform, sizes, coefficients, output_sizes, dtype="float32"):
    """`_grid_terms` of several axes stacked on a leading axis, zero-padded.

    For static sizes (Python ints) only: axis `i` of the result holds
    `_grid_terms(transform, sizes[i], coefficients[i], output_sizes[i])` in
    its top-left `(output_sizes[i], coefficients[i])` corner. Padded
    columns have amplitude 0, so they contribute exact zeros to the product
    with the analysis rows (`padded_analysis_rows`); padded rows (j beyond
    an axis' `d_out`) are sliced off by the caller.

    DFT bases are returned as one amplitude for the cosine columns and one
    for the sine columns (each zero where the other is not), so the basis is
    `a_cos cos(angle) + a_sin sin(angle)`: bit-identical to `amplitude *
    where(is_sine, sin, cos)` (the other term is an exact zero) with a
    cheaper gradient than `where`'s.

    Args:
        transform: `"dct"` or `"dft"`.
        sizes, coefficients, output_sizes: Tuples of Python ints, one per
            axis: `n`, `min(n, d_out)` and `d_out`.
        dtype: Float dtype of the arrays.

    Returns:
        `(phase, amplitude_cos, amplitude_sin)` of shapes
        `(axes, max d_out, max m)`, `(axes, 1, max m)` and the same (None
        for the DCT), NumPy arrays built at each call (not cached: with
        static sizes every new pair of sizes would add an entry, and the
        arrays grow with the product of the sizes).
    """
    axes = len(sizes)
    rows, columns = max(output_sizes), max(coefficients)
    phase = np.zeros((axes, rows, columns), dtype)
    amplitude_cos = np.zeros((axes, 1, columns), dtype)
    amplitude_sin = np.zeros((axes, 1, columns), dtype) if transform == "dft" else None
    for i, (n, m, d_out) in enumerate(zip(sizes, coefficients, output_sizes)):
        p, a, is_sine = _grid_terms(transform, n, m, d_out, dtype)
        phase[i, :d_out, :m] = p
        if transform == "dct":  # (`is_sine` only has a meaning for the DFT.)
            amplitude_cos[i, :, :m] = a
        else:
            amplitude_cos[i, :, :m] = np.where(is_sine, 0, a)
            amplitude_sin[i, :, :m] = np.where(is_sine, a, 0)
    return phase, amplitude_cos, amplitude_sin


def padded_analysis_rows(transform, sizes, coefficients, dtype="float32"):
    """`analysis_rows` of several axes, stacked and zero-padded.

    Axis `i` of the `(axes, max m, max n)` result holds the first
    `coefficients[i]` rows of `T(sizes[i])` in its top-left corner, zeros
    elsewhere (so padded coefficients and samples contribute exact zeros).
    Static sizes (Python ints) only.
    """
    rows = np.zeros((len(sizes), max(coefficients), max(sizes)), dtype)
    for i, (n, m) in enumerate(zip(sizes, coefficients)):
        rows[i, :m, :n] = analysis_rows(transform, n, m, dtype)
    return rows


def analysis_rows(transform, n, n_coefficients, dtype="float32"):
    """The first `n_coefficients` rows of T(n): a NumPy constant when both
    are Python ints, else built in the graph (`analysis_matrix_of`)."""
    if isinstance(n, int) and isinstance(n_coefficients, int):
        return analysis_matrix(transform, n)[:n_coefficients].astype(dtype)
    return analysis_matrix_of(transform, n, dtype)[:n_coefficients]


def analysis_matrix_of(transform, n, dtype="float32"):
    """T(n) as a tensor: cached constant for Python ints, built in the graph
    when `n` is only known as a tensor."""
    if isinstance(n, int):
        return ops.convert_to_tensor(analysis_matrix(transform, n), dtype)
    return ops.transpose(synthesis_on_grid(transform, n, n, n, n, dtype))
