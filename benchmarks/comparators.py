"""Forward+backward time of ResolutionLayer vs DiffStride2D vs
FixedSpectralPooling2D on the same input (issue 11, item 6).

Every contender downsamples the same (8, d, d, 64) float32 batch inside a
`tf.function` that returns the output and the gradients of `<y, g>` for a
fixed random upstream gradient g:

* `resolution`: `ResolutionLayer(0.5)` (DCT, defaults), gradients w.r.t. the
  input and the scale; sizes computed in the graph (the `model.fit` path on
  TensorFlow without XLA);
* `resolution_static`: the same with `static_sizes=True` (Python-int sizes);
* `diffstride`: `DiffStride2D(S)` with the smallest S (0.01 grid) whose
  output is the same d/2 x d/2 as `resolution`, gradients w.r.t. the input
  and the strides; sizes in the graph;
* `diffstride_static`: the same with `static_sizes=True`;
* `diffstride_s2`: `DiffStride2D(2.0)`, the official initialisation, whose
  output is larger (the ramp lies outside H / S: 40x40 from 64x64);
* `fixed`: `FixedSpectralPooling2D(2)`, output d/2 x d/2, gradient w.r.t.
  the input only (nothing is learned).

Ratios are against `resolution`, measured in the same run with interleaved
samples (median of per-round ratios, see `_common.py`).

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/comparators.py
      [--repeats 21] [--inner 3] [--warmup 3] [--sizes 32,64]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_resolution import DiffStride2D  # noqa: E402
from keras_resolution import FixedSpectralPooling2D  # noqa: E402
from keras_resolution import ResolutionLayer  # noqa: E402

BATCH = 8
CHANNELS = 64


def matching_stride(d, target):
    """Smallest S on a 0.01 grid with DiffStride2D(S) giving target x target."""
    for stride in np.arange(1.0, d, 0.01):
        shape = DiffStride2D(float(stride)).compute_output_shape((1, d, d, 1))
        if shape[1:3] == (target, target):
            return round(float(stride), 2)
    raise ValueError(f"no DiffStride2D stride gives {target}x{target} from {d}x{d}")


def step_of(layer, shape):
    """tf.function: (x, g) -> (y, dx[, d variable]) for `layer`."""
    layer.build(shape)
    variables = [v for v in layer.trainable_variables]

    @tf.function
    def step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)  # As resize_vs_bilinear.py: static layers need no SizeRefresh.
        return (y, *tape.gradient(y, [x, *variables], output_gradients=g))

    return step


def run_case(d, args):
    rng = np.random.default_rng(0)
    shape = (BATCH, d, d, CHANNELS)
    x = tf.constant(rng.standard_normal(shape, np.float32))
    target = d // 2
    stride = matching_stride(d, target)
    layers = {
        "resolution": ResolutionLayer(0.5),
        "resolution_static": ResolutionLayer(0.5, static_sizes=True),
        "diffstride": DiffStride2D(stride),
        "diffstride_static": DiffStride2D(stride, static_sizes=True),
        "diffstride_s2": DiffStride2D(2.0),
        "fixed": FixedSpectralPooling2D(2),
    }
    steps, outputs, grads = {}, {}, {}
    for name, layer in layers.items():
        step = step_of(layer, shape)
        g = tf.constant(rng.standard_normal(layer.compute_output_shape(shape), np.float32))
        steps[name] = (step, g)
        result = step(x, g)
        outputs[name] = tuple(result[0].shape[1:3])
        grads[name] = len(result) - 1
    contenders = {name: (lambda s=s, g=g: s(x, g)) for name, (s, g) in steps.items()}
    samples = _common.interleaved_timing(contenders, args.repeats, args.inner, args.warmup)
    return samples, outputs, grads, stride


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--sizes", default="32,64")
    args = parser.parse_args()

    print("ResolutionLayer vs DiffStride2D vs FixedSpectralPooling2D, forward+backward")
    print(f"batch {BATCH}, {CHANNELS} channels, {args.repeats} interleaved samples "
          f"x {args.inner} calls")
    print("machine:")
    _common.print_machine_details()
    for d in [int(v) for v in args.sizes.split(",")]:
        samples, outputs, grads, stride = run_case(d, args)
        print()
        print(f"{d}x{d} input; DiffStride2D stride for {d // 2}x{d // 2}: {stride}")
        print("| contender | output | gradients | median ms | IQR ms | vs resolution (paired) |")
        print("|---|---|---|---|---|---|")
        for name, values in samples.items():
            q1, q3 = _common.quartiles(values)
            wrt = "x, rate" if grads[name] == 2 else "x"
            h, w = outputs[name]
            print(f"| {name} | {h}x{w} | {wrt} | {_common.median(values):.2f} | "
                  f"{q1:.2f}-{q3:.2f} | {_common.paired_ratio(samples, name, 'resolution'):.2f} |")


if __name__ == "__main__":
    main()
