"""N-Jet networks: a ResNet-18 and the official NiN with `NJetConv2D` layers.

The networks of issue 12, item 3, after Pintea et al. (TIP 2021, "To derive
our N-Jet models, we replace all the normal convolutional layers with
variants of our N-Jet convolutional layers, remove all pooling layers, and
set the stride to 1 in all network layers"; a BN after every N-Jet layer),
and the official code SilviaLauraPintea/N-JetNet:

* `"nin"`: the official `models/nin_shared_srf.py` (the only network the
  code defines; it has no ResNet and no ALL-CNN): three N-Jet layers, each
  followed by `BN -> ReLU` and two 1x1 `conv -> BN -> ReLU`, dropout 0.5
  after the first two groups, the last 1x1 conv giving one map per class,
  then the spatial mean. Channels `3 w`, `2.5 w`, `1.5 w` for `width = w`
  (192, 160, 96 at the official `w = 64`). The code's head is a
  cross-entropy on the mean of the last ReLU; here that mean goes through
  a softmax, as every classifier of the harness ends. With
  `safe_subsample=True`, the second and third N-Jet layers subsample
  their input (sites `block2`, `block3`): where the original NiN pools
  (max and average pooling, stride 2). The released code never turns
  safe subsampling on (`ssample=False`); the paper uses it for its NiN.
* `"resnet18"`: the ResNet-18 of `keras_resolution.applications.resnet18`
  (CIFAR variant, post-activation basic blocks, stages of `w`, 2w, 4w, 8w
  channels) with every 3x3 convolution, the stem's included, an
  `NJetConv2D` (the official code has no N-Jet ResNet; the paper's
  N-Jet ResNet-32 is described in the sentence above). The 1x1 projection
  shortcuts stay `Conv2D`s: a 1x1 filter has no scale, and the official
  NiN keeps its 1x1 convolutions too. Without safe subsampling every map
  keeps the input size (32x32 on CIFAR: the stride-2 convolutions are set
  to stride 1). With it, "only at the layers where the original network
  subsamples" (the paper's ResNet-32 rule): the first N-Jet layer of
  stages 2-4 (sites `stage2`, `stage3`, `stage4`) subsamples its input by
  its own sigma, and the block's shortcut is subsampled with the same
  nearest indices to the main path's size (`SubsampleLike`), so the two
  paths stay equal in size.

Safe subsampling uses the paper's rule `s 2^(-sigma / r)` here, not the
code's `int(s / max(1, 2^sigma / r))` (the default of `SafeSubsample`):
under the code's rule nothing is subsampled, and the budget has no
gradient, while `sigma <= log2 r` (2 for r = 4), so from the paper's
initial sigma = 1 a complexity target could not act on sigma at all.
`subsample_rule="code"` builds the code's rule.

Sizes at initialisation (sigma = 1, r = 4, paper rule) of a 32x32 input:
ResNet-18 32 -> 26 -> 21 -> 17 at stages 2-4 (floor(32 * 2^(-1/4)) = 26,
then 21 and 17); NiN 32 -> 26 -> 21 at blocks 2-3. Without safe subsampling a
pass-through `Identity` named `<site>_fixed` marks each site, so
`keras_resolution.applications.site_sizes` reads both kinds of network.

`build_njet_classifier` is the entry point; with safe subsampling it
returns a `keras_resolution.ResolutionModel` under the quadratic target,
its C and C_full those of the `SafeSubsample` layers (the continuous
surrogate of the map size, differentiable in sigma, an extension of the
paper); without, a plain `keras.Model`, whose sizes are fixed.
"""

import functools

import keras
from keras import layers
from keras import ops

from keras_resolution.applications.sites import FIXED_SUFFIX
from keras_resolution.applications.sites import SAFE_SUFFIX
from keras_resolution.applications.sites import budgeted_model
from keras_resolution.applications.sites import site_sizes
from keras_resolution.applications.sites import size_complexity
from keras_resolution.complexity import complexity_layers
from keras_resolution.complexity import full_complexity
from keras_resolution.njet import NJetConv2D
from keras_resolution.safe_subsample import SafeSubsample
from keras_resolution.safe_subsample import check_subsample_rule
from keras_resolution.safe_subsample import nearest_indices

NJET_NETWORKS = ("resnet18", "nin")


def check_njet_network(network):
    """`network` if it is `"resnet18"` or `"nin"`, else a `ValueError`."""
    if network not in NJET_NETWORKS:
        raise ValueError(
            f"Unknown `network` {network!r}: expected one of {', '.join(NJET_NETWORKS)}."
        )
    return network


@keras.saving.register_keras_serializable(package="keras_resolution")
class SubsampleLike(layers.Layer):
    """Nearest-neighbour subsampling of a map to the size of another.

    Called on `[x, reference]`, it returns `x` at the spatial size of
    `reference`, with the source indices of `SafeSubsample` (PyTorch's
    `F.interpolate(mode="nearest")`), so a residual shortcut meets a
    safe-subsampled main path at its size, whatever sigma set it to.

    Input shape:
        `[(batch, H, W, C), (batch, h, w, C')]`, channels last.

    Output shape:
        `(batch, h, w, C)`.

    Example:

    >>> x, reference = keras.ops.ones((1, 32, 32, 4)), keras.ops.ones((1, 26, 26, 8))
    >>> SubsampleLike()([x, reference]).shape
    (1, 26, 26, 4)
    """

    def call(self, inputs):
        x, reference = inputs
        shape, target = ops.shape(x), ops.shape(reference)
        for axis in (1, 2):
            x = ops.take(x, nearest_indices(shape[axis], target[axis]), axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        shape, reference = input_shape
        return (shape[0], reference[1], reference[2], shape[3])


def _njet_bn(x, filters, name, njet_kwargs, safe_subsample=None):
    """`NJetConv2D` (named `<name>_njet`) then BN (the paper's BN after
    every N-Jet layer)."""
    x = NJetConv2D(filters, safe_subsample=safe_subsample, name=name + "_njet",
                   **njet_kwargs)(x)  # fmt: skip
    return layers.BatchNormalization(name=name + "_bn")(x)


def _conv1x1_bn_relu(x, filters, name):
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal",
                      name=name + "_conv")(x)  # fmt: skip
    x = layers.BatchNormalization(name=name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def _site(x, site, safe, subsample_kwargs):
    """The `SafeSubsample` of a site (None without safe subsampling, where
    an `Identity` named `<site>_fixed` marks it); returns `(x, layer)`."""
    if not safe:
        return layers.Identity(name=site + FIXED_SUFFIX)(x), None
    return x, SafeSubsample(name=site + SAFE_SUFFIX, **subsample_kwargs)


def _basic_block(x, filters, name, njet_kwargs, safe_subsample=None):
    """Post-activation basic block: two N-Jet+BN, identity or 1x1
    projection; `safe_subsample` on the first N-Jet layer's input, and the
    shortcut subsampled to the main path's size."""
    y = _njet_bn(x, filters, name + "_1", njet_kwargs, safe_subsample)
    y = layers.ReLU(name=name + "_relu1")(y)
    y = _njet_bn(y, filters, name + "_2", njet_kwargs)
    shortcut = x
    if safe_subsample is not None:
        shortcut = SubsampleLike(name=name + "_shortcut_subsample")([x, y])
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal",
                                 name=name + "_projection_conv")(shortcut)  # fmt: skip
        shortcut = layers.BatchNormalization(name=name + "_projection_bn")(shortcut)
    y = layers.Add(name=name + "_add")([shortcut, y])
    return layers.ReLU(name=name + "_out")(y)


def njet_resnet18_layers(inputs, num_classes, width=64, safe_subsample=False,
                         njet_kwargs=None, subsample_kwargs=None):
    """The N-Jet ResNet-18 (module docstring), from `inputs` to softmax
    probabilities.

    Args:
        inputs: Symbolic image input `(batch, height, width, channels)`.
        num_classes: Number of classes.
        width: Channels of the stem and of stage 1; stages have width, 2,
            4 and 8 times it.
        safe_subsample: Whether the first N-Jet layer of stages 2-4
            subsamples its input by its sigma.
        njet_kwargs: `NJetConv2D` arguments of every N-Jet layer (order,
            k, max_sigma, size_rule, ...).
        subsample_kwargs: `SafeSubsample` arguments (r, rule).

    Returns:
        Symbolic output tensor.

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> model = keras.Model(inputs, njet_resnet18_layers(inputs, 10, width=2))
    """
    njet_kwargs, subsample_kwargs = njet_kwargs or {}, subsample_kwargs or {}
    x = _njet_bn(inputs, width, "stem", njet_kwargs)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, multiplier in enumerate((1, 2, 4, 8), start=1):
        for block in (1, 2):
            subsample = None
            if stage > 1 and block == 1:
                x, subsample = _site(x, f"stage{stage}", safe_subsample, subsample_kwargs)
            x = _basic_block(x, width * multiplier, f"stage{stage}_block{block}",
                             njet_kwargs, subsample)  # fmt: skip
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)


def njet_nin_layers(inputs, num_classes, width=64, safe_subsample=False, njet_kwargs=None,
                    subsample_kwargs=None, dropout=0.5):
    """The official N-Jet NiN (module docstring), from `inputs` to softmax
    probabilities.

    Args:
        inputs: Symbolic image input `(batch, height, width, channels)`.
        num_classes: Number of classes.
        width: `w`: the N-Jet layers have `3 w` channels, the 1x1
            convolutions `2.5 w` and `1.5 w` (first group) or `3 w`
            (official: w = 64, so 192, 160, 96).
        safe_subsample: Whether the second and third N-Jet layers subsample
            their input by their sigma.
        njet_kwargs: `NJetConv2D` arguments of the three N-Jet layers.
        subsample_kwargs: `SafeSubsample` arguments (r, rule).
        dropout: Dropout rate after the first two groups (official: 0.5).

    Returns:
        Symbolic output tensor.

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> model = keras.Model(inputs, njet_nin_layers(inputs, 10, width=4))
    """
    njet_kwargs, subsample_kwargs = njet_kwargs or {}, subsample_kwargs or {}
    wide, middle, narrow = 3 * width, max(1, round(2.5 * width)), max(1, round(1.5 * width))
    x = inputs
    for block, (first, second) in enumerate(
        ((middle, narrow), (wide, wide), (wide, num_classes)), start=1
    ):
        name = f"block{block}"
        subsample = None
        if block > 1:
            x, subsample = _site(x, name, safe_subsample, subsample_kwargs)
        x = _njet_bn(x, wide, name, njet_kwargs, subsample)
        x = layers.ReLU(name=name + "_relu")(x)
        x = _conv1x1_bn_relu(x, first, name + "_mlp1")
        x = _conv1x1_bn_relu(x, second, name + "_mlp2")
        if block < 3:
            x = layers.Dropout(dropout, name=name + "_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)  # the official spatial mean
    return layers.Activation("softmax", name="classifier")(x)


def build_njet_classifier(
    network,
    input_shape,
    num_classes,
    target_budget=None,
    safe_subsample=False,
    penalty_weight=100.0,
    complexity_definition="linear",
    width=64,
    order=3,
    k=2.0,
    max_sigma=4.0,
    size_rule="code",
    r=4.0,
    subsample_rule="paper",
):
    """Builds the N-Jet ResNet-18 or NiN, with or without safe subsampling.

    Args:
        network: `"resnet18"` or `"nin"` (module docstring).
        input_shape: Image shape without the batch axis, e.g. `(32, 32, 3)`.
        num_classes: Number of classes.
        target_budget: p* in (0, 1], the target fraction of C_full; required
            with `safe_subsample` (sigma then sets the map sizes), ignored
            without.
        safe_subsample: `SafeSubsample` at the sites (module docstring).
        penalty_weight: lambda of the quadratic target.
        complexity_definition: `"linear"` or `"area"`.
        width: Channel width (see `njet_resnet18_layers`, `njet_nin_layers`).
        order: Derivative order N of every N-Jet layer (paper: 3).
        k: Extent factor of the N-Jet filters (paper and code: 2).
        max_sigma: Largest sigma; sets the fixed filter grid, 19x19 at 4
            under the code's size rule (`NJetConv2D`).
        size_rule: Filter extent rule, `"code"` or `"paper"`.
        r: The safe-subsampling hyperparameter (paper: 4).
        subsample_rule: `"paper"` (default here, module docstring) or
            `"code"`.

    Returns:
        A `keras_resolution.ResolutionModel` (with `safe_subsample`) or a
        `keras.Model`, uncompiled, with softmax outputs, named
        `njet_<network>` (`_safe` appended with safe subsampling).

    Example:

    >>> model = build_njet_classifier("resnet18", (32, 32, 3), 10, 0.5, True, width=2)
    >>> site_sizes(model)["stage4"]
    (17, 17)
    """
    network = check_njet_network(network)
    check_subsample_rule(subsample_rule, "subsample_rule")
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels) for the N-Jet {network}, "
            f"got {tuple(input_shape)}."
        )
    njet_kwargs = dict(order=order, k=k, max_sigma=max_sigma, size_rule=size_rule)
    subsample_kwargs = dict(r=r, rule=subsample_rule)
    inputs = keras.Input(tuple(input_shape), name="inputs")
    network_layers = njet_resnet18_layers if network == "resnet18" else njet_nin_layers
    outputs = network_layers(inputs, int(num_classes), width=width,
                             safe_subsample=safe_subsample, njet_kwargs=njet_kwargs,
                             subsample_kwargs=subsample_kwargs)  # fmt: skip
    name = f"njet_{network}" + ("_safe" if safe_subsample else "")
    return budgeted_model(inputs, outputs, name, safe_subsample, target_budget,
                          penalty_weight, complexity_definition)


@functools.lru_cache(maxsize=16)
def njet_budget_reference(network, input_shape, num_classes, complexity_definition="linear",
                          **kwargs):
    """C_full and the initial site sizes of a `build_njet_classifier` model.

    With safe subsampling, C_full is the sum over its `SafeSubsample` layers
    of their built input sizes (`keras_resolution.full_complexity`): 64 +
    52 + 42 = 158 with the linear definition for the ResNet-18 on 32x32
    images (inputs 32, 26, 21 at stages 2-4). Without, the sizes at its
    sites are fixed and are all it has: C = C_full = their complexity (192
    for the ResNet-18, 128 for the NiN on 32x32 images). Built once per set
    of arguments (`input_shape` must be a tuple). The NiN with safe
    subsampling: 64 + 52 = 116.

    Args:
        network, input_shape, num_classes: As for `build_njet_classifier`.
        complexity_definition: `"linear"` or `"area"`.
        **kwargs: Other `build_njet_classifier` arguments
            (`safe_subsample`, `width`, ...).

    Returns:
        `(c_full, sizes)`: a Python float and `{site: sizes}` at
        initialisation.

    Example:

    >>> njet_budget_reference("resnet18", (32, 32, 3), 10, safe_subsample=True, width=2)[0]
    158.0
    """
    model = build_njet_classifier(network, input_shape, num_classes, target_budget=1.0,
                                  complexity_definition=complexity_definition, **kwargs)
    if complexity_layers(model):
        return float(full_complexity(model, complexity_definition)), site_sizes(model)
    return size_complexity(model, complexity_definition), site_sizes(model)
