"""Shared helpers of the benchmark scripts: machine details and timing.

Timing protocol (used by every script here):

* every contender is a `tf.function`, traced and then warmed up before any
  sample is taken;
* samples are interleaved: each round times every contender once, in an order
  rotated from round to round, so slow phases of a noisy machine hit all
  contenders alike;
* a sample is the mean wall time of `inner` back-to-back calls; a contender's
  time is the median of its samples, and a ratio is reported both as the ratio
  of medians and as the median of the per-round ratios (pairs measured a few
  milliseconds apart, the more noise-robust of the two).

TensorFlow executes eager calls of a `tf.function` synchronously on CPU, so the
wall time of a call includes all of its computation; every step returns its
outputs so that nothing is pruned from the graph.
"""

import datetime
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cpu_model():
    """CPU model name from /proc/cpuinfo (or the platform string)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_details():
    """Dict of the details that make a timing reproducible."""
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "logical cores": os.cpu_count(),
        "usable cores": usable,
        "load average (1, 5, 15 min)": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras backend": keras.backend.backend(),
        "numpy": np.__version__,
        "oneDNN": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86)"),
    }


def print_machine_details():
    for key, value in machine_details().items():
        print(f"  {key}: {value}")


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


def median(values):
    return statistics.median(values)


def quartiles(values):
    """(first quartile, third quartile) of the samples."""
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def paired_ratio(samples, numerator, denominator):
    """Median over rounds of samples[numerator][r] / samples[denominator][r]."""
    return statistics.median(
        a / b for a, b in zip(samples[numerator], samples[denominator])
    )


def rotated_order(names, round_index):
    """The order in which round `round_index` times the contenders `names`:
    rotated by one each round, and reversed every other full rotation, so
    each contender runs first, last and next to each of the others alike."""
    shift = round_index % len(names)
    order = names[shift:] + names[:shift]
    if (round_index // len(names)) % 2:
        order = order[::-1]
    return order


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


def load_average():
    """The 1, 5 and 15 minute load averages as a string."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
