"""Model complexity: the sum of the complexities of the layers that set a
feature map's resolution (`ComplexityLayer`).

The definitions `"linear"` and `"area"` measure each layer's output sizes
(`keras_resolution.complexity_definitions`). `"flops"` measures what the
sizes cost: the multiply-adds of the convolutions each layer feeds, at its
continuous sizes, plus the layers' own resize products (`flops`). All
three are differentiable in the learned rates, so `QuadraticTarget` and
`HingeCap` budget any of them.
"""

import abc

import keras
import numpy as np
from keras import ops

from keras_resolution.diffstride import DiffStride2D
from keras_resolution.fixed_layers import DCTResize
from keras_resolution.layer import ResolutionLayer
from keras_resolution.safe_subsample import SafeSubsample
from keras_resolution.spectral_pooling import FixedSpectralPooling2D


class ComplexityLayer(abc.ABC):
    """The protocol of a layer whose output size counts in the complexity C.

    `complexity`, `full_complexity`, the budgets (`QuadraticTarget`,
    `HingeCap`), `ComplexityLogger` and `SizeRefresh` work on every layer
    that is an instance of this class. `ResolutionLayer`, `DiffStride2D`,
    `FixedSpectralPooling2D` and `SafeSubsample` are registered; another
    Keras layer joins with `ComplexityLayer.register(MyLayer)` once it
    provides:

    * `complexity(definition="linear")`: a float32 scalar tensor, the
      definition (see `COMPLEXITY_DEFINITIONS`) applied to the sizes it
      produces for its last input, continuous and differentiable in what it
      learns (a constant for a fixed layer);
    * `full_complexity(definition="linear")`: a Python float, the same
      definition applied to the input sizes it was built with (no resizing:
      every learned scale at 1, every stride at 1);
    * `output_sizes`: the integer output sizes for the last input;
    * `learned_rates()`: `{name: [value per axis]}` of its learned rates
      (`{"scale": ...}`, `{"stride": ...}`, or `{}`);
    * `rank`: the number of resized axes (1 or 2);
    * `static_sizes`: whether its sizes are Python ints refreshed by
      `SizeRefresh` (then also `refresh_sizes()` and
      `_size_refresh_active`), False for a layer whose sizes never follow a
      learned value.

    The layers are registered rather than derived from this class so that
    their modules need not import this one, which imports them (for
    `resolution_layers`): no import cycle.
    """

    @abc.abstractmethod
    def complexity(self, definition="linear"):
        """Scalar tensor, differentiable in the learned rates."""

    @abc.abstractmethod
    def full_complexity(self, definition="linear"):
        """Python float for the built input sizes."""


ComplexityLayer.register(ResolutionLayer)
ComplexityLayer.register(DiffStride2D)
ComplexityLayer.register(FixedSpectralPooling2D)
ComplexityLayer.register(SafeSubsample)


def _layers_of(model_or_layers, kind):
    if isinstance(model_or_layers, kind):
        return [model_or_layers]
    if isinstance(model_or_layers, (list, tuple)):
        return [layer for item in model_or_layers for layer in _layers_of(item, kind)]
    # Keras 3 has no public recursive walk over sublayers (`model.layers`
    # lists only the direct ones, and layers nested in custom layers are
    # not in it); `Layer._flatten_layers` is the private method Keras itself
    # uses for that walk.
    return [
        layer
        for layer in model_or_layers._flatten_layers(include_self=True)
        if isinstance(layer, kind)
    ]


def resolution_layers(model_or_layers):
    """The ResolutionLayers of a model (depth first) or of a list of layers."""
    return _layers_of(model_or_layers, ResolutionLayer)


def complexity_layers(model_or_layers):
    """Every `ComplexityLayer` of a model (depth first) or of a list of
    layers: Resolution layers, DiffStride2D, FixedSpectralPooling2D, ..."""
    return _layers_of(model_or_layers, ComplexityLayer)


def complexity(model_or_layers, definition="linear"):
    """Total complexity C = sum over the `ComplexityLayer`s, differentiable
    in their learned scales and strides.

    Args:
        model_or_layers: A Keras model or layer, or a list of them.
        definition: `"linear"` (sum of lengths over axes), `"area"`
            (product), or `"flops"` (multiply-adds of the convolutions the
            layers feed, see `flops`).

    Returns:
        Scalar float32 tensor (0 when there is no such layer).

    Example:

    >>> model = keras.Sequential([keras.Input((32, 32, 3)), ResolutionLayer(0.5)])
    >>> float(complexity(model, "area"))
    256.0
    """
    if definition == FLOPS:
        return flops(model_or_layers)
    total = ops.zeros((), "float32")
    for layer in complexity_layers(model_or_layers):
        # float64 layers give float64 complexities; the total is float32.
        total = total + ops.cast(layer.complexity(definition), "float32")
    return total


def full_complexity(model_or_layers, definition="linear"):
    """C_full: the complexity with no resizing (every s = 1, every stride
    1), as a Python float."""
    if definition == FLOPS:
        return float(ops.convert_to_numpy(flops(model_or_layers, nominal=True)))
    return sum(
        layer.full_complexity(definition)
        for layer in complexity_layers(model_or_layers)
    )


# ------------------------------------------------------------------- flops
#
# "flops" is a definition of the whole model, not of one layer's sizes: the
# multiply-adds of every convolution that a `ComplexityLayer` feeds, at the
# continuous sizes of that layer, plus the layers' own resize products.
# `complexity(model, "flops")` and `full_complexity(model, "flops")` give it,
# so `QuadraticTarget` and `HingeCap` budget it as they budget the others.

FLOPS = "flops"

# Convolution kernels, by attribute: multiply-adds per output position are
# the sum of their sizes (a depthwise kernel `(k, k, C_in, m)` and a
# pointwise one `(1, 1, C_in m, C_out)` alike).
_KERNEL_ATTRIBUTES = ("kernel", "depthwise_kernel", "pointwise_kernel")
_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)


def _history(tensor):
    """(operation, node) that produced a symbolic tensor, or None for an
    input. Keras 3 keeps this link in the private `_keras_history`, the
    attribute its own functional models are built from."""
    history = getattr(tensor, "_keras_history", None)
    if history is None or history.operation is None:
        return None
    operation = history.operation
    return operation, operation._inbound_nodes[history.node_index]


def _feeding_layer(tensor):
    """The nearest `ComplexityLayer` upstream of `tensor` (breadth first over
    every branch, not through a `DCTResize`, whose output size is fixed) and
    the tensor it produced, or None if none feeds it."""
    queue, seen = [tensor], set()
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        history = _history(current)
        if history is None:
            continue
        operation, node = history
        if isinstance(operation, ComplexityLayer):
            return operation, current
        if isinstance(operation, DCTResize):
            continue  # A fixed target size: what follows no longer depends on q.
        queue.extend(node.input_tensors)
    return None


def _spatial_sizes(shape, data_format):
    return list(shape[1:-1] if data_format == "channels_last" else shape[2:])


def continuous_lengths(layer, nominal=False):
    """A `ComplexityLayer`'s output lengths per axis as float32 tensors:
    continuous and differentiable in what it learns (a Resolution layer's
    q), or with `nominal=True` its built input sizes (no resizing)."""
    if nominal:
        return [ops.convert_to_tensor(float(d), "float32") for d in layer.nominal_input_sizes]
    if isinstance(layer, ResolutionLayer):
        sizes = [ops.cast(layer.input_size[i], layer.scale.dtype) for i in range(layer.rank)]
        return [ops.cast(q, "float32") for q in layer._target_lengths(sizes)]
    if hasattr(layer, "target_lengths"):
        return [ops.cast(q, "float32") for q in layer.target_lengths()]
    return [ops.convert_to_tensor(float(d), "float32") for d in layer.output_sizes]


def _resize_products(layer, lengths, nominal):
    """Multiply-adds of a layer's own resize products, per example.

    A Resolution layer applies one matrix per axis, one axis after the
    other: axis i costs `q_i d_in_i` per position of the other axes
    (already resized before it) and per channel. Spectral pooling
    (`DiffStride2D`, `FixedSpectralPooling2D`) multiplies the width by a
    `(2 w, W)` matrix (real and imaginary parts), then the height by two
    `(h, H)` ones: `2 w W H + 2 h H w` per channel. `SafeSubsample` only
    gathers: 0.
    """
    if not isinstance(layer, (ResolutionLayer, DiffStride2D, FixedSpectralPooling2D)):
        return ops.zeros((), "float32")
    channel_axis = 1 if layer.data_format == "channels_first" else -1
    channels = float(layer._inbound_nodes[0].input_tensors[0].shape[channel_axis])
    if nominal:
        inputs = [float(d) for d in layer.nominal_input_sizes]
    else:
        inputs = [ops.cast(layer.input_size[i], "float32") for i in range(layer.rank)]
    if not isinstance(layer, ResolutionLayer):
        (height, width), (h, w) = inputs, lengths
        return 2.0 * w * width * height * channels + 2.0 * h * height * w * channels
    current = list(inputs)
    total = ops.zeros((), "float32")
    for i, q in enumerate(lengths):
        others = channels
        for j, size in enumerate(current):
            if j != i:
                others = others * size
        total = total + q * inputs[i] * others
        current[i] = q
    return total


def _convolutions(model_or_layers):
    if isinstance(model_or_layers, (list, tuple)):
        return [conv for item in model_or_layers for conv in _convolutions(item)]
    return [
        layer
        for layer in model_or_layers._flatten_layers(include_self=True)
        if isinstance(layer, _CONVOLUTIONS)
    ]


def layer_flops(model, nominal=False):
    """The "flops" complexity by `ComplexityLayer`: `{layer name: scalar}`.

    Each layer's share is its own products (a Resolution layer's
    per-axis matrix products, spectral pooling's three; see
    `_resize_products`) plus the multiply-adds of every convolution it feeds: a
    convolution whose input, followed upstream through any layers and
    branches, reaches this layer first (before any other
    `ComplexityLayer`, and not across a `DCTResize`, behind which sizes are
    fixed again). A convolution counts `positions x kernel sizes`
    multiply-adds per example, its positions being the layer's continuous
    lengths `q` scaled by the ratio of the convolution's output size to the
    layer's output size in the built graph (1 behind "same" convolutions,
    1/2 behind a stride 2, ...), so they follow `q` continuously.
    Convolutions that no `ComplexityLayer` feeds have a fixed cost and are
    left out, as fixed layers are from the other definitions.

    Args:
        model: A functional Keras model (or a list of models).
        nominal: Lengths at the built input sizes (every scale 1, every
            stride 1), for `C_full`.

    Returns:
        `{name: float32 scalar tensor}`, differentiable in the learned
        rates (unless `nominal`).
    """
    layers = complexity_layers(model)
    lengths = {id(layer): continuous_lengths(layer, nominal) for layer in layers}
    totals = {
        id(layer): _resize_products(layer, lengths[id(layer)], nominal) for layer in layers
    }
    for conv in _convolutions(model):
        per_position = sum(
            int(np.prod(getattr(conv, name).shape))
            for name in _KERNEL_ATTRIBUTES
            if getattr(conv, name, None) is not None
        )
        for node in conv._inbound_nodes:
            feeding = _feeding_layer(node.input_tensors[0])
            if feeding is None or id(feeding[0]) not in totals:
                continue
            layer, produced = feeding
            fed = _spatial_sizes(produced.shape, getattr(layer, "data_format", "channels_last"))
            out = _spatial_sizes(node.outputs[0].shape, conv.data_format)
            positions = ops.ones((), "float32")
            for q, size_fed, size_out in zip(lengths[id(layer)], fed, out):
                positions = positions * q * (size_out / size_fed)
            totals[id(layer)] = totals[id(layer)] + positions * float(per_position)
    return {layer.name: totals[id(layer)] for layer in layers}


def flops(model, nominal=False):
    """The "flops" complexity of `model`: the sum of `layer_flops`.

    Multiply-adds per example (one multiply and one add count once) of
    every convolution that a `ComplexityLayer` feeds, at its continuous
    sizes, plus the layers' own resize products; differentiable in the
    scales. `complexity(model, "flops")` is this.

    Example:

    >>> inputs = keras.Input((16, 16, 3))
    >>> x = ResolutionLayer(0.5)(inputs)
    >>> model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(x))
    >>> # conv: 8 * 8 positions * 3*3*3*4 = 6912; resize: 8*16*16*3 + 8*16*8*3
    >>> float(flops(model))
    16128.0
    """
    total = ops.zeros((), "float32")
    for value in layer_flops(model, nominal).values():
        total = total + value
    return total
