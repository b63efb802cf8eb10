"""Shared helpers of the benchmark scripts: machine details and timing.

Timing protocol (used by every script here): `training.common.timing`,
imported here (interleaved rounds in a rotated order, medians, ratios as the
median of per-round ratios); the family sweep measures its latencies with it
too. Every contender is a `tf.function`, traced and warmed up before any
sample is taken; every step returns its outputs so that nothing is pruned
from the graph.
"""

import datetime
import json
import os
import platform
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from training.common.timing import interleaved_timing  # noqa: E402,F401
from training.common.timing import interleaved_wall_and_cpu  # noqa: E402,F401
from training.common.timing import load_average  # noqa: E402,F401
from training.common.timing import median  # noqa: E402,F401
from training.common.timing import paired_ratio  # noqa: E402,F401
from training.common.timing import quartiles  # noqa: E402,F401
from training.common.timing import rotated_order  # noqa: E402,F401


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


def fresh_process_rounds(script, contenders, rounds, arguments, describe):
    """Samples costs paid once per process (traces, first passes): every
    contender once per round, each sample a fresh `python script
    *arguments(contender)` process that prints a JSON object on its last
    line, in an order rotated from round to round. Prints each sample as
    it comes, as `describe(sample)` words it.

    Returns:
        `{contender: [sample, ...]}`, one sample per round.

    Raises:
        RuntimeError: naming the contender, with the end of the process'
            stderr, when a sample fails.
    """
    samples = {name: [] for name in contenders}
    for r in range(rounds):
        for name in rotated_order(contenders, r):
            command = [sys.executable, os.path.abspath(script), *arguments(name)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"{name} sample failed:\n{result.stderr[-2000:]}")
            samples[name].append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"  round {r} {name:15s} {describe(samples[name][-1])}", flush=True)
    return samples
