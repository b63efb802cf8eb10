"""Does an embedded set need resolution? A probe that compares no method.

Used to design the embedded Figure 3 data and schedules (see
docs/figure3-embedded.md) *before* any DCT/DFT comparison. It trains the
fixed architecture of a dataset with fixed average-pooling resizes at the
places where the Resolution models resize (neither DCT nor DFT), so that
its complexity sits near a chosen budget:

* images (ResNet-18): an `AveragePooling2D(f)` at the input of the first
  block of stages 2-4, convolutions at stride 1; `(1, 1, 1)` runs every
  stage at 32x32 (C/C_full = 1), `(2, 2, 2)` is the baseline's layout
  (0.29), `(4, 4, 2)` gives sizes 8, 2, 1 (0.115);
* radio (1D CNN): an `AveragePooling1D(f)` after convolution k; `(1,)*7`
  is the fixed baseline (1.0), `(3, 2, 2, 2, 2, 2, 1)` gives lengths 42,
  21, 10, 5, 2, 1, 1 (0.092).

The accuracy gap between the full-resolution and the low-resolution probe
says how much the data rewards resolution; the validation accuracy per
epoch says whether the schedule converges; several seeds give the spread.

    python -m training.classification.probe --data embedded-radio --pools 1 --seeds 0 1
    python -m training.classification.probe --data embedded-radio --pools 3,2,2,2,2,2,1
"""

import argparse
import json
import time

import keras
import numpy as np
from keras import layers

from keras_resolution.applications.radio_cnn import MeanVariancePooling1D
from training.classification.batches import training_batches
from training.classification.config import resolve_config
from training.classification.data import load_dataset
from training.classification.job import evaluate_split
from training.common.determinism import seed_everything
from training.common.optimizers import make_optimizer
from training.common.optimizers import step_decay
from training.common.optimizers import steps_per_epoch


def _conv_bn(x, filters, kernel_size, strides, name):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=name + "_conv")(x)
    return layers.BatchNormalization(name=name + "_bn")(x)


def _block(x, filters, name):
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, 1, name + "_projection")
    y = layers.ReLU()(_conv_bn(x, filters, 3, 1, name + "_1"))
    y = _conv_bn(y, filters, 3, 1, name + "_2")
    return layers.ReLU()(layers.Add()([shortcut, y]))


def pooled_resnet18(input_shape, num_classes, width, pools):
    """ResNet-18 (CIFAR variant) with fixed average pooling at stages 2-4."""
    inputs = keras.Input(input_shape)
    x = layers.ReLU()(_conv_bn(inputs, width, 3, 1, "stem"))
    sizes = []
    for stage, multiplier in enumerate((1, 2, 4, 8), start=1):
        for block in (1, 2):
            if stage > 1 and block == 1:
                factor = pools[stage - 2]
                if factor > 1:
                    x = layers.AveragePooling2D(factor, padding="same")(x)
                sizes.append(int(x.shape[1]))
            x = _block(x, width * multiplier, f"s{stage}b{block}")
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    full = 3 * 2 * input_shape[0]
    return keras.Model(inputs, outputs), sum(2 * s for s in sizes) / full


def pooled_radio_cnn(input_shape, num_classes, pools):
    """The paper's 1D CNN with fixed average pooling after each convolution."""
    inputs = keras.Input(input_shape)
    x, lengths = inputs, []
    for index, factor in enumerate(pools, start=1):
        x = layers.Conv1D(64, 3, padding="same", activation="relu")(x)
        if factor > 1:
            x = layers.AveragePooling1D(factor, padding="valid")(x)
        lengths.append(int(x.shape[1]))
    x = MeanVariancePooling1D()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs), sum(lengths) / (len(pools) * input_shape[0])


def probe(data_spec, pools, seed, data=None, **options):
    """Trains one pooled fixed model with the dataset's schedule.

    Returns:
        Dict: pools, complexity fraction, validation accuracy per epoch,
        test accuracy, seconds.
    """
    config = resolve_config(data_spec, transform="fixed", seed=seed, **options)
    data = data or load_dataset(data_spec, max_examples=config.max_examples)
    seed_everything(seed)
    if config.architecture == "resnet18":
        pools = (list(pools) + [pools[-1]] * 3)[:3]
        model, fraction = pooled_resnet18(data.input_shape, data.num_classes, config.width, pools)
    else:
        pools = (list(pools) + [pools[-1]] * 7)[:7]
        model, fraction = pooled_radio_cnn(data.input_shape, data.num_classes, pools)
    schedule = step_decay(config.learning_rate, config.lr_decay_epochs, config.lr_decay_factor,
                          steps_per_epoch(len(data.train), config.batch_size))
    model.compile(make_optimizer(config.optimizer, schedule, momentum=config.momentum),
                  keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    started, curve, train_curve = time.time(), [], []
    for epoch in range(config.epochs):
        batches = training_batches(data.train, config.batch_size, seed, epoch)
        history = model.fit(batches, epochs=1, verbose=0)
        train_curve.append(round(float(history.history["accuracy"][-1]), 4))
        curve.append(round(evaluate_split(model, data.val, config.batch_size)["accuracy"], 4))
    test = evaluate_split(model, data.test, config.batch_size)
    return {
        "data": data_spec, "pools": pools, "seed": seed, "complexity_fraction": round(fraction, 4),
        "train_accuracy": train_curve, "val_accuracy": curve,
        "test_accuracy": round(test["accuracy"], 4), "seconds": round(time.time() - started, 1),
        "options": {k: v for k, v in options.items() if v is not None},
    }  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="embedded-radio")
    parser.add_argument("--pools", default="1", help="comma-separated pooling factors")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr-decay-epochs", type=int, nargs="*")
    parser.add_argument("--max-examples", type=int)
    parser.add_argument("--width", type=int)
    args = parser.parse_args(argv)
    options = dict(epochs=args.epochs, learning_rate=args.learning_rate,
                   batch_size=args.batch_size, lr_decay_epochs=args.lr_decay_epochs,
                   max_examples=args.max_examples, width=args.width)  # fmt: skip
    pools = [int(p) for p in args.pools.split(",")]
    config = resolve_config(args.data, transform="fixed", **options)
    data = load_dataset(args.data, max_examples=config.max_examples)
    for seed in args.seeds:
        print(json.dumps(probe(args.data, pools, seed, data=data, **options)), flush=True)


if __name__ == "__main__":
    main()
