"""PANet complexity of a YOLOv8 detector, in cells and in multiply-adds.

The paper (section 5.2) measures the PANet by the sum, over its
convolutions, of the output feature-map area `H_out * W_out`. For KerasCV's
YOLOv8 with `fpn_depth=1` at 320x320 that is 11,500 (22 convolutions); at
`fpn_depth=2` it is 15,500 (26 convolutions), and at 640x640 46,000.
"linear" (`H_out + W_out`) is the alternative the paper's text writes.

`"flops"` is what those sizes cost: the multiply-adds per image of the
PANet's convolutions at their continuous sizes plus the resize products of
its learnable-resolution layers (`keras_resolution.complexity.flops` with
the PANet's convolutions), differentiable in the scales and strides. The
alignments of branches and the three output resizes are not counted (the
library's definition leaves fixed resizes out).
"""

import math

import keras

from keras_resolution.complexity import convolution_flops
from keras_resolution.complexity import multiply_adds_per_position
from keras_resolution.complexity import resize_flops
from keras_resolution.complexity_definitions import FLOPS
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


def panet_layer_flops(model, nominal=False):
    """The PANet's multiply-adds per image, by layer.

    Args:
        model: a built detector (see `panet_conv_layers`).
        nominal: every learnable-resolution layer at its built input sizes
            (no resizing).

    Returns:
        A dict: each PANet Conv2D layer name (build order) to its
        multiply-adds at its continuous sizes, then each
        learnable-resolution layer (Resolution, DiffStride) to its own
        resize products. Python floats for fixed sizes, float32 scalar
        tensors where a learned rate moves them.
    """
    values = convolution_flops(model, panet_conv_layers(model), nominal)
    values.update(resize_flops(model, nominal))
    return values


def panet_baseline_flops(model):
    """The multiply-adds per image of the baseline PANet that `model` is
    compared to: its convolutions at the baseline's output sizes
    (`model.panet_baseline_sizes()` for a PANet whose sizes move, the
    built sizes otherwise), no resizes. The default FLOPs cap.

    Example:

    ```python
    model = resolution_yolov8(num_classes=20, complexity_definition="flops")
    panet_baseline_flops(model) == panet_complexity(baseline_yolov8(20), "flops")
    ```
    """
    convs = panet_conv_layers(model)
    if hasattr(model, "panet_baseline_sizes"):
        sizes = model.panet_baseline_sizes()
    else:
        sizes = {conv.name: conv.output.shape[1:3] for conv in convs}
    return float(sum(
        multiply_adds_per_position(conv) * math.prod(sizes[conv.name]) for conv in convs
    ))


def panet_layer_complexities(model, definition="area"):
    """Per-layer PANet complexity.

    Args:
        model: a built detector (see `panet_conv_layers`).
        definition: "area" (`H_out * W_out`), "linear" (`H_out + W_out`),
            or "flops" (multiply-adds, see `panet_layer_flops`).

    Returns:
        A dict mapping each PANet Conv2D layer name to its complexity, in
        build order (for "flops", then each learnable-resolution layer to
        its resize products): numbers for fixed sizes, scalar tensors for a
        Resolution or DiffStride PANet.
    """
    check_definition(definition, allow_flops=True)
    if definition == FLOPS:
        return panet_layer_flops(model)
    if hasattr(model, "panet_layer_complexities"):  # Resolution PANet.
        return model.panet_layer_complexities(definition)
    return {
        conv.name: _conv_complexity(conv, definition)
        for conv in panet_conv_layers(model)
    }


def panet_complexity(model, definition="area"):
    """Total PANet complexity.

    Args:
        model: a built detector (see `panet_conv_layers`).
        definition: "area" (sum of `H_out * W_out`, the paper's number),
            "linear" (sum of `H_out + W_out`) or "flops" (multiply-adds
            per image, `panet_layer_flops`).

    Returns:
        For a baseline, the complexity of its fixed sizes as a Python
        number; for a Resolution or DiffStride PANet, a scalar tensor from
        the continuous sizes, differentiable in the scales.

    Example:

    ```python
    model = baseline_yolov8(num_classes=20, image_size=320, fpn_depth=1)
    panet_complexity(model)  # 11500
    panet_complexity(model, "flops")  # multiply-adds per image
    ```
    """
    values = panet_layer_complexities(model, definition).values()
    if hasattr(model, "panet_layer_complexities"):
        total = keras.ops.zeros((), "float32")
        for value in values:
            total = total + keras.ops.cast(value, "float32")
        return total
    return sum(values)
