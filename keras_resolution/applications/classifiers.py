"""The classifiers of the paper's matched-budget experiments (section 5.1).

Two architectures, each as a Resolution model and as its fixed baseline:

* `"resnet18"`: ResNet-18 for 32x32 images, with one Resolution layer at
  the input of the first block of stages 2-4, where the baseline has its
  stride-2 convolutions (`keras_resolution.applications.resnet18`);
* `"radio_cnn"`: the 1D CNN for I/Q frames, with a Resolution layer after
  each of its seven convolutions (`keras_resolution.applications.radio_cnn`).

Both fixed baselines carry a pass-through `Identity` layer named
`<site>_fixed` at every place where the Resolution model has its layer
`<site>_resolution`, so `size_complexity` (alias `fixed_complexity`)
measures the baseline's complexity at the same sites from its fixed
feature-map sizes (`keras_resolution.applications.sites`).

`build_classifier` is the entry point used by the training job: it
returns a `keras_resolution.ResolutionModel` trained under the quadratic
target `lambda * (C / C_full - p*)^2`, or a plain `keras.Model` for the
transform `"fixed"`. `budget_reference` gives an architecture's C_base and
C_full.

`build_spectral_classifier` builds the comparators of issue 11 on the same
terms: the ResNet-18 of the official DiffStride code with DiffStride,
fixed spectral pooling or the hybrid of both
(`keras_resolution.applications.spectral_resnet18`). The methods with a
learned rate (DiffStride's strides) are `ResolutionModel`s under the same
quadratic target, where C and C_full are the sum over their DiffStride and
spectral-pooling layers (`keras_resolution.complexity`); the fixed spectral
pooling model is a plain `keras.Model`.

This module also re-exports the names it held before the architectures
moved to their own modules, so `from keras_resolution.applications.
classifiers import ...` keeps working.
"""

import functools

import keras

from keras_resolution.applications.radio_cnn import MeanVariancePooling1D
from keras_resolution.applications.radio_cnn import radio_cnn_layers
from keras_resolution.applications.resnet18 import resnet18_layers
from keras_resolution.applications.sites import FIXED
from keras_resolution.applications.sites import FIXED_SUFFIX
from keras_resolution.applications.sites import RESOLUTION_SUFFIX
from keras_resolution.applications.sites import budgeted_model
from keras_resolution.applications.sites import check_transform
from keras_resolution.applications.sites import fixed_complexity
from keras_resolution.applications.sites import site_sizes
from keras_resolution.applications.sites import size_complexity
from keras_resolution.applications.spectral_resnet18 import SPECTRAL_METHODS
from keras_resolution.applications.spectral_resnet18 import check_spectral_method
from keras_resolution.applications.spectral_resnet18 import spectral_resnet18_layers
from keras_resolution.complexity import full_complexity

__all__ = [
    "ARCHITECTURES",
    "FIXED",
    "FIXED_SUFFIX",
    "MeanVariancePooling1D",
    "RESOLUTION_SUFFIX",
    "SPECTRAL_METHODS",
    "budget_reference",
    "build_classifier",
    "build_spectral_classifier",
    "check_transform",
    "fixed_complexity",
    "radio_cnn_layers",
    "resnet18_layers",
    "site_sizes",
    "size_complexity",
    "spectral_budget_reference",
    "spectral_resnet18_layers",
]

ARCHITECTURES = ("resnet18", "radio_cnn")
_BODIES = {"resnet18": resnet18_layers, "radio_cnn": radio_cnn_layers}


def build_classifier(
    architecture,
    input_shape,
    num_classes,
    transform="dct",
    target_budget=None,
    penalty_weight=100.0,
    complexity_definition="linear",
    resolution_kwargs=None,
    **architecture_kwargs,
):
    """Builds a Resolution classifier under a complexity target, or a baseline.

    Args:
        architecture: `"resnet18"` or `"radio_cnn"`.
        input_shape: Input shape without the batch axis, e.g. `(32, 32, 3)`
            or `(1024, 2)`.
        num_classes: Number of classes.
        transform: `"dct"` or `"dft"` for a Resolution model, `"fixed"` for
            the baseline.
        target_budget: p* in (0, 1], the target fraction of C_full; required
            for a Resolution model, ignored by the baseline.
        penalty_weight: lambda of the quadratic target (paper: 100).
        complexity_definition: `"linear"` (the paper's section 5) or `"area"`.
        resolution_kwargs: Extra `ResolutionLayer` arguments (taper, ...).
        **architecture_kwargs: `width` for ResNet-18; `filters`, `num_convs`
            for the 1D CNN.

    Returns:
        A `keras_resolution.ResolutionModel` (Resolution) or a `keras.Model`
        (baseline), uncompiled, with softmax outputs.

    Example:

    >>> model = build_classifier("radio_cnn", (128, 2), 8, "dct", 0.25)
    >>> round(float(keras_resolution.complexity(model)) / model.complexity_full, 3)
    1.0
    """
    transform = check_transform(transform)
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown `architecture`: {architecture!r}. Expected one of {ARCHITECTURES}."
        )
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    inputs = keras.Input(tuple(input_shape), name="inputs")
    body = _BODIES[architecture]
    outputs = body(
        inputs,
        int(num_classes),
        transform=transform,
        resolution_kwargs=resolution_kwargs,
        **architecture_kwargs,
    )
    name = f"{architecture}_{transform}"
    return budgeted_model(inputs, outputs, name, transform != FIXED, target_budget,
                          penalty_weight, complexity_definition)


@functools.lru_cache(maxsize=16)
def budget_reference(
    architecture, input_shape, num_classes, complexity_definition="linear", **architecture_kwargs
):
    """C_base and C_full of an architecture, and the baseline's site sizes.

    Builds the fixed baseline and a Resolution twin (s = 1) without training
    (once per set of arguments: the result is cached, so `input_shape` must
    be a tuple).

    Args:
        architecture: `"resnet18"` or `"radio_cnn"`.
        input_shape: Input shape without the batch axis, as a tuple.
        num_classes: Number of classes.
        complexity_definition: `"linear"` or `"area"`.
        **architecture_kwargs: As for `build_classifier`.

    Returns:
        `(c_base, c_full, baseline_sizes)`: the baseline's complexity from
        its fixed sizes, the Resolution model's complexity with every s = 1,
        and `{site: sizes}` of the baseline.

    Example:

    >>> budget_reference("resnet18", (32, 32, 3), 10, width=4)[:2]
    (56.0, 192.0)
    """
    fixed = build_classifier(
        architecture, input_shape, num_classes, "fixed", **architecture_kwargs
    )
    twin = build_classifier(
        architecture,
        input_shape,
        num_classes,
        "dct",
        target_budget=1.0,
        complexity_definition=complexity_definition,
        **architecture_kwargs,
    )
    return (
        fixed_complexity(fixed, complexity_definition),
        float(twin.complexity_full),
        site_sizes(fixed),
    )


def build_spectral_classifier(
    method,
    input_shape,
    num_classes,
    target_budget=None,
    penalty_weight=100.0,
    complexity_definition="linear",
    width=64,
    spectral_position="pre_gap",
    smoothness=4.0,
):
    """Builds the DiffStride, spectral-pooling or hybrid ResNet-18.

    Args:
        method: `"diffstride"`, `"spectral"` or `"hybrid"`
            (`keras_resolution.applications.spectral_resnet18`).
        input_shape: Image shape without the batch axis, e.g. `(32, 32, 3)`.
        num_classes: Number of classes.
        target_budget: p* in (0, 1], the target fraction of C_full; required
            for the methods with learned strides (`"diffstride"`,
            `"hybrid"`), ignored by `"spectral"`.
        penalty_weight: lambda of the quadratic target.
        complexity_definition: `"linear"` or `"area"`.
        width: Channels of the stem and of stage 1 (official: 64).
        spectral_position: The hybrid's spectral pooling: `"pre_gap"`
            (the paper) or `"pre_bn"`.
        smoothness: Ramp length R of the DiffStride layers (official: 4).

    Returns:
        A `keras_resolution.ResolutionModel` (`"diffstride"`, `"hybrid"`)
        or a `keras.Model` (`"spectral"`), uncompiled, with softmax
        outputs.

    Example:

    >>> model = build_spectral_classifier("diffstride", (32, 32, 3), 10, 0.5, width=4)
    >>> site_sizes(model)["stage4"]
    (18, 18)
    """
    method, spectral_position = check_spectral_method(method, spectral_position)
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels) for the {method} ResNet-18, "
            f"got {tuple(input_shape)}."
        )
    inputs = keras.Input(tuple(input_shape), name="inputs")
    outputs = spectral_resnet18_layers(
        inputs, int(num_classes), method, width=width,
        spectral_position=spectral_position, smoothness=smoothness,
    )  # fmt: skip
    name = f"resnet18_{method}" + ("_pre_bn" if method == "hybrid" and
                                   spectral_position == "pre_bn" else "")
    return budgeted_model(inputs, outputs, name, method != "spectral", target_budget,
                          penalty_weight, complexity_definition)


@functools.lru_cache(maxsize=16)
def spectral_budget_reference(
    method, input_shape, num_classes, complexity_definition="linear", **kwargs
):
    """C_full and the initial site sizes of a `build_spectral_classifier` model.

    C_full is the sum over its DiffStride and spectral-pooling layers of
    their built input sizes (`keras_resolution.full_complexity`), so it
    follows the sizes at initialisation (e.g. 64 + 64 + 48 + 40 = 216 with
    the linear definition for the DiffStride ResNet-18 on 32x32 images).
    Built once per set of arguments (`input_shape` must be a tuple).

    Args:
        method, input_shape, num_classes: As for `build_spectral_classifier`.
        complexity_definition: `"linear"` or `"area"`.
        **kwargs: Other `build_spectral_classifier` arguments (`width`,
            `spectral_position`, `smoothness`).

    Returns:
        `(c_full, sizes)`: a Python float and `{site: sizes}` at
        initialisation.

    Example:

    >>> spectral_budget_reference("diffstride", (32, 32, 3), 10, width=4)[0]
    216.0
    """
    model = build_spectral_classifier(
        method, input_shape, num_classes, target_budget=1.0,
        complexity_definition=complexity_definition, **kwargs,
    )  # fmt: skip
    return float(full_complexity(model, complexity_definition)), site_sizes(model)
