"""Forward+backward time of ResolutionLayer vs bilinear tf.image.resize.

Both contenders resize a (8, d, d, 64) float32 batch to the same output size
(40x40 -> 80x80 and 80x80 -> 40x40) inside a `tf.function` that returns the
output and the gradients of `<y, g>` for a fixed random upstream gradient g:

* ResolutionLayer: gradients w.r.t. the input and the scale `s` (what a
  training step needs). Two variants are timed:
  - `layer`: the default, `static_sizes=False`; the output sizes are int32
    tensors computed from `s` in the graph, which is the path `model.fit`
    takes on TensorFlow without XLA;
  - `layer_static`: `static_sizes=True`; sizes are Python ints at trace time
    (the path of compiled steps), so the graph has fully static shapes.
* `bilinear`: `tf.image.resize(method="bilinear")` (antialias off, the
  default); gradient w.r.t. the input only, since it has no scale.
* with `--xla`: `layer_static_xla` and `bilinear_xla`, the same steps under
  `tf.function(jit_compile=True)` (XLA needs the static sizes).
* `dense_floor`: not a resize; three plain 2D matmuls with as many
  multiply-adds as the layer's forward+backward (one product per pass, each
  (R x 40) @ (40 x 80) shaped), i.e. what any dense (d_out x d_in) per-axis
  resize costs at the best matmul throughput of this machine. It bounds from
  below what a faster layout of the same math could reach.

The ratio layer / bilinear is measured in the same run with interleaved
samples (see `_common.py`); the target of issue 2 is <= 1.5.

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/resize_vs_bilinear.py
      [--repeats 31] [--inner 5] [--warmup 5] [--xla]
Takes well under 2 minutes on 2 CPU cores.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_resolution import ResolutionLayer  # noqa: E402

BATCH = 8
CHANNELS = 64
CASES = (  # (name, input size, scale, output size)
    ("40x40 -> 80x80", 40, 2.0, 80),
    ("80x80 -> 40x40", 80, 0.5, 40),
)
TARGET_RATIO = 1.5


def layer_step(d_in, scale, static_sizes, jit_compile=False):
    layer = ResolutionLayer(scale=scale, static_sizes=static_sizes)
    layer.build((BATCH, d_in, d_in, CHANNELS))

    @tf.function(jit_compile=jit_compile)
    def step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        dx, ds = tape.gradient(y, [x, layer.scale], output_gradients=g)
        return y, dx, ds

    return step


def bilinear_step(d_out, jit_compile=False):
    @tf.function(jit_compile=jit_compile)
    def step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.image.resize(x, (d_out, d_out), method="bilinear")
        dx = tape.gradient(y, x, output_gradients=g)
        return y, dx

    return step


def layer_macs(d_in, d_out):
    """Multiply-adds of the layer's forward: H then W, each a dense matrix."""
    rest = BATCH * CHANNELS
    return d_out * d_in * d_in * rest + d_out * d_in * d_out * rest


def bilinear_macs(d_out):
    """Multiply-adds of bilinear's forward: 4 taps per output value."""
    return 4 * BATCH * d_out * d_out * CHANNELS


def dense_floor_step(macs, rng):
    rows = macs // (40 * 80)
    a = tf.constant(rng.standard_normal((rows, 40), np.float32))
    m = tf.constant(rng.standard_normal((40, 80), np.float32))
    g = tf.constant(rng.standard_normal((rows, 80), np.float32))

    @tf.function
    def step():
        y = tf.matmul(a, m)  # forward
        da = tf.matmul(g, m, transpose_b=True)  # input gradient
        dm = tf.matmul(a, g, transpose_a=True)  # matrix (scale) gradient
        return y, da, dm

    return step


def run_case(d_in, scale, d_out, args):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((BATCH, d_in, d_in, CHANNELS), np.float32))
    g = tf.constant(rng.standard_normal((BATCH, d_out, d_out, CHANNELS), np.float32))
    steps = {
        "layer": layer_step(d_in, scale, static_sizes=False),
        "layer_static": layer_step(d_in, scale, static_sizes=True),
        "bilinear": bilinear_step(d_out),
    }
    if args.xla:
        steps["layer_static_xla"] = layer_step(d_in, scale, True, jit_compile=True)
        steps["bilinear_xla"] = bilinear_step(d_out, jit_compile=True)
    for name, step in steps.items():  # Trace, and check the shapes agree.
        outputs = step(x, g)
        shape = tuple(outputs[0].shape)
        if shape != (BATCH, d_out, d_out, CHANNELS):
            raise AssertionError(f"{name}: output shape {shape}")
        if not all(np.all(np.isfinite(o.numpy())) for o in outputs):
            raise AssertionError(f"{name}: non-finite output or gradient")
    contenders = {name: (lambda s=step: s(x, g)) for name, step in steps.items()}
    contenders["dense_floor"] = dense_floor_step(layer_macs(d_in, d_out), rng)
    return _common.interleaved_timing(contenders, args.repeats, args.inner, args.warmup)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31, help="samples per contender")
    parser.add_argument("--inner", type=int, default=5, help="calls per sample")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    parser.add_argument("--xla", action="store_true",
                        help="also time both under tf.function(jit_compile=True)")
    args = parser.parse_args()

    print("ResolutionLayer vs tf.image.resize(bilinear), forward+backward")
    print(f"batch {BATCH}, {CHANNELS} channels, float32, tf.function, "
          f"{args.repeats} interleaved samples x {args.inner} calls")
    print("machine:")
    _common.print_machine_details()
    rows = []
    for case, d_in, scale, d_out in CASES:
        samples = run_case(d_in, scale, d_out, args)
        rows.append((case, samples))
    print()
    print("| case | contender | median ms | IQR ms | ratio to bilinear "
          "(of medians / paired median) |")
    print("|---|---|---|---|---|")
    verdicts = []
    for case, samples in rows:
        for name, values in samples.items():
            q1, q3 = _common.quartiles(values)
            if name == "bilinear":
                ratio = "1"
            elif name == "dense_floor":
                ratio = f"{_common.paired_ratio(samples, name, 'bilinear'):.2f} (paired)"
            else:
                of_medians = _common.median(values) / _common.median(samples["bilinear"])
                paired = _common.paired_ratio(samples, name, "bilinear")
                ratio = f"{of_medians:.2f} / {paired:.2f}"
                if name == "layer":
                    verdicts.append((case, paired))
            print(f"| {case} | {name} | {_common.median(values):.2f} | "
                  f"{q1:.2f}-{q3:.2f} | {ratio} |")
    print()
    for case, d_in, scale, d_out in CASES:
        samples = dict(rows)[case]
        dense = 3 * layer_macs(d_in, d_out)
        print(f"{case}: multiply-adds per forward+backward: layer {dense / 1e6:.0f} M "
              f"(3 dense products per axis), bilinear ~{2 * bilinear_macs(d_out) / 1e6:.0f} M "
              f"(4 taps forward, 4 backward); layer throughput "
              f"{2 * dense / _common.median(samples['layer']) / 1e6:.0f} GFLOP/s, "
              f"dense_floor {2 * dense / _common.median(samples['dense_floor']) / 1e6:.0f} GFLOP/s; "
              f"dense_floor/bilinear = "
              f"{_common.paired_ratio(samples, 'dense_floor', 'bilinear'):.2f}")
    print()
    for case, paired in verdicts:
        status = "met" if paired <= TARGET_RATIO else "NOT met"
        print(f"{case}: layer/bilinear = {paired:.2f} "
              f"(target <= {TARGET_RATIO}: {status})")
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
