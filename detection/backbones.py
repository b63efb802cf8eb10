"""Backbones for the YOLOv8 detectors, built offline, with optional weights.

Every KerasCV preset is fetched from Kaggle, and offline `from_preset` fails
before any weight is read. So the architecture is always built directly from
its constructor (the same configuration as the KerasCV preset), and weights
are loaded only when asked for:

- `weights=None`: random initialisation, no message.
- `weights="coco"` / `"imagenet"` (whichever the backbone has) or the KerasCV
  preset name: the preset is fetched; if that fails (offline), the random
  architecture is used and a `PretrainedWeightsUnavailableWarning` says so.
- `weights=<path>`: a `.weights.h5` file saved from the same backbone, a
  `.keras` file of the backbone, or a local KerasCV preset directory. A
  file that does not match the architecture raises a `ValueError`; weights
  are loaded into a separate copy first, so nothing is ever half-loaded.
"""

import dataclasses
import os
import warnings
from typing import Callable

import keras
import numpy as np


class PretrainedWeightsUnavailableWarning(UserWarning):
    """Requested pretrained weights could not be fetched; weights are random."""


class RandomFrozenBackboneWarning(UserWarning):
    """A frozen backbone with random weights: PANet and head train on random
    features, which is not the paper's protocol (a frozen pretrained one)."""


@dataclasses.dataclass(frozen=True)
class _BackboneSpec:
    # `build(input_shape)` returns the KerasCV backbone with random weights.
    build: Callable
    # Short weight names (e.g. "coco") -> KerasCV preset with those weights.
    pretrained: dict


def _build_yolo_v8_xs(input_shape):
    import keras_cv

    # The configuration of KerasCV's "yolo_v8_xs_backbone" preset.
    return keras_cv.models.YOLOV8Backbone(
        stackwise_channels=[32, 64, 128, 256],
        stackwise_depth=[1, 2, 2, 1],
        include_rescaling=True,
        input_shape=input_shape,
    )


def _build_resnet50(input_shape):
    import keras_cv

    # The configuration of KerasCV's "resnet50" preset (ResNet v1).
    return keras_cv.models.ResNetBackbone(
        stackwise_filters=[64, 128, 256, 512],
        stackwise_blocks=[3, 4, 6, 3],
        stackwise_strides=[1, 2, 2, 2],
        block_type="block",
        include_rescaling=True,
        input_shape=input_shape,
    )


_BACKBONES = {
    "yolo_v8_xs": _BackboneSpec(
        build=_build_yolo_v8_xs,
        pretrained={"coco": "yolo_v8_xs_backbone_coco"},
    ),
    "resnet50": _BackboneSpec(
        build=_build_resnet50,
        pretrained={"imagenet": "resnet50_imagenet"},
    ),
}

BACKBONES = tuple(_BACKBONES)


def _download_errors():
    """Exceptions meaning "the preset could not be fetched"."""
    errors = [OSError, ImportError]  # Network and file errors are OSErrors.
    try:
        from kagglehub import exceptions as kaggle_exceptions
    except ImportError:
        return tuple(errors)
    for name in dir(kaggle_exceptions):
        value = getattr(kaggle_exceptions, name)
        if isinstance(value, type) and issubclass(value, Exception):
            errors.append(value)
    return tuple(errors)


def validate_backbone(backbone):
    """Raises a `ValueError` naming `backbone` if it is not supported."""
    if backbone not in _BACKBONES:
        raise ValueError(
            f"`backbone` must be one of {BACKBONES}. "
            f"Received: backbone={backbone!r}"
        )


def validate_weights(backbone, weights):
    """Raises if `weights` is not valid for `backbone` (see `build_backbone`).

    Raises:
        ValueError: naming `weights`, if it is neither None, a known weight
            name or preset for this backbone, nor an existing path.
    """
    validate_backbone(backbone)
    if weights is None:
        return
    spec = _BACKBONES[backbone]
    known = sorted(spec.pretrained) + sorted(spec.pretrained.values())
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "`weights` must be None, one of "
            f"{known} for backbone={backbone!r}, or a path. "
            f"Received: weights={weights!r}"
        )
    if str(weights) in known or os.path.exists(weights):
        return
    raise ValueError(
        f"`weights` must be None, one of {known} for backbone={backbone!r}, "
        "or the path of an existing `.weights.h5` file, `.keras` file or "
        f"KerasCV preset directory. Received: weights={str(weights)!r}"
    )


def build_backbone(backbone="yolo_v8_xs", image_size=320, weights=None):
    """Builds a KerasCV backbone for YOLOv8, optionally with weights.

    Args:
        backbone: "yolo_v8_xs" (KerasCV's YOLOv8 XS backbone) or "resnet50"
            (KerasCV's ResNet-50 v1).
        image_size: int or `(height, width)`: the fixed input image size.
            None leaves it dynamic.
        weights: None for random weights; a pretrained weight name ("coco"
            for "yolo_v8_xs", "imagenet" for "resnet50") or its KerasCV
            preset name; or the path of a `.weights.h5` file, a `.keras`
            file or a local KerasCV preset directory.

    Returns:
        A KerasCV `Backbone` with `pyramid_level_inputs` P3, P4 and P5. If
        pretrained weights were asked for but could not be fetched, it has
        random weights and a `PretrainedWeightsUnavailableWarning` is issued.

    Raises:
        ValueError: unknown `backbone` or `weights`, or a weights file or
            preset whose variables do not match the architecture.

    Example:

    ```python
    backbone = build_backbone("yolo_v8_xs", image_size=320)
    backbone.count_params()  # 1277680
    ```
    """
    validate_weights(backbone, weights)
    spec = _BACKBONES[backbone]
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    input_shape = (*(image_size or (None, None)), 3)
    model = spec.build(input_shape)
    if weights is None:
        return model

    weights = str(weights)
    if os.path.exists(weights):
        source = _load_local(spec, input_shape, weights)
        _assign_weights(model, source, backbone, weights)
        return model

    preset = spec.pretrained.get(weights, weights)
    try:
        source = _load_preset(model.__class__, preset)
    except _download_errors() as error:
        warnings.warn(
            f"Could not fetch the pretrained weights {weights!r} (KerasCV "
            f"preset {preset!r}) for backbone {backbone!r}: {error!r}. "
            "KerasCV presets are downloaded from Kaggle, which is not "
            f"reachable. Building {backbone!r} with RANDOM weights instead. "
            "To use pretrained weights offline, save the preset's backbone "
            "where it is reachable and pass `weights=<path>`.",
            PretrainedWeightsUnavailableWarning,
            stacklevel=2,
        )
        return model
    _assign_weights(model, source, backbone, f"preset {preset!r}")
    return model


def _load_preset(backbone_class, preset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return backbone_class.from_preset(preset, load_weights=True)


def _load_local(spec, input_shape, path):
    """Loads the file or preset directory at `path` into a separate model."""
    if os.path.isdir(path):
        import keras_cv

        return _load_preset(keras_cv.models.Backbone, path)
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False)
    if path.endswith(".h5"):
        return _load_weights_file(spec.build(input_shape), path)
    raise ValueError(
        "`weights` must be a `.weights.h5` file, a `.keras` file or a KerasCV "
        f"preset directory. Received: weights={path!r}"
    )


def _load_weights_file(copy, path):
    """Loads a `.weights.h5` file into `copy`, checking nothing is missed."""
    # Keras raises on shape mismatches but may only warn when the file lacks
    # a layer, leaving it freshly initialised. A NaN sentinel catches that.
    variables = [v for v in copy.weights if "float" in str(v.dtype)]
    for variable in variables:
        variable.assign(np.full(variable.shape, np.nan, variable.dtype))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copy.load_weights(path)
    except Exception as error:
        raise ValueError(
            f"The weights file {path!r} does not match the backbone "
            f"architecture: {_summary(error)}"
        ) from error
    missing = [v.path for v in variables if np.isnan(v.numpy()).all()]
    if missing:
        raise ValueError(
            f"The weights file {path!r} does not match the backbone "
            f"architecture: {len(missing)} of {len(variables)} variables are "
            f"not in it (first: {missing[0]})."
        )
    return copy


def _summary(error, limit=300):
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _assign_weights(model, source, backbone, description):
    """Copies `source`'s weights into `model` after checking they match."""
    expected = [tuple(v.shape) for v in model.weights]
    received = [tuple(v.shape) for v in getattr(source, "weights", [])]
    if expected != received:
        raise ValueError(
            f"The weights from {description} do not match backbone "
            f"{backbone!r}: they have {len(received)} arrays, the backbone "
            f"has {len(expected)}, and the shapes differ from array "
            f"{_first_difference(expected, received)} on."
        )
    model.set_weights(source.get_weights())


def _first_difference(expected, received):
    for index, (a, b) in enumerate(zip(expected, received)):
        if a != b:
            return index
    return min(len(expected), len(received))
