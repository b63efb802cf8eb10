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


@keras.saving.register_keras_serializable(package="keras_resolution")
class DCTResize(keras.layers.Layer):
    """Fixed DCT resize to a constant size (see `keras_resolution.dct_resize`).

    Args:
        size: Target size per spatial axis, e.g. `(40, 40)`.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Example:

    >>> DCTResize((40, 40))(keras.ops.ones((1, 37, 52, 8))).shape
    (1, 40, 40, 8)
    """

    def __init__(self, size, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(v) for v in size)
        if any(v < 1 for v in self.size):
            raise ValueError(f"`size` entries must be >= 1, got {size}.")
        self.data_format = data_format

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

    Example:

    >>> a, b = keras.ops.ones((1, 20, 30, 4)), keras.ops.ones((1, 25, 10, 4))
    >>> [t.shape for t in AlignToMaxShape()([a, b])]
    [(1, 25, 30, 4), (1, 25, 30, 4)]
    """

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

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
