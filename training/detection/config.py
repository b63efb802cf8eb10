"""The configuration of one detection run, with the recipes of each dataset.

`DetectionConfig` holds every setting; `None` fields are filled by
`resolve_config` from the recipe of the data:

* VOC (a VOCdevkit directory, or `voc2007`): the paper's recipe. Frozen
  pretrained backbone, SGD (momentum 0.9), a piecewise learning rate
  1e-3 -> 1e-4 -> 1e-5 at 60% and 85% of training, 80 epochs, 320 px,
  global clipnorm 10.
* `embedded` (generated offline): a short recipe for 2 CPU cores. The
  backbone trains from random weights (no pretrained weights can be
  downloaded here), Adam 4e-3 with the Resolution scales at a tenth of it,
  16 epochs at 160 px.

The resolved config is what `RUN_DIR/config.json` holds, so `--resume`
continues with exactly the same settings.
"""

import dataclasses
import math

from training.common import validators

MODELS = ("baseline", "resolution")

RECIPES = {
    "embedded": dict(
        epochs=16, image_size=160, batch_size=16, learning_rate=4e-3,
        final_learning_rate=4e-5, optimizer="adam", freeze_backbone=False,
        eval_every=4, scale_learning_rate_factor=0.1,
    ),
    "voc": dict(
        epochs=80, image_size=320, batch_size=16, learning_rate=1e-3,
        final_learning_rate=1e-5, optimizer="sgd", freeze_backbone=True,
        eval_every=10, scale_learning_rate_factor=1.0,
    ),
}  # fmt: skip


@dataclasses.dataclass
class DetectionConfig:
    """Every setting of a detection run (see the module docstring).

    Attributes:
        data: `embedded`, `voc2007` or a VOCdevkit directory.
        model: `resolution` or `baseline`.
        hinge_weight: lambda of the hinge penalty max(0, C_PAN - cap).
        complexity_cap: PANet complexity cap (None: the baseline's).
        epochs, image_size, batch_size: Training length, input side, batch.
        learning_rate, final_learning_rate: First and last piece of the
            piecewise schedule (the middle one is their geometric mean).
        optimizer: `sgd` or `adam`.
        global_clipnorm: Global gradient-norm clipping.
        freeze_backbone: Train only PANet and head.
        backbone: `yolo_v8_xs` or `resnet50`.
        weights: Backbone weights (preset name or file), None for random.
        fpn_depth: KerasCV's PANet depth (paper: 1).
        transform: `dct` or `dft` (Resolution layers).
        taper: Taper length of the Resolution layers (paper: 4).
        scale_learning_rate_factor: The scales' learning rate over the
            weights'.
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
    """

    data: str = "embedded"
    model: str = "resolution"
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
    classes: object = None
    train_split: str = None
    eval_split: str = None
    strict: bool = False
    max_train_images: int = None
    max_eval_images: int = None


def recipe_name(data):
    """`embedded` for the generated data, `voc` for any VOC source."""
    return "embedded" if data == "embedded" else "voc"


def resolve_config(config):
    """A copy of `config` with every `None` recipe field filled, validated.

    Raises:
        ValueError: naming the option, for a value out of range.
    """
    config = dataclasses.replace(config)
    for key, value in RECIPES[recipe_name(config.data)].items():
        if getattr(config, key) is None:
            setattr(config, key, value)
    validators.check_choice("--model", config.model, MODELS)
    validators.check_choice("--optimizer", config.optimizer, ("sgd", "adam"))
    validators.check_choice("--transform", config.transform, ("dct", "dft"))
    validators.check_non_negative("--hinge-weight", config.hinge_weight)
    for flag in ("--epochs", "--batch-size", "--eval-every", "--fpn-depth"):
        validators.check_positive_int(flag, getattr(config, validators.field_name(flag)))
    validators.check_non_negative_int("--checkpoint-every", config.checkpoint_every)
    validators.check_positive("--learning-rate", config.learning_rate)
    validators.check_positive("--final-learning-rate", config.final_learning_rate)
    validators.check_positive("--scale-learning-rate-factor", config.scale_learning_rate_factor)
    validators.check_positive("--global-clipnorm", config.global_clipnorm)
    if config.image_size < 32 or config.image_size % 32:
        raise ValueError(f"--image-size must be a multiple of 32, got {config.image_size}.")
    if config.complexity_cap is not None:
        validators.check_positive("--complexity-cap", config.complexity_cap)
    if config.freeze_backbone and config.weights is None:
        raise ValueError(
            "--data "
            f"{config.data}: the recipe freezes the backbone, but no --weights were given, "
            "so it would train on random frozen features; pass --weights FILE or "
            "--train-backbone."
        )
    return config


def learning_rate_values(config):
    """The three pieces of the schedule: first, geometric middle, final."""
    middle = math.sqrt(config.learning_rate * config.final_learning_rate)
    return [config.learning_rate, middle, config.final_learning_rate]


LEARNING_RATE_BOUNDARIES = (0.6, 0.85)  # fractions of training
