"""Model complexity: the sum of the complexities of the layers that set a
feature map's resolution (`ComplexityLayer`)."""

import abc

from keras import ops

from keras_resolution.diffstride import DiffStride2D
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
        definition: `"linear"` (sum of lengths over axes) or `"area"`
            (product).

    Returns:
        Scalar float32 tensor (0 when there is no such layer).

    Example:

    >>> model = keras.Sequential([keras.Input((32, 32, 3)), ResolutionLayer(0.5)])
    >>> float(complexity(model, "area"))
    256.0
    """
    total = ops.zeros((), "float32")
    for layer in complexity_layers(model_or_layers):
        # float64 layers give float64 complexities; the total is float32.
        total = total + ops.cast(layer.complexity(definition), "float32")
    return total


def full_complexity(model_or_layers, definition="linear"):
    """C_full: the complexity with no resizing (every s = 1, every stride
    1), as a Python float."""
    return sum(
        layer.full_complexity(definition)
        for layer in complexity_layers(model_or_layers)
    )
