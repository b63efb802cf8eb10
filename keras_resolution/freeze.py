"""freeze: a trained model's learned resolutions as a static model.

A trained Resolution model computes its sizes from variables at run time:
every Resolution layer rebuilds its matrices from `s` at each call, and the
alignments and output resizes behind it check at run time whether they
have anything to do. Once training is over the scales are constants, and
so is all of that. `freeze(model)` returns a new model in which

* each `ResolutionLayer` is a `FrozenResolutionLayer` and each
  `DiffStride2D` a `FrozenDiffStride2D`: the same outputs, from matrices
  computed once for the sizes the layer receives in the frozen model, with
  no scale variable and static output shapes; an `NJetConv2D` with a
  `SafeSubsample` is a `FrozenSafeSubsample` and a `Conv2D` holding its
  filter at the current sigma, cropped to its current extent;
* each `AlignToMaxShape` whose branches already share their sizes, and
  each `DCTResize` whose input already has its target size, is gone (they
  are exact identities there);
* every other layer is a copy (`from_config`, then its weights), so the
  frozen model shares nothing with the trained one and can be saved,
  exported, or fine-tuned at its fixed sizes.

How: a functional model (or a `Sequential`) is rebuilt by
`keras.models.clone_model` on its graph, with a `call_function` that sees
each layer's actual (static) input shapes in the frozen graph. The shapes
decide the frozen layers' input sizes and which resizes have become
identities, so the sizes are the ones the trained model produces at its
input size, whatever inputs the trained model saw last.

A model that is not a plain functional graph (a subclass with its own
constructor, such as the YOLOv8 detectors) cannot be rebuilt that way; its
package registers a function for its class with `register_freezer`, and
`freeze` calls it (`detection` registers `detection.freeze_detector`).
"""

import keras
import numpy as np
from keras import ops

# Keras 3 has no public test for "a model built from inputs and outputs";
# `Functional` is the class `keras.Model(inputs, outputs)` instantiates.
from keras.src.models.functional import Functional

from keras_resolution.complexity import complexity_layers
from keras_resolution.diffstride import DiffStride2D
from keras_resolution.fixed_layers import AlignToMaxShape
from keras_resolution.fixed_layers import DCTResize
from keras_resolution.fixed_layers import FrozenDiffStride2D
from keras_resolution.fixed_layers import FrozenResolutionLayer
from keras_resolution.fixed_layers import FrozenSafeSubsample
from keras_resolution.layer import ResolutionLayer
from keras_resolution.njet import NJetConv2D
from keras_resolution.resize import spatial_axes

# Model class -> function returning its frozen copy (`register_freezer`).
_FREEZERS = {}


def register_freezer(model_class, function):
    """Makes `freeze(model)` call `function(model)` for instances of
    `model_class` (and of its subclasses, unless they have their own).

    For model classes whose graph `freeze` cannot rebuild by itself: a
    `keras.Model` subclass with its own constructor arguments.

    Args:
        model_class: A `keras.Model` subclass.
        function: Callable `function(model) -> frozen model`.

    Example:

    ```python
    keras_resolution.register_freezer(MyDetector, freeze_my_detector)
    ```
    """
    if not (isinstance(model_class, type) and issubclass(model_class, keras.Model)):
        raise ValueError(f"`model_class` must be a keras.Model subclass, got {model_class!r}.")
    if not callable(function):
        raise ValueError(f"`function` must be callable, got {function!r}.")
    _FREEZERS[model_class] = function


def learned_resolution_layers(layer):
    """The layers inside `layer` (itself included) whose output sizes follow
    a learned value: every `keras_resolution.ComplexityLayer` with learned
    rates (`ResolutionLayer`, `DiffStride2D`, an N-Jet layer's
    `SafeSubsample`, ...)."""
    return [item for item in complexity_layers(layer) if item.learned_rates()]


def freeze(model):
    """A new model with the learned resolutions of `model` fixed.

    Every `ResolutionLayer` becomes a `FrozenResolutionLayer`, every
    `DiffStride2D` a `FrozenDiffStride2D`, and every `NJetConv2D` with a
    `SafeSubsample` a `FrozenSafeSubsample` and a `Conv2D`, at their current
    scales, strides or sigma and at the sizes they receive in the frozen
    model; alignments
    (`AlignToMaxShape`) and output resizes (`DCTResize`) that have become
    identities are removed; every other layer is copied with its weights.
    The outputs are the trained model's to float32 rounding, every layer's
    output shape is static, and nothing is shared with `model`.

    A model without learned resolutions is returned as an equivalent copy
    (minus identity resizes), so a baseline and its Resolution variants
    go through the same deployment code.

    Args:
        model: A built functional `keras.Model` or `keras.Sequential` with
            a static input size, or a model whose class has a function
            registered with `register_freezer` (`detection` registers its
            YOLOv8 detectors).

    Returns:
        A functional `keras.Model` (for registered classes: what their
        function returns), not compiled.

    Raises:
        ValueError: naming `model`, for something that is not a Keras model,
            a model whose graph cannot be rebuilt, a learned layer with an
            unknown input size, or a learned layer that cannot be frozen
            (one held inside another layer that is not a model).

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> x = ResolutionLayer(0.7)(keras.layers.Conv2D(8, 3)(inputs))
    >>> model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    >>> frozen = freeze(model)
    >>> [type(layer).__name__ for layer in frozen.layers]
    ['InputLayer', 'Conv2D', 'FrozenResolutionLayer', 'GlobalAveragePooling2D']
    >>> frozen.layers[2].output_size
    (21, 21)
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    for model_class in type(model).__mro__:
        if model_class in _FREEZERS:
            return _FREEZERS[model_class](model)
    if not isinstance(model, (Functional, keras.Sequential)):
        raise ValueError(
            f"`model` must be a functional keras.Model or a Sequential (or a class "
            f"registered with register_freezer); got a subclassed {type(model).__name__}."
        )
    try:
        if isinstance(model, keras.Sequential):  # Its `input` is the first layer's.
            inputs, outputs = model.inputs[0], model.outputs[0]
        else:
            inputs, outputs = model.input, model.output
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(
            f"`model` ({model.name}) has no input yet: build it on a keras.Input."
        ) from None
    return _freeze_graph(keras.Model(inputs, outputs, name=model.name))


def _freeze_graph(graph):
    """`freeze` of a plain functional model (see the module docstring)."""
    copies = []  # (trained layer, its copy): the weights follow once built.
    frozen_layers = {}  # (id of a learned layer, input shape) -> frozen layer.
    used_names = set()

    def clone_function(operation):
        if not isinstance(operation, keras.layers.Layer):
            return operation  # A keras.ops node: stateless, reused as it is.
        if _is_learned_resize(operation):
            return operation  # Replaced in `call_function`, per input shape.
        if learned_resolution_layers(operation):
            if isinstance(operation, (Functional, keras.Sequential)):
                return freeze(operation)
            learned = learned_resolution_layers(operation)[0]
            raise ValueError(
                f"`model`: layer {operation.name!r} ({type(operation).__name__}) holds "
                f"{learned.name!r} ({type(learned).__name__}), whose sizes follow a learned "
                "value that freeze cannot fix: it freezes ResolutionLayer, DiffStride2D and "
                "NJetConv2D with SafeSubsample."
            )
        copy = operation.__class__.from_config(operation.get_config())
        copies.append((operation, copy))
        return copy

    def frozen_layer(layer, inputs):
        shape = tuple(inputs.shape)
        key = (id(layer), shape)
        if key not in frozen_layers:
            input_size = tuple(shape[axis] for axis in spatial_axes(len(shape), layer.data_format))
            if None in input_size:
                raise ValueError(
                    f"`model`: {layer.name} receives inputs of shape {shape}; freeze needs "
                    "static spatial sizes (a keras.Input with a fixed height and width)."
                )
            # A layer called on two input sizes gives two frozen layers.
            name, copy_number = layer.name, 1
            while name in used_names:
                name, copy_number = f"{layer.name}_{copy_number}", copy_number + 1
            used_names.add(name)
            frozen_layers[key] = _frozen_copy(layer, input_size, name)
        return frozen_layers[key]

    def call_function(operation, *args, **kwargs):
        if _is_learned_resize(operation):
            outputs = args[0]
            for layer in frozen_layer(operation, args[0]):
                outputs = layer(outputs)
            return outputs
        if isinstance(operation, AlignToMaxShape) and operation.is_identity(
            [t.shape for t in args[0]]
        ):
            return list(args[0])
        if isinstance(operation, DCTResize) and operation.is_identity(args[0].shape):
            return args[0]
        return operation(*args, **kwargs)

    frozen = keras.models.clone_model(
        graph, clone_function=clone_function, call_function=call_function
    )
    for layer, copy in copies:
        copy.set_weights(layer.get_weights())
    return frozen


def _is_learned_resize(layer):
    """Whether `freeze` replaces `layer` by its frozen form."""
    return isinstance(layer, (ResolutionLayer, DiffStride2D)) or (
        isinstance(layer, NJetConv2D) and layer.safe_subsample is not None
    )


def _frozen_copy(layer, input_size, name):
    """The frozen form of a learned layer at its current value, for inputs
    of spatial sizes `input_size`: a list of layers to apply in turn."""
    if isinstance(layer, NJetConv2D):
        return _frozen_njet(layer, input_size, name)
    if isinstance(layer, ResolutionLayer):
        return [FrozenResolutionLayer(
            input_size,
            ops.convert_to_numpy(layer.scale).tolist(),
            transform=layer.transform,
            taper=layer.taper,
            gradient=layer.gradient,
            min_size=layer.min_size,
            max_size=layer.max_size,
            data_format=layer.data_format,
            dtype=layer.dtype_policy,
            name=name,
        )]
    return [FrozenDiffStride2D(
        input_size,
        layer.strides_for(*input_size),
        smoothness=layer.smoothness,
        cropping=layer.cropping,
        data_format=layer.data_format,
        dtype=layer.dtype_policy,
        name=name,
    )]


def _frozen_njet(layer, input_size, name):
    """An N-Jet layer with safe subsampling at its current sigma: the fixed
    nearest subsample (`FrozenSafeSubsample`), then a `Conv2D` holding its
    current filter (`NJetConv2D.kernel`), cropped to its current extent
    `2 f + 1` (the taps beyond are exactly zero), and its bias."""
    output_size = layer.safe_subsample.output_sizes_for(input_size)
    kernel = ops.convert_to_numpy(layer.kernel())
    grid, extent = layer.max_half_width, layer.half_width
    cropped = kernel[grid - extent : grid + extent + 1, grid - extent : grid + extent + 1]
    if np.count_nonzero(kernel) != np.count_nonzero(cropped):
        cropped = kernel  # Keep the whole grid rather than drop a tap.
    conv = keras.layers.Conv2D(
        layer.filters,
        cropped.shape[0],
        padding="same",
        use_bias=layer.use_bias,
        data_format=layer.data_format,
        dtype=layer.dtype_policy,
        name=name,
    )
    conv.build(_conv_input_shape(layer, output_size, kernel.shape[2]))
    conv.set_weights([cropped] + ([ops.convert_to_numpy(layer.bias)] if layer.use_bias else []))
    resize = FrozenSafeSubsample(
        input_size,
        output_size,
        data_format=layer.data_format,
        dtype=layer.dtype_policy,
        name=f"{name}_subsample",
    )
    return [resize, conv]


def _conv_input_shape(layer, sizes, channels):
    if layer.data_format == "channels_first":
        return (None, channels, *sizes)
    return (None, *sizes, channels)
