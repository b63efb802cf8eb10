"""Detection evaluation passes and training epochs, tf.data autotuning on and off.

The detection pipeline (`training.detection.data.pipeline.
make_detection_dataset`, map and prefetch on `tf.data.AUTOTUNE`) feeds
`predict_detections` (`model.predict`) and training (one `model.fit` per
epoch), each pass over a new iterator. With autotuning enabled, tf.data
runs a thread that re-optimises the pipeline between timed waits whose
period doubles up to a minute, and destroying an iterator at the end of a
pass has been seen to wait for that thread (BENCHMARKS.md,
"Classification evaluation"). This measures whole passes under both
settings:

- `autotune_on`: the pipeline with `tf.data.Options().autotune.enabled =
  True` applied on top of whatever it sets (tf.data's default).
- `autotune_off`: the same with `enabled = False`.

Each sample is a fresh process that builds the untrained detector of the
embedded recipe (`--model`, default `baseline`: its trace is short, so
more passes fit in the time), then, with `--what evaluation` (default),
runs `--passes` evaluation passes over the embedded evaluation split (200
images, batch 16), each one a new iterator; with `--what training`, trains
`--passes` epochs of the embedded recipe as the run loop does (one
`model.fit` of one epoch over a new pipeline per epoch, no callbacks). The
first pass includes the trace. Processes alternate between the
contenders, in an order that rotates from round to round.

Reported per contender: the seconds of every pass after the first
(median, min-max), the count of stalled passes (longer than the median of
all later passes of both contenders plus `--stall-margin` seconds, a
threshold fixed before looking), the first pass, and the paired median
difference of the per-process median against `autotune_on`. Every pass is
printed as it comes.

Usage:
    TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/detection_autotune.py \
      [--what evaluation|training] [--rounds 5] [--passes 5] \
      [--model baseline] [--stall-margin 3]
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)

CONTENDERS = ("autotune_on", "autotune_off")


def _one_sample(contender, what, model_name, passes):
    """Runs in a fresh process: seconds of each pass (evaluation or epoch)."""
    import tensorflow as tf

    import training.detection.evaluation as evaluation
    import training.detection.job as job
    from training.detection.config import DetectionConfig

    options = tf.data.Options()
    options.autotune.enabled = contender == "autotune_on"
    for module in (evaluation, job):  # The two users of the pipeline.
        pipeline = module.make_detection_dataset
        module.make_detection_dataset = (
            lambda *a, pipeline=pipeline, **k: pipeline(*a, **k).with_options(options)
        )
    experiment = job.DetectionExperiment(
        DetectionConfig(data="embedded", model=model_name), verbose=0,
        include_train=what == "training",
    )  # fmt: skip
    model = experiment.build_model()
    seconds = []
    for epoch in range(passes):
        start = time.perf_counter()
        if what == "training":
            model.fit(experiment.train_batches(epoch, 0), initial_epoch=epoch,
                      epochs=epoch + 1, shuffle=False, verbose=0)  # fmt: skip
        else:
            predictions = evaluation.predict_detections(
                model, experiment.data.evaluation, experiment.config.image_size,
                experiment.config.batch_size, progress=False,
            )  # fmt: skip
            if len(predictions) != len(experiment.data.evaluation):
                raise RuntimeError(f"{len(predictions)} predictions")
        seconds.append(time.perf_counter() - start)
    # (Keras wraps the training step in a plain function: no trace count.)
    traces = None if what == "training" else model.predict_function.experimental_get_tracing_count()
    return {"seconds": seconds, "traces": traces}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("evaluation", "training"), default="evaluation")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--model", default="baseline")
    parser.add_argument("--stall-margin", type=float, default=3.0)
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.passes < 2:
        parser.error("--passes must be at least 2 (the first one includes the trace)")
    if args.one:
        print(json.dumps(_one_sample(args.one, args.what, args.model, args.passes)))
        return
    print("Machine:")
    _common.print_machine_details()
    samples = _common.fresh_process_rounds(
        __file__, CONTENDERS, args.rounds,
        lambda name: ["--one", name, "--what", args.what, "--model", args.model,
                      "--passes", str(args.passes)],
        lambda row: "passes " + " ".join(f"{s:5.1f}" for s in row["seconds"]) + " s",
    )  # fmt: skip
    later = {name: [s for row in samples[name] for s in row["seconds"][1:]] for name in CONTENDERS}
    threshold = statistics.median(later[CONTENDERS[0]] + later[CONTENDERS[1]]) + args.stall_margin
    print(f"\n{args.what}, {args.model}, embedded data, {args.rounds} fresh processes x "
          f"{args.passes} passes per contender; a pass stalled if > {threshold:.1f} s:")
    for name in CONTENDERS:
        values = later[name]
        stalled = sum(value > threshold for value in values)
        first = [row["seconds"][0] for row in samples[name]]
        differences = [
            statistics.median(row["seconds"][1:]) - statistics.median(base["seconds"][1:])
            for row, base in zip(samples[name], samples[CONTENDERS[0]])
        ]
        traces = sorted({row["traces"] for row in samples[name]})
        print(f"  {name:13s} later passes {statistics.median(values):5.2f} s "
              f"({min(values):.2f}-{max(values):.2f}), stalled {stalled} of {len(values)}; "
              f"first pass {statistics.median(first):5.2f} s ({min(first):.2f}-{max(first):.2f}); "
              f"paired median diff {statistics.median(differences):+.2f} s; traces {traces}")


if __name__ == "__main__":
    main()
