"""Model complexity: the sum of the Resolution layers' complexities."""

from keras import ops

from keras_resolution.layer import ResolutionLayer


def resolution_layers(model_or_layers):
    """The ResolutionLayers of a model (depth first) or of a list of layers."""
    if isinstance(model_or_layers, ResolutionLayer):
        return [model_or_layers]
    if isinstance(model_or_layers, (list, tuple)):
        return [
            layer for item in model_or_layers for layer in resolution_layers(item)
        ]
    # Keras 3 has no public recursive walk over sublayers (`model.layers`
    # lists only the direct ones, and layers nested in custom layers are
    # not in it); `Layer._flatten_layers` is the private method Keras itself
    # uses for that walk.
    return [
        layer
        for layer in model_or_layers._flatten_layers(include_self=True)
        if isinstance(layer, ResolutionLayer)
    ]


def complexity(model_or_layers, definition="linear"):
    """Total complexity C = sum over Resolution layers, differentiable in s.

    Args:
        model_or_layers: A Keras model or layer, or a list of them.
        definition: `"linear"` (sum of q over axes) or `"area"` (product).

    Returns:
        Scalar float32 tensor (0 when there is no Resolution layer).

    Example:

    >>> model = keras.Sequential([keras.Input((32, 32, 3)), ResolutionLayer(0.5)])
    >>> float(complexity(model, "area"))
    256.0
    """
    total = ops.zeros((), "float32")
    for layer in resolution_layers(model_or_layers):
        # float64 layers give float64 complexities; the total is float32.
        total = total + ops.cast(layer.complexity(definition), "float32")
    return total


def full_complexity(model_or_layers, definition="linear"):
    """C_full: the complexity with every s = 1, as a Python float."""
    return sum(
        layer.full_complexity(definition)
        for layer in resolution_layers(model_or_layers)
    )
