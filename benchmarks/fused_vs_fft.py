"""The layer's fused-matrix resize vs the same DCT resize computed with FFTs.

For each axis the layer multiplies by one (d_out x d_in) matrix that fuses
Algorithm 1 (forward DCT-II, keep the first m = min(d_in, d_out)
coefficients, relaxed taper, zero-pad, inverse DCT at d_out, amplitude
sqrt(d_out / d_in)). This script computes the same resize with fast
transforms instead, in two ways written here:

* `fft_tfsignal`: `tf.signal.dct` / `tf.signal.idct` (orthonormal, type 2/3)
  on the last axis, with transposes to bring each resized axis last
  (tf.signal's DCT is itself an rfft of the 2N-padded signal);
* `fft_makhoul`: DCT-II and DCT-III as N-point `rfft` / `irfft` after
  Makhoul's even/odd reordering (Makhoul 1980), also on the last axis.

and compares them with `fused` (a default `ResolutionLayer`, in a
`tf.function`). Scales 0.75 and 1.5 make q = d_in * s an integer for every n
used, where the layer's "exact" output grid coincides with the inverse DCT of
size d_out, so all paths compute the same numbers: the max abs difference is
printed before any timing. Then forward, and forward+backward w.r.t. the
input (all three are linear in x), are timed interleaved, and the ratios
FFT / fused printed.

Inputs: (16, n, n, 32) float32 for n = 16, 64, 160.

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/fused_vs_fft.py
      [--repeats 5] [--cases 16:0.75:b,64:1.5:b,160:0.75]
Default cases: n = 16 (scales 0.75 and 1.5, forward and forward+backward),
n = 64 (0.75 both passes, 1.5 forward), n = 160 (0.75, forward only: an FFT
forward+backward there takes several seconds).
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_resolution import ResolutionLayer  # noqa: E402

BATCH = 16
CHANNELS = 32
TAPER = 4.0


def taper_weights(d_in, scale, m):
    """The layer's relaxed mask w_k = clip((q + 1 - k) / taper, 0, 1), k = 1..m."""
    q = tf.cast(d_in, tf.float32) * scale
    k = tf.range(1, m + 1, dtype=tf.float32)
    return tf.clip_by_value((q + 1.0 - k) / TAPER, 0.0, 1.0)


# ------------------------------------------------ DCT via tf.signal (2N rfft)
def resize_last_tfsignal(x, scale, d_out):
    d_in = x.shape[-1]
    m = min(d_in, d_out)
    coefficients = tf.signal.dct(x, type=2, norm="ortho")[..., :m]
    coefficients = coefficients * taper_weights(d_in, scale, m)
    coefficients = tf.pad(coefficients, [[0, 0]] * (x.shape.rank - 1) + [[0, d_out - m]])
    return tf.signal.idct(coefficients, type=2, norm="ortho") * math.sqrt(d_out / d_in)


# ---------------------------------------- DCT via N-point rfft (Makhoul 1980)
def dct2_ortho(x, m=None):
    """First m coefficients of the orthonormal DCT-II along the last axis,
    from one N-point rfft."""
    n = x.shape[-1]
    m = n if m is None else m
    v = tf.concat([x[..., ::2], tf.reverse(x[..., 1::2], [-1])], -1)
    spectrum = tf.signal.rfft(v)  # V_k, k = 0 .. n//2
    if m > n // 2 + 1:  # V_k = conj(V_{n-k}) for the upper half.
        tail = tf.math.conj(tf.reverse(spectrum[..., 1 : n - n // 2], [-1]))
        spectrum = tf.concat([spectrum, tail], -1)
    k = np.arange(m)
    twiddle = tf.constant(np.exp(-1j * np.pi * k / (2 * n)), tf.complex64)
    scale = np.full(m, math.sqrt(2.0 / n), np.float32)
    scale[0] = math.sqrt(1.0 / n)
    return tf.math.real(spectrum[..., :m] * twiddle) * scale


def dct3_ortho(c):
    """Orthonormal DCT-III (inverse of `dct2_ortho`) from one N-point irfft."""
    n = c.shape[-1]
    scale = np.full(n, math.sqrt(n / 2.0), np.float32)
    scale[0] = math.sqrt(n)
    z = c * scale  # Re(W_k V_k)
    half = n // 2 + 1
    z_head = z[..., :half]
    z_mirror = tf.concat([tf.zeros_like(z[..., :1]), tf.reverse(z, [-1])[..., : half - 1]], -1)
    k = np.arange(half)
    twiddle = tf.constant(np.exp(1j * np.pi * k / (2 * n)), tf.complex64)
    spectrum = twiddle * tf.complex(z_head, -z_mirror)
    v = tf.signal.irfft(spectrum, fft_length=[n])
    n_even = (n + 1) // 2
    evens = v[..., :n_even]
    odds = tf.reverse(v[..., n_even:], [-1])
    if n % 2:
        odds = tf.concat([odds, tf.zeros_like(odds[..., :1])], -1)
    lead = tf.shape(v)[:-1]
    out = tf.reshape(tf.stack([evens, odds], -1), tf.concat([lead, [2 * n_even]], 0))
    return out[..., :n]


def resize_last_makhoul(x, scale, d_out):
    d_in = x.shape[-1]
    m = min(d_in, d_out)
    coefficients = dct2_ortho(x, m) * taper_weights(d_in, scale, m)
    coefficients = tf.pad(coefficients, [[0, 0]] * (x.shape.rank - 1) + [[0, d_out - m]])
    return dct3_ortho(coefficients) * math.sqrt(d_out / d_in)


def fft_resize_2d(resize_last, x, scale, d_out):
    """(B, H, W, C): W then H, each moved to the last axis by a transpose."""
    t = tf.transpose(x, (0, 3, 1, 2))  # (B, C, H, W)
    t = resize_last(t, scale, d_out)  # W
    t = tf.transpose(t, (0, 1, 3, 2))  # (B, C, W', H)
    t = resize_last(t, scale, d_out)  # H
    return tf.transpose(t, (0, 3, 2, 1))  # (B, H', W', C)


# (n, scale, passes): forward+backward only where an FFT-path call takes well
# under a second, so the whole script stays within about two minutes on two
# busy cores (add cases with --cases).
DEFAULT_CASES = (
    (16, 0.75, ("forward", "fwd+bwd")),
    (16, 1.5, ("forward", "fwd+bwd")),
    (64, 0.75, ("forward", "fwd+bwd")),
    (64, 1.5, ("forward",)),
    (160, 0.75, ("forward",)),
)


def make_steps(n, scale, passes):
    d_out = math.ceil(n * scale)
    layer = ResolutionLayer(scale=scale, taper=TAPER)
    layer.build((BATCH, n, n, CHANNELS))
    scale_tensor = tf.constant(scale, tf.float32)
    forwards = {
        "fused": lambda x: layer(x),
        "fft_tfsignal": lambda x: fft_resize_2d(resize_last_tfsignal, x, scale_tensor, d_out),
        "fft_makhoul": lambda x: fft_resize_2d(resize_last_makhoul, x, scale_tensor, d_out),
    }
    steps = {}
    for name, forward in forwards.items():
        if "forward" in passes:
            steps[(name, "forward")] = tf.function(forward)
        if "fwd+bwd" in passes:

            def both(x, g, forward=forward):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = forward(x)
                return y, tape.gradient(y, x, output_gradients=g)

            steps[(name, "fwd+bwd")] = tf.function(both)
    return steps, d_out


def calibrated_inner(fn, target_ms=40.0):
    """Calls per sample so that a sample lasts about target_ms (from the
    fastest of three calls, so one preempted call does not decide)."""
    elapsed = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        elapsed.append((time.perf_counter() - start) * 1e3)
        if elapsed[-1] > target_ms:  # Slow contender: one call per sample.
            return 1
    return max(1, min(20, round(target_ms / max(min(elapsed), 1e-3))))


def run_case(n, scale, passes, args, rng):
    steps, d_out = make_steps(n, scale, passes)
    x = tf.constant(rng.standard_normal((BATCH, n, n, CHANNELS), np.float32))
    g = tf.constant(rng.standard_normal((BATCH, d_out, d_out, CHANNELS), np.float32))
    calls = {
        key: (lambda s=step: s(x)) if key[1] == "forward" else (lambda s=step: s(x, g))
        for key, step in steps.items()
    }
    outputs = {key: call() for key, call in calls.items()}  # Traces too.
    print(f"\nn = {n}, scale {scale} ({n}x{n} -> {d_out}x{d_out}), x ~ N(0, 1)")
    for mode in passes:
        reference = outputs[("fused", mode)]
        reference = reference if mode == "fwd+bwd" else (reference,)
        for name in ("fft_tfsignal", "fft_makhoul"):
            other = outputs[(name, mode)]
            other = other if mode == "fwd+bwd" else (other,)
            diffs = [float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(other, reference)]
            labels = ("output", "dL/dx")
            print(f"  {mode} {name}: max abs diff vs fused: " + ", ".join(
                f"{label} {d:.2e}" for label, d in zip(labels, diffs))
                + f" (max |y| {float(tf.reduce_max(tf.abs(reference[0]))):.2f})")
            if max(diffs) > 1e-3:
                raise AssertionError(f"{name} does not compute the layer's resize")
    rows = []
    for mode in passes:
        contenders = {name: call for (name, m), call in calls.items() if m == mode}
        inner = {name: calibrated_inner(call) for name, call in contenders.items()}
        samples = _common.interleaved_timing(contenders, args.repeats, inner, args.warmup)
        rows.append((n, scale, d_out, mode, samples))
        print(f"  {mode}: " + ", ".join(
            f"{name} {_common.median(v):.2f} ms ({inner[name]} calls/sample)"
            for name, v in samples.items()))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=None,
                        help="n:scale[:b] list, e.g. 16:0.75:b,160:0.75 "
                             "(b adds forward+backward); default: the built-in list")
    parser.add_argument("--repeats", type=int, default=5)
    # Every contender has already been traced and run once (the equality
    # check) and three more times (calibration) before timing.
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    cases = DEFAULT_CASES
    if args.cases:
        cases = []
        for item in args.cases.split(","):
            parts = item.split(":")
            passes = ("forward", "fwd+bwd") if parts[2:] == ["b"] else ("forward",)
            cases.append((int(parts[0]), float(parts[1]), passes))

    print("Fused-matrix DCT resize (the layer) vs FFT-based DCT resize")
    print(f"batch {BATCH}, {CHANNELS} channels, float32, tf.function, "
          f"{args.repeats} interleaved samples")
    print("machine:")
    _common.print_machine_details()
    rng = np.random.default_rng(0)
    rows = []
    for n, scale, passes in cases:
        rows.extend(run_case(n, scale, passes, args, rng))
    print()
    print("| n | scale | d_out | pass | fused ms | fft_tfsignal ms | fft_makhoul ms "
          "| tfsignal / fused | makhoul / fused |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, scale, d_out, mode, samples in rows:
        medians = {name: _common.median(v) for name, v in samples.items()}
        print(f"| {n} | {scale} | {d_out} | {mode} | {medians['fused']:.2f} | "
              f"{medians['fft_tfsignal']:.2f} | {medians['fft_makhoul']:.2f} | "
              f"{_common.paired_ratio(samples, 'fft_tfsignal', 'fused'):.1f} | "
              f"{_common.paired_ratio(samples, 'fft_makhoul', 'fused'):.1f} |")
    print("(ratios: median of per-round ratios; > 1 means the fused matrix is faster)")
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
