"""DiffStride2D: spectral pooling with a learned stride (Riad et al., ICLR 2022).

A Keras 3 port of the official `DiffStride` layer
(google-research/diffstride, `diffstride/pooling.py`), reproducing what that
code computes, including where it departs from a naive reading of the paper
(docs/comparators-diffstride.md lists every choice):

* the ramp of the mask lies *outside* the nominal size `H / S`, so a 64x64
  map at strides (2, 4) comes out 40x24, not 32x16;
* the width cut-off has a `+ 1`, and the output width is always even;
* the vertical positions follow the official `fftshift` convention, which
  is not symmetric in the frequency sign;
* the amplitude gain is `H W / (h w)` (the `irfft2d` normalisation).

The official code clamps the stride to `H / (H - R)` with an `assign` inside
`call`; here a constraint does it after every optimizer step, and `call`
clamps with a straight-through identity, so the values and the gradients
are the official ones.
"""

import keras
import numpy as np
from keras import ops

from keras_resolution.complexity_definitions import measure
from keras_resolution.constraints import ScaleBounds
from keras_resolution.layer import check_positive_finite
from keras_resolution.layer import concrete_value
from keras_resolution.layer import jit_follows_static_sizes
from keras_resolution.layer import mark_scale_variable
from keras_resolution.layer import sizes_from_host
from keras_resolution.resize import spatial_axes
from keras_resolution.resize import standardize_data_format
from keras_resolution.spectral_pooling import check_strides
from keras_resolution.spectral_pooling import full_complexity_of
from keras_resolution.spectral_pooling import kept_rows
from keras_resolution.spectral_pooling import spectral_crop

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _xp(*values):
    """NumPy for host values, keras.ops for tensors (same float32 arithmetic)."""
    flat = [v for value in values for v in (value if isinstance(value, (list, tuple)) else [value])]
    return np if all(isinstance(v, (int, np.ndarray, np.generic)) for v in flat) else ops


def _f32(value, xp):
    return np.float32(value) if xp is np else ops.cast(value, "float32")


def thresholds(height, width, strides):
    """Official `lower_height` and `upper_width` for strides `(S_h, S_w)`.

    `lower_height = max(H / S_h, 2) / 2`, `upper_width = max(W / S_w, 2) / 2
    + 1`, in float32 (NumPy for host values, tensors otherwise).
    """
    xp = _xp(height, width, strides)
    two = _f32(2.0, xp)
    strided_height = xp.maximum(_f32(height, xp) / strides[0], two)
    strided_width = xp.maximum(_f32(width, xp) / strides[1], two)
    return strided_height / two, strided_width / two + _f32(1.0, xp)


def kept_bins(height, width, strides, smoothness, cropping=True):
    """`(low, high, columns)`: the rows `[0, low) + [H - high, H)` and the
    real-DFT columns `[0, columns)` that the official forward pass keeps at
    strides `(S_h, S_w)`: with `cropping`, those where its mask is above 0;
    without, all of them (`H // 2`, `H - H // 2`, `W // 2 + 1`).

    A position `p` is kept when `R + T - p > 0` (`T` from `thresholds`), so
    `ceil(R + T)` positions are; the vertical positions (see
    `vertical_positions`) give `low` and `high` from that count. Ints (host
    sizes and NumPy float32 strides) or int tensors (graph).
    """
    if not cropping:
        return height // 2, height - height // 2, width // 2 + 1
    lower_height, upper_width = thresholds(height, width, strides)
    xp = _xp(height, width, lower_height, upper_width)
    if xp is np:
        count_h = int(np.ceil(np.float32(smoothness) + lower_height))
        count_w = int(np.ceil(np.float32(smoothness) + upper_width))
        minimum = min
    else:
        count_h = ops.cast(ops.ceil(smoothness + lower_height), "int32")
        count_w = ops.cast(ops.ceil(smoothness + upper_width), "int32")
        minimum = ops.minimum
    low = minimum(count_h - height % 2, height // 2)
    high = minimum(count_h, height - height // 2)
    return low, high, minimum(count_w, width // 2 + 1)


def vertical_positions(rows, height):
    """Official mask positions of full-DFT rows `rows` of a height-`H` map.

    The official code builds `[m-1 .. 0, 0 .. m-1]` (even `H = 2m`) or
    `[m .. 1, 0, 1 .. m]` (odd `H = 2m + 1`) and applies `fftshift`, which
    gives row `k` the position `k + H % 2` for `k < H // 2` and `H - 1 - k`
    otherwise: frequency `-j` sits at `j - 1`, and for odd `H` frequency
    `+j` at `j + 1`.
    """
    rows = ops.cast(rows, "int32")
    position = ops.where(rows < height // 2, rows + height % 2, height - 1 - rows)
    return ops.cast(position, "float32")


def adaptive_span_mask(threshold, smoothness, positions):
    """Official `compute_adaptive_span_mask`: `clip((R + T - p) / R, 0, 1)`."""
    return ops.clip((1.0 / smoothness) * ((smoothness + threshold) - positions), 0.0, 1.0)


def kept_spectrum(height, width, strides, bins, smoothness):
    """What the official forward pass keeps of the 2-D spectrum at strides
    `(S_h, S_w)`, given its `kept_bins`: `(rows, columns, output_size,
    row_mask, column_mask)`, the arguments of
    `keras_resolution.spectral_pooling.spectral_crop`.

    `DiffStride2D.call` computes it from its strides (the masks carry their
    gradient), `FrozenDiffStride2D` once from constant ones.

    Args:
        height, width: The input's spatial sizes (ints or int tensors).
        strides: `(S_h, S_w)`, float32 tensors or NumPy float32.
        bins: `(low, high, columns)` from `kept_bins`.
        smoothness: Ramp length `R`.

    Returns:
        The kept full-DFT rows, the number of kept real-DFT columns, the
        inverse's size (`inverse_size`) and the two masks (float32
        tensors).
    """
    low, high, columns = bins
    # lower_height = strided_height / 2; upper_width = strided_width / 2 + 1
    lower_height, upper_width = (
        ops.cast(value, "float32") for value in thresholds(height, width, strides)
    )
    rows = kept_rows(height, low, high)  # vertical_to_keep, horizontal_to_keep
    # compute_adaptive_span_mask(lower_height, R, fftshift'ed vertical_positions)
    row_mask = adaptive_span_mask(lower_height, smoothness, vertical_positions(rows, height))
    # compute_adaptive_span_mask(upper_width, R, horizontal_positions)
    column_mask = adaptive_span_mask(upper_width, smoothness, ops.arange(columns, dtype="float32"))
    return rows, columns, inverse_size(bins), row_mask, column_mask


def inverse_size(bins):
    """`(low + high, 2 (columns - 1))`: the size NumPy's `irfft2` (and the
    official `irfft2d`) gives the kept bins `(low, high, columns)` by
    default."""
    low, high, columns = bins
    return low + high, 2 * (columns - 1)


def check_input_size(sizes, smoothness, argument="inputs"):
    """ValueError naming `argument` unless every static size in `sizes` is
    at least 2 and exceeds `smoothness` (so the stride's lower bound
    `H / (H - R)` exists)."""
    static = [d for d in sizes if isinstance(d, int)]
    if any(d <= smoothness or d < 2 for d in static):
        raise ValueError(
            f"`{argument}`: height and width must be at least 2 and exceed "
            f"`smoothness` (R = {smoothness:g}), so that the stride's "
            f"lower bound H / (H - R) exists; got {tuple(sizes)}."
        )


@keras.saving.register_keras_serializable(package="keras_resolution")
class DiffStride2D(keras.layers.Layer):
    """Spectral pooling whose stride is learned by backpropagation (DiffStride).

    The official forward pass (`diffstride/pooling.py`), for an input of
    height `H`, width `W`, trainable strides `S = (S_h, S_w)` and
    smoothness `R`:

    1. `T_h = max(H / S_h, 2) / 2` and `T_w = max(W / S_w, 2) / 2 + 1`;
    2. masks `m(T, p) = clip((R + T - p) / R, 0, 1)` on the real-DFT columns
       `p = 0 .. W // 2` and on the rows of the full DFT along the height,
       at the official positions (`vertical_positions`);
    3. `X = rfft2(x) * (m_h outer m_w)`;
    4. with `cropping=True`, only the rows and columns where the mask is
       above 0 are kept (integer indices, no gradient);
    5. `y = irfft2(X)` with NumPy's default size: `h x 2 (n_w - 1)`.

    So the output is `h = min(H, 2 ceil(T_h + R) - H % 2)` by
    `w = min(2 (W // 2), 2 ceil(T_w + R) - 2)`: about `H / S + 2R`, the ramp
    lying outside the nominal size (64x64 at strides (2, 4) gives 40x24).
    A constant map is multiplied by `H W / (h w)`. The strides get gradients
    only through the mask values on the ramps (`dm/dT = 1/R` there, and
    `dT/dS = -H / (2 S^2)` while `H / S > 2`). The layer cannot upsample.

    The strides are kept in `[max(lower_limit_stride, H / (H - R)),
    upper_limit_stride]` (per axis; with `shared_stride`, the larger of the
    two lower bounds) by a constraint that Keras optimizers apply after each
    update, and by a straight-through clamp in `call` for input sizes other
    than the built ones, where the official code assigns to the variable.

    How sizes are obtained is the mechanism of `ResolutionLayer`: read from
    the value of the strides in eager execution (PyTorch, JAX without jit,
    TensorFlow eager); int tensors inside TensorFlow graphs (`model.fit`
    without XLA); with `static_sizes=True`, Python ints refreshed between
    compiled steps by `keras_resolution.SizeRefresh`.

    The `strides` variable is marked as a learned resolution rate
    (`is_scale_variable`), so `ResolutionSGD` and `ResolutionAdam` apply
    their `scale_learning_rate_factor` to it.

    Args:
        strides: Initial strides, a number or `(S_h, S_w)`, finite and >= 1.
        smoothness: Ramp length `R` (official `smoothness_factor`), > 0.
        cropping: Keep only the bins where the mask is above 0 (True), or
            keep every bin, masked (False: the output is `H x 2 (W // 2)`).
        shared_stride: One stride for both axes (then `strides` must have
            equal entries).
        lower_limit_stride: Lower limit of the strides (None: 1.0).
        upper_limit_stride: Upper limit of the strides (None: float32 max).
        data_format: `"channels_last"` (default) or `"channels_first"`;
            None means `keras.config.image_data_format()`.
        static_sizes: Keep integer sizes as Python state for compiled steps
            (JAX jit, TensorFlow XLA), with `SizeRefresh`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first with
        `data_format="channels_first"`); height and width above `R`.

    Output shape:
        `(batch, h, w, channels)` as above.

    Example:

    >>> DiffStride2D((2.0, 4.0))(keras.ops.ones((1, 64, 64, 3))).shape
    (1, 40, 24, 3)
    """

    rank = 2  # Resized axes (`keras_resolution.ComplexityLayer`).

    def __init__(
        self,
        strides=(2.0, 2.0),
        smoothness=4.0,
        cropping=True,
        shared_stride=False,
        lower_limit_stride=None,
        upper_limit_stride=None,
        data_format=None,
        static_sizes=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.initial_strides = check_strides(strides)
        self.smoothness = check_positive_finite("smoothness", smoothness)
        self.cropping = bool(cropping)
        self.shared_stride = bool(shared_stride)
        if self.shared_stride and self.initial_strides[0] != self.initial_strides[1]:
            raise ValueError(
                "`strides` must have equal entries with `shared_stride=True`, got "
                f"{strides!r}."
            )
        self.lower_limit_stride = (
            None if lower_limit_stride is None
            else check_strides(lower_limit_stride, "lower_limit_stride")[0]
        )
        self.upper_limit_stride = (
            None if upper_limit_stride is None
            else check_strides(upper_limit_stride, "upper_limit_stride")[0]
        )
        low, high = self._limits()
        if not all(low <= s <= high for s in self.initial_strides):
            raise ValueError(
                f"`strides`={strides!r} lies outside [lower_limit_stride, "
                f"upper_limit_stride] = [{low:g}, {high:g}]."
            )
        self.data_format = standardize_data_format(data_format)
        self.axes = spatial_axes(4, self.data_format)
        self.static_sizes = bool(static_sizes)
        self._refreshed_strides = None
        self._size_refresh_active = False

    supports_jit = jit_follows_static_sizes

    def _limits(self):
        low = 1.0 if self.lower_limit_stride is None else self.lower_limit_stride
        high = _FLOAT32_MAX if self.upper_limit_stride is None else self.upper_limit_stride
        return low, high

    def stride_bounds(self, height, width):
        """Per-stride `(lower, upper)` lists for an input of these sizes:
        `max(lower_limit, H / (H - R))` (and `W / (W - R)`), in float32."""
        low, high = self._limits()
        minimum = [low, low]
        for axis, size in enumerate((height, width)):
            if size is not None:
                bound = np.float32(size) / (np.float32(size) - np.float32(self.smoothness))
                minimum[axis] = max(low, float(bound))
        if self.shared_stride:
            return [max(minimum)], [high]
        return minimum, [high, high]

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"DiffStride2D expects 4D `inputs`, got shape {tuple(input_shape)}.")
        sizes = [input_shape[axis] for axis in self.axes]
        check_input_size(sizes, self.smoothness)
        lower, upper = self.stride_bounds(*sizes)
        initial = np.asarray(self.initial_strides[: len(lower)], "float32")
        initial = np.clip(initial, lower, upper).astype("float32")
        self.strides = self.add_weight(
            name="strides",
            shape=(len(lower),),
            initializer=keras.initializers.Constant(initial),
            constraint=ScaleBounds(lower, upper),
            trainable=True,
            autocast=False,
        )
        mark_scale_variable(self, "strides")
        self.input_size = self.add_weight(
            name="input_size",
            shape=(2,),
            initializer=keras.initializers.Constant([d or 0 for d in sizes]),
            trainable=False,
            dtype="int32",
            aggregation="only_first_replica",
        )
        self._refreshed_strides = initial
        self.nominal_input_sizes = sizes


    # ----------------------------------------------------------------- strides
    def _per_axis(self, strides):
        return (strides[0], strides[0]) if self.shared_stride else (strides[0], strides[1])

    def effective_strides(self, height, width):
        """The strides the forward pass uses, as tensors: the variable
        clamped to `stride_bounds` of these sizes (the official in-call
        `assign` and `StrideConstraint`), with the gradient of the identity."""
        s_h, s_w = self._per_axis(self.strides)
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        low, high = self._limits()
        bound_h = ops.maximum(h / (h - self.smoothness), low)
        bound_w = ops.maximum(w / (w - self.smoothness), low)
        if self.shared_stride:
            bound_h = bound_w = ops.maximum(bound_h, bound_w)
        clamped = [
            ops.minimum(ops.maximum(ops.stop_gradient(s), bound), high)
            for s, bound in ((s_h, bound_h), (s_w, bound_w))
        ]
        return [c + (s - ops.stop_gradient(s)) for c, s in zip(clamped, (s_h, s_w))]

    def strides_for(self, height, width):
        """The values of `effective_strides` for inputs of these sizes, as
        Python floats: the strides of a `FrozenDiffStride2D` for them."""
        return [float(ops.convert_to_numpy(s)) for s in self.effective_strides(height, width)]

    def _host_strides(self, height, width, strides):
        """`effective_strides` in NumPy float32, from concrete strides."""
        lower, upper = self.stride_bounds(height, width)
        strides = np.clip(np.asarray(strides, "float32"), lower, upper).astype("float32")
        return self._per_axis(strides)

    def _host_bins(self, height, width, strides):
        strides = self._host_strides(height, width, strides)
        return kept_bins(height, width, strides, self.smoothness, self.cropping)

    def _bins(self, height, width, strides, training):
        """(low, high, columns): Python ints, or int tensors in TF graphs."""
        static = isinstance(height, int) and isinstance(width, int)
        concrete = concrete_value(self.strides) if static else None
        if concrete is not None:
            self._refreshed_strides = concrete
        if sizes_from_host(
            self, (height, width), training, concrete is not None, "`strides`",
            follows_rate=self.cropping,
        ):
            return self._host_bins(height, width, self._refreshed_strides)
        strides = [ops.stop_gradient(s) for s in strides]
        return kept_bins(height, width, strides, self.smoothness, self.cropping)

    # ----------------------------------------------------------------- forward
    def call(self, inputs, training=None):
        """The official `DiffStride.call`, one step per line (its names in
        the comments)."""
        shape = ops.shape(inputs)
        height, width = shape[self.axes[0]], shape[self.axes[1]]
        check_input_size([height, width], self.smoothness)
        self.input_size.assign(ops.cast(ops.stack([height, width]), "int32"))
        # strides[i].assign(max(strides[i], min_stride)); strides.constraint(...)
        strides = self.effective_strides(height, width)
        # vertical_to_keep, horizontal_to_keep = tf.where(mask > 0), stop_gradient
        bins = self._bins(height, width, strides, training)
        # the thresholds, the kept rows and columns and their masks
        spectrum = kept_spectrum(height, width, strides, bins, self.smoothness)
        # irfft2d(gather(rfft2d(inputs) * masks))
        return spectral_crop(inputs, *spectrum, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        sizes = [shape[axis] for axis in self.axes]
        out = (None, None)
        if None not in sizes:
            strides = self._refreshed_strides
            if strides is None:  # Not built yet.
                strides = self.initial_strides[:1] if self.shared_stride else self.initial_strides
            out = self._output_sizes_for(sizes, strides)
        for axis, size in zip(self.axes, out):
            shape[axis] = size
        return tuple(shape)

    def _output_sizes_for(self, sizes, strides):
        return inverse_size(self._host_bins(int(sizes[0]), int(sizes[1]), strides))

    @property
    def output_sizes(self):
        """`(h, w)` for the last recorded input size and the current strides."""
        sizes = ops.convert_to_numpy(self.input_size).tolist()
        return self._output_sizes_for(sizes, ops.convert_to_numpy(self.strides))

    def refresh_sizes(self):
        """Reads the strides (between steps) for compiled steps; True if a
        size changed."""
        sizes = ops.convert_to_numpy(self.input_size).tolist()
        old = self._output_sizes_for(sizes, self._refreshed_strides)
        self._refreshed_strides = ops.convert_to_numpy(self.strides)
        return self.output_sizes != old

    # -------------------------------------------------------------- complexity
    def target_lengths(self):
        """Continuous output sizes, differentiable in the strides:
        `min(H, 2 (T_h + R) - H % 2)` and `min(2 (W // 2), 2 (T_w + R) - 2)`.

        The realised sizes are these with `T + R` rounded up (at most 2
        more per axis), so they play the part of a Resolution layer's `q`.
        """
        height, width = self.input_size[0], self.input_size[1]
        lower_height, upper_width = thresholds(height, width, self.effective_strides(height, width))
        R = self.smoothness
        if not self.cropping:
            return [ops.cast(height, "float32"), ops.cast(2 * (width // 2), "float32")]
        q_h = ops.minimum(2.0 * (lower_height + R) - ops.cast(height % 2, "float32"),
                          ops.cast(height, "float32"))
        q_w = ops.minimum(2.0 * (upper_width + R) - 2.0, ops.cast(2 * (width // 2), "float32"))
        return [q_h, q_w]

    def complexity(self, definition="linear"):
        """This layer's complexity from `target_lengths` (differentiable in
        the strides), measured by `definition` (`"linear"` or `"area"`)."""
        return measure(self.target_lengths(), definition)

    def full_complexity(self, definition="linear"):
        """The built input sizes measured by `definition` (stride 1, no
        pooling), as a Python float."""
        return full_complexity_of(self, definition)

    def learned_rates(self):
        """`{"stride": [S_h, S_w]}` as floats, for the complexity logs."""
        strides = ops.convert_to_numpy(self.strides).astype(float).tolist()
        return {"stride": strides * 2 if self.shared_stride else strides}

    # ----------------------------------------------------------- serialization
    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._refreshed_strides = ops.convert_to_numpy(self.strides)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "strides": list(self.initial_strides),
                "smoothness": self.smoothness,
                "cropping": self.cropping,
                "shared_stride": self.shared_stride,
                "lower_limit_stride": self.lower_limit_stride,
                "upper_limit_stride": self.upper_limit_stride,
                "data_format": self.data_format,
                "static_sizes": self.static_sizes,
            }
        )
        return config

