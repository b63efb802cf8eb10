"""PANet complexity of a built YOLOv8 detector with fixed feature-map sizes.

The paper (section 5.2) measures the PANet by the sum, over its
convolutions, of the output feature-map area `H_out * W_out`. For KerasCV's
YOLOv8 with `fpn_depth=1` at 320x320 that is 11,500 (22 convolutions); at
`fpn_depth=2` it is 15,500 (26 convolutions), and at 640x640 46,000.
"linear" (`H_out + W_out`) is the alternative the paper's text writes.
"""

import keras

from keras_resolution.complexity_definitions import check_definition
from keras_resolution.complexity_definitions import measure



def panet_conv_layers(model, prefix="pa_fpn"):
    """Returns the PANet's Conv2D layers, in the order they were built.

    Args:
        model: a built detector whose PANet layers are named `prefix + "_*"`
            (as `detection.panet.apply_path_aggregation_fpn` names them).
        prefix: the PANet's layer-name prefix.

    Returns:
        A list of `keras.layers.Conv2D` layers.

    Raises:
        ValueError: if the model has no such layer.
    """
    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
        and layer.name.startswith(f"{prefix}_")
    ]
    if not convs:
        raise ValueError(
            f"`model` has no Conv2D layer named '{prefix}_*'; it does not "
            f"look like a YOLOv8 detector with a PANet. Received: {model.name}"
        )
    return convs


def _conv_complexity(conv, definition):
    height, width = conv.output.shape[1:3]
    if height is None or width is None:
        raise ValueError(
            f"The output of {conv.name} has a dynamic spatial shape "
            f"{conv.output.shape}; build the detector with a fixed "
            "`image_size` to measure its complexity."
        )
    return measure((height, width), definition)


def panet_layer_complexities(model, definition="area"):
    """Per-convolution PANet complexity of a model with fixed sizes.

    Args:
        model: a built detector (see `panet_conv_layers`).
        definition: "area" (`H_out * W_out`) or "linear" (`H_out + W_out`).

    Returns:
        A dict mapping each PANet Conv2D layer name to its complexity, in
        build order: ints for fixed sizes, scalar tensors for a Resolution
        PANet.
    """
    check_definition(definition)
    if hasattr(model, "panet_layer_complexities"):  # Resolution PANet.
        return model.panet_layer_complexities(definition)
    return {
        conv.name: _conv_complexity(conv, definition)
        for conv in panet_conv_layers(model)
    }


def panet_complexity(model, definition="area"):
    """Total PANet complexity of a model with fixed feature-map sizes.

    Args:
        model: a built detector (see `panet_conv_layers`).
        definition: "area" (sum of `H_out * W_out`, the paper's number) or
            "linear" (sum of `H_out + W_out`).

    Returns:
        For a baseline, the complexity of its fixed sizes as a Python int;
        for a Resolution PANet (`resolution_yolov8`), a scalar tensor from
        the continuous sizes, differentiable in the scales.

    Example:

    ```python
    model = baseline_yolov8(num_classes=20, image_size=320, fpn_depth=1)
    panet_complexity(model)  # 11500
    ```
    """
    values = panet_layer_complexities(model, definition).values()
    if hasattr(model, "panet_layer_complexities"):
        total = keras.ops.zeros((), "float32")
        for value in values:
            total = total + keras.ops.cast(value, "float32")
        return total
    return sum(values)
