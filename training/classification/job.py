"""One classification run: train under the budget, checkpoint, resume, evaluate.

`run_classification(config, run_dir)` trains one model and writes its run
directory (the conventions of `training.common.run_directory`):

    config.json     the resolved `ClassifyConfig`, plus the dataset and the
                    budget reference (C_base, C_full)
    state.json      epochs and batches done, best validation accuracy
    last.keras      model + optimizer state (every epoch end, and every
                    `checkpoint_every` batches)
    best.keras      the model with the best validation accuracy
    results.csv     one row per epoch: loss (cross-entropy + budget term),
                    complexity_penalty (the budget term), accuracy,
                    val_loss (cross-entropy), val_accuracy, complexity,
                    complexity_fraction, learning rate, seconds, and the
                    learned size and scale of every Resolution layer
    final.json      test accuracy and loss, realised complexity (continuous
                    and from the integer sizes), per-SNR accuracy (radio)
    plots/          training.png, sizes.png, per_snr.png
    tensorboard/    TensorBoard logs

The final test evaluation uses the last model (the one whose complexity the
budget steered), not the best-on-validation one.
"""

import dataclasses
import json
import time

import keras
import numpy as np
from keras import ops

import keras_resolution
from training.classification import plots
from training.classification.batches import SplitBatches
from training.classification.batches import steps_per_epoch
from training.classification.batches import training_batches
from training.classification.config import ClassifyConfig
from training.classification.data import load_dataset
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import site_sizes
from keras_resolution.applications.classifiers import size_complexity
from training.common.optimizers import make_optimizer
from training.common.optimizers import piecewise_schedule
from training.common.tables import format_table
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import atomic_write_json
from training.common.run_directory import read_csv

FINAL_FILE = "final.json"
SUMMARY_COLUMNS = (
    "data", "transform", "target_budget", "complexity_fraction",
    "relative_error", "test_accuracy", "best_val_accuracy", "epochs",
    "train_seconds",
)  # fmt: skip


class _EpochProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, titled with the run's epoch count.

    Each epoch is its own `fit` call (so a run can resume mid-epoch); this
    keeps the "Epoch e/N" line right.
    """

    def __init__(self, total_epochs):
        super().__init__()
        self.total_epochs = total_epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs


class _BatchCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` every `every` batches with the mid-epoch position."""

    def __init__(self, run, every, epoch, skip_batches, state):
        super().__init__()
        self.run, self.every, self.epoch = run, every, epoch
        self.skip_batches, self.state = skip_batches, state

    def on_train_batch_end(self, batch, logs=None):
        done = self.skip_batches + batch + 1
        if self.every and done % self.every == 0:
            state = dataclasses.replace(self.state, epochs_done=self.epoch, batches_done=done)
            self.run.save_checkpoint(self.model, state)


def _architecture_kwargs(config):
    return {"width": config.width} if config.architecture == "resnet18" else {}


def build_model(config, data):
    """The compiled model of `config` for `data` (optimizer and schedule included)."""
    model = build_classifier(
        config.architecture,
        data.input_shape,
        data.num_classes,
        transform=config.transform,
        target_budget=config.target_budget,
        penalty_weight=config.penalty_weight,
        complexity_definition=config.complexity_definition,
        resolution_kwargs={"taper": config.taper, "gradient": config.gradient},
        **_architecture_kwargs(config),
    )
    schedule = piecewise_schedule(
        config.learning_rate,
        config.lr_decay_epochs,
        config.lr_decay_factor,
        steps_per_epoch(data.train, config.batch_size),
    )
    optimizer = make_optimizer(
        config.optimizer,
        schedule,
        momentum=config.momentum,
        scale_learning_rate_factor=config.scale_learning_rate_factor,
    )
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model


def evaluate_split(model, split, batch_size):
    """Accuracy, cross-entropy and (radio) per-SNR accuracy of `model` on `split`.

    Returns:
        Dict with `accuracy`, `loss`, and `per_snr` (`{snr: accuracy}`, or
        None without SNRs).
    """
    batches = SplitBatches(split, batch_size, with_labels=False)
    probabilities = np.asarray(model.predict(batches, verbose=0), dtype="float64")
    labels = split.labels
    correct = np.argmax(probabilities, axis=1) == labels
    picked = probabilities[np.arange(len(labels)), labels]
    result = {
        "accuracy": float(np.mean(correct)),
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0)))),
        "per_snr": None,
    }
    if split.snr is not None:
        result["per_snr"] = {
            int(level): float(np.mean(correct[split.snr == level]))
            for level in np.unique(split.snr)
        }
    return result


def realised_complexity(model, config, c_full):
    """Continuous C, C from the integer sizes, and both as fractions of C_full."""
    size_value = size_complexity(model, config.complexity_definition)
    if config.transform == "fixed":
        value = size_value
    else:
        value = float(ops.convert_to_numpy(
            keras_resolution.complexity(model, config.complexity_definition)
        ))
    return {
        "complexity": value,
        "complexity_full": c_full,
        "complexity_fraction": value / c_full,
        "size_complexity_fraction": size_value / c_full,
    }


def _layer_logs(model, config):
    """Per-layer complexity, sizes and scales (results.csv, not the progress bar)."""
    if config.transform == "fixed":
        return {}
    logger = keras_resolution.ComplexityLogger(config.complexity_definition, per_layer=True)
    logger.set_model(model)
    return {k: v for k, v in logger.complexity_logs().items() if "/" in k}


def _current_learning_rate(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))


def _start(run, config, resume):
    """Config and state to start from; refuses to overwrite a started run."""
    state = run.read_state()
    if resume:
        stored = run.read_config()
        return ClassifyConfig(**stored["config"]), state
    if state.epochs_done or state.batches_done or run.last_checkpoint.exists():
        raise FileExistsError(
            f"{run.path} already holds a run (epochs done: {state.epochs_done}); "
            "pass --resume to continue it or choose another --run-dir."
        )
    return config, state


def run_classification(config, run_dir, resume=False, data=None, verbose=1):
    """Trains and evaluates one classifier in `run_dir`.

    Args:
        config: A resolved `ClassifyConfig` (ignored when resuming: the run's
            stored config is used).
        run_dir: Run directory.
        resume: Continue the run in `run_dir` from its last checkpoint.
        data: Already loaded `ClassificationData` for `config.data` (the sweep
            loads each dataset once), or None.
        verbose: Keras verbosity (1: progress bars); 0 prints nothing.

    Returns:
        The final results dict (also in `final.json`).

    Example:

    >>> config = resolve_config("embedded-radio", transform="dct", target_budget=0.25)
    >>> results = run_classification(config, "runs/radio-dct-0.25")
    >>> results["test_accuracy"], results["complexity_fraction"]
    """
    run = RunDirectory(run_dir)
    config, state = _start(run, config, resume)
    final_path = run.path / FINAL_FILE
    if state.finished and final_path.exists():
        results = _read_json(final_path)
        if verbose:
            print(f"{run.path}: already finished.\n" + summary_text(results))
        return results
    data = data or load_dataset(
        config.data, seed=config.seed, data_dir=config.data_dir, max_examples=config.max_examples
    )
    c_base, c_full, baseline_sizes = budget_reference(
        config.architecture,
        data.input_shape,
        data.num_classes,
        config.complexity_definition,
        **_architecture_kwargs(config),
    )
    if not resume:
        run.write_config(
            {
                "config": config.to_dict(),
                "dataset": data.description,
                "architecture": config.architecture,
                "complexity_base": c_base,
                "complexity_full": c_full,
            }
        )
    resuming = resume and run.last_checkpoint.exists()
    # Seeded right before the weights are drawn: nothing else may consume
    # random draws in between (budget_reference builds models, once per
    # process), so a run starts from the same weights alone or in a sweep.
    keras.utils.set_random_seed(config.seed)
    model = run.load_last() if resuming else build_model(config, data)
    # Rows past the checkpoint are redone.
    rows = read_csv(run.results_csv)[: state.epochs_done] if resuming else []
    if verbose:
        print(
            f"{config.architecture} / {config.transform} on {data.description}; "
            f"target p* = {config.target_budget}, C_base/C_full = {c_base / c_full:.4f}"
            + (
                f"; resuming at epoch {state.epochs_done + 1}, batch {state.batches_done}"
                if resuming
                else ""
            )
        )
    for epoch in range(state.epochs_done, config.epochs):
        skip = state.batches_done if epoch == state.epochs_done else 0
        callbacks = [
            _EpochProgbar(config.epochs),
            keras.callbacks.TensorBoard(str(run.tensorboard_dir), write_graph=False),
            _BatchCheckpoint(run, config.checkpoint_every, epoch, skip, state),
        ]
        if config.transform != "fixed":
            definition = config.complexity_definition
            callbacks.insert(0, keras_resolution.ComplexityLogger(definition, per_layer=False))
        epoch_start = time.time()
        history = model.fit(
            training_batches(data.train, config.batch_size, config.seed, epoch, skip, data.augment),
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=False,  # the order is SplitBatches' (seed, epoch) order
            callbacks=callbacks,
            verbose=verbose,
        )
        row = {"epoch": epoch + 1}
        row.update({key: float(values[-1]) for key, values in history.history.items()})
        # Validation through `predict` (one traced function serves validation
        # and the final test); val_loss is the cross-entropy alone.
        validation = evaluate_split(model, data.val, config.batch_size)
        row.update(val_accuracy=validation["accuracy"], val_loss=validation["loss"])
        row["learning_rate"] = _current_learning_rate(model.optimizer)
        row["seconds"] = time.time() - epoch_start
        row.update(_layer_logs(model, config))
        if verbose:
            line = f"val_accuracy: {row['val_accuracy']:.4f} - val_loss: {row['val_loss']:.4f}"
            if "complexity_fraction" in row:
                line += f" - complexity_fraction: {row['complexity_fraction']:.4f}"
            print(line)
        rows.append(row)
        atomic_write_csv(run.results_csv, rows)
        improved = state.best_metric is None or row["val_accuracy"] > state.best_metric
        state = RunState(
            epochs_done=epoch + 1,
            best_metric=row["val_accuracy"] if improved else state.best_metric,
            best_epoch=epoch + 1 if improved else state.best_epoch,
        )
        run.save_checkpoint(model, state, best=improved)
    results = _finish(run, model, config, data, rows, state, c_base, c_full, baseline_sizes)
    atomic_write_json(final_path, results)
    run.write_state(dataclasses.replace(state, finished=True))
    if verbose:
        print(summary_text(results))
    return results


def _finish(run, model, config, data, rows, state, c_base, c_full, baseline_sizes):
    """Test evaluation, realised complexity, plots; the final results dict."""
    test = evaluate_split(model, data.test, config.batch_size)
    complexity = realised_complexity(model, config, c_full)
    target = config.target_budget
    results = {
        "data": config.data,
        "transform": config.transform,
        "target_budget": target,
        **complexity,
        "complexity_base": c_base,
        "relative_error": (
            abs(complexity["complexity"] - target * c_full) / (target * c_full)
            if target is not None
            else None
        ),
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "best_val_accuracy": state.best_metric,
        "best_epoch": state.best_epoch,
        "epochs": config.epochs,
        "sizes": {site: list(sizes) for site, sizes in site_sizes(model).items()},
        "baseline_sizes": {site: list(sizes) for site, sizes in baseline_sizes.items()},
        "per_snr": test["per_snr"],
        "train_seconds": sum(row.get("seconds", 0.0) for row in rows),
    }
    plots.plot_training(rows, run.plots_dir / "training.png", target)
    if config.transform != "fixed":
        plots.plot_sizes(rows, baseline_sizes, run.plots_dir / "sizes.png")
    if test["per_snr"]:
        title = f"{config.data} {config.transform}"
        plots.plot_per_snr(test["per_snr"], run.plots_dir / "per_snr.png", title)
    return results


def summary_text(results):
    """The end-of-run summary: metrics table, then sizes per resize site."""
    lines = [format_table([results], SUMMARY_COLUMNS)]
    site_rows = [
        {"site": site, "learned size": "x".join(map(str, sizes)),
         "baseline size": "x".join(map(str, results["baseline_sizes"].get(site, [])))}
        for site, sizes in results["sizes"].items()
    ]  # fmt: skip
    if site_rows:
        lines += ["", format_table(site_rows, ["site", "learned size", "baseline size"])]
    if results.get("per_snr"):
        levels = sorted(results["per_snr"].items(), key=lambda item: int(item[0]))
        snr_rows = [{"SNR (dB)": level, "accuracy": value} for level, value in levels]
        lines += ["", format_table(snr_rows, ["SNR (dB)", "accuracy"])]
    return "\n".join(lines)


def _read_json(path):
    with open(path) as file:
        results = json.load(file)
    if results.get("per_snr"):  # JSON keys are strings
        results["per_snr"] = {int(k): v for k, v in results["per_snr"].items()}
    return results


__all__ = [
    "build_model",
    "evaluate_split",
    "realised_complexity",
    "run_classification",
    "summary_text",
]
