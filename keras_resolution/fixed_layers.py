"""Keras layers for the fixed (parameter-free) DCT resizes.

Inside a model whose sizes follow learned scales, the spatial sizes of a
tensor are only known when the model runs, not when it is built. These
layers read them in `call`, so the resize is recorded in the functional
graph even when the build-time shapes already agree.
"""

import keras

from keras_resolution.resize import align_to_max_shape
from keras_resolution.resize import dct_resize
from keras_resolution.resize import spatial_axes
from keras_resolution.resize import standardize_data_format


@keras.saving.register_keras_serializable(package="keras_resolution")
class DCTResize(keras.layers.Layer):
    """Fixed DCT resize to a constant size (see `keras_resolution.dct_resize`).

    Each spatial axis keeps its lowest `min(d_in, d_out)` orthonormal DCT-II
    coefficients (zero-padded up to `d_out`) and is inverted at size
    `d_out`, with the amplitude scaled by `sqrt(d_out / d_in)` so a constant
    map keeps its value. No taper and no weights. An axis already at its
    target size is passed through unchanged.

    Args:
        size: Target size per spatial axis: `(height, width)` for 4D inputs,
            `(length,)` for 3D inputs.
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(batch, length, channels)`
        (channels first with `data_format="channels_first"`).

    Output shape:
        The same, with the spatial axes replaced by `size`.

    Example:

    >>> DCTResize((40, 40))(keras.ops.ones((1, 37, 52, 8))).shape
    (1, 40, 40, 8)
    """

    def __init__(self, size, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(v) for v in size)
        if any(v < 1 for v in self.size):
            raise ValueError(f"`size` entries must be >= 1, got {size}.")
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        return dct_resize(inputs, self.size, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, size in zip(spatial_axes(len(shape), self.data_format), self.size):
            shape[axis] = size
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="keras_resolution")
class AlignToMaxShape(keras.layers.Layer):
    """DCT-resizes a list of branches to their largest size on each axis,
    the paper's rule before a concatenation.

    The target is `(max(h_i), max(w_i))` (or `max(length_i)` in 1D), taken
    per axis, so a branch may be upsampled on one axis and left unchanged on
    the other. Each branch is resized as `DCTResize` does; a branch already
    at the target is returned unchanged.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        A list of tensors of the same rank, 3D or 4D.

    Output shape:
        A list of tensors with the same spatial shape, each keeping its
        batch and channel sizes.

    Example:

    >>> a, b = keras.ops.ones((1, 20, 30, 4)), keras.ops.ones((1, 25, 10, 4))
    >>> [t.shape for t in AlignToMaxShape()([a, b])]
    [(1, 25, 30, 4), (1, 25, 30, 4)]
    """

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        return align_to_max_shape(list(inputs), self.data_format)

    def compute_output_shape(self, input_shape):
        axes = spatial_axes(len(input_shape[0]), self.data_format)
        target = {}
        for axis in axes:
            sizes = [shape[axis] for shape in input_shape]
            target[axis] = None if None in sizes else max(sizes)
        return [
            tuple(target.get(axis, dim) for axis, dim in enumerate(shape))
            for shape in input_shape
        ]

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
