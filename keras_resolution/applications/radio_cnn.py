"""The paper's 1D CNN for I/Q radio frames, with a Resolution layer after
each convolution.

Seven Conv1D (kernel 3, 64 channels, same padding, ReLU), each followed by a
`ResolutionLayer` (sites `conv1` ... `conv7`), global mean-and-variance
pooling, dense 128-128 (ReLU) and a softmax. Its fixed baseline has no
resizing, so C_base = C_full.
"""

import keras
from keras import layers
from keras import ops

from keras_resolution.applications.sites import resize_site


@keras.saving.register_keras_serializable(package="keras_resolution")
class MeanVariancePooling1D(layers.Layer):
    """Global mean-and-variance pooling over the length axis.

    Input shape `(batch, length, channels)`; output `(batch, 2 * channels)`:
    the per-channel means followed by the per-channel variances. Works for
    any length, so it accepts the learned sizes of the Resolution layers.

    Example:

    >>> MeanVariancePooling1D()(keras.ops.ones((2, 10, 3))).shape
    (2, 6)
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=1)
        variance = ops.var(inputs, axis=1)
        return ops.concatenate([mean, variance], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


# Models saved before this layer moved here from training/ name it by its old
# registration; keep that name loadable.
keras.saving.get_custom_objects()[
    "training.classification>MeanVariancePooling1D"
] = MeanVariancePooling1D


def radio_cnn_layers(
    inputs, num_classes, transform="dct", filters=64, num_convs=7, resolution_kwargs=None
):
    """The paper's 1D CNN for I/Q frames, from `inputs` to probabilities.

    Args:
        inputs: Symbolic input `(batch, length, 2)`.
        num_classes: Number of classes (24 for RadioML 2018.01A).
        transform: `"dct"`, `"dft"` or `"fixed"` (no Resolution layers).
        filters: Channels of every convolution (64 in the paper).
        num_convs: Number of convolutions (7 in the paper).
        resolution_kwargs: Extra `ResolutionLayer` arguments.

    Returns:
        Symbolic output tensor.

    Example:

    >>> inputs = keras.Input((128, 2))
    >>> model = keras.Model(inputs, radio_cnn_layers(inputs, 24, "dft"))
    """
    resolution_kwargs = resolution_kwargs or {}
    x = inputs
    for index in range(1, num_convs + 1):
        x = layers.Conv1D(
            filters, 3, padding="same", activation="relu", name=f"conv{index}"
        )(x)
        x = resize_site(x, f"conv{index}", transform, resolution_kwargs)
    x = MeanVariancePooling1D(name="mean_variance_pool")(x)
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dense(128, activation="relu", name="dense2")(x)
    return layers.Dense(num_classes, activation="softmax", name="classifier")(x)
