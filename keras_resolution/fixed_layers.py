"""Keras layers for the fixed (parameter-free) resizes.

Inside a model whose sizes follow learned scales, the spatial sizes of a
tensor are only known when the model runs, not when it is built. The DCT
resizes (`DCTResize`, `AlignToMaxShape`) read them in `call`, so the resize
is recorded in the functional graph even when the build-time shapes already
agree.

`FrozenResolutionLayer`, `FrozenDiffStride2D` and `FrozenSafeSubsample`
are the other way round: a learned layer at constant rates and one input
size, its matrices or indices computed once, its output shape static.
`keras_resolution.freeze` puts them in place of the learned layers of a
trained model.
"""

import keras
import numpy as np
from keras import ops

from keras_resolution import resize
from keras_resolution import transforms
from keras_resolution.diffstride import check_input_size
from keras_resolution.diffstride import kept_bins
from keras_resolution.diffstride import kept_spectrum
from keras_resolution.layer import check_positive_finite
from keras_resolution.layer import check_size_bounds
from keras_resolution.layer import output_sizes_for
from keras_resolution.layer import resolution_matrices
from keras_resolution.resize import align_to_max_shape
from keras_resolution.resize import dct_resize
from keras_resolution.resize import spatial_axes
from keras_resolution.resize import standardize_data_format
from keras_resolution.safe_subsample import nearest_indices
from keras_resolution.spectral_pooling import apply_spectral_crop
from keras_resolution.spectral_pooling import check_strides
from keras_resolution.spectral_pooling import spectral_crop_operators


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

    def is_identity(self, input_shape):
        """Whether inputs of this shape already have the target size, so
        the layer returns them unchanged (False while a size is unknown)."""
        axes = spatial_axes(len(input_shape), self.data_format)
        return tuple(input_shape[axis] for axis in axes) == self.size

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

    def is_identity(self, input_shape):
        """Whether branches of these shapes (a list) already share their
        known spatial sizes, so the layer returns them unchanged."""
        axes = spatial_axes(len(input_shape[0]), self.data_format)
        sizes = {tuple(shape[axis] for axis in axes) for shape in input_shape}
        return len(sizes) == 1 and None not in next(iter(sizes))

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


def _input_size_argument(input_size, rank=None):
    """`input_size` as a tuple of ints >= 1 (of length `rank` if given),
    else a ValueError naming it."""
    values = input_size if isinstance(input_size, (list, tuple)) else (input_size,)
    lengths = (rank,) if rank else (1, 2)
    if len(values) not in lengths or any(
        isinstance(v, bool) or int(v) != v or v < 1 for v in values
    ):
        raise ValueError(
            f"`input_size` must be {' or '.join(map(str, lengths))} integers >= 1, "
            f"got {input_size!r}."
        )
    return tuple(int(v) for v in values)


class FrozenResize(keras.layers.Layer):
    """Base class of the frozen layers: a resize for one input size, whose
    output size is known when it is constructed.

    Subclasses set `input_size` and `output_size` (tuples of ints, one
    entry per resized axis); this class checks the inputs in `build` and
    gives the static output shape.

    Args:
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)

    @property
    def axes(self):
        """The resized axes of the inputs (`spatial_axes`)."""
        return spatial_axes(len(self.input_size) + 2, self.data_format)

    def build(self, input_shape):
        rank = len(self.input_size)
        if len(input_shape) != rank + 2:
            raise ValueError(
                f"{self.name}: `inputs` must have rank {rank + 2}, got shape "
                f"{tuple(input_shape)}."
            )
        sizes = tuple(input_shape[axis] for axis in self.axes)
        if sizes != self.input_size:
            raise ValueError(
                f"{self.name}: `inputs` must have the spatial sizes {self.input_size} it was "
                f"frozen for, got shape {tuple(input_shape)}."
            )

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, size in zip(self.axes, self.output_size):
            shape[axis] = size
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "input_size": list(self.input_size),
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="keras_resolution")
class FrozenResolutionLayer(FrozenResize):
    """A `ResolutionLayer` at a constant scale, for one input size.

    For an input of spatial sizes `input_size`, a `ResolutionLayer` whose
    `scale` holds `s` outputs `ceil(d_in * s)` per axis (clipped to
    `[min_size, max_size]`) and multiplies each axis by the matrix `M(q)`
    of `keras_resolution.resize_matrix`. This layer computes those sizes and
    matrices once, when it is constructed, with the same functions and the
    same float arithmetic, and applies the matrices as constants: its
    outputs are the Resolution layer's, its output shape is static, and it
    has no weights. `keras_resolution.freeze` puts one in place of each
    Resolution layer of a trained model.

    At `s = 1` it is not an identity: the paper's taper attenuates the
    highest `taper - 1` kept coefficients, so a frozen layer is kept
    whatever its scale.

    Args:
        input_size: The input's `(length,)` or `(height, width)`; the layer
            accepts only inputs of these sizes.
        scale: The scale `s`, a float or one float per axis (the value of a
            Resolution layer's `scale` variable).
        transform: `"dct"` or `"dft"`, as for `ResolutionLayer`.
        taper: Taper length `l` of the relaxed mask, as for
            `ResolutionLayer`.
        gradient: `"exact"` or `"literal"`, as for `ResolutionLayer` (it
            selects the synthesis basis, which differs between integer
            sizes).
        min_size: Smallest output length per axis (>= 1).
        max_size: Largest output length per axis, or None.
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...). The
            matrices are computed in the policy's variable dtype (float32,
            as a Resolution layer's scale), and applied in its compute
            dtype.

    Input shape:
        `(batch, *input_size, channels)` (channels first with
        `data_format="channels_first"`).

    Output shape:
        The same, with the spatial axes replaced by `output_size`.

    Example:

    >>> layer = FrozenResolutionLayer((40, 30), scale=(0.5, 0.7))
    >>> layer.output_size
    (20, 21)
    >>> layer(keras.ops.ones((2, 40, 30, 8))).shape
    (2, 20, 21, 8)
    """

    def __init__(
        self,
        input_size,
        scale,
        transform="dct",
        taper=4.0,
        gradient="exact",
        min_size=1,
        max_size=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.input_size = _input_size_argument(input_size)
        rank = len(self.input_size)
        scales = list(scale) if isinstance(scale, (list, tuple)) else [scale] * rank
        if len(scales) != rank:
            raise ValueError(
                f"`scale` must be a float or {rank} floats for `input_size` "
                f"{self.input_size}, got {scale!r}."
            )
        self.scale = tuple(check_positive_finite("scale", s) for s in scales)
        self.transform = transforms.check_transform(transform)
        self.taper = check_positive_finite("taper", taper)
        self.gradient = resize.check_gradient(gradient)
        self.min_size, self.max_size = check_size_bounds(min_size, max_size)
        self.output_size = output_sizes_for(
            self.input_size,
            np.asarray(self.scale, self.variable_dtype),
            self.min_size,
            self.max_size,
        )
        # `ResolutionLayer.call`'s matrices, once, at the constant scale.
        matrices = resolution_matrices(
            self.input_size,
            [ops.convert_to_tensor(s, self.variable_dtype) for s in self.scale],
            self.output_size,
            taper=self.taper,
            transform=self.transform,
            gradient=self.gradient,
            min_size=self.min_size,
            max_size=self.max_size,
        )
        self._matrices = tuple(ops.convert_to_numpy(m) for m in matrices)

    @property
    def matrices(self):
        """The constant `(d_out, d_in)` matrix of each resized axis (NumPy)."""
        return self._matrices

    def call(self, inputs):
        matrices = [ops.convert_to_tensor(matrix) for matrix in self._matrices]
        return resize.apply_along_axes(inputs, matrices, self.axes)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": list(self.scale),
            "transform": self.transform,
            "taper": self.taper,
            "gradient": self.gradient,
            "min_size": self.min_size,
            "max_size": self.max_size,
        }


@keras.saving.register_keras_serializable(package="keras_resolution")
class FrozenDiffStride2D(FrozenResize):
    """A `DiffStride2D` at constant strides, for one input size.

    For an input of `(height, width)` = `input_size` and the strides `S`
    that `DiffStride2D`'s forward pass uses (its learned strides clamped to
    their bounds for this size, `DiffStride2D.effective_strides`), the
    official forward pass keeps fixed rows and columns of the 2-D spectrum,
    weights them by fixed masks and inverts at a fixed size: a fixed linear
    map `y = M_re x K_re - M_im x K_im` (`keras_resolution.spectral_pooling`).
    This layer computes the kept bins, the masks and the four matrices once,
    when it is constructed, with `DiffStride2D`'s functions, and applies
    them as constants: its outputs are the DiffStride layer's, its output
    shape is static, and it has no weights.

    Args:
        input_size: The input's `(height, width)`; the layer accepts only
            inputs of these sizes.
        strides: The strides `(S_h, S_w)` of the forward pass, finite and
            >= 1.
        smoothness: Ramp length `R` of the masks, as for `DiffStride2D`.
        cropping: As for `DiffStride2D`: keep only the bins where the mask
            is above 0 (True), or every bin, masked.
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first with
        `data_format="channels_first"`).

    Output shape:
        `(batch, *output_size, channels)`.

    Example:

    >>> FrozenDiffStride2D((64, 64), (2.0, 4.0)).output_size
    (40, 24)
    """

    def __init__(
        self,
        input_size,
        strides,
        smoothness=4.0,
        cropping=True,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.input_size = _input_size_argument(input_size, rank=2)
        self.strides = check_strides(strides)
        self.smoothness = check_positive_finite("smoothness", smoothness)
        self.cropping = bool(cropping)
        height, width = self.input_size
        check_input_size(self.input_size, self.smoothness, "input_size")
        # The steps of `DiffStride2D.call`, once, at constant strides.
        strides = tuple(np.float32(s) for s in self.strides)
        bins = kept_bins(height, width, strides, self.smoothness, self.cropping)
        rows, columns, output_size, row_mask, column_mask = kept_spectrum(
            height, width, strides, bins, self.smoothness
        )
        self.output_size = tuple(int(size) for size in output_size)
        width_matrix, height_matrices = spectral_crop_operators(
            height, width, rows, columns, self.output_size, row_mask, column_mask
        )
        self._width_matrix = ops.convert_to_numpy(width_matrix)
        self._height_matrices = tuple(ops.convert_to_numpy(m) for m in height_matrices)

    def call(self, inputs):
        return apply_spectral_crop(
            inputs,
            ops.convert_to_tensor(self._width_matrix),
            tuple(ops.convert_to_tensor(m) for m in self._height_matrices),
            self.data_format,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "strides": list(self.strides),
            "smoothness": self.smoothness,
            "cropping": self.cropping,
        }


@keras.saving.register_keras_serializable(package="keras_resolution")
class FrozenSafeSubsample(FrozenResize):
    """A `SafeSubsample` at a constant sigma, for one input size: a fixed
    nearest-neighbour resize.

    Takes the rows and columns that `SafeSubsample` takes for an input of
    `input_size` when its sigma gives `output_size`: source index
    `floor(j H / h)` per axis (PyTorch's `F.interpolate(mode="nearest")`,
    `keras_resolution.safe_subsample.nearest_indices`), as constants. No
    weights; static output shape.

    Args:
        input_size: The input's `(height, width)`; the layer accepts only
            inputs of these sizes.
        output_size: `(h, w)`, each at least 1.
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> FrozenSafeSubsample((32, 32), (16, 16))(keras.ops.ones((1, 32, 32, 3))).shape
    (1, 16, 16, 3)
    """

    def __init__(self, input_size, output_size, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.input_size = _input_size_argument(input_size, rank=2)
        try:
            self.output_size = _input_size_argument(output_size, rank=2)
        except ValueError:
            raise ValueError(
                f"`output_size` must be 2 integers >= 1, got {output_size!r}."
            ) from None
        self._indices = tuple(
            nearest_indices(d_in, d_out) for d_in, d_out in zip(self.input_size, self.output_size)
        )

    def call(self, inputs):
        outputs = inputs
        for axis, indices in zip(self.axes, self._indices):
            outputs = ops.take(outputs, indices, axis=axis)
        return outputs

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size)}
