"""The batched matrices of a static-size ResolutionLayer (`resize_matrices`)
against the per-axis ones (`resize_matrix`), and the op count they give a
traced training step."""

import collections
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resolution import ResolutionLayer
from keras_resolution import layer as layer_module
from keras_resolution import resize

# (input sizes, scales, extra arguments): equal and unequal sizes, down- and
# upsampling, odd and even, size bounds active, other tapers.
CASES = [
    ((16, 16), (0.8, 0.8), {}),
    ((15, 15), (0.6, 0.6), {}),
    ((7, 7), (1.7, 1.7), {}),
    ((20, 20), (1.0, 1.0), {}),
    ((16, 16), (0.5, 0.9), {}),
    ((16, 24), (0.8, 0.8), {}),
    ((10, 13), (1.6, 0.45), {}),
    ((17, 40), (0.33, 1.25), {}),
    ((12, 9), (0.7, 1.4), {"taper": 1.0}),
    ((16, 16), (0.55, 0.55), {"taper": 2.5}),
    ((16, 12), (0.2, 0.9), {"min_size": 6}),
    ((16, 16), (0.2, 0.2), {"min_size": 6}),
    ((16, 10), (1.9, 1.5), {"max_size": 20}),
]
MODES = list(itertools.product(["dct", "dft"], ["exact", "literal"]))
# Every case with the default mode; square, anisotropic and bounded ones
# with the others (each case costs a Jacobian).
MATRIX_CASES = [(case, ("dct", "exact")) for case in CASES] + [
    (CASES[i], mode) for i in (0, 5, 6, 10) for mode in MODES[1:]]


def _matrices_and_scale_gradient(build, sizes, scales, kwargs, transform, gradient):
    """Matrices of `build`, d(sum of matrices * fixed weights)/ds, and the
    sum of the absolute values of the terms of that sum (the scale of its
    float32 rounding: the terms cancel)."""
    kwargs = {"taper": 4.0, "min_size": 1, "max_size": None, **kwargs}
    out_sizes = layer_module.output_sizes_for(
        sizes, scales, kwargs["min_size"], kwargs["max_size"]
    )
    s = tf.Variable(np.asarray(scales, "float32"))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(d_out, d_in)).astype("float32") for d_in, d_out in zip(sizes, out_sizes)]
    with tf.GradientTape(persistent=True) as tape:
        matrices = build(
            sizes, s.value(), out_sizes, kwargs["taper"], transform, gradient,
            kwargs["min_size"], kwargs["max_size"],
        )
        loss = tf.add_n([tf.reduce_sum(m * w) for m, w in zip(matrices, weights)])
    terms = sum(
        np.sum(np.abs(tape.jacobian(m, s).numpy()) * np.abs(w)[..., None], axis=(0, 1))
        for m, w in zip(matrices, weights)
    )
    return [m.numpy() for m in matrices], tape.gradient(loss, s).numpy(), terms


@pytest.mark.parametrize("case,mode", MATRIX_CASES)
def test_batched_matrices_equal_per_axis_ones(case, mode):
    (sizes, scales, kwargs), (transform, gradient) = case, mode
    batched, grad_batched, terms = _matrices_and_scale_gradient(
        layer_module._batched_matrices, sizes, scales, kwargs, transform, gradient
    )
    per_axis, grad_per_axis, _ = _matrices_and_scale_gradient(
        layer_module._per_axis_matrices, sizes, scales, kwargs, transform, gradient
    )
    for b, p in zip(batched, per_axis):
        assert b.shape == p.shape
        # cos, sin and the matmul run on each axis' own arrays, the rest is
        # exact arithmetic on zero-padded constants: the same bits.
        np.testing.assert_array_equal(b, p)
    # dL/ds sums over padded arrays when sizes differ: float32 rounding of
    # a sum whose terms cancel, relative to the sum of their magnitudes.
    np.testing.assert_array_less(np.abs(grad_batched - grad_per_axis), 1e-6 * terms + 1e-30)


def _per_axis_layer_call(layer, x):
    """`ResolutionLayer.call` as it was: per-axis matrices, one
    apply_along_axis per axis."""
    sizes = tuple(x.shape[a] for a in layer.axes)
    matrices = layer_module._per_axis_matrices(
        sizes, layer.scale.value, layer._output_sizes(sizes, True), layer.taper,
        layer.transform, layer.gradient, layer.min_size, layer.max_size,
    )
    for axis, matrix in zip(layer.axes, matrices):
        x = resize.apply_along_axis(x, matrix, axis)
    return x


@pytest.mark.parametrize("transform,gradient", MODES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("sizes,scales,kwargs", [CASES[0], CASES[6], CASES[10]])
def test_layer_outputs_and_gradients_equal_per_axis_path(
    sizes, scales, kwargs, transform, gradient, data_format
):
    layer = ResolutionLayer(
        list(scales), transform=transform, gradient=gradient,
        static_sizes=True, data_format=data_format, **kwargs,
    )
    shape = (2, 3) + sizes if data_format == "channels_first" else (2,) + sizes + (3,)
    x = tf.constant(np.random.default_rng(1).normal(size=shape).astype("float32"))
    y = layer(x)
    r = tf.constant(np.random.default_rng(2).normal(size=y.shape).astype("float32"))
    results = []
    for call in (lambda x: layer(x, training=True), lambda x: _per_axis_layer_call(layer, x)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = call(x)
            loss = tf.reduce_sum(out * r)
        results.append((out.numpy(), *[g.numpy() for g in tape.gradient(loss, [x, layer.scale])]))
    (y_b, gx_b, gs_b), (y_p, gx_p, gs_p) = results
    np.testing.assert_array_equal(y_b, y_p)
    for got, want in ((gx_b, gx_p), (gs_b, gs_p)):
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * (np.max(np.abs(want)) + 1e-30))


def _step_op_count(static_sizes, shape=(16, 16, 8), scale=(0.8, 0.8), **kwargs):
    """Ops of a forward + gradient tf.function of one ResolutionLayer."""
    layer = ResolutionLayer(list(scale), static_sizes=static_sizes, **kwargs)
    x = tf.ones((4,) + shape)
    layer(x)
    layer._size_refresh_active = True

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer(x, training=True) ** 2)
        return tape.gradient(loss, layer.trainable_variables)

    graph = step.get_concrete_function(x).graph
    return collections.Counter(op.type for op in graph.get_operations())


def test_static_2d_layer_graph_op_count_is_bounded():
    """One static-size 2-D layer's forward + gradient graph: 142 ops when
    measured with equal sizes, 162 with unequal ones (the per-axis matrices
    gave 247 for both, and products that broadcast the matrix 158 and 178),
    about 20 of them the loss and tf.function's own. Guards against the
    per-axis graph or the broadcasting gradient coming back."""
    counts = _step_op_count(static_sizes=True)
    assert sum(counts.values()) <= 145, counts
    # One scale read for the matrices (no unstack), one cos per axis.
    assert counts["Cos"] == 2 and counts["Unpack"] == 2 and counts["Minimum"] == 1, counts
    anisotropic = _step_op_count(static_sizes=True, shape=(16, 24, 8), scale=(0.5, 0.9))
    assert sum(anisotropic.values()) <= 165, anisotropic
