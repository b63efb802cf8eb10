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

`build_classifier` is the single entry point used by the training job: it
returns a `keras_resolution.ResolutionModel` trained under the quadratic
target `lambda * (C / C_full - p*)^2`, or a plain `keras.Model` for the
transform `"fixed"`. `budget_reference` gives an architecture's C_base and
C_full.

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
from keras_resolution.applications.sites import check_transform
from keras_resolution.applications.sites import fixed_complexity
from keras_resolution.applications.sites import site_sizes
from keras_resolution.applications.sites import size_complexity
from keras_resolution.budgets import QuadraticTarget
from keras_resolution.budgets import ResolutionModel

__all__ = [
    "ARCHITECTURES",
    "FIXED",
    "FIXED_SUFFIX",
    "MeanVariancePooling1D",
    "RESOLUTION_SUFFIX",
    "budget_reference",
    "build_classifier",
    "check_transform",
    "fixed_complexity",
    "radio_cnn_layers",
    "resnet18_layers",
    "site_sizes",
    "size_complexity",
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
    if transform == FIXED:
        return keras.Model(inputs, outputs, name=name)
    return ResolutionModel(
        inputs,
        outputs,
        penalty=QuadraticTarget(target_budget, weight=penalty_weight),
        complexity_definition=complexity_definition,
        name=name,
    )


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
