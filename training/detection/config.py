"""The configuration of one detection run, with the recipes of each dataset.

`DetectionConfig` holds every setting; `None` fields are filled by
`resolve_config` from the recipe of the data:

* VOC (a VOCdevkit directory, or `voc2007`): the paper's recipe. Frozen
  pretrained backbone, SGD (momentum 0.9), a piecewise learning rate
  1e-3 -> 1e-4 -> 1e-5 at 60% and 85% of training, 80 epochs, 320 px,
  global clipnorm 10.
* `embedded` (generated offline): the same protocol, shortened for 2 CPU
  cores. The backbone is pretrained offline on crops of the generator
  (`training.detection.backbone_pretraining`, cached, made on first use)
  and frozen; Adam 4e-3 with the Resolution scales at a tenth of it, a
  one-epoch linear warmup, a moving average of the weights (momentum 0.99,
  evaluated and saved), 12 epochs at 256 px. docs/embedded-protocol.md says
  why each choice was made.

The resolved config is what `RUN_DIR/config.json` holds, so `--resume`
continues with exactly the same settings.
"""

import dataclasses
import math
import os

from training.common import validators

MODELS = ("baseline", "resolution", "diffstride", "upsampler", "srf")
# `--model upsampler`: the PANet's top-down x2 is a fixed op
# (`detection.srf_yolov8(upsampler=...)`; nearest is the baseline's graph).
FIXED_UPSAMPLERS = ("nearest", "bilinear", "dct")
# `--model srf`: SRF-GAN's stages run here (stage 2 of the paper is not ported).
SRF_STAGES = (1, 3)
# `detection.srf_generator.VARIANTS`, without importing Keras.
GENERATOR_VARIANTS = ("paper", "rrdb")
# What a detection budget measures: cells (the paper's) or multiply-adds.
COMPLEXITY_DEFINITIONS = ("area", "flops")
# `detection.SCALE_STARTS`, without importing KerasCV to parse options.
SCALE_STARTS = ("one", "mid-cell")

# `--weights` values that are not files or KerasCV presets.
RANDOM_WEIGHTS = "random"
EMBEDDED_PRETRAINED = "embedded-pretrained"  # the cached backbone of
# `BackbonePretrainingRecipe()`, pretrained on first use

RECIPES = {
    "embedded": dict(
        epochs=12, image_size=256, batch_size=16, learning_rate=4e-3,
        final_learning_rate=4e-5, optimizer="adam", freeze_backbone=True,
        weights=EMBEDDED_PRETRAINED, eval_every=4, scale_learning_rate_factor=0.1,
        warmup_epochs=1.0, ema_momentum=0.99,
    ),
    "voc": dict(
        epochs=80, image_size=320, batch_size=16, learning_rate=1e-3,
        final_learning_rate=1e-5, optimizer="sgd", freeze_backbone=True,
        eval_every=10, scale_learning_rate_factor=1.0, warmup_epochs=0.0,
        ema_momentum=0.0,
    ),
}  # fmt: skip

# SRF-GAN stage 1 (`--model srf --srf-stage 1`) trains generators and
# discriminators on feature maps, not a detector: these replace the data's
# recipe there (docs/comparators-srfgan.md, "In the harness", says how the
# embedded epochs were chosen). VOC follows the paper: SGD, lr 1e-3, the
# discriminator at its full widths.
SRF_STAGE1_RECIPES = {
    "embedded": dict(
        epochs=8, learning_rate=1e-3, final_learning_rate=1e-5,
        optimizer="adam", warmup_epochs=0.0, ema_momentum=0.0, eval_every=1,
        discriminator_width_multiplier=0.125,
    ),
    "voc": dict(
        epochs=20, learning_rate=1e-3, final_learning_rate=1e-5, optimizer="sgd",
        warmup_epochs=0.0, ema_momentum=0.0, eval_every=2, discriminator_width_multiplier=1.0,
    ),
}  # fmt: skip

# Fields added after runs were recorded, with the values those runs used, so
# that an older run directory resumes as it started.
_FIELDS_OF_OLDER_RUNS = {"warmup_epochs": 0.0, "ema_momentum": 0.0}


@dataclasses.dataclass
class DetectionConfig:
    """Every setting of a detection run (see the module docstring).

    Attributes:
        data: `embedded`, `voc2007` or a VOCdevkit directory.
        model: `resolution`, `baseline`, `diffstride` (the bottom-up
            downsampling learned by DiffStride, `detection.diffstride_yolov8`),
            `upsampler` (the PANet's top-down x2 a fixed `upsampler`) or
            `srf` (SRF-GAN, `detection.srf_yolov8`: stage 1 trains its
            generators, stage 3 the detector with them).
        hinge_weight: lambda of the hinge penalty max(0, C_PAN - cap)
            (Resolution and DiffStride PANets).
        complexity_cap: PANet complexity cap (None: the baseline's): a
            number in the units of `complexity_definition`, or text with a
            FLOPs unit (`"0.8GFLOPs"`, as `--complexity-cap` takes it),
            which `resolve_config` turns into the number and
            `complexity_definition="flops"`.
        complexity_definition: What the cap and the hinge measure: `area`
            (cells, the paper's) or `flops` (multiply-adds per image). Runs
            recorded before the field existed used `area`, its default.
        epochs, image_size, batch_size: Training length, input side, batch.
        learning_rate, final_learning_rate: First and last piece of the
            piecewise schedule (the middle one is their geometric mean).
        optimizer: `sgd` or `adam`.
        global_clipnorm: Global gradient-norm clipping.
        freeze_backbone: Train only PANet and head.
        backbone: `yolo_v8_xs` or `resnet50`.
        weights: Backbone weights: a file, a KerasCV preset, `random`, or
            `embedded-pretrained` (the backbone pretrained on the
            generator's crops, made and cached on first use).
        fpn_depth: KerasCV's PANet depth (paper: 1).
        transform: `dct` or `dft` (Resolution layers).
        taper: Taper length of the Resolution layers (paper: 4).
        scale_start: `one` (the paper: s = 1) or `mid-cell` (each scale
            half a cell below the ceil boundary; `detection.SCALE_STARTS`).
        static_sizes: Resolution layers keep integer sizes as Python ints
            between steps (`keras_resolution.SizeRefresh` traces the step
            again when one changes; the logs count those as `size_rebuilds`).
        scale_learning_rate_factor: The scales' (and DiffStride strides')
            learning rate over the weights'.
        warmup_epochs: Epochs of linear learning-rate warmup (0: none).
        ema_momentum: Momentum of the moving average of the weights that is
            evaluated and saved (0: no average).
        seed: Seed of the weights, the data order and the augmentation.
        eval_every: Epochs between mAP@0.5 evaluations (and the last epoch).
        eval_confidence: NMS confidence threshold used for evaluation.
        checkpoint_every: Also checkpoint every N batches (0: epoch ends).
        strategy: `mirrored` for tf.distribute over the visible devices.
        classes: Class names (None: the data's), a comma-separated string or
            a file with one name per line.
        train_split, eval_split: Split names (None: the data's).
        strict: Stop at the first data problem instead of skipping.
        max_train_images, max_eval_images: Use only the first N images.
        upsampler: `--model upsampler`: `nearest`, `bilinear` or `dct`.
        srf_stage: `--model srf`: 1 (generators against discriminators on a
            trained baseline's top-down maps, `detection.srf_gan_trainer`)
            or 3 (the detector with the stage-1 generators in its PANet,
            fine-tuned on the detection loss).
        srf_target: Stage 1: a finished baseline run directory, whose
            best.keras is the frozen target detector. `--model upsampler`:
            a finished baseline run whose best.keras the run starts from
            and fine-tunes (SRF-GAN's stage 3 without generators: the
            control of what the extra epochs alone give).
        srf_generators: Stage 3: a finished stage-1 run directory (its
            best.keras gives the generators, its target the detector).
        generator_variant: `paper` (default) or `rrdb` (the released code's).
        generator_blocks: The generator's blocks (None: the variant's, 5
            residual or 3 dense blocks).
        discriminator_width_multiplier: Stage 1: widths of the feature
            patch discriminators over the paper's (512, 1024, 1024).
        adversarial_weight: Stage 1: lambda of the adversarial term (0.001).
    """

    data: str = "embedded"
    model: str = "resolution"
    hinge_weight: float = 1e-3
    complexity_cap: float = None
    complexity_definition: str = "area"
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
    scale_start: str = "one"
    static_sizes: bool = False
    scale_learning_rate_factor: float = None
    warmup_epochs: float = None
    ema_momentum: float = None
    seed: int = 0
    eval_every: int = None
    eval_confidence: float = 0.01
    checkpoint_every: int = 0
    strategy: str = None
    classes: object = None
    train_split: str = None
    eval_split: str = None
    strict: bool = False
    max_train_images: int = None
    max_eval_images: int = None
    upsampler: str = None
    srf_stage: int = None
    srf_target: str = None
    srf_generators: str = None
    generator_variant: str = "paper"
    generator_blocks: int = None
    discriminator_width_multiplier: float = None
    adversarial_weight: float = 1e-3


def is_srf_stage1(config):
    """Whether `config` is an SRF-GAN stage-1 run (no detector trained)."""
    return config.model == "srf" and config.srf_stage == 1


def recipe_name(data):
    """`embedded` for the generated data, `voc` for any VOC source."""
    return "embedded" if data == "embedded" else "voc"


def config_of_run(recorded):
    """The `DetectionConfig` of a run from its config.json dict; fields the
    run predates get the values it was trained with."""
    recorded = dict(recorded)
    if any(field not in recorded for field in _FIELDS_OF_OLDER_RUNS):
        for field, value in _FIELDS_OF_OLDER_RUNS.items():
            recorded.setdefault(field, value)
        if recorded.get("weights") is None:
            recorded["weights"] = RANDOM_WEIGHTS
    return DetectionConfig(**recorded)


def resolve_config(config):
    """A copy of `config` with every `None` recipe field filled, validated.

    Raises:
        ValueError: naming the option, for a value out of range.
    """
    config = dataclasses.replace(config)
    validators.check_choice("--model", config.model, MODELS)
    _check_model_options(config)
    recipes = [RECIPES[recipe_name(config.data)]]
    if is_srf_stage1(config):
        recipes.insert(0, SRF_STAGE1_RECIPES[recipe_name(config.data)])
    for recipe in recipes:
        for key, value in recipe.items():
            if getattr(config, key) is None:
                setattr(config, key, value)
    for flag in ("--srf-target", "--srf-generators"):
        path = getattr(config, validators.field_name(flag))
        if path is not None:  # config.json then names it from any directory
            setattr(config, validators.field_name(flag), os.path.abspath(path))
    validators.check_choice("--optimizer", config.optimizer, ("sgd", "adam"))
    validators.check_choice("--transform", config.transform, ("dct", "dft"))
    validators.check_choice("--scale-start", config.scale_start, SCALE_STARTS)
    validators.check_non_negative("--hinge-weight", config.hinge_weight)
    for flag in ("--epochs", "--batch-size", "--eval-every", "--fpn-depth"):
        validators.check_positive_int(flag, getattr(config, validators.field_name(flag)))
    validators.check_non_negative_int("--checkpoint-every", config.checkpoint_every)
    validators.check_positive("--learning-rate", config.learning_rate)
    validators.check_positive("--final-learning-rate", config.final_learning_rate)
    validators.check_positive("--scale-learning-rate-factor", config.scale_learning_rate_factor)
    validators.check_positive("--global-clipnorm", config.global_clipnorm)
    validators.check_non_negative("--warmup-epochs", config.warmup_epochs)
    if not 0.0 <= config.ema_momentum < 1.0:
        raise ValueError(f"--ema-momentum must be in [0, 1), got {config.ema_momentum}.")
    if config.image_size < 32 or config.image_size % 32:
        raise ValueError(f"--image-size must be a multiple of 32, got {config.image_size}.")
    if config.complexity_cap is not None:
        # Imported here: parsing options must not import Keras.
        from keras_resolution.complexity_definitions import parse_complexity_cap

        config.complexity_cap, definition = parse_complexity_cap(
            config.complexity_cap, "--complexity-cap"
        )
        config.complexity_definition = definition or config.complexity_definition
    validators.check_choice(
        "complexity_definition", config.complexity_definition, COMPLEXITY_DEFINITIONS
    )
    if config.freeze_backbone and config.weights in (None, RANDOM_WEIGHTS):
        raise ValueError(
            "--data "
            f"{config.data}: the recipe freezes the backbone, but no --weights were given, "
            "so it would train on random frozen features; pass --weights FILE or "
            "--train-backbone."
        )
    return config


def _check_model_options(config):
    """The options of one model (`--static-sizes` of `--model resolution`,
    those of `--model upsampler` and `--model srf`), each only with its
    model (ValueError naming the option)."""
    given = {flag for flag in ("--static-sizes", "--upsampler", "--srf-stage", "--srf-target",
                               "--srf-generators", "--generator-blocks",
                               "--discriminator-width-multiplier")
             if getattr(config, validators.field_name(flag)) not in (None, False)}
    allowed = {"resolution": {"--static-sizes"},
               "upsampler": {"--upsampler", "--srf-target"},
               "srf": {"--srf-stage", "--srf-target", "--srf-generators", "--generator-blocks",
                       "--discriminator-width-multiplier"}}.get(config.model, set())
    if given - allowed:
        raise ValueError(f"{sorted(given - allowed)[0]} does not apply to --model "
                         f"{config.model}.")
    validators.check_choice("--generator-variant", config.generator_variant, GENERATOR_VARIANTS)
    validators.check_non_negative("--adversarial-weight", config.adversarial_weight)
    if config.generator_blocks is not None:
        validators.check_positive_int("--generator-blocks", config.generator_blocks)
    if config.discriminator_width_multiplier is not None:
        validators.check_positive("--discriminator-width-multiplier",
                                  config.discriminator_width_multiplier)
    if config.model == "upsampler":
        if config.upsampler is None:
            raise ValueError(f"--model upsampler needs --upsampler, one of {FIXED_UPSAMPLERS}.")
        validators.check_choice("--upsampler", config.upsampler, FIXED_UPSAMPLERS)
    if config.model == "srf":
        if config.srf_stage is None:
            raise ValueError(f"--model srf needs --srf-stage, one of {SRF_STAGES}.")
        validators.check_choice("--srf-stage", config.srf_stage, SRF_STAGES)
        needed, other = (("--srf-target", "--srf-generators") if config.srf_stage == 1
                         else ("--srf-generators", "--srf-target"))
        if getattr(config, validators.field_name(needed)) is None:
            raise ValueError(f"--srf-stage {config.srf_stage} needs {needed} RUN_DIR.")
        if getattr(config, validators.field_name(other)) is not None:
            raise ValueError(f"{other} does not apply to --srf-stage {config.srf_stage}.")
        if config.srf_stage == 3 and config.discriminator_width_multiplier is not None:
            raise ValueError("--discriminator-width-multiplier applies to --srf-stage 1.")


def learning_rate_values(config):
    """The three pieces of the schedule: first, geometric middle, final."""
    middle = math.sqrt(config.learning_rate * config.final_learning_rate)
    return [config.learning_rate, middle, config.final_learning_rate]


LEARNING_RATE_BOUNDARIES = (0.6, 0.85)  # fractions of training
