"""The classifiers of the paper's matched-budget experiments (section 5.1).

Two architectures, each as a Resolution model and as its fixed baseline:

* `resnet18`: ResNet-18 for 32x32 images (the CIFAR variant: 3x3 stem at
  stride 1, no stem pooling, four stages of two basic blocks). The fixed
  baseline halves the resolution with stride-2 convolutions at the first
  block of stages 2, 3 and 4 (main path and 1x1 projection shortcut). The
  Resolution model replaces each of these three fixed resizes by one
  `ResolutionLayer` placed at the *input* of that block, before it splits
  into main path and shortcut; the block's convolutions then run at stride 1.
  One shared layer keeps both branches at the same learned size (their sum
  needs equal shapes), and the block's convolutions run at the learned
  resolution, as the strided ones of the baseline run at its output
  resolution. With s = 1 (the initial value) nothing is downsampled: every
  stage runs at 32x32, so the initial complexity is C_full, and the
  baseline's own complexity (sizes 16, 8, 4) is C_base = 56 < C_full = 192
  with the "linear" definition (C_base / C_full = 0.29).
* `radio_cnn`: the 1D CNN for I/Q frames: seven Conv1D (kernel 3, 64
  channels, same padding, ReLU), each followed by a `ResolutionLayer`,
  global mean-and-variance pooling, dense 128-128 (ReLU) and a softmax. Its
  baseline has no resizing (C_base = C_full).

Both fixed baselines carry a pass-through `Identity` layer named
`<site>_fixed` at every place where the Resolution model has its layer
`<site>_resolution`, so `fixed_complexity` measures the baseline's
complexity at the same sites from its fixed feature-map sizes.

`build_classifier` is the single entry point used by the training job: it
returns a `keras_resolution.ResolutionModel` trained under the quadratic
target `lambda * (C / C_full - p*)^2`, or a plain `keras.Model` for the
transform `"fixed"`.
"""

import functools
import math

import keras
from keras import layers
from keras import ops

from keras_resolution.budgets import QuadraticTarget
from keras_resolution.budgets import ResolutionModel
from keras_resolution.layer import ResolutionLayer
from keras_resolution.transforms import TRANSFORMS


ARCHITECTURES = ("resnet18", "radio_cnn")
FIXED = "fixed"
FIXED_SUFFIX = "_fixed"
RESOLUTION_SUFFIX = "_resolution"


@keras.saving.register_keras_serializable(package="keras_resolution")
class MeanVariancePooling1D(layers.Layer):
    """Global mean-and-variance pooling over the length axis.

    Input shape `(batch, length, channels)`; output `(batch, 2 * channels)`:
    the per-channel means followed by the per-channel variances. Works for
    any length, so it accepts the learned sizes of the Resolution layers.

    Example:

    >>> MeanVariancePooling1D()(keras.ops.ones((2, 10, 3))).shape
    (2, 6)
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=1)
        variance = ops.var(inputs, axis=1)
        return ops.concatenate([mean, variance], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


def _resize_site(x, name, transform, resolution_kwargs):
    """The Resolution layer of a Resolution model, or the marker of a baseline."""
    if transform == "fixed":
        return layers.Identity(name=name + FIXED_SUFFIX)(x)
    return ResolutionLayer(
        scale=1.0, transform=transform, name=name + RESOLUTION_SUFFIX, **resolution_kwargs
    )(x)


def _conv_bn(x, filters, kernel_size, strides, name):
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name + "_conv",
    )(x)
    return layers.BatchNormalization(name=name + "_bn")(x)


def _basic_block(x, filters, strides, name):
    """ResNet basic block: two 3x3 conv+BN, identity or 1x1 projection."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, name + "_projection")
    y = _conv_bn(x, filters, 3, strides, name + "_1")
    y = layers.ReLU(name=name + "_relu1")(y)
    y = _conv_bn(y, filters, 3, 1, name + "_2")
    y = layers.Add(name=name + "_add")([shortcut, y])
    return layers.ReLU(name=name + "_out")(y)


def resnet18_layers(
    inputs, num_classes, transform="dct", width=64, resolution_kwargs=None
):
    """ResNet-18 (CIFAR variant) from `inputs` to softmax probabilities.

    Args:
        inputs: Symbolic image input `(batch, height, width, channels)`.
        num_classes: Number of classes.
        transform: `"dct"` or `"dft"` (Resolution layers at the first block
            of stages 2-4, see the module docstring), or `"fixed"` (stride-2
            convolutions, the standard architecture).
        width: Channels of stage 1; stages have width, 2, 4 and 8 times it
            (64 in the paper).
        resolution_kwargs: Extra `ResolutionLayer` arguments (taper, ...).

    Returns:
        Symbolic output tensor.
    """
    resolution_kwargs = resolution_kwargs or {}
    x = _conv_bn(inputs, width, 3, 1, "stem")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, multiplier in enumerate((1, 2, 4, 8), start=1):
        for block in (1, 2):
            name = f"stage{stage}_block{block}"
            resized = stage > 1 and block == 1
            strides = 2 if resized and transform == "fixed" else 1
            if resized and transform != "fixed":
                x = _resize_site(x, f"stage{stage}", transform, resolution_kwargs)
            x = _basic_block(x, width * multiplier, strides, name)
            if resized and transform == "fixed":
                x = _resize_site(x, f"stage{stage}", transform, resolution_kwargs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)


def radio_cnn_layers(
    inputs, num_classes, transform="dct", filters=64, num_convs=7, resolution_kwargs=None
):
    """The paper's 1D CNN for I/Q frames, from `inputs` to probabilities.

    Args:
        inputs: Symbolic input `(batch, length, 2)`.
        num_classes: Number of classes (24 for RadioML 2018.01A).
        transform: `"dct"`, `"dft"` or `"fixed"` (no Resolution layers).
        filters: Channels of every convolution (64 in the paper).
        num_convs: Number of convolutions (7 in the paper).
        resolution_kwargs: Extra `ResolutionLayer` arguments.

    Returns:
        Symbolic output tensor.
    """
    resolution_kwargs = resolution_kwargs or {}
    x = inputs
    for index in range(1, num_convs + 1):
        x = layers.Conv1D(
            filters, 3, padding="same", activation="relu", name=f"conv{index}"
        )(x)
        x = _resize_site(x, f"conv{index}", transform, resolution_kwargs)
    x = MeanVariancePooling1D(name="mean_variance_pool")(x)
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dense(128, activation="relu", name="dense2")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)


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
    body = resnet18_layers if architecture == "resnet18" else radio_cnn_layers
    outputs = body(
        inputs,
        int(num_classes),
        transform=transform,
        resolution_kwargs=resolution_kwargs,
        **architecture_kwargs,
    )
    name = f"{architecture}_{transform}"
    if transform == "fixed":
        return keras.Model(inputs, outputs, name=name)
    return ResolutionModel(
        inputs,
        outputs,
        penalty=QuadraticTarget(target_budget, weight=penalty_weight),
        complexity_definition=complexity_definition,
        name=name,
    )


def size_complexity(model, definition="linear"):
    """Complexity from the integer sizes at a classifier's resize sites.

    For a baseline these are its fixed feature-map sizes, which is how the
    paper computes the complexity of its fixed-architecture baselines
    (C_base); for a Resolution model, its current learned integer sizes.
    Per site: the length (1D), height + width (`"linear"`) or height * width
    (`"area"`).

    Args:
        model: A classifier from `build_classifier`.
        definition: `"linear"` or `"area"`.

    Returns:
        Python float (0.0 for a model without resize sites).
    """
    if definition not in ("linear", "area"):
        raise ValueError(
            f"Unknown complexity `definition`: {definition!r}. Expected 'linear' or 'area'."
        )
    combine = math.prod if definition == "area" else sum
    return float(sum(combine(sizes) for sizes in site_sizes(model).values()))


fixed_complexity = size_complexity  # C_base of a baseline built with transform="fixed"


def site_sizes(model):
    """`{site: spatial output sizes}` of a classifier's resize sites.

    For a Resolution model these are the current learned sizes; for a
    baseline, its fixed sizes.
    """
    sizes = {}
    for layer in model.layers:
        if layer.name.endswith(FIXED_SUFFIX):
            sizes[layer.name[: -len(FIXED_SUFFIX)]] = tuple(layer.output.shape[1:-1])
        elif layer.name.endswith(RESOLUTION_SUFFIX):
            sizes[layer.name[: -len(RESOLUTION_SUFFIX)]] = tuple(layer.output_sizes)
    return sizes


@functools.lru_cache(maxsize=16)
def budget_reference(
    architecture, input_shape, num_classes, complexity_definition="linear", **architecture_kwargs
):
    """C_base and C_full of an architecture, and the baseline's site sizes.

    Builds the fixed baseline and a Resolution twin (s = 1) without training
    (once per set of arguments: the result is cached).

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


def check_transform(transform):
    """Returns `transform` if it is `"dct"`, `"dft"` or `"fixed"`, else raises
    a `ValueError` naming it."""
    known = TRANSFORMS + (FIXED,)
    if transform not in known:
        raise ValueError(f"Unknown `transform` {transform!r}: expected one of {', '.join(known)}.")
    return transform
