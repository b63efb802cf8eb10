"""SRF-GAN's staged training as runs of the harness (issue 13, item 4).

Two runs, each resumable in its own directory by the one run loop:

* stage 1, `train --model srf --srf-stage 1 --srf-target BASELINE_RUN`:
  `SRFStage1Experiment`. The generators learn to map the target baseline's
  top-down PANet maps of the half-resolution image to those of the full
  image, against feature patch discriminators
  (`detection.srf_gan_trainer`). results.csv has `d_loss`, `g_loss`, `l1`
  and `adversarial` per epoch, and the L1 on the evaluation images of the
  generators (`val_l1`) and of their bilinear skip alone
  (`val_l1_bilinear`); best.keras is the trainer (generators and
  discriminators) with the lowest `val_l1`.
* stage 3, `train --model srf --srf-stage 3 --srf-generators STAGE1_RUN`:
  a `DetectionExperiment` whose detector is `detection.srf_yolov8` with the
  stage-1 target's weights and the stage-1 generators
  (`srf_stage3_weights`), fine-tuned on the detection loss with the data's
  recipe, as every other detection row.

The paper's stage 2 (an integral loss, the detector trained on x0.5
images) is not ported; docs/comparators-srfgan.md lists the choices.
"""

import dataclasses
import math
import pathlib

import keras

from training.common.checkpoint_rebuild import REBUILD_DIR
from training.common.checkpoint_rebuild import missing_checkpoints
from training.common.checkpoint_rebuild import rebuild_checkpoints
from training.common.optimizers import make_optimizer
from training.common.optimizers import piecewise_schedule
from training.common.optimizers import with_warmup
from training.common.run_directory import RunDirectory
from training.common.run_loop import read_run_config
from training.detection.config import LEARNING_RATE_BOUNDARIES
from training.detection.config import config_of_run
from training.detection.config import is_srf_stage1
from training.detection.config import learning_rate_values
from training.detection.data.pipeline import make_detection_dataset
from training.detection.job import DetectionExperiment
from training.detection.job import load_detector
from training.detection.job import strategy_scope
from training.detection.job import train_detection

# Settings a stage must share with the run it starts from: the maps it
# learns on (or the detector it fine-tunes) are that run's.
SHARED_SETTINGS = ("data", "backbone", "image_size", "fpn_depth", "classes")
# Settings stage 3 takes over from its stage-1 run: the generators' shapes.
GENERATOR_SETTINGS = ("generator_variant", "generator_blocks")
LOSSES = ("d_loss", "g_loss", "l1", "adversarial")


def finished_run(run_dir, flag, expected):
    """The config of a finished run that a stage starts from.

    Args:
        run_dir: The run directory given to `flag`.
        flag: The option naming it (`--srf-target`, `--srf-generators`).
        expected: `(description, predicate)`: what the run must be, and a
            test on its `DetectionConfig`.

    Returns:
        The run's `DetectionConfig`.

    Raises:
        ValueError: naming `flag` and the path, if the directory holds no
            detection run, an unfinished one, one without best.keras, or
            another kind of run.
    """
    run = RunDirectory(run_dir)
    description, predicate = expected
    if not run.config_path.exists():
        raise ValueError(f"{flag} {run.path}: no run there (config.json is missing).")
    config = config_of_run(read_run_config(run.path, "detection"))
    if not predicate(config):
        raise ValueError(f"{flag} {run.path}: not {description} (a --model {config.model} "
                         f"run).")
    if missing_checkpoints(run.path, which=("best",)):
        raise ValueError(f"{flag} {run.path}: the run's records were kept without its "
                         f"checkpoints; restore them with python -m training rebuild {run.path}.")
    if not (run.read_state().finished and run.best_checkpoint.exists()):
        raise ValueError(f"{flag} {run.path}: the run has not finished (no best.keras with a "
                         "finished state.json); finish it with --resume first.")
    return config


def located_sources(config, run_dir):
    """`config` of the run in `run_dir` with its sources (`srf_target`,
    `srf_generators`) where its sweep now is.

    Runs record their sources as absolute paths, which hold nothing once the
    sweep directory is moved or cloned elsewhere. A recorded path that holds
    no run is replaced by the run of the same name beside `run_dir` (beside
    the run a rebuild directory is in), where a sweep keeps it; a path that
    holds a run, or has no such neighbour, is kept (the stage's own checks
    then name it).

    Example:

    >>> located_sources(config, "clone/docs/runs/t1/srf_seed0").srf_generators
    'clone/docs/runs/t1/srf_stage1_seed0'
    """
    run_dir = pathlib.Path(run_dir)
    sweep_dir = run_dir.parent.parent if run_dir.name == REBUILD_DIR else run_dir.parent
    moved = {}
    for field in ("srf_target", "srf_generators"):
        recorded = getattr(config, field)
        if recorded is None or RunDirectory(recorded).config_path.exists():
            continue
        beside = sweep_dir / pathlib.PurePath(recorded).name
        if RunDirectory(beside).config_path.exists():
            moved[field] = str(beside)
    return dataclasses.replace(config, **moved)


def source_config(run_dir):
    """The config of the detection run in `run_dir`, its sources located
    (`located_sources`)."""
    return located_sources(config_of_run(read_run_config(run_dir, "detection")), run_dir)


def restore_sources(config, verbose=1):
    """Restores the checkpoints of the finished runs an SRF-GAN stage
    `config` starts from (stage 1: its baseline; stage 3: its stage-1 run and
    that run's baseline), where their records were kept without them, by
    training them again (`rebuild_checkpoints`), the runs they start from
    first. Runs that are missing or unfinished are left to the stage's own
    checks. Any other `config` has no sources: nothing happens. A source's
    own sources are found with `located_sources`."""
    for source in (config.srf_target, config.srf_generators):
        if source is None or not RunDirectory(source).config_path.exists():
            continue
        # A stage 3 loads its stage-1 run's baseline too: always look deeper.
        restore_sources(source_config(source), verbose)
        if missing_checkpoints(source, which=("best",)):  # what a stage loads
            rebuild_detection_run(source, verbose)


def rebuild_detection_run(run_dir, verbose=1):
    """`rebuild_checkpoints` of a detection run: trained again, once the
    runs it starts from (an SRF-GAN stage's) have their checkpoints."""

    def train(directory):
        restore_sources(source_config(directory), verbose)
        train_detection(None, directory, resume=True, verbose=verbose)

    return rebuild_checkpoints(run_dir, train, verbose)


def _check_shared(config, source, flag, names=SHARED_SETTINGS):
    for name in names:
        if getattr(config, name) != getattr(source, name):
            raise ValueError(
                f"{flag}: the run there has {name}={getattr(source, name)!r}, this run "
                f"{getattr(config, name)!r}; a stage must use the same {name}.")


BASELINE_RUN = ("a baseline run", lambda config: config.model == "baseline")
STAGE1_RUN = ("an SRF-GAN stage-1 run", is_srf_stage1)


def stage1_target(config):
    """The target baseline run's config of a stage-1 `config`, checked."""
    target = finished_run(config.srf_target, "--srf-target", BASELINE_RUN)
    _check_shared(config, target, "--srf-target")
    return target


def stage3_sources(config):
    """(stage-1 config, its target's config) of a stage-3 `config`, checked."""
    stage1 = finished_run(config.srf_generators, "--srf-generators", STAGE1_RUN)
    _check_shared(config, stage1, "--srf-generators", SHARED_SETTINGS + GENERATOR_SETTINGS)
    target = finished_run(stage1.srf_target, "--srf-generators (its --srf-target)",
                          BASELINE_RUN)
    return stage1, target


def generator_options(config):
    """`generator_options` of `srf_yolov8` / `srf_gan_trainer`."""
    return {} if config.generator_blocks is None else {"num_blocks": config.generator_blocks}


def srf_stage3_weights(detector, config):
    """Loads a stage-3 detector's starting weights: every layer from the
    stage-1 run's target baseline, the generators from the stage-1 run.

    Args:
        detector: an `SRFYOLOV8Detector` built with the stage-1 run's
            generator settings.
        config: the stage-3 `DetectionConfig`.

    Raises:
        ValueError: naming `--srf-generators` if the baseline's layers and
            the detector's differ by anything but the generators.
    """
    stage1, _ = stage3_sources(config)
    baseline = load_detector(RunDirectory(stage1.srf_target).best_checkpoint)
    trainer = keras.saving.load_model(RunDirectory(config.srf_generators).best_checkpoint)
    generators = {generator.name: generator.get_weights() for generator in trainer.generators}
    _copy_weights(detector, baseline, generators, "--srf-generators")


def fine_tuning_weights(detector, config):
    """Loads the starting weights of a fixed-upsampler detector that
    fine-tunes a baseline run (`--model upsampler --srf-target RUN_DIR`):
    every layer from the baseline's best.keras, as in stage 3, without
    generators.

    Raises:
        ValueError: naming `--srf-target` if the run is not a finished
            baseline of the same data and detector, or if its layers and
            the detector's differ.
    """
    stage1_target(config)
    baseline = load_detector(RunDirectory(config.srf_target).best_checkpoint)
    _copy_weights(detector, baseline, {}, "--srf-target")


def _copy_weights(detector, baseline, extra, flag):
    """Every weighted layer of `detector` from the layer of the same name in
    `baseline`, or from `extra` (layer name -> weights) for the layers the
    baseline does not have; a ValueError naming `flag` if any layer of
    either is left without its counterpart."""
    # The backbone is copied whole; KerasCV's detector also holds a
    # functional view of it (its pyramid outputs), which shares its weights.
    detector.backbone.set_weights(baseline.backbone.get_weights())
    backbone_weights = {id(weight) for weight in detector.backbone.weights}
    weighted, copied = set(), set()
    for layer in detector.layers:
        if isinstance(layer, keras.Model):
            if not all(id(weight) in backbone_weights for weight in layer.weights):
                raise ValueError(f"{flag}: the detector's {layer.name} holds weights "
                                 "outside its backbone.")
        elif layer.weights:
            weighted.add(layer.name)
    for layer in baseline.layers:
        if layer.weights and not isinstance(layer, keras.Model):
            if layer.name not in weighted:
                raise ValueError(f"{flag}: the baseline's layer {layer.name} is not "
                                 "in the detector.")
            detector.get_layer(layer.name).set_weights(layer.get_weights())
            copied.add(layer.name)
    for name, weights in extra.items():
        detector.get_layer(name).set_weights(weights)
        copied.add(name)
    if weighted != copied:
        raise ValueError(f"{flag}: no weights for the detector's layers "
                         f"{sorted(weighted - copied)}.")


class SRFStage1Experiment(DetectionExperiment):
    """SRF-GAN stage 1 as an experiment of the run loop.

    The data, batches and seeds are `DetectionExperiment`'s (the same
    training images in the same order); the model is an `SRFGANTrainer` on
    the target baseline's best.keras, its two optimizers on the run's
    schedule; the evaluation is the L1 of Eq. 2 on the evaluation images.

    Args:
        config: A stage-1 `DetectionConfig` (`--model srf --srf-stage 1`).
        verbose: Progress bars and messages (1) or silence (0).

    Raises:
        ValueError: naming `--srf-target` and its path for a missing,
            unfinished or non-baseline target, or one trained on other data,
            image size, backbone, PANet depth or classes.
    """

    monitor = "val_l1_improvement"  # bilinear L1 - generators' L1: higher is better

    def __init__(self, config, verbose=1):
        super().__init__(config, verbose)
        if not is_srf_stage1(self.config):
            raise ValueError(f"`config` must be an SRF-GAN stage-1 config, got --model "
                             f"{self.config.model} --srf-stage {self.config.srf_stage}.")
        self.target = stage1_target(self.config)
        if self.config.image_size % 64:
            raise ValueError(f"--image-size must be a multiple of 64 for SRF-GAN stage 1 (the "
                             f"half image must suit stride 32), got {self.config.image_size}.")

    def describe(self):
        config = self.config
        return (f"SRF-GAN stage 1 ({config.generator_variant} generators, target "
                f"{config.srf_target}, {config.image_size} px, seed {config.seed}) on "
                f"{self.data.description}: {config.epochs} epochs of {self.steps_per_epoch} "
                "steps")

    def _optimizer(self):
        config = self.config
        schedule = piecewise_schedule(
            learning_rate_values(config),
            [fraction * config.epochs for fraction in LEARNING_RATE_BOUNDARIES],
            self.steps_per_epoch,
        )
        schedule = with_warmup(schedule, config.warmup_epochs, self.steps_per_epoch)
        return make_optimizer(config.optimizer, schedule, global_clipnorm=config.global_clipnorm,
                              ema_momentum=config.ema_momentum)

    def build_model(self):
        """An `SRFGANTrainer` on the target's best.keras, compiled with one
        optimizer per network (the run's schedule for both)."""
        import detection

        config = self.config
        with strategy_scope(config.strategy):
            target = load_detector(RunDirectory(config.srf_target).best_checkpoint)
            trainer = detection.srf_gan_trainer(
                target, config.generator_variant, generator_options(config),
                discriminator_width_multiplier=config.discriminator_width_multiplier,
                adversarial_weight=config.adversarial_weight)
            trainer.compile(generator_optimizer=self._optimizer(),
                            discriminator_optimizer=self._optimizer(), jit_compile=False)
        return trainer

    def load_model(self, path):
        return load_detector(path, self.config.strategy)

    def callbacks(self, model):
        return []

    def epoch_columns(self, model):
        return {}

    def evaluate(self, model):
        """`val_l1` (generators) and `val_l1_bilinear` (their skip alone):
        Eq. 2's L1 summed over levels, averaged over the evaluation images;
        `val_l1_improvement` is the second minus the first."""
        batches = make_detection_dataset(self.data.evaluation, self.config.image_size,
                                         self.config.batch_size, "xyxy")
        totals, count = [0.0, 0.0], 0
        for images, _ in batches:
            size = int(images.shape[0])
            for index, value in enumerate(model.reconstruction_l1(images)):
                totals[index] += size * float(value)
            count += size
        learned, bilinear = (total / count for total in totals)
        return {"val_l1": learned, "val_l1_bilinear": bilinear,
                "val_l1_improvement": bilinear - learned}

    def plot(self, run, rows, model):
        from training.detection import plots

        plots.plot_losses(rows, run.plots_dir / "losses.png", keys=LOSSES)
        plots.plot_losses(rows, run.plots_dir / "validation_l1.png",
                          keys=("val_l1", "val_l1_bilinear"))

    def final_results(self, model, run, rows, state):
        return {
            **self.results_of(model),
            "run_dir": str(run.path),
            "best_val_l1_improvement": state.best_metric,
            "best_epoch": state.best_epoch,
            "train_seconds": round(sum(row.get("seconds") or 0.0 for row in rows), 1),
        }

    def results_of(self, model):
        """The evaluation L1s (`evaluate`) and the parameters of the
        generators and discriminators (BN statistics included)."""
        return {
            "model": "srf",
            "srf_stage": 1,
            "seed": self.config.seed,
            "srf_target": self.config.srf_target,
            **self.evaluate(model),
            "generator_params": _count(model.generator_weights(trainable=False)),
            "discriminator_params": _count(model.discriminator_weights(trainable=False)),
            "eval_images": len(self.data.evaluation),
        }


def _count(weights):
    return int(sum(math.prod(weight.shape) for weight in weights))


def experiment_for(config, verbose=1, include_train=True):
    """The experiment of a detection-family config: SRF-GAN stage 1, or the
    detection experiment (every detector, SRF-GAN stage 3 included)."""
    if is_srf_stage1(config):
        return SRFStage1Experiment(config, verbose)
    return DetectionExperiment(config, verbose, include_train)
