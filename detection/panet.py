"""The YOLOv8 path aggregation network (PANet), with resolution hooks.

This is a re-implementation of KerasCV 0.9's `apply_path_aggregation_fpn`
(`keras_cv/src/models/object_detection/yolo_v8/yolo_v8_detector.py`) and of
the `apply_conv_bn` / `apply_csp_block` helpers it uses. Layer names, layer
order, channel counts and hyperparameters match KerasCV, so with the default
`PANetHooks()` the network built here is the same architecture as KerasCV's
(same layers, same weights, same outputs).

What KerasCV does not have are five injection points, collected in
`PANetHooks`:

- `resize(x, name)` is applied in front of every PANet convolution, before
  its zero padding. `name` is the name of the conv block (its Conv2D layer is
  `f"{name}_conv"`). A resize that declares itself linear and channel-wise
  (`PANetHooks.resize_commutes_with_pointwise`) is moved behind the 1x1
  convs that reduce channels, where it gives the same result more cheaply.
- `align(tensors, name)` is applied to the branches of every concatenation
  and returns tensors with matching spatial shapes. There are four between
  pyramid levels (named `f"{prefix}_p4p5_merge"` etc.) and one inside each
  CSP block (`f"{block}_concat"`); names are unique.
- `output(x, size, name)` is applied to each of the three PANet outputs;
  `size` is the `(height, width)` of the backbone feature of that level,
  i.e. the image size divided by the head stride 8, 16 or 32.
- `downsample(x, strides, name)`, when given, takes over the striding of
  the strided convolutions (the bottom-up path's two 3x3 stride-2 convs):
  the conv runs at stride 1 and `downsample` is applied to its output,
  before the batch normalization.
- `upsample(x, name)`, when given, replaces the x2 nearest-neighbour
  upsampling of the two top-down merges; `name` is `f"{merge}_upsample"`
  (e.g. `"pa_fpn_p4p5_upsample"`). It must return exactly 2H x 2W.

All five are the identity (no `downsample`, no `upsample`) by default,
which gives the KerasCV baseline. A Resolution PANet passes a `ResolutionLayer` as
`resize`, a max-shape DCT resize as `align`, and a fixed DCT resize to
`size` as `output`, and leaves the fixed x2 upsampling (`ops.repeat`) and
the stride-2 convolutions as they are in KerasCV. A DiffStride PANet
(`detection.diffstride`) passes a `DiffStride2D` as `downsample`, and an
SRF-GAN PANet (`detection.srf`) an `SRFGenerator` as `upsample`.
"""

import dataclasses
from typing import Callable

import keras
from keras import ops

# The same batch normalization constants as KerasCV's YOLOv8 layers.
BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_MOMENTUM = 0.97


def _identity_resize(x, name):
    del name
    return x


def _identity_align(tensors, name):
    del name
    return list(tensors)


def _identity_output(x, size, name):
    del size, name
    return x


@dataclasses.dataclass(frozen=True)
class PANetHooks:
    """Callables injected into the PANet; the identity by default (no
    `downsample`, no `upsample`).

    Args:
        resize: callable `resize(x, name) -> tensor`, applied to the input of
            every PANet convolution, in front of its zero padding. `name` is
            the conv block's name; its Conv2D layer is `f"{name}_conv"`.
        align: callable `align(tensors, name) -> list of tensors`, applied to
            the branches of every concatenation and of every residual
            addition; must return tensors whose spatial shapes agree.
            `name` is unique within the PANet: `f"{prefix}_..._merge"`
            between levels, `f"{block}_concat"` inside a CSP block.
        output: callable `output(x, size, name) -> tensor`, applied to each
            of the three PANet outputs. `size` is the `(height, width)` of
            the matching backbone feature (P3, P4 or P5), which the YOLOv8
            head expects back.
        downsample: optional callable `downsample(x, strides, name) ->
            tensor`. When given, every strided PANet convolution runs at
            stride 1 and `downsample` is applied to its output (before the
            batch normalization), with the conv's `strides` and block
            `name`; where the official DiffStride ResNet puts its pooling.
            None (default): the convolutions stride themselves.
        resize_commutes_with_pointwise: declare that `resize` is linear and
            acts on every channel alike (as a Resolution layer does). A 1x1,
            stride-1 convolution without bias is then the same function
            whichever side of the resize it sits on, and for the 1x1 convs
            that reduce channels the resize is applied to the conv's output
            instead of its input (before the batch normalization): the same
            result, with fewer channels to resize.
        upsample: optional callable `upsample(x, name) -> tensor` of
            exactly twice `x`'s height and width, used for the x2
            upsampling of the two top-down merges; `name` is
            `f"{merge}_upsample"` (`"pa_fpn_p4p5_upsample"`,
            `"pa_fpn_p3p4p5_upsample"`). None (default): KerasCV's
            nearest-neighbour `ops.repeat`.

    Example:

    ```python
    # Record which convolutions the PANet has.
    names = []

    def record(x, name):
        names.append(name)
        return x

    apply_path_aggregation_fpn(features, hooks=PANetHooks(resize=record))
    ```
    """

    resize: Callable = _identity_resize
    align: Callable = _identity_align
    output: Callable = _identity_output
    downsample: Callable = None
    resize_commutes_with_pointwise: bool = False
    upsample: Callable = None


def apply_conv_bn(
    inputs,
    filters,
    kernel_size=1,
    strides=1,
    activation="swish",
    name="conv_bn",
    hooks=None,
):
    """Conv2D + BatchNormalization + activation, as in KerasCV's YOLOv8.

    Args:
        inputs: tensor of shape `(batch, height, width, channels)`.
        filters: int, number of output channels.
        kernel_size: int, square kernel size. Kernels larger than 1 are
            "same"-padded with an explicit `ZeroPadding2D` layer.
        strides: int, convolution stride.
        activation: activation name.
        name: prefix of the layer names (`_pad`, `_conv`, `_bn`; the
            activation layer takes `name` itself).
        hooks: optional `PANetHooks`; `hooks.resize` is applied to `inputs`
            (to the conv's output instead when it commutes with a
            channel-reducing 1x1 conv, see `PANetHooks`); with
            `hooks.downsample`, a strided conv runs at stride 1 and
            `hooks.downsample` does the striding after it.

    Returns:
        The activated output tensor.
    """
    hooks = hooks or PANetHooks()
    resize_after_conv = (
        hooks.resize_commutes_with_pointwise
        and kernel_size == 1
        and strides == 1
        and filters < inputs.shape[-1]
    )
    downsample_after_conv = hooks.downsample is not None and strides != 1
    x = inputs if resize_after_conv else hooks.resize(inputs, name)
    if kernel_size > 1:
        x = keras.layers.ZeroPadding2D(
            padding=kernel_size // 2, name=f"{name}_pad"
        )(x)
    x = keras.layers.Conv2D(
        filters=filters,
        kernel_size=kernel_size,
        strides=1 if downsample_after_conv else strides,
        padding="valid",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    if resize_after_conv:
        x = hooks.resize(x, name)
    if downsample_after_conv:
        x = hooks.downsample(x, strides, name)
    x = keras.layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        name=f"{name}_bn",
    )(x)
    return keras.layers.Activation(activation, name=name)(x)


def apply_csp_block(
    inputs,
    channels=-1,
    depth=2,
    shortcut=True,
    expansion=0.5,
    activation="swish",
    name="csp_block",
    hooks=None,
):
    """The YOLOv8 CSP ("C2f") block, as in KerasCV.

    A 1x1 conv doubles into two halves; one half goes through `depth` pairs
    of 3x3 convs, every intermediate result is kept, and all of them are
    concatenated and mixed by a final 1x1 conv. It has `2 * depth + 2`
    convolutions.

    Args:
        inputs: tensor of shape `(batch, height, width, channels)`.
        channels: int, output channels; -1 keeps the input channels.
        depth: int, number of 3x3 conv pairs.
        shortcut: bool, whether each pair is residual.
        expansion: float, hidden channels as a fraction of `channels`.
        activation: activation name.
        name: prefix of the layer names.
        hooks: optional `PANetHooks`, passed to every conv; `hooks.align` is
            applied before the residual additions and the concatenation.

    Returns:
        Output tensor with `channels` channels.
    """
    hooks = hooks or PANetHooks()
    channels = channels if channels > 0 else inputs.shape[-1]
    hidden_channels = int(channels * expansion)

    pre = apply_conv_bn(
        inputs,
        hidden_channels * 2,
        kernel_size=1,
        activation=activation,
        name=f"{name}_pre",
        hooks=hooks,
    )
    short, deep = ops.split(pre, 2, axis=-1)

    branches = [short, deep]
    for index in range(depth):
        deep = apply_conv_bn(
            deep,
            hidden_channels,
            kernel_size=3,
            activation=activation,
            name=f"{name}_pre_{index}_1",
            hooks=hooks,
        )
        deep = apply_conv_bn(
            deep,
            hidden_channels,
            kernel_size=3,
            activation=activation,
            name=f"{name}_pre_{index}_2",
            hooks=hooks,
        )
        if shortcut:
            previous, deep = hooks.align(
                [branches[-1], deep], f"{name}_pre_{index}_add"
            )
            deep = previous + deep
        branches.append(deep)
    branches = hooks.align(branches, f"{name}_concat")
    out = ops.concatenate(branches, axis=-1)
    return apply_conv_bn(
        out,
        channels,
        kernel_size=1,
        activation=activation,
        name=f"{name}_output",
        hooks=hooks,
    )


def _upsample_2x(x):
    # Nearest-neighbour x2, exactly as KerasCV does it.
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def _merge_top_down(coarse, lateral, depth, name, hooks):
    """Upsamples `coarse` x2 (`hooks.upsample` if given), concatenates it
    with `lateral` and mixes the result with a CSP block of `lateral`'s
    channels."""
    if hooks.upsample is None:
        upsampled = _upsample_2x(coarse)
    else:
        upsampled = hooks.upsample(coarse, f"{name}_upsample")
    merged = ops.concatenate(
        hooks.align([upsampled, lateral], f"{name}_merge"), -1
    )
    return apply_csp_block(
        merged,
        channels=lateral.shape[-1],
        depth=depth,
        shortcut=False,
        activation="swish",
        name=name,
        hooks=hooks,
    )


def _merge_bottom_up(fine, lateral, name, hooks):
    """Halves `fine` with a 3x3 stride-2 conv, concatenates it with
    `lateral` and mixes the result with a depth-2 CSP block of `lateral`'s
    channels."""
    down = apply_conv_bn(
        fine,
        fine.shape[-1],
        kernel_size=3,
        strides=2,
        activation="swish",
        name=name,
        hooks=hooks,
    )
    merged = ops.concatenate(hooks.align([down, lateral], f"{name}_merge"), -1)
    return apply_csp_block(
        merged,
        channels=lateral.shape[-1],
        shortcut=False,
        activation="swish",
        name=f"{name}_block",
        hooks=hooks,
    )


def apply_path_aggregation_fpn(features, depth=2, name="pa_fpn", hooks=None):
    """Applies the YOLOv8 path aggregation FPN to P3, P4 and P5 features.

    Top-down: P5 is upsampled x2, concatenated with P4 and mixed by a CSP
    block; that is upsampled x2, concatenated with P3 and mixed (output 1,
    stride 8). Bottom-up: a 3x3 stride-2 conv, concatenation with the P4
    path and a CSP block (output 2, stride 16); again a 3x3 stride-2 conv,
    concatenation with P5 and a CSP block (output 3, stride 32).

    The two top-down CSP blocks have depth `depth`; the two bottom-up ones
    always have depth 2 (as in KerasCV). So the PANet has
    `2 * (2 * depth + 2) + 2 * 6 + 2` convolutions: 22 at `depth=1`, 26 at
    `depth=2`.

    Args:
        features: list of the P3, P4 and P5 backbone tensors.
        depth: int, depth of the two top-down CSP blocks.
        name: prefix of all layer names. KerasCV's detector uses "pa_fpn".
        hooks: optional `PANetHooks`; the default identity hooks build
            KerasCV's PANet.

    Returns:
        A list of the three output tensors, for strides 8, 16 and 32, with
        the channels of P3, P4 and P5 respectively.

    Example:

    ```python
    backbone = keras_cv.models.YOLOV8Backbone(
        stackwise_channels=[32, 64, 128, 256],
        stackwise_depth=[1, 2, 2, 1],
        include_rescaling=True,
        input_shape=(320, 320, 3),
    )
    p3, p4, p5 = (
        backbone.get_layer(backbone.pyramid_level_inputs[level]).output
        for level in ("P3", "P4", "P5")
    )
    outputs = apply_path_aggregation_fpn([p3, p4, p5], depth=1)
    ```
    """
    hooks = hooks or PANetHooks()
    p3, p4, p5 = features
    p4p5 = _merge_top_down(p5, p4, depth, f"{name}_p4p5", hooks)
    p3p4p5 = _merge_top_down(p4p5, p3, depth, f"{name}_p3p4p5", hooks)
    down1 = _merge_bottom_up(p3p4p5, p4p5, f"{name}_p3p4p5_downsample1", hooks)
    down2 = _merge_bottom_up(down1, p5, f"{name}_p3p4p5_downsample2", hooks)

    outputs = []
    for level, (x, feature) in enumerate(zip((p3p4p5, down1, down2), features)):
        size = tuple(feature.shape[1:3])
        outputs.append(hooks.output(x, size, f"{name}_output_{level + 1}"))
    return outputs
