"""Inference cost of a frozen Resolution YOLOv8 against the trained model
and the baseline (the "Cost" table of docs/deploy.md).

The detectors are built as in `yolov8_step_time.py`: XS backbone,
`fpn_depth=1`, 20 classes, random weights (the cost does not depend on the
weights' values), square images of `--image-size`. A call is the raw
outputs, `model(images, training=False)` (boxes and class scores before
decoding and NMS), inside a `tf.function`, on a fixed batch of random images.
`predict`'s decoding and NMS are KerasCV's and the same for every
contender, so they are left out.

Contenders, all in one process:

* `baseline`: `baseline_yolov8`.
* `resolution`: `resolution_yolov8` at initialisation, every s = 1, so
  every feature map has the baseline's size. Its Resolution layers rebuild
  their matrices from `s` at each call, and the alignments and output
  resizes decide at run time whether they have work to do.
* `resolution_frozen`: `detection.freeze_detector(resolution)` (what
  `keras_resolution.freeze` does for detectors): the same outputs from
  matrices computed once, static shapes, no conditionals. At s = 1 its
  resizes are low-pass filters, not identities, so they are kept.
* with `--moved`, `resolution_moved` and `resolution_moved_frozen`: the
  same with learned-looking sizes, each PANet conv's input resized to
  round(f * its baseline size), f drawn in [0.8, 1.1] (seeded, as
  `yolov8_step_time.py` sets them).

For each batch size, each contender's `tf.function` is traced on that
batch shape: "trace + first call" is the wall time of that first call
(tracing, graph optimisation and one execution). Then, after `--warmup`
untimed calls, the contenders are timed in `--repeats` interleaved rounds
(one call of each per round, in an order rotated from round to round; see
`_common.py`). Reported per contender: median wall time per call and per
image, its interquartile range, median process CPU time per call, and the
ratios to the baseline as the median of per-round ratios (wall and CPU) and
as the ratio of medians. Before timing, the frozen model's outputs are
compared with its trained model's (max absolute difference).

Run:  TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/frozen_inference.py
      [--image-size 320] [--batch-sizes 1,16] [--repeats 15] [--warmup 2]
      [--moved]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import detection  # noqa: E402
import keras_resolution as kr  # noqa: E402
from yolov8_step_time import NUM_CLASSES  # noqa: E402
from yolov8_step_time import _build  # noqa: E402


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _batch_sizes(text):
    try:
        sizes = [int(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers, got {text!r}")
    return sizes


def _models(image_size, moved):
    """name -> built model, and name -> seconds `freeze_detector` took."""
    models, freeze_seconds = {}, {}
    trained = ["resolution", "resolution_moved"] if moved else ["resolution"]
    keras.utils.set_random_seed(0)
    models["baseline"] = _build("baseline", image_size)
    for name in trained:
        keras.utils.set_random_seed(0)
        models[name] = _build(name, image_size)
        start = time.perf_counter()
        models[f"{name}_frozen"] = detection.freeze_detector(models[name])
        freeze_seconds[f"{name}_frozen"] = time.perf_counter() - start
    return models, freeze_seconds


def _describe(name, model):
    """One line: the PANet's learned or frozen resizes and its flops."""
    frozen = [layer for layer in model._flatten_layers()
              if isinstance(layer, kr.FrozenResolutionLayer)]
    learned = kr.resolution_layers(model)
    parts = [f"PANet complexity {float(detection.panet_complexity(model)):9.1f}"]
    if learned:
        parts.append(f"Resolution layers {len(learned)}")
        parts.append(f"flops complexity {float(kr.complexity(model, 'flops')) / 1e6:6.1f}M")
    if frozen:
        parts.append(f"FrozenResolutionLayers {len(frozen)}")
    return f"  {name:26s} " + "   ".join(parts)


def _max_difference(a, b):
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b))
    )


def _time_batch(functions, batch, image_size, repeats, warmup):
    """Traces every contender on one batch shape, checks the frozen
    outputs, then times the contenders in interleaved rounds."""
    rng = np.random.default_rng(batch)
    images = tf.constant(
        rng.uniform(0, 255, (batch, image_size, image_size, 3)).astype("float32"))
    print(f"\nBatch {batch}: trace + first call", flush=True)
    outputs = {}
    for name, function in functions.items():
        start = time.perf_counter()
        outputs[name] = function(images)
        seconds = time.perf_counter() - start
        print(f"  {name:26s} {seconds:6.1f} s", flush=True)
    for name in functions:
        if name.endswith("_frozen"):
            trained = name[: -len("_frozen")]
            difference = _max_difference(outputs[name], outputs[trained])
            print(f"  {name} vs {trained}: max abs difference of the outputs "
                  f"{difference:.3g}")
    contenders = {name: (lambda f=function: f(images)) for name, function in functions.items()}
    wall, cpu = _common.interleaved_wall_and_cpu(contenders, repeats, warmup)
    print(f"\nBatch {batch}: {repeats} interleaved calls each "
          f"(load average at the end: {_common.load_average()})\n")
    print(f"  {'contender':26s} {'ms/call':>8s} {'ms/image':>8s} {'IQR ms/call':>15s} "
          f"{'CPU ms':>8s} {'wall/base':>9s} {'(medians)':>9s} {'CPU/base':>8s}")
    for name in functions:
        q1, q3 = _common.quartiles(wall[name])
        per_call = statistics.median(wall[name])
        of_medians = per_call / statistics.median(wall["baseline"])
        print(f"  {name:26s} {per_call:8.1f} {per_call / batch:8.1f} {q1:7.1f}-{q3:7.1f} "
              f"{statistics.median(cpu[name]):8.1f} "
              f"{_common.paired_ratio(wall, name, 'baseline'):9.3f} {of_medians:9.3f} "
              f"{_common.paired_ratio(cpu, name, 'baseline'):8.3f}")
    for trained in [name for name in functions if f"{name}_frozen" in functions]:
        frozen = f"{trained}_frozen"
        print(f"  {frozen} / {trained} (wall, paired median): "
              f"{_common.paired_ratio(wall, frozen, trained):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=_positive_int, default=320)
    parser.add_argument("--batch-sizes", type=_batch_sizes, default=[1, 16],
                        help="comma-separated, e.g. 1,16")
    parser.add_argument("--repeats", type=_positive_int, default=15,
                        help="rounds (samples per contender and batch size)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed calls per contender and batch size")
    parser.add_argument("--moved", action="store_true",
                        help="also time a model with learned-looking sizes, and its frozen copy")
    args = parser.parse_args()
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")

    print("Machine:")
    _common.print_machine_details()
    print(f"\nXS backbone, fpn_depth=1, {NUM_CLASSES} classes, random weights, "
          f"{args.image_size}x{args.image_size}, raw outputs model(images) in a "
          f"tf.function, batch sizes {args.batch_sizes}\n")
    models, freeze_seconds = _models(args.image_size, args.moved)
    for name, model in models.items():
        print(_describe(name, model), flush=True)
    for name, seconds in freeze_seconds.items():
        print(f"  {name}: freeze_detector took {seconds:.1f} s")
    # One tf.function per contender: each new batch shape traces it again,
    # on purpose (static shapes), so TensorFlow's retracing warning is noise.
    tf.get_logger().setLevel("ERROR")
    functions = {
        name: tf.function(lambda images, model=model: model(images, training=False))
        for name, model in models.items()
    }
    for batch in args.batch_sizes:
        _time_batch(functions, batch, args.image_size, args.repeats, args.warmup)


if __name__ == "__main__":
    main()
