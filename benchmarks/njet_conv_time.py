"""Training step of one NJetConv2D: the full-kernel convolution against the
basis-first forward that `NJetConv2D.call` computes.

Both contenders compute the same map from the same layer (same alphas and
sigma, no bias), on a fixed random (batch, H, W, C_in) float32 batch:

* `full`: `ops.conv(x, layer.kernel(), padding="same")`, one convolution
  with the full (2M + 1)^2 filter on the fixed grid (`call` before it went
  basis-first, and the official code's `F.conv2d`);
* `basis_first`: `layer(x)`: for each input channel and each of the
  F = (N + 1)(N + 2) / 2 basis filters, a depthwise 1-D pass along the
  width and one along the height, then the alphas as a 1x1 convolution.

A step is the forward pass and the backward pass with the gradients with
respect to the input, the alphas and log2_sigma (a fixed random output
gradient), inside a `tf.function`: what one training step asks of the
layer, without the optimizer update. The alphas are drawn from N(0, 1),
the layer's initializer, with a fixed seed. Before timing, the two steps'
outputs and gradients are compared: max difference relative to each
tensor's largest value, an error above 1e-4 for the output and the
gradients of x and the alphas, above 1e-2 for that of log2_sigma (one
float32 sum over every pixel and channel pair, whose terms cancel: its
rounding relative to its value grows when the sum is small). Timing
protocol of `_common.py`:
traced and warmed up first, then `--repeats` interleaved rounds; a
contender's time is its median, the ratio basis-first / full the median of
per-round ratios. Also printed: the ratio of forward multiply-adds per
pixel, `2 F (2M + 1) C_in + F C_in C_out` over `(2M + 1)^2 C_in C_out`.

Default settings (C_in:C_out:H=W:max_sigma:order): a ResNet-18 stage-1
layer at width 64 (the CIFAR schedule) at order 2 and 3; the stem, stage 1
and stage 4 of the embedded N-Jet ResNet-18 (width 4, order 3, 32x32, no
safe subsampling); and 16 channels on the 11x11 (max_sigma 2) and 7x7
(max_sigma 1) grids, where the full kernel is cheapest.

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/njet_conv_time.py
      [--batch 8] [--repeats 11] [--inner 1] [--warmup 2]
      [--cases 64:64:32:4:2,16:16:32:1:3]
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_resolution import NJetConv2D  # noqa: E402

DEFAULT_CASES = (
    "64:64:32:4:2,64:64:32:4:3,3:4:32:4:3,4:4:32:4:3,32:32:32:4:3,16:16:32:2:3,16:16:32:1:3"
)
CONTENDERS = ("full", "basis_first")
# Largest relative difference allowed between the two, per step output.
TOLERANCES = {"y": 1e-4, "dx": 1e-4, "dalphas": 1e-4, "dlog2_sigma": 1e-2}


def parse_cases(text):
    """`"C_in:C_out:size:max_sigma:order,..."` -> list of tuples."""
    cases = []
    for item in text.split(","):
        fields = item.split(":")
        if len(fields) != 5:
            raise argparse.ArgumentTypeError(
                f"a case is C_in:C_out:size:max_sigma:order, got {item!r}"
            )
        c_in, c_out, size, order = (int(fields[i]) for i in (0, 1, 2, 4))
        cases.append((c_in, c_out, size, float(fields[3]), order))
    return cases


def multiply_adds(layer, c_in):
    """Forward multiply-adds per pixel: (basis-first, full kernel)."""
    size, f = 2 * layer.max_half_width + 1, layer.num_basis
    return 2 * f * size * c_in + f * c_in * layer.filters, size * size * c_in * layer.filters


def run_case(case, args):
    c_in, c_out, size, max_sigma, order = case
    rng = np.random.default_rng(0)
    log2_sigma = min(0.3, math.log2(max_sigma))  # The cost does not depend on sigma.
    layer = NJetConv2D(c_out, order=order, max_sigma=max_sigma, init_log2_sigma=log2_sigma)
    x = tf.constant(rng.standard_normal((args.batch, size, size, c_in), np.float32))
    g = tf.constant(rng.standard_normal((args.batch, size, size, c_out), np.float32))
    layer.build(x.shape)
    layer.alphas.assign(rng.standard_normal(layer.alphas.shape).astype(np.float32))
    forwards = {
        "full": lambda x: ops.conv(x, layer.kernel(), padding="same"),
        "basis_first": layer,
    }

    def training_step(forward):
        @tf.function
        def step(x, g):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = forward(x)
            variables = [x, layer.alphas.value, layer.log2_sigma.value]
            return (y, *tape.gradient(y, variables, output_gradients=g))

        return step

    steps = {name: training_step(forwards[name]) for name in CONTENDERS}
    results = {name: [t.numpy() for t in step(x, g)] for name, step in steps.items()}
    differences = {
        name: np.max(np.abs(a - b)) / np.max(np.abs(b))
        for name, a, b in zip(TOLERANCES, results["basis_first"], results["full"])
    }
    for name, difference in differences.items():
        if difference > TOLERANCES[name]:
            raise AssertionError(
                f"{case}: basis-first differs from the full kernel in {name}: {difference:.1e}"
            )
    contenders = {name: (lambda s=step: s(x, g)) for name, step in steps.items()}
    samples = _common.interleaved_timing(contenders, args.repeats, args.inner, args.warmup)
    basis, full = multiply_adds(layer, c_in)
    grid = 2 * layer.max_half_width + 1
    print(
        f"| {c_in} | {c_out} | {size} | {max_sigma:g} ({grid}x{grid}) | {order} | "
        f"{_common.median(samples['full']):.1f} | {_common.median(samples['basis_first']):.1f} | "
        f"**{_common.paired_ratio(samples, 'basis_first', 'full'):.3f}** | {basis / full:.3f} | "
        f"{max(differences['y'], differences['dx'], differences['dalphas']):.1e} | "
        f"{differences['dlog2_sigma']:.1e} |",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=11, help="interleaved rounds")
    parser.add_argument("--inner", type=int, default=1, help="calls per sample")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per contender")
    parser.add_argument("--cases", type=parse_cases, default=parse_cases(DEFAULT_CASES),
                        help="C_in:C_out:size:max_sigma:order, comma-separated")
    args = parser.parse_args()

    print("NJetConv2D training step (forward + gradients w.r.t. x, alphas, log2_sigma): "
          "full kernel vs basis-first")
    print(f"batch {args.batch}, float32, sigma = 2^0.3 (1 at max_sigma 1), {args.repeats} interleaved rounds "
          f"x {args.inner} calls, {args.warmup} warm-up calls")
    print("machine:")
    _common.print_machine_details()
    print()
    print("| C_in | C_out | H=W | max_sigma (grid) | order | full ms | basis-first ms | "
          "basis-first / full (paired) | forward multiply-adds ratio | "
          "max rel. diff y, dx, dalphas | rel. diff dlog2_sigma |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        run_case(case, args)
    print(f"\nload average at the end (1, 5, 15 min): {_common.load_average()}")


if __name__ == "__main__":
    main()
