"""ResNet-18 for 32x32 images, with Resolution layers where it downsamples.

The CIFAR variant: a 3x3 stem at stride 1, no stem pooling, and four stages
of two basic blocks with width, 2, 4 and 8 times `width` channels. The
fixed baseline halves the resolution with stride-2 convolutions at the first
block of stages 2, 3 and 4 (main path and 1x1 projection shortcut).

The Resolution model replaces each of these three fixed resizes by one
`ResolutionLayer` placed at the *input* of that block, before it splits into
main path and shortcut; the block's convolutions then run at stride 1. One
shared layer keeps both branches at the same learned size (their sum needs
equal shapes), and the block's convolutions run at the learned resolution,
as the strided ones of the baseline run at its output resolution. With
s = 1 (the initial value) nothing is downsampled: every stage runs at 32x32,
so the initial complexity is C_full, and the baseline's own complexity
(sizes 16, 8, 4) is C_base = 56 < C_full = 192 with the "linear" definition
(C_base / C_full = 0.29).

The sites are named `stage2`, `stage3` and `stage4` (see
`keras_resolution.applications.sites`).
"""

from keras import layers

from keras_resolution.applications.sites import FIXED
from keras_resolution.applications.sites import resize_site


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

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> model = keras.Model(inputs, resnet18_layers(inputs, 10, "dct", width=4))
    """
    resolution_kwargs = resolution_kwargs or {}
    x = _conv_bn(inputs, width, 3, 1, "stem")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, multiplier in enumerate((1, 2, 4, 8), start=1):
        for block in (1, 2):
            name = f"stage{stage}_block{block}"
            resized = stage > 1 and block == 1
            strides = 2 if resized and transform == FIXED else 1
            if resized and transform != FIXED:
                x = resize_site(x, f"stage{stage}", transform, resolution_kwargs)
            x = _basic_block(x, width * multiplier, strides, name)
            if resized and transform == FIXED:
                x = resize_site(x, f"stage{stage}", transform, resolution_kwargs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)
