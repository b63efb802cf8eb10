"""Classification evaluation: `evaluate_split` against `model.predict`.

A classification run evaluates its validation split after every epoch and
its test split at the end. `training.classification.job.evaluate_split`
pads the last batch to the batch size and calls `predict_on_batch` batch by
batch; before, it called `model.predict` on the split's batches, whose
shorter last batch traced `predict` a second time. Each sample here is a
fresh process (a trace is paid once per process) that builds the default
model of `--data` untrained, then evaluates the validation split and the
test split once with one contender:

- `keras_predict`: `model.predict(SplitBatches(split, batch_size))`, the
  unpadded batches (the evaluation before).
- `evaluate_split`: the evaluation as it is.

Processes alternate between the contenders, in an order that rotates from
round to round. Reported per contender: the median seconds of each split's
evaluation (the first one includes the trace), `predict` traces, and the
paired median difference against `keras_predict`.

Usage:
    TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/classification_evaluation.py \
      [--rounds 6] [--data embedded-images]
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)

CONTENDERS = ("keras_predict", "evaluate_split")


def _one_sample(contender, data_spec):
    """Runs in a fresh process: seconds of the two evaluations, traces."""
    import numpy as np

    from training.classification.batches import SplitBatches
    from training.classification.config import resolve_config
    from training.classification.data import load_dataset
    from training.classification.job import build_model
    from training.classification.job import evaluate_split

    config = resolve_config(data=data_spec)
    data = load_dataset(config.data, seed=config.seed)
    model = build_model(config, data)
    seconds = []
    for split in (data.val, data.test):
        start = time.perf_counter()
        if contender == "keras_predict":
            probabilities = model.predict(
                SplitBatches(split, config.batch_size, with_labels=False), verbose=0
            )
            if np.shape(probabilities)[0] != len(split):
                raise RuntimeError(f"{len(split)} examples, {len(probabilities)} outputs")
        else:
            evaluate_split(model, split, config.batch_size)
        seconds.append(time.perf_counter() - start)
    traces = model.predict_function.experimental_get_tracing_count()
    return {"val": seconds[0], "test": seconds[1], "traces": traces}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--data", default="embedded-images")
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one_sample(args.one, args.data)))
        return
    print("Machine:")
    _common.print_machine_details()
    samples = _common.fresh_process_rounds(
        __file__, CONTENDERS, args.rounds,
        lambda name: ["--one", name, "--data", args.data],
        lambda row: f"val {row['val']:6.2f} s  test {row['test']:6.2f} s  traces {row['traces']}",
    )  # fmt: skip
    print(f"\n{args.data}, {args.rounds} fresh processes per contender; seconds "
          "median (min-max), paired median difference to keras_predict:")
    for name in CONTENDERS:
        cells = []
        for split in ("val", "test"):
            values = [row[split] for row in samples[name]]
            differences = [row[split] - base[split]
                           for row, base in zip(samples[name], samples["keras_predict"])]
            cells.append(f"{split} {statistics.median(values):6.2f} ({min(values):.2f}-"
                         f"{max(values):.2f}) {statistics.median(differences):+6.2f}")
        traces = sorted({row["traces"] for row in samples[name]})
        print(f"  {name:15s} {'   '.join(cells)}   traces {traces}")


if __name__ == "__main__":
    main()
