"""keras_resolution.transforms and resize.resize_matrix against NumPy.

Every reference here is computed independently of the library: the DCT-II
matrix from its textbook formula (and from scipy), and Algorithm 1 of the
paper written out step by step in NumPy.
"""

import math

import numpy as np
import pytest
import scipy.fft
from keras import ops

from keras_resolution import resize
from keras_resolution import transforms

SIZES = [1, 2, 3, 4, 7, 8, 16, 33]


def dct_matrix(n):
    """Orthonormal DCT-II, T[k, i] = a_k cos(pi k (i + 1/2) / n)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    a = np.where(k == 0, math.sqrt(1.0 / n), math.sqrt(2.0 / n))
    return a * np.cos(np.pi * k * (i + 0.5) / n)


def algorithm_1_matrix(d_in, s, taper):
    """Algorithm 1 of the paper as a (d_out, d_in) matrix, in float64.

    y = T_out^-1 (w * P(T_in x, d_out)), with the amplitude factor
    sqrt(d_out / d_in) that makes a constant map keep its value.
    """
    q = d_in * s                                     # 1
    d_out = math.ceil(q)                             # 2 (detached)
    T_in = dct_matrix(d_in)                          # 3
    m = min(d_in, d_out)                             # 4: pad/truncate
    P = np.zeros((d_out, d_in))
    P[np.arange(m), np.arange(m)] = 1.0
    k = np.arange(1, d_out + 1)                      # 5
    w = np.clip((q + 1 - k) / taper, 0.0, 1.0)       # 6
    T_out_inv = dct_matrix(d_out).T                  # 8: orthonormal inverse
    return math.sqrt(d_out / d_in) * T_out_inv @ np.diag(w) @ P @ T_in


def as_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


# --------------------------------------------------------------- analysis


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("n", SIZES)
def test_analysis_matrix_is_orthonormal(transform, n):
    T = transforms.analysis_matrix(transform, n)
    assert T.shape == (n, n)
    np.testing.assert_allclose(T @ T.T, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(T.T @ T, np.eye(n), atol=1e-12)


@pytest.mark.parametrize("n", SIZES)
def test_dct_analysis_matrix_matches_formula_and_scipy(n):
    T = transforms.analysis_matrix("dct", n)
    np.testing.assert_allclose(T, dct_matrix(n), atol=1e-13)
    np.testing.assert_allclose(T, scipy.fft.dct(np.eye(n), norm="ortho", axis=0), atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9])
def test_dft_rows_are_dc_then_cos_sin_pairs(n):
    T = transforms.analysis_matrix("dft", n)
    i = np.arange(n)
    np.testing.assert_allclose(T[0], np.full(n, 1 / math.sqrt(n)), atol=1e-13)
    for f in range(1, (n + 1) // 2):
        cos = np.cos(2 * np.pi * f * i / n)
        sin = np.sin(2 * np.pi * f * i / n)
        np.testing.assert_allclose(T[2 * f - 1], cos / np.linalg.norm(cos), atol=1e-12)
        np.testing.assert_allclose(T[2 * f], sin / np.linalg.norm(sin), atol=1e-12)
    if n % 2 == 0:
        np.testing.assert_allclose(T[n - 1], (-1.0) ** i / math.sqrt(n), atol=1e-12)


def test_analysis_matrix_is_cached_and_read_only():
    T = transforms.analysis_matrix("dct", 12)
    assert transforms.analysis_matrix("dct", 12) is T
    with pytest.raises(ValueError):
        T[0, 0] = 1.0


def test_unknown_transform_names_the_argument():
    with pytest.raises(ValueError, match="`transform`"):
        transforms.analysis_matrix("haar", 4)


# -------------------------------------------------------------- synthesis


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("n", SIZES)
def test_synthesis_on_grid_at_q_equal_n_is_the_inverse(transform, n):
    B = as_numpy(transforms.synthesis_on_grid(transform, n, n, float(n), n, "float64"))
    np.testing.assert_allclose(B, transforms.analysis_matrix(transform, n).T, atol=1e-12)


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("n", [1, 6, 9])
def test_analysis_matrix_of_a_tensor_size_matches_the_constant(transform, n):
    built = as_numpy(transforms.analysis_matrix_of(transform, ops.convert_to_tensor(n), "float64"))
    np.testing.assert_allclose(built, transforms.analysis_matrix(transform, n), atol=1e-12)


def test_dct_synthesis_on_continuous_grid_matches_formula():
    n, m, q = 10, 7, 6.3
    d_out = math.ceil(q)
    B = as_numpy(transforms.synthesis_on_grid("dct", n, m, ops.convert_to_tensor(q, "float64"), d_out, "float64"))
    j = np.arange(d_out)[:, None]
    k = np.arange(m)[None, :]
    a = np.where(k == 0, math.sqrt(1.0 / n), math.sqrt(2.0 / n))
    np.testing.assert_allclose(B, a * np.cos(np.pi * k * (j + 0.5) / q), atol=1e-13)


# ---------------------------------------------------------- resize matrix

# (d_in, d_out) with d_out / d_in exact in binary, so q = d_in * s is an
# integer in floating point; checked below as a precondition.
INTEGER_Q = [(8, 4), (8, 16), (12, 3), (10, 15), (16, 28), (40, 10), (5, 5), (1, 3), (4, 1), (6, 9)]


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("d_in,d_out", INTEGER_Q)
def test_exact_equals_literal_at_integer_q(transform, d_in, d_out):
    s = ops.convert_to_tensor(d_out / d_in, "float64")
    assert d_in * (d_out / d_in) == d_out  # q is an exact integer
    exact = as_numpy(resize.resize_matrix(d_in, s, d_out, 4.0, transform, "exact"))
    literal = as_numpy(resize.resize_matrix(d_in, s, d_out, 4.0, transform, "literal"))
    assert exact.shape == (d_out, d_in)
    np.testing.assert_array_equal(exact, literal)


@pytest.mark.parametrize(
    "d_in,s",
    [(10, 0.73), (16, 0.5137), (7, 1.9), (12, 1.05), (5, 3.3), (1, 2.5), (9, 0.2), (32, 2.0137), (20, 1.0)],
)
@pytest.mark.parametrize("taper", [4.0, 1.5])
def test_literal_dct_is_algorithm_1(d_in, s, taper):
    expected = algorithm_1_matrix(d_in, s, taper)
    d_out = expected.shape[0]
    M = as_numpy(
        resize.resize_matrix(d_in, ops.convert_to_tensor(s, "float64"), d_out, taper, "dct", "literal")
    )
    assert M.shape == (d_out, d_in)
    np.testing.assert_allclose(M, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("d_in,s", [(10, 0.73), (7, 1.9), (32, 2.0137)])
def test_exact_dct_is_algorithm_1_on_a_continuous_grid(d_in, s):
    """The exact mode replaces T(d_out)^-1 by the input cosines sampled at
    u_j = (j + 1/2) d_in / q; everything else is Algorithm 1."""
    taper = 4.0
    q = d_in * s
    d_out = math.ceil(q)
    m = min(d_in, d_out)
    w = np.clip((q + 1 - np.arange(1, m + 1)) / taper, 0, 1)
    j = np.arange(d_out)[:, None]
    k = np.arange(m)[None, :]
    a = np.where(k == 0, math.sqrt(1.0 / d_in), math.sqrt(2.0 / d_in))
    B = a * np.cos(np.pi * k * (j + 0.5) / q)
    expected = B @ np.diag(w) @ dct_matrix(d_in)[:m]
    M = as_numpy(resize.resize_matrix(d_in, ops.convert_to_tensor(s, "float64"), d_out, taper, "dct", "exact"))
    np.testing.assert_allclose(M, expected, rtol=0, atol=1e-12)
