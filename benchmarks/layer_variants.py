"""Ways of applying the fused per-axis matrices, timed against the current one.

Every variant computes exactly the layer's linear map: the same
`resize.resize_matrix` (Algorithm 1 fused, "exact" gradient) for each axis,
applied to a (8, d, d, 64) batch; only how the two matrix products are laid
out differs. Each is checked against the current layout (output and both
gradients), then all are timed forward+backward (gradients w.r.t. the input
and the scale) in one interleaved run, with the ResolutionLayer itself
(default: sizes computed in the graph) and bilinear `tf.image.resize` as
references.

Variants:

* `current`: `resize.apply_along_axis` as the layer does it (H then W; the
  matrix broadcast against a reshaped `(before, d_in, after)` view), with
  static sizes like `static_sizes=True`.
* `current_copy`: the same again, traced separately: a noise control, its
  ratio to `current` shows how far apart two identical contenders land.
* `w_first`: the same products in the other axis order (W, then H).
* `tiled`: the matrix explicitly tiled to the batch, so the matmul has no
  broadcasting (its gradient becomes a batch of products plus a sum).
* `einsum`: `keras.ops.einsum("oi,bia->boa")`.
* `tensordot`: `keras.ops.tensordot` then a transpose back.
* `axis_last`: each resized axis transposed last, one 2D matmul, transposed
  back.
* `channels_first`: one transpose to (B, C, H, W), W as a 2D matmul, H as a
  broadcast matmul, one transpose back.
* `dM_einsum` (TensorFlow-only `tf.custom_gradient`): the gradient w.r.t. the
  matrix as one contraction instead of a batch of products and a sum.

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/layer_variants.py
      [--repeats 15] [--inner 3] [--only current,w_first]
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_resolution import ResolutionLayer, resize  # noqa: E402

BATCH = 8
CHANNELS = 64
CASES = (("40x40 -> 80x80", 40, 2.0), ("80x80 -> 40x40", 80, 0.5))


def _product(dims):
    result = 1
    for dim in dims:
        result = result * dim
    return result


def _view3(x, axis):
    shape = ops.shape(x)
    return shape, ops.reshape(
        x, (_product(shape[:axis]), shape[axis], _product(shape[axis + 1 :]))
    )


def _unview(y, shape, axis, d_out):
    return ops.reshape(y, tuple(shape[:axis]) + (d_out,) + tuple(shape[axis + 1 :]))


def apply_tiled(x, matrix, axis):
    shape, x3 = _view3(x, axis)
    tiled = ops.broadcast_to(matrix[None], (x3.shape[0],) + tuple(matrix.shape))
    return _unview(ops.matmul(tiled, x3), shape, axis, matrix.shape[0])


def apply_einsum(x, matrix, axis):
    shape, x3 = _view3(x, axis)
    return _unview(ops.einsum("oi,bia->boa", matrix, x3), shape, axis, matrix.shape[0])


def apply_tensordot(x, matrix, axis):
    y = ops.tensordot(matrix, x, axes=[[1], [axis]])  # (d_out, ...without axis)
    rank = len(x.shape)
    return ops.transpose(y, list(range(1, axis + 1)) + [0] + list(range(axis + 1, rank)))


def apply_axis_last(x, matrix, axis):
    rank = len(x.shape)
    perm = [i for i in range(rank) if i != axis] + [axis]
    moved = ops.transpose(x, perm)
    lead = tuple(moved.shape[:-1])
    y = ops.matmul(ops.reshape(moved, (-1, moved.shape[-1])), ops.transpose(matrix))
    y = ops.reshape(y, lead + (matrix.shape[0],))
    return ops.transpose(y, np.argsort(perm).tolist())


@tf.custom_gradient
def _matmul_dM_einsum(matrix, x3):
    def grad(g):
        return tf.einsum("boa,bia->oi", g, x3), tf.matmul(matrix, g, transpose_a=True)

    return tf.matmul(matrix, x3), grad


def apply_dM_einsum(x, matrix, axis):
    shape, x3 = _view3(x, axis)
    return _unview(_matmul_dM_einsum(matrix, x3), shape, axis, matrix.shape[0])


def resize_2d(x, scale, sizes, order=(0, 1), apply=resize.apply_along_axis):
    """The layer's map (channels_last, static sizes) with a chosen layout."""
    d_in = (x.shape[1], x.shape[2])
    for i in order:
        matrix = resize.resize_matrix(d_in[i], scale[i], sizes[i])
        x = apply(x, matrix, i + 1)
    return x


def resize_channels_first(x, scale, sizes):
    d_h, d_w = x.shape[1], x.shape[2]
    m_h = resize.resize_matrix(d_h, scale[0], sizes[0])
    m_w = resize.resize_matrix(d_w, scale[1], sizes[1])
    t = ops.transpose(x, (0, 3, 1, 2))  # (B, C, H, W)
    t = ops.matmul(ops.reshape(t, (-1, d_w)), ops.transpose(m_w))  # W axis
    t = ops.reshape(t, (-1, d_h, sizes[1]))
    t = ops.matmul(m_h, t)  # H axis, broadcast over B*C
    t = ops.reshape(t, (x.shape[0], x.shape[3], sizes[0], sizes[1]))
    return ops.transpose(t, (0, 2, 3, 1))


VARIANTS = {
    "current": lambda x, s, n: resize_2d(x, s, n),
    "current_copy": lambda x, s, n: resize_2d(x, s, n),
    "w_first": lambda x, s, n: resize_2d(x, s, n, order=(1, 0)),
    "tiled": lambda x, s, n: resize_2d(x, s, n, apply=apply_tiled),
    "einsum": lambda x, s, n: resize_2d(x, s, n, apply=apply_einsum),
    "tensordot": lambda x, s, n: resize_2d(x, s, n, apply=apply_tensordot),
    "axis_last": lambda x, s, n: resize_2d(x, s, n, apply=apply_axis_last),
    "channels_first": resize_channels_first,
    "dM_einsum": lambda x, s, n: resize_2d(x, s, n, apply=apply_dM_einsum),
}


def variant_step(fn, scale_var, sizes):
    @tf.function
    def step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, scale_var, sizes)
        dx, ds = tape.gradient(y, [x, scale_var], output_gradients=g)
        return y, dx, ds

    return step


def run_case(d, scale, args):
    rng = np.random.default_rng(0)
    d_out = math.ceil(d * scale)
    x = tf.constant(rng.standard_normal((BATCH, d, d, CHANNELS), np.float32))
    g = tf.constant(rng.standard_normal((BATCH, d_out, d_out, CHANNELS), np.float32))
    scale_var = tf.Variable([scale, scale], dtype="float32")
    steps = {}
    for name in args.only:
        steps[name] = variant_step(VARIANTS[name], scale_var, (d_out, d_out))
    layer = ResolutionLayer(scale=scale)
    layer.build(x.shape)

    @tf.function
    def layer_step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        dx, ds = tape.gradient(y, [x, layer.scale], output_gradients=g)
        return y, dx, ds

    @tf.function
    def bilinear_step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.image.resize(x, (d_out, d_out), method="bilinear")
        return y, tape.gradient(y, x, output_gradients=g)

    steps["layer"] = layer_step
    steps["bilinear"] = bilinear_step
    reference = [t.numpy() for t in layer_step(x, g)]
    checks = {}
    for name, step in steps.items():
        outputs = [t.numpy() for t in step(x, g)]
        if name == "bilinear":
            continue
        y_err = np.max(np.abs(outputs[0] - reference[0])) / np.max(np.abs(reference[0]))
        dx_err = np.max(np.abs(outputs[1] - reference[1])) / np.max(np.abs(reference[1]))
        ds_err = np.max(np.abs(outputs[2] - reference[2]) / np.abs(reference[2]))
        checks[name] = max(y_err, dx_err, ds_err)
        if checks[name] > 1e-4:
            raise AssertionError(f"{name} differs from the layer: {checks[name]:.2e}")
    contenders = {name: (lambda s=step: s(x, g)) for name, step in steps.items()}
    samples = _common.interleaved_timing(contenders, args.repeats, args.inner, args.warmup)
    return samples, checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", default=",".join(VARIANTS))
    args = parser.parse_args()
    args.only = [name for name in args.only.split(",") if name]
    unknown = set(args.only) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")

    print("Layouts of the fused-matrix resize, forward+backward (dx, ds)")
    print(f"batch {BATCH}, {CHANNELS} channels, {args.repeats} interleaved samples "
          f"x {args.inner} calls")
    print("machine:")
    _common.print_machine_details()
    for case, d, scale in CASES:
        samples, checks = run_case(d, scale, args)
        print()
        print(f"{case}")
        print("| variant | max rel. diff vs layer | median ms | IQR ms | vs current (paired) |")
        print("|---|---|---|---|---|")
        base = "current" if "current" in samples else "layer"
        for name, values in samples.items():
            q1, q3 = _common.quartiles(values)
            check = f"{checks[name]:.1e}" if name in checks else "-"
            print(f"| {name} | {check} | {_common.median(values):.2f} | {q1:.2f}-{q3:.2f} | "
                  f"{_common.paired_ratio(samples, name, base):.3f} |")


if __name__ == "__main__":
    main()
