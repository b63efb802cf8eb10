"""A first look at MSNet's accuracy against its expected cost on the embedded
images, before MSNet is in the classification harness.

Trains `msnet_resnet18` jointly (the sum of the two heads' cross-entropies)
for a few epochs, then, for target costs from C_L (every image exits at the
low branch) to C_L + C_H (every image runs the high branch too), chooses the
threshold tau on the validation split with `calibrate_threshold` and applies
it to the test split. Prints each head's test accuracy, the table of target,
tau, validation and test cost and accuracy, and a one-image-at-a-time run of
the first test images at the C_base threshold (which branch ran, its cost,
the median wall time of each kind of image; eager calls, so only their
ratio means anything).

This is a probe, not a Figure 3 row: the harness's schedule, seeds and
intervals come with `classify --model msnet`.

    TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/msnet_probe.py   # [--epochs 3 --width 4 --seed 0]
"""

import argparse

import _common  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL before TF loads)
import keras
import numpy as np

from keras_resolution.applications import msnet
from training.classification.data import load_dataset
from training.common.tables import format_table


def _whole(split):
    return split.read(np.arange(len(split)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one-at-a-time", type=int, default=40,
                        help="test images run one at a time at the C_base threshold")
    args = parser.parse_args()
    _common.print_machine_details()

    data = load_dataset("embedded-images")
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        _whole(data.train), _whole(data.val), _whole(data.test))
    keras.utils.set_random_seed(args.seed)
    model = msnet.msnet_resnet18(data.input_shape, data.num_classes, width=args.width)
    loss = "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.Adam(3e-3), loss={"low": loss, "high": loss},
                  jit_compile=False)
    model.fit(x_train, {"low": y_train, "high": y_train}, batch_size=32, epochs=args.epochs,
              verbose=2)

    probabilities = model.predict(x_test, batch_size=256, verbose=0)
    for head in ("low", "high"):
        accuracy = np.mean(probabilities[head].argmax(-1) == y_test)
        print(f"test accuracy, {head} head alone: {accuracy:.3f}")
    exit_model = msnet.CalibratedEarlyExit(model, 1.0)
    low, high = exit_model.low_complexity, exit_model.high_complexity
    rows = []
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        target = low + fraction * high
        calibration = msnet.calibrate_threshold(model, x_val, y_val, target)
        exit_model.threshold = calibration.threshold
        predictions, ran_high = exit_model.predict(x_test)
        rows.append({"target C": target, "tau": round(calibration.threshold, 3),
                     "val C": calibration.expected_complexity, "val acc": calibration.accuracy,
                     "test C": low + np.mean(ran_high) * high,
                     "test acc": np.mean(predictions.argmax(-1) == y_test)})
    print(f"\nC_L = {low}, C_H = {high}\n")
    print(format_table(rows, list(rows[0]), align_right=list(rows[0])))

    exit_model.threshold = msnet.calibrate_threshold(model, x_val, y_val, low + 0.5 * high).threshold
    run = exit_model.run_one_at_a_time(x_test[: args.one_at_a_time])
    exited = ~run.ran_high
    print(f"\none at a time, {len(run.ran_high)} test images at the C_base threshold: "
          f"{int(run.ran_high.sum())} ran the high branch, mean cost {run.complexity.mean():.1f}, "
          f"median s per image {np.median(run.seconds[exited]):.3f} (exited) and "
          f"{np.median(run.seconds[run.ran_high]):.3f} (high branch)")


if __name__ == "__main__":
    main()
