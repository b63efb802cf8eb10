"""Interleaved timing: how this project measures the cost of a call on a
noisy machine (the benchmark scripts and the family sweep's latencies).

The protocol:

* every contender is traced (or loaded) and warmed up before any sample is
  taken;
* samples are interleaved: each round times every contender once, in an
  order rotated from round to round (`rotated_order`), so slow phases of a
  busy machine hit all contenders alike;
* a contender's time is the median of its samples, and a ratio to a
  reference is the median of the per-round ratios (`paired_ratio`: pairs
  measured moments apart, more robust to load than the ratio of medians).

TensorFlow executes eager calls of a `tf.function` synchronously on CPU, so
the wall time of a call includes all of its computation, and so does ONNX
Runtime's `run`.
"""

import os
import statistics
import time


def rotated_order(names, round_index):
    """The order in which round `round_index` times the contenders `names`:
    rotated by one each round, and reversed every other full rotation, so
    each contender runs first, last and next to each of the others alike.

    Example:

    >>> [rotated_order(["a", "b", "c"], r) for r in range(4)]
    [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['c', 'b', 'a']]
    """
    shift = round_index % len(names)
    order = names[shift:] + names[:shift]
    if (round_index // len(names)) % 2:
        order = order[::-1]
    return order


def interleaved_timing(contenders, repeats, inner, warmup):
    """Times callables in interleaved rounds.

    Args:
        contenders: Dict name -> zero-argument callable (already traced).
        repeats: Number of rounds (samples per contender).
        inner: Calls per sample: an int, or a dict name -> int.
        warmup: Untimed calls of each contender before the first round.

    Returns:
        Dict name -> list of `repeats` samples, in milliseconds per call.
    """
    names = list(contenders)
    if isinstance(inner, int):
        inner = {name: inner for name in names}
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    samples = {name: [] for name in names}
    for r in range(repeats):
        for name in rotated_order(names, r):
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / inner[name] * 1e3)
    return samples


def interleaved_wall_and_cpu(contenders, repeats, warmup):
    """Times callables in interleaved rounds, in wall and process CPU time.

    Process CPU time sums every thread of this process, so it is less
    sensitive than wall time to other processes taking the cores.

    Args:
        contenders: Dict name -> zero-argument callable (already traced).
        repeats: Number of rounds (samples per contender).
        warmup: Untimed calls of each contender before the first round.

    Returns:
        (wall, cpu): dicts name -> list of `repeats` samples, in
        milliseconds per call.

    Example:

    >>> wall, cpu = interleaved_wall_and_cpu({"a": lambda: None}, repeats=3, warmup=1)
    >>> len(wall["a"]), len(cpu["a"])
    (3, 3)
    """
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for r in range(repeats):
        for name in rotated_order(names, r):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            contenders[name]()
            wall[name].append((time.perf_counter() - wall_start) * 1e3)
            cpu[name].append((time.process_time() - cpu_start) * 1e3)
    return wall, cpu


def median(values):
    """The median of the samples."""
    return statistics.median(values)


def quartiles(values):
    """(first quartile, third quartile) of the samples."""
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def paired_ratio(samples, numerator, denominator):
    """Median over rounds of `samples[numerator][r] / samples[denominator][r]`.

    Example:

    >>> paired_ratio({"a": [2.0, 4.0, 9.0], "b": [1.0, 2.0, 3.0]}, "a", "b")
    2.0
    """
    return statistics.median(
        a / b for a, b in zip(samples[numerator], samples[denominator])
    )


def load_average():
    """The 1, 5 and 15 minute load averages as a string."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
