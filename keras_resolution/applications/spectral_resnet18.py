"""The ResNet-18 of the official DiffStride code, with DiffStride, fixed
spectral pooling, or the hybrid of the two.

The network of google-research/diffstride (`diffstride/resnet.py`,
`resnet18`), as its code builds it:

* pre-activation residual layers: `BN -> ReLU -> 3x3 conv -> pooling ->
  BN -> ReLU -> 3x3 conv`, added to the shortcut;
* a 3x3 stem convolution followed by a pooling layer at stride 1 (site
  `stem`), then four stages of two residual layers with `width`, 2, 4 and
  8 times `width` channels (64, 128, 256, 512 in the paper); stage 1 has
  identity shortcuts only;
* in stages 2-4 the first residual layer projects: its pooling layer (site
  `stage2` ... `stage4`, strides 2) follows the first 3x3 convolution (at
  stride 1), and the **same instance** follows the 1x1 shortcut
  convolution, which reads the un-normalised input of the layer, so main
  path and shortcut share one stride variable;
* `BN -> ReLU -> global average pooling -> dense`.

The pooling layer is chosen by `method`:

* `"diffstride"`: `keras_resolution.DiffStride2D` (learned strides);
* `"spectral"`: `keras_resolution.FixedSpectralPooling2D` (the official
  fixed baseline) at the same sites and strides;
* `"hybrid"` (Rafif et al., arXiv 2401.09008): DiffStride in the residual
  layers and one `FixedSpectralPooling2D` (site `head`) before global
  average pooling. `spectral_position="pre_gap"` puts it directly before
  the pooling, as the paper describes; there, with no nonlinearity in
  between, it only multiplies the pooled features by its DC gain
  `H W / (h w)` (the mask never touches the DC bin). `"pre_bn"` puts it
  before the final BN and ReLU, where it changes what they see.

At initialisation a 32x32 input runs through the DiffStride sites at
32 -> 32 -> 24 -> 20 -> 18 (the ramp of the DiffStride mask lies outside
the nominal size; `docs/comparators-diffstride.md`), and through the fixed
spectral sites at 32 -> 32 -> 16 -> 8 -> 4. The hybrid's head pools
18x18 to 8x9.

The pooling layers are named `<site>_diffstride` and `<site>_spectral`, so
`keras_resolution.applications.site_sizes` reads their sizes like those of
the Resolution sites.
"""

from keras import layers

from keras_resolution.applications.sites import DIFFSTRIDE_SUFFIX
from keras_resolution.applications.sites import SPECTRAL_SUFFIX
from keras_resolution.diffstride import DiffStride2D
from keras_resolution.spectral_pooling import FixedSpectralPooling2D

SPECTRAL_METHODS = ("diffstride", "spectral", "hybrid")
SPECTRAL_POSITIONS = ("pre_gap", "pre_bn")


def check_spectral_method(method, spectral_position="pre_gap"):
    """Returns `(method, spectral_position)` if both are known, else raises
    a `ValueError` naming the argument.

    Args:
        method: `"diffstride"`, `"spectral"` or `"hybrid"`.
        spectral_position: `"pre_gap"` or `"pre_bn"` (used by the hybrid).

    Returns:
        `(method, spectral_position)`.
    """
    if method not in SPECTRAL_METHODS:
        raise ValueError(
            f"Unknown `method` {method!r}: expected one of {', '.join(SPECTRAL_METHODS)}."
        )
    if spectral_position not in SPECTRAL_POSITIONS:
        raise ValueError(
            f"Unknown `spectral_position` {spectral_position!r}: expected one of "
            f"{', '.join(SPECTRAL_POSITIONS)}."
        )
    return method, spectral_position


def _conv(filters, kernel_size, name):
    return layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


def _pooling(method, strides, site, smoothness):
    """The pooling layer of a residual site: DiffStride2D or fixed pooling."""
    if method == "spectral":
        return FixedSpectralPooling2D(strides, name=site + SPECTRAL_SUFFIX)
    return DiffStride2D((strides, strides), smoothness=smoothness, name=site + DIFFSTRIDE_SUFFIX)


def _residual_layer(x, filters, name, pooling=None):
    """Official pre-activation `ResidualLayer`; `pooling` (one layer
    instance, used on both paths) makes it a projection layer."""
    y = layers.BatchNormalization(name=name + "_bn1")(x)
    y = layers.ReLU(name=name + "_relu1")(y)
    y = _conv(filters, 3, name + "_conv1")(y)
    if pooling is not None:
        y = pooling(y)
    y = layers.BatchNormalization(name=name + "_bn2")(y)
    y = layers.ReLU(name=name + "_relu2")(y)
    y = _conv(filters, 3, name + "_conv2")(y)
    shortcut = x
    if pooling is not None:
        shortcut = pooling(_conv(filters, 1, name + "_projection")(x))
    return layers.Add(name=name + "_add")([y, shortcut])


def spectral_resnet18_layers(
    inputs,
    num_classes,
    method="diffstride",
    width=64,
    spectral_position="pre_gap",
    smoothness=4.0,
    head_strides=2,
):
    """The official DiffStride ResNet-18, from `inputs` to softmax probabilities.

    Args:
        inputs: Symbolic image input `(batch, height, width, channels)`;
            height and width above `smoothness` for the DiffStride methods.
        num_classes: Number of classes.
        method: `"diffstride"`, `"spectral"` or `"hybrid"` (module docstring).
        width: Channels of the stem and of stage 1; stages have width, 2, 4
            and 8 times it (64 in the official code).
        spectral_position: Where the hybrid's spectral pooling goes:
            `"pre_gap"` (directly before global average pooling, the
            paper) or `"pre_bn"` (before the final BN and ReLU).
        smoothness: Ramp length R of every `DiffStride2D` (official: 4).
        head_strides: Strides of the hybrid's spectral pooling (the paper
            does not give them; 2 here).

    Returns:
        Symbolic output tensor.

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> model = keras.Model(inputs, spectral_resnet18_layers(inputs, 10, "hybrid", width=4))
    >>> model.get_layer("head_spectral").output.shape
    (None, 8, 9, 32)
    """
    method, spectral_position = check_spectral_method(method, spectral_position)
    residual_method = "spectral" if method == "spectral" else "diffstride"
    x = _conv(width, 3, "stem_conv")(inputs)
    x = _pooling(residual_method, 1.0, "stem", smoothness)(x)
    for stage, multiplier in enumerate((1, 2, 4, 8), start=1):
        pooling = None
        if stage > 1:
            pooling = _pooling(residual_method, 2.0, f"stage{stage}", smoothness)
        x = _residual_layer(x, width * multiplier, f"stage{stage}_block1", pooling)
        x = _residual_layer(x, width * multiplier, f"stage{stage}_block2")
    head = None
    if method == "hybrid":
        head = FixedSpectralPooling2D(head_strides, name="head" + SPECTRAL_SUFFIX)
    if head is not None and spectral_position == "pre_bn":
        x = head(x)
    x = layers.BatchNormalization(name="final_bn")(x)
    x = layers.ReLU(name="final_relu")(x)
    if head is not None and spectral_position == "pre_gap":
        x = head(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)

