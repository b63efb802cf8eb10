"""Model complexity: the sum of the complexities of the layers that set a
feature map's resolution (`ComplexityLayer`).

The definitions `"linear"` and `"area"` measure each layer's output sizes
(`keras_resolution.complexity_definitions`). `"flops"` measures what the
sizes cost: the multiply-adds of the convolutions the layers feed, at the
continuous sizes followed from the layers through the graph (strides,
upsamplings, alignments of branches), plus the layers' own resize products
(`flops`). All three are differentiable in the learned rates, so
`QuadraticTarget` and `HingeCap` budget any of them.
"""

import abc

import keras
import numpy as np
from keras import ops

from keras_resolution.complexity_definitions import FLOPS
from keras_resolution.diffstride import DiffStride2D
from keras_resolution.fixed_layers import AlignToMaxShape
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


def _shrinking_rate(layer):
    """`(variable, end)` of a layer's learned rate: the variable and the end
    of its `ScaleBounds` at which its maps are smallest (a Resolution
    scale's lower bound; DiffStride's stride and, for a `SafeSubsample`,
    its N-Jet layer's log2 sigma at their upper bound); None without one."""
    if isinstance(layer, ResolutionLayer):
        return layer.scale, "lower"
    if isinstance(layer, DiffStride2D):
        return layer.strides, "upper"
    if isinstance(layer, SafeSubsample) and layer.source() is not None:
        return layer.source().log2_sigma, "upper"
    return None


def complexity_floor(model, definition="linear"):
    """The smallest C / C_full that the learned rates of `model` reach:
    every rate at the bound where its maps are smallest (a Resolution
    layer's smallest scale, DiffStride's largest stride, an N-Jet layer's
    largest sigma), measured after a forward pass that sets every layer's
    input sizes. Below it a budget target cannot be met. The model is left
    as it was.

    Args:
        model: A built functional or sequential Keras model with one input.
        definition: `"linear"` or `"area"`.

    Returns:
        A Python float in (0, 1]: 1.0 for a model without learned rates.

    Example:

    >>> model = keras.Sequential([keras.Input((32, 32, 3)), DiffStride2D()])
    >>> complexity_floor(model)  # 10 + 10 of 32 + 32: the ramp keeps 2(1 + R) bins
    0.3125
    """
    rates = [rate for rate in map(_shrinking_rate, complexity_layers(model)) if rate]
    if not rates:
        return 1.0
    saved = [ops.convert_to_numpy(variable) for variable in model.variables]
    try:
        for variable, end in {id(variable): (variable, end) for variable, end in rates}.values():
            bound = getattr(variable.constraint, end)
            variable.assign(ops.convert_to_tensor(
                np.broadcast_to(np.float32(bound), variable.shape), variable.dtype))
        for layer in complexity_layers(model):
            if hasattr(layer, "refresh_sizes"):  # static sizes follow the rates
                layer.refresh_sizes()
        model(ops.zeros((1, *model.inputs[0].shape[1:])))
        floor = float(ops.convert_to_numpy(complexity(model, definition)))
        return floor / full_complexity(model, definition)
    finally:
        for variable, value in zip(model.variables, saved):
            variable.assign(value)
        for layer in complexity_layers(model):
            if hasattr(layer, "refresh_sizes"):
                layer.refresh_sizes()


# ------------------------------------------------------------------- flops
#
# "flops" is a definition of the whole model, not of one layer's sizes: the
# multiply-adds of every convolution that a `ComplexityLayer` feeds, at the
# continuous sizes followed from the layers (`_ContinuousSizes`), plus the
# layers' own resize products.
# `complexity(model, "flops")` and `full_complexity(model, "flops")` give it,
# so `QuadraticTarget` and `HingeCap` budget it as they budget the others.

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


def _static_lengths(tensor, data_format):
    """The spatial sizes of a symbolic tensor as Python floats (a fixed
    map), or a ValueError if one is unknown."""
    sizes = _spatial_sizes(tensor.shape, data_format)
    if any(size is None for size in sizes):
        raise ValueError(
            f"The \"flops\" complexity needs static spatial shapes; a tensor of "
            f"shape {tensor.shape} has none."
        )
    return [float(size) for size in sizes]


def _maximum(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return max(a, b)
    return ops.maximum(ops.cast(a, "float32"), ops.cast(b, "float32"))


class _ContinuousSizes:
    """The continuous spatial lengths of the tensors of a functional graph,
    followed forward from its `ComplexityLayer`s (memoised per tensor).

    `sizes(tensor)` is `(lengths, source)`: the tensor's lengths per
    spatial axis (Python floats for a map whose size no learned rate moves,
    float32 tensors otherwise) and the `ComplexityLayer` whose sizes they
    follow (None for a fixed map). The rules:

    * a graph input: its static sizes, fixed;
    * a `ComplexityLayer`'s output: its continuous lengths q;
    * a `DCTResize`'s output: its target size, fixed again;
    * an `AlignToMaxShape` output: the per-axis maximum of its branches'
      lengths (the size it resizes every branch to);
    * any other operation (convolutions, padding, normalization, the
      concatenations and additions of aligned branches, x2 upsampling...):
      the per-axis maximum over its inputs of the output's rank (broadcast
      operands of size 1 are skipped), each scaled by the ratio of the
      output's size to that input's in the built graph (1 behind a "same"
      convolution, 1/2 behind a stride 2, 2 behind an upsampling), so the
      lengths follow q continuously; without such an input (a rank change,
      a pooling to 1x1) the static sizes, fixed.

    The source is that of the first input that has one. Ratios are kept in
    Python floats and applied to q once, where branches meet or at the end,
    so that a chain of ratios that cancels (padding, then a valid
    convolution) leaves q exactly.
    """

    def __init__(self, layers, data_format, nominal=False):
        self.data_format = data_format
        self.roots = {}
        for layer in layers:
            lengths = continuous_lengths(layer, nominal)
            self.roots[id(layer)] = (lengths, [1.0] * len(lengths), layer)
        self.cache = {}

    def __call__(self, tensor):
        """(lengths, source) of a symbolic tensor of the graph."""
        lengths, ratios, source = self._follow(tensor)
        return [_scaled(length, ratio) for length, ratio in zip(lengths, ratios)], source

    def _fixed(self, tensor):
        lengths = _static_lengths(tensor, self.data_format)
        return lengths, [1.0] * len(lengths), None

    def _follow(self, tensor):
        # Depth first with an explicit stack: a detector's graph is deeper
        # than Python's recursion limit comfortably allows.
        stack = [tensor]
        while stack:
            current = stack[-1]
            if id(current) in self.cache:
                stack.pop()
                continue
            history = _history(current)
            if history is None or isinstance(history[0], DCTResize):
                self.cache[id(current)] = self._fixed(current)
            elif id(history[0]) in self.roots:
                self.cache[id(current)] = self.roots[id(history[0])]
            else:
                operation, node = history
                inputs = self._inputs_to_follow(operation, node, current)
                pending = [t for t in inputs if id(t) not in self.cache]
                if pending:
                    stack.extend(pending)
                    continue
                self.cache[id(current)] = self._combine(current, inputs, operation)
            stack.pop()
        return self.cache[id(tensor)]

    def _inputs_to_follow(self, operation, node, output):
        if isinstance(operation, AlignToMaxShape):
            return list(node.input_tensors)
        out = _spatial_sizes(output.shape, self.data_format)
        return [
            tensor
            for tensor in node.input_tensors
            if len(tensor.shape) == len(output.shape)
            and all(
                size_in == size_out or size_in not in (None, 1)
                for size_in, size_out in zip(
                    _spatial_sizes(tensor.shape, self.data_format), out
                )
            )
        ]

    def _combine(self, output, inputs, operation):
        if not inputs:
            return self._fixed(output)
        out = _static_lengths(output, self.data_format)
        branches, source = [], None
        for tensor in inputs:
            lengths, ratios, tensor_source = self.cache[id(tensor)]
            if not isinstance(operation, AlignToMaxShape):
                fed = _static_lengths(tensor, self.data_format)
                ratios = [r * (o / f) for r, o, f in zip(ratios, out, fed)]
            branches.append((lengths, ratios))
            if source is None:
                source = tensor_source
        if len(branches) == 1:
            return branches[0][0], branches[0][1], source
        lengths = [_scaled(length, ratio) for length, ratio in zip(*branches[0])]
        for other in branches[1:]:
            lengths = [
                _maximum(a, _scaled(length, ratio))
                for a, length, ratio in zip(lengths, *other)
            ]
        return lengths, [1.0] * len(lengths), source


def _scaled(length, ratio):
    return length if ratio == 1.0 else length * ratio


def _spatial_sizes(shape, data_format):
    return list(shape[1:-1] if data_format == "channels_last" else shape[2:])


def continuous_lengths(layer, nominal=False):
    """A `ComplexityLayer`'s output lengths per axis as float32 tensors:
    continuous and differentiable in what it learns (a Resolution layer's
    q), or with `nominal=True` its built input sizes (no resizing)."""
    if nominal:
        return [ops.convert_to_tensor(float(d), "float32") for d in layer.nominal_input_sizes]
    if isinstance(layer, ResolutionLayer):
        sizes = ops.unstack(ops.cast(layer.input_size.value, layer.scale.dtype))
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


def multiply_adds_per_position(conv):
    """Multiply-adds of a convolution per output position: the sum of its
    kernels' sizes (`k k C_in C_out` for a Conv2D; a separable
    convolution's depthwise and pointwise kernels added)."""
    return float(sum(
        int(np.prod(getattr(conv, name).shape))
        for name in _KERNEL_ATTRIBUTES
        if getattr(conv, name, None) is not None
    ))


def _data_format(model, layers):
    for layer in list(layers) + _convolutions(model):
        if getattr(layer, "data_format", None):
            return layer.data_format
    return keras.config.image_data_format()


def _convolution_terms(model, convolutions, nominal):
    """(conv, its multiply-adds, the `ComplexityLayer` it follows or None)
    for every call of the convolutions in the graph."""
    sizes = _ContinuousSizes(complexity_layers(model), _data_format(model, convolutions), nominal)
    for conv in convolutions:
        per_position = multiply_adds_per_position(conv)
        for node in conv._inbound_nodes:
            lengths, source = sizes(node.outputs[0])
            positions = 1.0
            for length in lengths:
                positions = positions * length
            yield conv, positions * per_position, source


def convolution_flops(model, convolutions=None, nominal=False):
    """Multiply-adds per example of a model's convolutions at their
    continuous sizes: `{conv name: value}`.

    A convolution counts `positions x multiply_adds_per_position(conv)`,
    its positions the product of its output's lengths as followed from the
    `ComplexityLayer`s through the graph (`_ContinuousSizes`: q scaled by
    the strides and upsamplings in between, the maximum where an
    `AlignToMaxShape` brings branches to one size, fixed again behind a
    `DCTResize`).

    Args:
        model: A functional Keras model.
        convolutions: The convolution layers to count; None (default):
            every convolution of `model` that a `ComplexityLayer` feeds.
            Listed convolutions that none feeds count at their fixed sizes.
        nominal: Every `ComplexityLayer` at its built input sizes (no
            resizing).

    Returns:
        `{name: value}`: float32 scalar tensors, differentiable in the
        learned rates, for the convolutions whose sizes they move; Python
        floats for fixed ones.

    Example:

    >>> inputs = keras.Input((16, 16, 3))
    >>> x = ResolutionLayer(0.5)(inputs)
    >>> conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")
    >>> {k: float(v) for k, v in convolution_flops(keras.Model(inputs, conv(x))).items()}
    {'conv': 6912.0}
    """
    listed = convolutions is not None
    values = {}
    for conv, value, source in _convolution_terms(
        model, _convolutions(model) if convolutions is None else convolutions, nominal
    ):
        if source is not None or listed:
            values[conv.name] = values.get(conv.name, 0.0) + value
    return values


def resize_flops(model, nominal=False):
    """The `ComplexityLayer`s' own resize products per example (see
    `_resize_products`): `{layer name: float32 scalar tensor}`."""
    return {
        layer.name: _resize_products(layer, continuous_lengths(layer, nominal), nominal)
        for layer in complexity_layers(model)
    }


def layer_flops(model, nominal=False):
    """The "flops" complexity by `ComplexityLayer`: `{layer name: scalar}`.

    Each layer's share is its own products (`resize_flops`) plus the
    multiply-adds of the convolutions whose sizes follow it
    (`convolution_flops`; behind an alignment of branches from several
    layers, the first branch's). Convolutions that no `ComplexityLayer`
    feeds have a fixed cost and are left out, as fixed layers are from the
    other definitions.

    Args:
        model: A functional Keras model.
        nominal: Lengths at the built input sizes (every scale 1, every
            stride 1), for `C_full`.

    Returns:
        `{name: float32 scalar tensor}`, differentiable in the learned
        rates (unless `nominal`).
    """
    totals = resize_flops(model, nominal)
    for conv, value, source in _convolution_terms(model, _convolutions(model), nominal):
        if source is not None:
            totals[source.name] = totals[source.name] + value
    return totals


def flops(model, convolutions=None, nominal=False):
    """The "flops" complexity of `model`: multiply-adds per example.

    The `ComplexityLayer`s' own resize products (`resize_flops`) plus the
    convolutions' multiply-adds at their continuous sizes
    (`convolution_flops`: by default every convolution a `ComplexityLayer`
    feeds); one multiply and one add count once. Differentiable in the
    learned rates. `complexity(model, "flops")` is this.

    Args:
        model: A functional Keras model.
        convolutions: The convolutions to count (e.g. a detector's PANet
            convolutions); None: those a `ComplexityLayer` feeds.
        nominal: Every `ComplexityLayer` at its built input sizes.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> inputs = keras.Input((16, 16, 3))
    >>> x = ResolutionLayer(0.5)(inputs)
    >>> model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(x))
    >>> # conv: 8 * 8 positions * 3*3*3*4 = 6912; resize: 8*16*16*3 + 8*16*8*3
    >>> float(flops(model))
    16128.0
    """
    total = ops.zeros((), "float32")
    for value in resize_flops(model, nominal).values():
        total = total + value
    for value in convolution_flops(model, convolutions, nominal).values():
        total = total + value
    return total
