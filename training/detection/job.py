"""The detection experiment: YOLOv8 (baseline, Resolution or DiffStride
PANet, a fixed top-down upsampler, or SRF-GAN's stage 3) on VOC or the
embedded data, trained by the one run loop and evaluated by mAP@0.5
(SRF-GAN's stage 1 is `training.detection.srf_stages`).

`train_detection(config, run_dir)` runs it; `evaluate_run(run_dir)`
evaluates a run's checkpoint again in a fresh process. What the run loop
does (epochs, checkpoints, resume) is in `training.common.run_loop`; this
module supplies only the detection pieces.
"""

import contextlib
import dataclasses
import warnings

import keras
import numpy as np

from training.common.optimizers import make_optimizer
from training.common.optimizers import piecewise_schedule
from training.common.optimizers import steps_per_epoch
from training.common.optimizers import with_warmup
from training.common.run_directory import RunDirectory
from training.common.run_loop import Experiment
from training.common.run_loop import evaluated_weights
from training.common.run_loop import read_run_config
from training.common.run_loop import run_experiment
from training.common.tables import format_mapping
from training.detection.backbone_pretraining import weights_fingerprint
from training.detection.config import LEARNING_RATE_BOUNDARIES
from training.detection.config import EMBEDDED_PRETRAINED
from training.detection.config import RANDOM_WEIGHTS
from training.detection.config import DetectionConfig
from training.detection.config import config_of_run
from training.detection.config import is_srf_stage1
from training.detection.config import learning_rate_values
from training.detection.config import resolve_config
from training.detection.data.pipeline import make_detection_dataset
from training.detection.data.sources import load_detection_data
from training.detection.evaluation import evaluate_predictions
from training.detection.evaluation import ground_truths_of
from training.detection.evaluation import predict_detections


class DetectionExperiment(Experiment):
    """The detection pieces of the run loop.

    Args:
        config: A `DetectionConfig` (resolved here).
        verbose: Progress bars and messages (1) or silence (0).
        include_train: Read the training split too (`False` to evaluate only).
    """

    name = "detection"
    monitor = "map50"

    def __init__(self, config, verbose=1, include_train=True):
        self.config = resolve_config(config)
        self.verbose = verbose
        self.data = load_detection_data(
            self.config.data,
            class_names=self.config.classes,
            train_split=self.config.train_split,
            eval_split=self.config.eval_split,
            strict=self.config.strict,
            batch_size=self.config.batch_size,
            max_train_images=self.config.max_train_images,
            max_eval_images=self.config.max_eval_images,
            include_train=include_train,
        )
        self.eval_every = self.config.eval_every
        self.steps_per_epoch = steps_per_epoch(len(self.data.train), self.config.batch_size)
        # The runs a stage starts from, checked before the run claims its directory.
        if self.config.model == "srf" and self.config.srf_stage == 3:
            from training.detection.srf_stages import stage3_sources

            stage3_sources(self.config)
        if self.config.model == "upsampler" and self.config.srf_target is not None:
            from training.detection.srf_stages import stage1_target

            stage1_target(self.config)

    def describe(self):
        config = self.config
        model = {"upsampler": f"{config.upsampler}-upsampling"
                              + (" (fine-tuned)" if config.srf_target else ""),
                 "srf": "SRF-GAN stage-3"}.get(config.model, config.model)
        return (
            f"{model} YOLOv8 ({config.backbone}, {config.image_size} px, seed "
            f"{config.seed}) on {self.data.description}: {config.epochs} epochs of "
            f"{self.steps_per_epoch} steps"
        )

    def build_model(self):
        """The baseline, Resolution, DiffStride, fixed-upsampler or SRF-GAN
        (stage 3: the stage-1 target's weights and generators) YOLOv8,
        compiled with the run's optimizer."""
        import detection

        config = self.config
        common = dict(
            num_classes=len(self.data.class_names),
            bounding_box_format="xyxy",
            backbone=config.backbone,
            image_size=config.image_size,
            fpn_depth=config.fpn_depth,
            freeze_backbone=config.freeze_backbone,
            weights=self.backbone_weights(),
            confidence_threshold=config.eval_confidence,
        )
        with strategy_scope(config.strategy), warnings.catch_warnings():
            if config.freeze_backbone:  # A frozen random backbone is no experiment.
                warnings.simplefilter("error", detection.PretrainedWeightsUnavailableWarning)
            if config.model == "baseline":
                model = detection.baseline_yolov8(**common)
            elif config.model == "upsampler":
                model = detection.srf_yolov8(**common, upsampler=config.upsampler)
                if config.srf_target is not None:  # stage 3 without generators
                    from training.detection.srf_stages import fine_tuning_weights

                    fine_tuning_weights(model, config)
            elif config.model == "srf":  # stage 3 (stage 1 is `SRFStage1Experiment`)
                from training.detection.srf_stages import generator_options
                from training.detection.srf_stages import srf_stage3_weights

                model = detection.srf_yolov8(
                    **common, upsampler="srf", generator_variant=config.generator_variant,
                    generator_options=generator_options(config))
                srf_stage3_weights(model, config)
            elif config.model == "diffstride":
                model = detection.diffstride_yolov8(
                    **common,
                    complexity_definition=config.complexity_definition,
                    complexity_cap=config.complexity_cap,
                    hinge_weight=config.hinge_weight,
                )
            else:
                model = detection.resolution_yolov8(
                    **common,
                    transform=config.transform,
                    taper=config.taper,
                    scale_start=config.scale_start,
                    static_sizes=config.static_sizes,
                    complexity_definition=config.complexity_definition,
                    complexity_cap=config.complexity_cap,
                    hinge_weight=config.hinge_weight,
                )
            schedule = piecewise_schedule(
                learning_rate_values(config),
                [fraction * config.epochs for fraction in LEARNING_RATE_BOUNDARIES],
                self.steps_per_epoch,
            )
            schedule = with_warmup(schedule, config.warmup_epochs, self.steps_per_epoch)
            model.compile(
                box_loss="ciou",
                classification_loss="binary_crossentropy",
                optimizer=make_optimizer(
                    config.optimizer,
                    schedule,
                    global_clipnorm=config.global_clipnorm,
                    scale_learning_rate_factor=config.scale_learning_rate_factor,
                    ema_momentum=config.ema_momentum,
                ),
                jit_compile=False,
            )
        return model

    def backbone_weights(self):
        """The `weights` argument of the detector: a file, a preset or None
        (random); `embedded-pretrained` is pretrained here on first use."""
        weights = self.config.weights
        if weights == RANDOM_WEIGHTS:
            return None
        if weights == EMBEDDED_PRETRAINED:
            from training.detection import backbone_pretraining

            recipe = backbone_pretraining.BackbonePretrainingRecipe(backbone=self.config.backbone)
            return str(backbone_pretraining.ensure_pretrained_backbone(recipe, verbose=self.verbose))
        return weights

    def load_model(self, path):
        return load_detector(path, self.config.strategy)

    def train_batches(self, epoch, skip_batches):
        return make_detection_dataset(
            self.data.train, self.config.image_size, self.config.batch_size, "xyxy",
            training=True, seed=self.config.seed, epoch=epoch, skip_batches=skip_batches,
        )  # fmt: skip

    def callbacks(self, model):
        import detection
        import keras_resolution

        callbacks = [detection.PANetComplexityLogger(per_layer=False)]
        if getattr(model, "static_sizes", False):
            callbacks.append(keras_resolution.SizeRefresh())  # Logs `size_rebuilds`.
        return callbacks

    def _evaluate(self, model):
        predictions = predict_detections(
            model, self.data.evaluation, self.config.image_size, self.config.batch_size,
            progress=bool(self.verbose),
        )  # fmt: skip
        evaluation, bands = evaluate_predictions(
            predictions, self.data.evaluation, len(self.data.class_names), self.data.size_bands
        )
        return evaluation, bands, predictions

    def evaluate(self, model):
        evaluation, _, _ = self._evaluate(model)
        return {"map50": float(evaluation.mean_average_precision)}

    def epoch_columns(self, model):
        import detection

        logger = detection.PANetComplexityLogger(per_layer=True)
        logger.set_model(model)
        return {key: value for key, value in logger.complexity_logs().items() if "/" in key}

    def plot(self, run, rows, model):
        from training.detection import plots

        plots.plot_losses(rows, run.plots_dir / "losses.png")
        # The plot's complexity axis is in cells: a cap in FLOPs has no place on it.
        in_cells = getattr(model, "complexity_definition", "area") == "area"
        cells_cap = getattr(model, "complexity_cap", None) if in_cells else None
        plots.plot_map_and_complexity(rows, run.plots_dir / "map_and_complexity.png", cells_cap)
        if hasattr(model, "panet_layer_sizes"):
            plots.plot_learned_sizes(model.panet_layer_sizes(), run.plots_dir / "learned_sizes.png")

    def final_results(self, model, run, rows, state):
        results, predictions = self._results_and_predictions(model)
        results.update(
            run_dir=str(run.path),
            best_map50=state.best_metric,
            best_epoch=state.best_epoch,
            train_seconds=round(sum(row.get("seconds") or 0.0 for row in rows), 1),
        )
        self._plot_examples(run, predictions)
        return results

    def results_of(self, model):
        """mAP@0.5 overall, per class and per size band, PANet complexity
        in cells and in multiply-adds per image."""
        return self._results_and_predictions(model)[0]

    def _results_and_predictions(self, model):
        import detection

        evaluation, bands, predictions = self._evaluate(model)
        results = {
            "model": self.config.model,
            "hinge_weight": self.config.hinge_weight,
            "seed": self.config.seed,
            "map50": float(evaluation.mean_average_precision),
            "panet_complexity": float(detection.panet_complexity(model)),
            "panet_flops": float(detection.panet_complexity(model, "flops")),
            "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "eval_images": len(self.data.evaluation),
            # Which weights the backbone holds (when frozen: those it started
            # from), so that runs can be checked to share one backbone.
            "backbone_fingerprint": weights_fingerprint(model.backbone),
        }
        if isinstance(model, detection.SRFYOLOV8Detector):  # the upsampler's own cost
            results.update(upsampler=model.upsampler,
                           generator_params=int(model.generator_parameters()),
                           generator_flops=model.generator_flops())
        for name, band in bands.items():
            results[f"ap50_{name}"] = float(band.mean_average_precision)
        results["ap50_per_class"] = dict(
            zip(self.data.class_names, map(float, evaluation.average_precision))
        )
        return results, predictions

    def summary(self, results):
        per_class = results.get("ap50_per_class") or {}
        text = format_mapping(results)
        if per_class:
            text += "\n\n" + format_mapping(per_class, title="AP@0.5 per class")
        return text

    def _plot_examples(self, run, predictions):
        from PIL import Image

        from training.detection import plots

        records = self.data.evaluation[:8]
        images = [np.asarray(Image.open(r.image_path).convert("RGB")) for r in records]
        plots.plot_detections(
            images, ground_truths_of(records), predictions[:8],
            self.data.class_names, run.plots_dir / "validation_detections.png",
        )  # fmt: skip


def load_detector(path, strategy=None):
    """A detector saved by a run (`best.keras` or `last.keras`), in any
    process: importing `detection` registers its classes for Keras."""
    import detection  # noqa: F401

    with strategy_scope(strategy):
        return keras.saving.load_model(path)


def train_detection(config, run_dir, resume=False, verbose=1):
    """Trains (or resumes) a detection run; returns its results dict.

    Args:
        config: `DetectionConfig` (ignored when resuming: the run's own
            config.json is used).
        run_dir: Run directory (see `training.common.run_directory`).
        resume: Continue the run in `run_dir` from its last checkpoint.
        verbose: Progress bars and messages (1) or silence (0).

    Example:

    >>> results = train_detection(DetectionConfig(epochs=1), "runs/try")
    >>> results["map50"]
    """
    from training.detection.srf_stages import experiment_for
    from training.detection.srf_stages import source_config

    with RunDirectory(run_dir).training_lock():  # before the data is loaded
        if resume:
            config = source_config(run_dir)  # (an SRF-GAN stage's, where its sweep now is)
        return run_experiment(experiment_for(config, verbose), run_dir, resume, verbose)


def evaluate_run(run_dir, checkpoint="best", data=None, verbose=1):
    """mAP@0.5 of a run's checkpoint on its evaluation split (or on the same
    split of other `data`), printed as the run's summary; nothing is written.

    Returns:
        The results dict (as in the run's results.json, without training
        times).
    """
    run = RunDirectory(run_dir)
    config = config_of_run(read_run_config(run_dir, "detection"))
    if is_srf_stage1(config):
        raise ValueError(f"{run_dir} is an SRF-GAN stage-1 run: it trains generators, not a "
                         "detector (its L1s are in results.csv); evaluate its stage-3 run.")
    if data is not None:
        config = dataclasses.replace(config, data=data)
    experiment = DetectionExperiment(config, verbose, include_train=False)
    path = run.checkpoint(checkpoint)
    if verbose:
        print(f"Evaluating {path} on {experiment.data.description}", flush=True)
    model = load_detector(path, config.strategy)
    with evaluated_weights(model, path):
        results = experiment.results_of(model)
    results["checkpoint"] = str(path)
    if verbose:
        print(experiment.summary(results), flush=True)
    return results


def strategy_scope(strategy):
    """A `tf.distribute` scope for `--strategy mirrored`, else a no-op."""
    if strategy in (None, "", "none", "default"):
        return contextlib.nullcontext()
    if strategy != "mirrored":
        raise ValueError(f"--strategy must be 'mirrored', got {strategy!r}.")
    import tensorflow as tf

    # Every GPU; without GPUs, every logical CPU device (MirroredStrategy's
    # own default would take a single CPU).
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    strategy = tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
    print(f"MirroredStrategy over {strategy.num_replicas_in_sync} devices: "
          f"{', '.join(device.name for device in devices)}", flush=True)
    return strategy.scope()
