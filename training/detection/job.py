"""The main job: train a YOLOv8 detector, evaluate mAP@0.5, resumably.

One epoch at a time: build that epoch's batches (order and augmentation are
functions of seed and epoch), `model.fit` for one epoch with Keras progress
bars, evaluate mAP@0.5 when due, append a row to results.csv, write the
plots and the checkpoints. A run killed at any point resumes from its last
checkpoint (`resume_training`) and ends where an uninterrupted run ends.
"""

import dataclasses
import math
import pathlib
import time

import keras
import numpy as np

from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import SCALE_BANDS
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset
from training.detection.data.pipeline import make_detection_dataset
from training.detection.data.voc import VOC_CLASSES
from training.detection.data.voc import load_voc_directory
from training.detection.evaluation import evaluate_model
from training.detection.evaluation import evaluate_predictions
from training.detection.evaluation import ground_truths_of
from training.detection.evaluation import predict_detections
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import read_csv

MODELS = ("baseline", "resolution")


@dataclasses.dataclass
class DetectionJobConfig:
    """Everything a detection run depends on; saved as config.json.

    `None` fields are filled by `resolve_config` from the data's defaults:
    the paper's recipe for VOC (frozen backbone, SGD, piecewise learning
    rate 1e-3 -> 1e-5, 80 epochs, global clipnorm) and a short recipe for the
    embedded data (trainable backbone, since no pretrained weights can be
    downloaded, Adam with the Resolution scales at a tenth of the rate, a few
    minutes on 2 CPU cores).
    """

    data: str = "embedded"
    model: str = "resolution"
    run_dir: str = "runs/detection"
    hinge_weight: float = 1e-3
    complexity_cap: float = None
    epochs: int = None
    image_size: int = None
    batch_size: int = None
    learning_rate: float = None
    final_learning_rate: float = None
    optimizer: str = None
    global_clipnorm: float = 10.0
    freeze_backbone: bool = None
    backbone: str = "yolo_v8_xs"
    weights: str = None
    fpn_depth: int = 1
    transform: str = "dct"
    taper: float = 4.0
    scale_learning_rate_factor: float = None
    seed: int = 0
    eval_every: int = None
    eval_confidence: float = 0.01
    checkpoint_every: int = 0
    strategy: str = None
    train_split: str = None
    eval_split: str = None
    max_train_images: int = None
    max_eval_images: int = None
    class_names: list = None


_DATA_DEFAULTS = {
    "embedded": dict(
        epochs=16, image_size=160, batch_size=16, learning_rate=4e-3,
        final_learning_rate=4e-5, optimizer="adam", freeze_backbone=False,
        eval_every=4, train_split="train", eval_split="test",
        scale_learning_rate_factor=0.1,
    ),
    "voc": dict(
        epochs=80, image_size=320, batch_size=16, learning_rate=1e-3,
        final_learning_rate=1e-5, optimizer="sgd", freeze_backbone=True,
        eval_every=10, train_split="trainval", eval_split="test",
        scale_learning_rate_factor=1.0,
    ),
}


def resolve_config(config):
    """Fills every `None` default from the data's recipe; validates values."""
    config = dataclasses.replace(config)
    if config.model not in MODELS:
        raise ValueError(f"Unknown `--model` {config.model!r}; expected one of {MODELS}.")
    if config.hinge_weight < 0 or not math.isfinite(config.hinge_weight):
        raise ValueError(f"`--hinge-weight` must be finite and >= 0, got {config.hinge_weight}.")
    defaults = _DATA_DEFAULTS["embedded" if config.data == "embedded" else "voc"]
    for key, value in defaults.items():
        if getattr(config, key) is None:
            setattr(config, key, value)
    if config.class_names is None:
        config.class_names = list(EMBEDDED_CLASSES if config.data == "embedded" else VOC_CLASSES)
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError("`--epochs` and `--batch-size` must be >= 1.")
    if config.optimizer not in ("sgd", "adam"):
        raise ValueError(f"Unknown `--optimizer` {config.optimizer!r}; expected sgd or adam.")
    return config


def data_directory(config):
    """The VOCdevkit-layout directory of `config.data`."""
    if config.data == "embedded":
        return ensure_embedded_dataset(EmbeddedConfig(seed=0))
    if config.data == "voc2007":
        from training.detection.data.voc_export import ensure_voc2007_directory

        return ensure_voc2007_directory()
    path = pathlib.Path(config.data).expanduser()
    if (path / "VOC2007" / "Annotations").is_dir():
        path = path / "VOC2007"
    if not (path / "Annotations").is_dir():
        raise FileNotFoundError(
            f"--data {config.data}: not 'embedded', 'voc2007' or a VOCdevkit "
            "directory with Annotations/, JPEGImages/ and ImageSets/Main/."
        )
    return path


def load_records(config):
    """(train records, evaluation records) of the configured splits."""
    directory = data_directory(config)
    train, _ = load_voc_directory(directory, config.train_split, config.class_names)
    evaluation, _ = load_voc_directory(directory, config.eval_split, config.class_names)
    return train[: config.max_train_images], evaluation[: config.max_eval_images]


def build_detector(config, steps_per_epoch):
    """The baseline or resolution YOLOv8, compiled with the run's optimizer."""
    import detection

    keras.utils.set_random_seed(config.seed)
    common = dict(
        num_classes=len(config.class_names),
        bounding_box_format="xyxy",
        backbone=config.backbone,
        image_size=config.image_size,
        fpn_depth=config.fpn_depth,
        freeze_backbone=config.freeze_backbone,
        weights=config.weights,
        confidence_threshold=config.eval_confidence,
    )
    if config.model == "baseline":
        model = detection.baseline_yolov8(**common)
    else:
        model = detection.resolution_yolov8(
            **common,
            transform=config.transform,
            taper=config.taper,
            complexity_cap=config.complexity_cap,
            hinge_weight=config.hinge_weight,
        )
    model.compile(
        box_loss="ciou",
        classification_loss="binary_crossentropy",
        optimizer=make_optimizer(config, steps_per_epoch),
        jit_compile=False,
    )
    return model


def steps_per_epoch(config, num_train):
    """Training steps per epoch (the last partial batch is dropped)."""
    return max(1, num_train // config.batch_size)


def make_optimizer(config, steps_per_epoch):
    """SGD (momentum 0.9) or Adam, the Resolution scales at
    `scale_learning_rate_factor` times the rate, with a piecewise-constant
    learning rate:
    `learning_rate` until 60% of training, then the geometric middle, then
    `final_learning_rate` from 85% (1e-3, 1e-4, 1e-5 with the VOC recipe)."""
    total = config.epochs * steps_per_epoch
    middle = math.sqrt(config.learning_rate * config.final_learning_rate)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [max(1, int(0.6 * total)), max(2, int(0.85 * total))],
        [config.learning_rate, middle, config.final_learning_rate],
    )
    import keras_resolution

    factor = config.scale_learning_rate_factor
    if config.optimizer == "sgd":
        return keras_resolution.ResolutionSGD(
            schedule, momentum=0.9, global_clipnorm=config.global_clipnorm,
            scale_learning_rate_factor=factor,
        )
    return keras_resolution.ResolutionAdam(
        schedule, global_clipnorm=config.global_clipnorm, scale_learning_rate_factor=factor
    )


class MidEpochCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` and the state every `every` batches of an epoch.

    Args:
        run: `RunDirectory`.
        every: Batches between checkpoints (0: never).
        epoch: Index of the epoch being trained.
        batches_before: Batches of this epoch done before this `fit` (when
            resuming mid-epoch).
        best: `(best_metric, best_epoch)` carried into the state.
    """

    def __init__(self, run, every, epoch, batches_before, best):
        super().__init__()
        self.run, self.every, self.epoch = run, every, epoch
        self.batches_before, self.best = batches_before, best

    def on_train_batch_end(self, batch, logs=None):
        done = self.batches_before + batch + 1
        if self.every and done % self.every == 0:
            state = RunState(self.epoch, done, *self.best)
            self.run.save_checkpoint(self.model, state)


def train_detection(config, resume=False, progress=True, extra_callbacks=()):
    """Trains (or resumes) a run and returns its final results dict.

    Args:
        config: `DetectionJobConfig` (ignored when resuming: the run's own
            config.json is used).
        resume: Continue the run in `config.run_dir` from its last checkpoint.
        progress: Show Keras progress bars.
        extra_callbacks: More Keras callbacks for every epoch's `fit`.

    Returns:
        Dict with mAP@0.5, per-band AP, PANet complexity, parameter counts,
        wall time and the run directory.
    """
    run = RunDirectory(config.run_dir)
    if resume:
        config = DetectionJobConfig(**run.read_config())
    config = resolve_config(config)
    train_records, eval_records = load_records(config)
    steps = steps_per_epoch(config, len(train_records))
    with strategy_scope(config.strategy):
        if resume:
            model = run.load_last()
            state = run.read_state()
            _say(progress, f"Resuming {run.path} at epoch {state.epochs_done + 1}, "
                 f"batch {state.batches_done + 1}.")
        else:
            model = build_detector(config, steps)
            state = RunState()
            run.write_config(dataclasses.asdict(config))
    rows = read_csv(run.results_csv)[: state.epochs_done]
    started = time.time()
    for epoch in range(state.epochs_done, config.epochs):
        skip = state.batches_done if epoch == state.epochs_done else 0
        dataset = make_detection_dataset(
            train_records, config.image_size, config.batch_size, "xyxy",
            training=True, seed=config.seed, epoch=epoch, skip_batches=skip,
        )
        callbacks = [
            *complexity_callbacks(model),
            MidEpochCheckpoint(run, config.checkpoint_every, epoch, skip,
                               (state.best_metric, state.best_epoch)),
            keras.callbacks.TensorBoard(str(run.tensorboard_dir), write_graph=False),
            *extra_callbacks,
        ]
        history = model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1,
                            callbacks=callbacks, verbose=1 if progress else 0)
        row = {"epoch": epoch + 1, "learning_rate": current_learning_rate(model)}
        row.update({key: values[-1] for key, values in history.history.items()})
        row.update(per_layer_logs(model))
        improved = False
        if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
            evaluation, _ = evaluate_model(model, eval_records, len(config.class_names),
                                           config.image_size, config.batch_size,
                                           progress=progress)
            row["map50"] = evaluation.mean_average_precision
            improved = state.best_metric is None or row["map50"] > state.best_metric
            if improved:
                state.best_metric, state.best_epoch = row["map50"], epoch + 1
        rows.append(row)
        atomic_write_csv(run.results_csv, rows)
        state = RunState(epoch + 1, 0, state.best_metric, state.best_epoch)
        run.save_checkpoint(model, state, best=improved)
        write_training_plots(run, rows, model, config)
    results = final_results(model, config, run, eval_records, progress)
    results["train_seconds_this_session"] = round(time.time() - started, 1)
    run.write_state(dataclasses.replace(state, finished=True))
    return results


def evaluate_run(run_dir, data=None, checkpoint="best", progress=True):
    """Evaluates a run's checkpoint (`best`, else `last`) on its evaluation
    split, or on the same split of `data` when given; prints the table."""
    run = RunDirectory(run_dir)
    config = resolve_config(DetectionJobConfig(**run.read_config()))
    if data is not None:
        config = dataclasses.replace(config, data=data)
    path = run.best_checkpoint if checkpoint == "best" and run.best_checkpoint.exists() else run.last_checkpoint
    if not path.exists():
        raise FileNotFoundError(f"{path}: the run has no checkpoint to evaluate.")
    model = keras.saving.load_model(path)
    _, eval_records = load_records(config)
    return final_results(model, config, run, eval_records, progress, write=False)


def final_results(model, config, run, eval_records, progress, write=True):
    """Evaluates mAP@0.5 (overall, per class, per size band), prints and
    saves the summary, and draws validation images."""
    bands = SCALE_BANDS if config.data == "embedded" else None
    predictions = predict_detections(model, eval_records, config.image_size,
                                     config.batch_size, progress)
    evaluation, band_results = evaluate_predictions(
        predictions, eval_records, len(config.class_names), bands
    )
    results = {
        "run_dir": str(run.path),
        "model": config.model,
        "hinge_weight": config.hinge_weight,
        "map50": float(evaluation.mean_average_precision),
        "panet_complexity": panet_complexity_value(model),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "eval_images": len(eval_records),
    }
    for name, band in band_results.items():
        results[f"ap50_{name}"] = float(band.mean_average_precision)
    table = evaluation.format_table(config.class_names)
    summary = format_summary(results) + "\n\n" + table
    print(summary)
    if write:
        atomic_write_text(run.path / "summary.txt", summary + "\n")
        atomic_write_json(run.path / "results.json", results)
        _plot_examples(eval_records[:8], predictions[:8], config, run)
    return results


def format_summary(results):
    """The one-run results as an aligned two-column text table."""
    width = max(len(key) for key in results)
    lines = ["Results", "-------"]
    for key, value in results.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def complexity_callbacks(model):
    """The PANet complexity total for the progress bar, History and
    TensorBoard (per-layer values go to results.csv: `per_layer_logs`)."""
    import detection

    return [detection.PANetComplexityLogger(per_layer=False)]


def per_layer_logs(model):
    """Per-convolution PANet complexity and learned sizes, for results.csv."""
    import detection

    logger = detection.PANetComplexityLogger(per_layer=True)
    logger.set_model(model)
    return logger.complexity_logs()


def panet_complexity_value(model):
    import detection

    return float(detection.panet_complexity(model))


def current_learning_rate(model):
    learning_rate = model.optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(learning_rate))


def write_training_plots(run, rows, model, config):
    from training.detection import plots

    plots.plot_losses(rows, run.plots_dir / "losses.png")
    plots.plot_map_and_complexity(rows, run.plots_dir / "map_and_complexity.png",
                                  getattr(model, "complexity_cap", None))
    if hasattr(model, "panet_layer_sizes"):
        plots.plot_learned_sizes(model.panet_layer_sizes(), run.plots_dir / "learned_sizes.png")


def _plot_examples(records, predictions, config, run):
    from PIL import Image

    from training.detection import plots

    images = [np.asarray(Image.open(r.image_path).convert("RGB")) for r in records]
    plots.plot_detections(images, ground_truths_of(records), predictions,
                          config.class_names, run.plots_dir / "validation_detections.png")


def strategy_scope(strategy):
    """A `tf.distribute` scope for `--strategy mirrored`, else a no-op."""
    import contextlib

    if strategy in (None, "", "none", "default"):
        return contextlib.nullcontext()
    if strategy != "mirrored":
        raise ValueError(f"Unknown `--strategy` {strategy!r}; expected 'mirrored'.")
    import tensorflow as tf

    # Every GPU; without GPUs, every logical CPU device (MirroredStrategy's
    # own default would take a single CPU).
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    strategy = tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
    print(f"MirroredStrategy over {strategy.num_replicas_in_sync} devices: "
          f"{', '.join(device.name for device in devices)}", flush=True)
    return strategy.scope()


def _say(progress, message):
    if progress:
        print(message, flush=True)
