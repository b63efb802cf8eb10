"""The classification experiment (paper section 5.1): a ResNet-18 or the
radio 1D CNN under `lambda * (C / C_full - p*)^2`, or its fixed baseline,
trained by the one run loop; or one of the comparators of issue 11 (the
DiffStride, spectral-pooling and hybrid ResNet-18s, `--model`), its
DiffStride strides under the same target, C_full being its own; or an
N-Jet network of issue 12 (ResNet-18 or NiN), with safe subsampling under
the same target on sigma, without it at its fixed sizes; or MSNet (issue
12), whose two branches are trained jointly and whose calibrated early exit
is then traced over the threshold tau (`early_exit_curve`).

`run_classification(config, run_dir)` trains one model; the run directory
follows `training.common.run_directory`, with these columns in results.csv:
loss (cross-entropy + budget term), complexity_penalty (the budget term),
accuracy, val_loss (cross-entropy), val_accuracy, complexity (the mean over
the epoch's batches of the C in the loss), complexity_linear and
complexity_linear_fraction (C and C / C_full at the epoch's end; `area`
with that definition), learning rate, seconds, and the learned size and
scale of every Resolution layer. results.json holds the test accuracy and loss,
the realised complexity (continuous and from the integer sizes) and the
per-SNR accuracy (radio); for MSNet (whose two outputs give
low_loss, high_loss, low_accuracy, high_accuracy and val_low_accuracy; its
accuracy is the high branch's, the model without an exit) also
`early_exit`, one point of the tau curve per target of `MSNET_HIGH_FRACTIONS`.

The final test evaluation uses the last model (the one whose complexity the
budget steered), not the best-on-validation one.
"""

import keras
import numpy as np
from keras import ops

import keras_resolution
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import build_spectral_classifier
from keras_resolution.applications.classifiers import spectral_budget_reference
from keras_resolution.applications.classifiers import site_sizes
from keras_resolution.applications.classifiers import size_complexity
from keras_resolution.applications.msnet import CalibratedEarlyExit
from keras_resolution.applications.msnet import branch_complexities
from keras_resolution.applications.msnet import calibrate_threshold
from keras_resolution.applications.msnet import expected_complexity
from keras_resolution.applications.msnet import msnet_resnet18
from keras_resolution.applications.njet_networks import build_njet_classifier
from keras_resolution.applications.njet_networks import njet_budget_reference
from training.classification import plots
from training.classification.batches import SplitBatches
from training.classification.batches import training_batches
from training.classification.comparators import NJET_MODELS
from training.classification.comparators import MSNET
from training.classification.comparators import RESOLUTION
from training.classification.comparators import SPECTRAL_MODELS
from training.classification.config import ClassifyConfig
from training.classification.data import check_data_version
from training.classification.data import load_dataset
from training.common.optimizers import make_optimizer
from training.common.optimizers import step_decay
from training.common.optimizers import steps_per_epoch
from training.common.run_directory import RunDirectory
from training.common.run_loop import Experiment
from training.common.run_loop import read_run_config
from training.common.run_loop import run_experiment
from training.common.tables import format_mapping
from training.common.tables import format_table

# The calibrated points of an MSNet run: the fraction of validation images
# allowed to run the high branch, so target costs C_L + f * C_H from the low
# branch alone (f = 0) to both branches on every image (f = 1).
MSNET_HIGH_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)

SUMMARY_COLUMNS = (
    "data", "transform", "target_budget", "complexity_fraction",
    "relative_error", "test_accuracy", "best_val_accuracy", "epochs",
    "train_seconds",
)  # fmt: skip


def _architecture_kwargs(config):
    return {"width": config.width} if config.architecture == "resnet18" else {}


def _comparator(config):
    """`(build, budget_reference, variant, kwargs)` of a comparator model: the
    builder and C_full reference of the N-Jet networks or of the spectral
    ResNet-18s, the network or method they take first, and their other
    arguments."""
    if config.model in NJET_MODELS:
        build, reference, key, models = (
            build_njet_classifier, njet_budget_reference, "network", NJET_MODELS)
    else:
        build, reference, key, models = (
            build_spectral_classifier, spectral_budget_reference, "method", SPECTRAL_MODELS)
    kwargs = {**models[config.model], "width": config.width}
    return build, reference, kwargs.pop(key), kwargs


def _uncompiled_model(config, data):
    if config.model == MSNET:
        return msnet_resnet18(data.input_shape, data.num_classes, width=config.width)
    if config.model != RESOLUTION:
        build, _, variant, kwargs = _comparator(config)
        return build(
            variant,
            data.input_shape,
            data.num_classes,
            target_budget=config.target_budget,
            penalty_weight=config.penalty_weight,
            complexity_definition=config.complexity_definition,
            **kwargs,
        )
    return build_classifier(
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


def build_model(config, data):
    """The compiled model of `config` for `data` (optimizer and schedule included)."""
    model = _uncompiled_model(config, data)
    schedule = step_decay(
        config.learning_rate,
        config.lr_decay_epochs,
        config.lr_decay_factor,
        steps_per_epoch(len(data.train), config.batch_size),
    )
    optimizer = make_optimizer(
        config.optimizer,
        schedule,
        momentum=config.momentum,
        scale_learning_rate_factor=config.scale_learning_rate_factor,
    )
    loss = keras.losses.SparseCategoricalCrossentropy()
    if config.model == MSNET:  # the paper's joint loss CE(p_L) + CE(p_H)
        model.compile(optimizer=optimizer, loss={"low": loss, "high": loss},
                      metrics={"low": ["accuracy"], "high": ["accuracy"]})
        return model
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def evaluate_split(model, split, batch_size):
    """Accuracy, cross-entropy and (radio) per-SNR accuracy of `model` on `split`.

    Returns:
        Dict with `accuracy`, `loss`, and `per_snr` (`{snr: accuracy}`, or
        None without SNRs). For MSNet these are the high branch's (the
        model without an exit), and `low_accuracy` is added.
    """
    batches = SplitBatches(split, batch_size, with_labels=False, pad_last_batch=True)
    # Batch by batch rather than `model.predict`: on TensorFlow, tearing down
    # predict's tf.data iterator sometimes waited seconds for its autotuning
    # thread (BENCHMARKS.md). The padded examples' outputs are dropped.
    predictions = keras.tree.map_structure(
        lambda *parts: np.concatenate(parts)[: len(split)],
        *[model.predict_on_batch(batches[i]) for i in range(len(batches))],
    )
    if isinstance(predictions, dict):  # MSNet: {"low": p_L, "high": p_H}
        low = _scores(predictions["low"], split)
        return {**_scores(predictions["high"], split), "low_accuracy": low["accuracy"]}
    return _scores(predictions, split)


def _scores(probabilities, split):
    labels = split.labels
    probabilities = np.asarray(probabilities, dtype="float64")
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


def early_exit_curve(model, data, config, c_full):
    """MSNet's calibrated early exit at each target of `MSNET_HIGH_FRACTIONS`.

    For each fraction f, tau is calibrated on the validation split for the
    target cost C_L + f * C_H (`calibrate_threshold`), then the early exit
    runs on the test split, the high branch only on the images that do not
    exit.

    Args:
        model: A trained `msnet_resnet18` model.
        data: Its `ClassificationData`.
        config: Its `ClassifyConfig` (complexity definition, batch size).
        c_full: C_full of the fraction reported (the ResNet-18's).

    Returns:
        One dict per target: `high_fraction_target` (f), `threshold` (tau),
        `target_complexity`, `val_complexity` and `val_accuracy` (on the
        validation split, from the calibration), `test_accuracy`,
        `test_high_fraction` (P(no exit) on the test split),
        `complexity` (C_L + P(no exit) * C_H on the test split) and
        `complexity_fraction` (over `c_full`).
    """
    definition = config.complexity_definition
    c_low, c_high = branch_complexities(model, definition)
    x_val, y_val = data.val.read(np.arange(len(data.val)))
    x_test, y_test = data.test.read(np.arange(len(data.test)))
    curve = []
    for fraction in MSNET_HIGH_FRACTIONS:
        target = c_low + fraction * c_high
        calibration = calibrate_threshold(model, x_val, y_val, target, definition,
                                          batch_size=config.batch_size)
        early_exit = CalibratedEarlyExit(model, calibration.threshold, definition)
        probabilities, ran_high = early_exit.predict(x_test, config.batch_size)
        cost = expected_complexity(c_low, c_high, float(np.mean(ran_high)))
        curve.append({
            "high_fraction_target": fraction,
            "threshold": calibration.threshold,
            "target_complexity": target,
            "val_complexity": calibration.expected_complexity,
            "val_accuracy": calibration.accuracy,
            "test_accuracy": float(np.mean(np.argmax(probabilities, axis=1) == y_test)),
            "test_high_fraction": float(np.mean(ran_high)),
            "complexity": cost,
            "complexity_fraction": cost / c_full,
        })
    return curve


def realised_complexity(model, config, c_full):
    """Continuous C, C from the integer sizes, and both as fractions of C_full."""
    size_value = size_complexity(model, config.complexity_definition)
    if not config.has_complexity_layers:
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
    """Epoch-end complexity (`complexity_<definition>`, its `_fraction`) and
    per-layer complexity, sizes and scales (or strides, sigmas), for
    results.csv."""
    if not config.has_complexity_layers:
        return {}
    logger = keras_resolution.ComplexityLogger(config.complexity_definition, per_layer=True)
    logger.set_model(model)
    return logger.complexity_logs()


class ClassificationExperiment(Experiment):
    """The classification pieces of the run loop.

    Args:
        config: A resolved `ClassifyConfig`.
        data: Already loaded `ClassificationData` for `config.data` (the
            sweep loads each dataset once), or None to load it.
        verbose: Progress bars and messages (1) or silence (0).
    """

    name = "classification"
    monitor = "val_accuracy"
    eval_every = 1

    def __init__(self, config, data=None, verbose=1):
        check_data_version(config.data, config.data_version)
        self.config = config
        self.verbose = verbose
        self.data = data or load_dataset(
            config.data, seed=config.seed, data_dir=config.data_dir,
            max_examples=config.max_examples,
        )  # fmt: skip
        self.c_base, self.c_full, self.baseline_sizes = budget_reference(
            config.architecture,
            self.data.input_shape,
            self.data.num_classes,
            config.complexity_definition,
            **_architecture_kwargs(config),
        )
        if config.model not in (RESOLUTION, MSNET):  # C_full of the comparator's own layers
            _, reference, variant, kwargs = _comparator(config)
            self.c_full, _ = reference(
                variant,
                tuple(self.data.input_shape),
                self.data.num_classes,
                config.complexity_definition,
                **kwargs,
            )

    def describe(self):
        config = self.config
        network = NJET_MODELS.get(config.model, {}).get("network", config.architecture)
        text = (
            f"{network} / {config.method} on {self.data.description}; "
            f"target p* = {config.target_budget}, C_full = {self.c_full:g}"
        )
        if config.model != RESOLUTION:  # C_base is the Resolution architecture's
            return text
        return text + f", C_base/C_full = {self.c_base / self.c_full:.4f}"

    def build_model(self):
        return build_model(self.config, self.data)

    def load_model(self, path):
        import keras_resolution.applications  # noqa: F401 (registers the layers)

        return keras.saving.load_model(path)

    def train_batches(self, epoch, skip_batches):
        config = self.config
        return training_batches(
            self.data.train, config.batch_size, config.seed, epoch, skip_batches, self.data.augment,
            label_outputs=("low", "high") if config.model == MSNET else None,
        )

    def callbacks(self, model):
        if not self.config.has_complexity_layers:
            return []
        definition = self.config.complexity_definition
        return [keras_resolution.ComplexityLogger(definition, per_layer=False)]

    def evaluate(self, model):
        # Validation through `predict` (one traced function serves validation
        # and the final test); val_loss is the cross-entropy alone.
        validation = evaluate_split(model, self.data.val, self.config.batch_size)
        logs = {"val_accuracy": validation["accuracy"], "val_loss": validation["loss"]}
        if "low_accuracy" in validation:
            logs["val_low_accuracy"] = validation["low_accuracy"]
        return logs

    def epoch_columns(self, model):
        return _layer_logs(model, self.config)

    def plot(self, run, rows, model):
        plots.plot_training(rows, run.plots_dir / "training.png", self.config.target_budget,
                            f"complexity_{self.config.complexity_definition}_fraction",
                            "high_accuracy" if self.config.model == MSNET else "accuracy")
        if self.config.has_complexity_layers:
            plots.plot_sizes(rows, self.baseline_sizes, run.plots_dir / "sizes.png")

    def final_results(self, model, run, rows, state):
        return _finish(run, model, self.config, self.data, rows, state,
                       self.c_base, self.c_full, self.baseline_sizes)  # fmt: skip

    def summary(self, results):
        return summary_text(results)


def run_classification(config, run_dir, resume=False, data=None, verbose=1):
    """Trains and evaluates one classifier in `run_dir`.

    Args:
        config: A resolved `ClassifyConfig` (ignored when resuming: the run's
            stored config is used).
        run_dir: Run directory.
        resume: Continue the run in `run_dir` from its last checkpoint.
        data: Already loaded `ClassificationData` for `config.data`, or None.
        verbose: Keras verbosity (1: progress bars); 0 prints nothing.

    Returns:
        The final results dict (also in `results.json`).

    Example:

    >>> config = resolve_config("embedded-radio", transform="dct", target_budget=0.25)
    >>> results = run_classification(config, "runs/radio-dct-0.25")
    >>> results["test_accuracy"], results["complexity_fraction"]
    """
    with RunDirectory(run_dir).training_lock():  # before the data is loaded
        if resume:
            config = ClassifyConfig(**read_run_config(run_dir, "classification"))
        experiment = ClassificationExperiment(config, data, verbose)
        return run_experiment(experiment, run_dir, resume, verbose)


def evaluate_run(run_dir, checkpoint="best", verbose=1):
    """Test accuracy of a run's checkpoint, printed; nothing is written."""
    config = ClassifyConfig(**read_run_config(run_dir, "classification"))
    experiment = ClassificationExperiment(config, verbose=verbose)
    path = RunDirectory(run_dir).checkpoint(checkpoint)
    model = experiment.load_model(path)
    test = evaluate_split(model, experiment.data.test, config.batch_size)
    results = {
        "checkpoint": str(path),
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        **realised_complexity(model, config, experiment.c_full),
    }
    if verbose:
        print(f"Evaluating {path} on {experiment.data.description}")
        print(format_mapping(results))
    return results


def _finish(run, model, config, data, rows, state, c_base, c_full, baseline_sizes):
    """Test evaluation, realised complexity, plots; the final results dict."""
    test = evaluate_split(model, data.test, config.batch_size)
    complexity = realised_complexity(model, config, c_full)
    target = config.target_budget
    results = {
        "data": config.data,
        "transform": config.method,
        "model": config.model,
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
        "train_seconds": sum(row.get("seconds") or 0.0 for row in rows),
    }
    if config.model == MSNET:
        results["test_low_accuracy"] = test["low_accuracy"]
        results["early_exit"] = early_exit_curve(model, data, config, c_full)
        plots.plot_early_exit(results["early_exit"], run.plots_dir / "early_exit.png")
    if test["per_snr"]:
        title = f"{config.data} {config.method}"
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
    if results.get("early_exit"):
        columns = ["high_fraction_target", "threshold", "test_high_fraction",
                   "complexity_fraction", "test_accuracy"]
        lines += ["", "MSNet early exit (tau calibrated on the validation split):",
                  format_table(results["early_exit"], columns)]
    return "\n".join(lines)




__all__ = [
    "ClassificationExperiment",
    "build_model",
    "evaluate_run",
    "early_exit_curve",
    "evaluate_split",
    "realised_complexity",
    "run_classification",
    "summary_text",
]
