"""ResolutionLayer: a resize whose output length, height and width are learned."""

import math
import weakref

import numpy as np
import keras
from keras import ops

from keras_resolution import resize
from keras_resolution import complexity_definitions
from keras_resolution import transforms
from keras_resolution.constraints import ScaleBounds


# Attribute set on the `scale` variable that a ResolutionLayer creates (and on
# a DiffStride2D's `strides`): a weak reference to that layer and the name of
# the attribute holding the variable. `is_scale_variable` follows it back, so
# the scales are recognised by identity, not by their name (Keras's
# RMSNormalization and Attention also name a variable "scale").
_OWNER_ATTRIBUTE = "_keras_resolution_owner"


def mark_scale_variable(layer, attribute):
    """Marks `layer.<attribute>` as a learned resolution rate of `layer`.

    `ResolutionLayer` marks its `scale` and `DiffStride2D` its `strides`;
    `is_scale_variable` then recognises them, and `ResolutionSGD` /
    `ResolutionAdam` give them their learning-rate factor.
    """
    setattr(getattr(layer, attribute), _OWNER_ATTRIBUTE, (weakref.ref(layer), attribute))


def is_scale_variable(variable):
    """Whether `variable` is a learned resolution rate: the scale `s` of a
    `ResolutionLayer` or the strides `S` of a `DiffStride2D`.

    Such a layer marks the variable it creates in `build()` with a
    reference to itself and the attribute that holds it
    (`mark_scale_variable`); this function returns True only for a variable
    so marked whose layer still holds it under that attribute. Variables of
    other layers are never selected, whatever their name. A loaded model
    builds its layers again, so its rates carry the mark too.

    Args:
        variable: A `keras.Variable` (or any object).

    Returns:
        bool.

    Example:

    >>> layer = ResolutionLayer(0.5)
    >>> _ = layer(keras.ops.ones((1, 8, 8, 2)))
    >>> is_scale_variable(layer.scale)
    True
    >>> norm = keras.layers.RMSNormalization()
    >>> _ = norm(keras.ops.ones((1, 8, 2)))
    >>> norm.scale.name, is_scale_variable(norm.scale)
    ('scale', False)
    """
    mark = getattr(variable, _OWNER_ATTRIBUTE, None)
    if mark is None:
        return False
    owner, attribute = mark
    layer = owner()
    return layer is not None and getattr(layer, attribute, None) is variable


def check_positive_finite(name, value):
    """`value` as a float; ValueError naming `name` unless finite and > 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number, got {value!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be finite and > 0, got {value!r}.")
    return value


def check_size_bounds(min_size, max_size):
    """`(min_size, max_size)` as ints (`max_size` may be None); ValueError
    naming the argument unless `min_size` is an integer >= 1 and `max_size`
    None or an integer >= min_size."""
    if isinstance(min_size, bool) or int(min_size) != min_size or min_size < 1:
        raise ValueError(f"`min_size` must be an integer >= 1, got {min_size!r}.")
    if max_size is not None and (int(max_size) != max_size or max_size < min_size):
        raise ValueError(
            f"`max_size` must be None or an integer >= min_size, got {max_size!r}."
        )
    return int(min_size), None if max_size is None else int(max_size)


def output_sizes_for(input_sizes, scales, min_size=1, max_size=None):
    """Integer output sizes `ceil(d_in * s)` computed on the host.

    Uses the arithmetic of the graph (the dtype of `scales`, float32 unless
    the layer runs in float64), so host and graph agree on every `ceil`.

    Args:
        input_sizes: Sequence of input lengths (ints).
        scales: Sequence of scales, one per axis.
        min_size: Smallest allowed output length.
        max_size: Largest allowed output length, or `None`.

    Returns:
        Tuple of Python ints.
    """
    scales = np.asarray(scales)
    if scales.dtype != np.float64:
        scales = scales.astype(np.float32)
    sizes = []
    for d_in, s in zip(input_sizes, scales):
        q = np.clip(s.dtype.type(d_in) * s, min_size, max_size or np.inf)
        sizes.append(max(int(np.ceil(q)), 1))
    return tuple(sizes)


def _supports_jit(layer):
    # torch.compile cannot trace the cached NumPy bases; PyTorch runs eager.
    return layer.static_sizes and keras.backend.backend() != "torch"


def _keep_supports_jit(layer, value):
    pass  # Decided by `static_sizes`; Layer.__init__ assigns a default.


# `supports_jit` of every layer whose sizes follow a learned value: jit only
# with `static_sizes=True` (sizes refreshed by `SizeRefresh`), never on torch.
jit_follows_static_sizes = property(_supports_jit, _keep_supports_jit)


def concrete_value(variable):
    """The value of `variable` as NumPy when it is concrete here, else None.

    Concrete in eager execution, including JAX's eager `grad`; not inside a
    TensorFlow graph or a jit trace.
    """
    try:
        return ops.convert_to_numpy(ops.stop_gradient(variable.value))
    except Exception:  # Symbolic tensor or abstract tracer.
        return None


def sizes_from_host(layer, input_sizes, training, rate_is_concrete, rate, follows_rate=True):
    """Whether a layer whose integer output sizes follow a learned rate
    computes them on the host (Python ints) rather than in the graph.

    The mechanism shared by `ResolutionLayer`, `DiffStride2D` and
    `SafeSubsample`: with static input sizes, the host computes the sizes
    when the rate is concrete (eager execution), when `SizeRefresh` keeps
    its last value between compiled steps (`static_sizes=True`), and for a
    shape-only trace; otherwise a TensorFlow graph computes them as int
    tensors. Anything else cannot know the sizes and raises.

    Args:
        layer: The layer; its `name`, `static_sizes` and the
            `_size_refresh_active` flag that `SizeRefresh` sets are read.
        input_sizes: Its spatial input sizes (ints, or int tensors).
        training: The `training` argument of its call.
        rate_is_concrete: Whether the rate's value could be read here
            (`concrete_value` is not None); the layer then records it.
        rate: How the error messages name the rate (e.g. "`scale`").
        follows_rate: False when these sizes do not depend on the rate (a
            `DiffStride2D` without cropping): static input sizes suffice.

    Returns:
        True for host sizes, False for sizes computed in a TensorFlow graph.

    Raises:
        RuntimeError: in a compiled step whose sizes cannot be known.
    """
    traced_by_tensorflow = keras.backend.backend() == "tensorflow"
    if all(isinstance(d, int) for d in input_sizes):
        if (
            not rate_is_concrete
            and layer.static_sizes
            and training
            and not layer._size_refresh_active
        ):
            raise RuntimeError(
                f"{layer.name}: `static_sizes=True` is being traced for a "
                "compiled training step, but no keras_resolution."
                f"SizeRefresh callback is refreshing its sizes; its {rate} "
                "would move while the traced sizes stay fixed. Pass "
                "SizeRefresh() to fit(), or use static_sizes=False with "
                "jit_compile=False."
            )
        if rate_is_concrete or layer.static_sizes or not follows_rate or not (
            training or traced_by_tensorflow
        ):
            # Concrete, refreshed between steps, or a shape-only trace.
            return True
    if not traced_by_tensorflow:
        raise RuntimeError(
            f"{layer.name}: the output size depends on the value of {rate}, "
            "which is abstract in this compiled function. Compile with "
            "jit_compile=False (jit_compile='auto' does this), or build "
            "the layer with static_sizes=True and pass "
            "keras_resolution.SizeRefresh() to fit()."
        )
    return False


def resolution_matrices(
    input_sizes,
    scales,
    output_sizes,
    taper=4.0,
    transform="dct",
    gradient="exact",
    min_size=1,
    max_size=None,
):
    """The `(d_out, d_in)` matrix of each axis of a Resolution layer.

    Each scale is first clipped to `[min_size / d_in, max_size / d_in]`
    (so `q = d_in * s` stays within the size bounds), then Algorithm 1's
    matrix is built by `keras_resolution.resize.resize_matrix`, or, when
    every size is a Python int and there are several axes, all of them at
    once by `keras_resolution.resize.resize_matrices` (same values, fewer
    ops in a traced graph).
    `ResolutionLayer.call` uses it with its scale variable,
    `FrozenResolutionLayer` with constant scales, so both compute the same
    matrices.

    Args:
        input_sizes: Input length per axis (Python ints, or int tensors in
            TensorFlow graphs).
        scales: Scale `s` per axis: a `(axes,)` tensor or a sequence of
            scalar tensors (differentiable).
        output_sizes: Output length per axis, `ceil(d_in * s)` within the
            size bounds (`output_sizes_for`).
        taper, transform, gradient: As for `ResolutionLayer`.
        min_size, max_size: The size bounds, as for `ResolutionLayer`.

    Returns:
        List of matrices, in the dtype of the scales.

    Example:

    >>> scale = keras.ops.convert_to_tensor(0.75)
    >>> [tuple(m.shape) for m in resolution_matrices([20], [scale], [15])]
    [(15, 20)]
    """
    static = all(isinstance(d, int) for d in (*input_sizes, *output_sizes))
    build = _batched_matrices if static and len(input_sizes) > 1 else _per_axis_matrices
    return build(
        input_sizes, scales, output_sizes, taper, transform, gradient, min_size, max_size
    )


def _clip_scale(s, lower, upper, max_size):
    """`clip(s, lower, upper)`; without `max_size` the upper bound is
    infinite, and `maximum(s, lower)` alone has the same values and
    gradient with fewer ops."""
    if max_size is None:
        return ops.maximum(s, lower)
    return ops.clip(s, lower, upper)


def _batched_matrices(
    input_sizes, scales, output_sizes, taper, transform, gradient, min_size, max_size
):
    """`resolution_matrices` for static sizes: all axes in one batched
    computation (`resize.resize_matrices`), the scales as one `(axes,)`
    vector clipped by constant vectors (as `_per_axis_matrices` clips each)."""
    if isinstance(scales, (list, tuple)):
        scales = ops.stack(scales)
    dtype = ops.dtype(scales)
    lower = np.asarray([min_size / float(d) for d in input_sizes], dtype)
    upper = np.asarray([(max_size or np.inf) / float(d) for d in input_sizes], dtype)
    return resize.resize_matrices(
        input_sizes,
        _clip_scale(scales, lower, upper, max_size),
        output_sizes,
        taper=taper,
        transform=transform,
        gradient=gradient,
    )


def _per_axis_matrices(
    input_sizes, scales, output_sizes, taper, transform, gradient, min_size, max_size
):
    """`resolution_matrices` one axis at a time (`resize.resize_matrix`):
    for sizes known only in the graph, and for one axis."""
    if not isinstance(scales, (list, tuple)):
        scales = ops.unstack(scales)  # One op (its gradient one more) for all axes.
    matrices = []
    for d_in, s, d_out in zip(input_sizes, scales, output_sizes):
        length = resize.size_as_float(d_in, ops.dtype(s))  # No op for a static size.
        s = _clip_scale(s, min_size / length, (max_size or np.inf) / length, max_size)
        matrices.append(
            resize.resize_matrix(
                d_in, s, d_out, taper=taper, transform=transform, gradient=gradient
            )
        )
    return matrices


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionLayer(keras.layers.Layer):
    """Resizes the length (1D) or height and width (2D) by a learned scale.

    The layer implements Algorithm 1 of "Differentiable Resizing: Resolution
    Layers" (Harper et al.): for each resized axis of input length `d_in`, the
    continuous target length is `q = d_in * s` with a trainable `s`, the
    output length is `d_out = ceil(q)`, and the signal is transformed (DCT or
    DFT), truncated or zero-padded to `d_out` coefficients, multiplied by the
    relaxed mask `w_k = clip((q + 1 - k) / taper, 0, 1)` and inverted at size
    `d_out`. It can downsample (`s < 1`) and upsample (`s > 1`).

    Each axis is one fused `(d_out, d_in)` matrix (see
    `keras_resolution.resize.resize_matrix`), applied as a batched matmul.
    The output amplitude is compensated so a constant map keeps its value
    (whenever `q >= taper`: the paper's mask also attenuates the mean of
    outputs shorter than the taper).

    Gradient modes (`gradient=`):

    * `"exact"` (default): the output basis is sampled on a grid of
      continuous length `q`, so the forward pass is smooth in `s` between
      integer sizes and `dL/ds` is its true derivative, non-zero when
      decimating, near identity and when upsampling far beyond the taper.
    * `"literal"`: Algorithm 1 as printed, with `T_out = T(d_out)` and
      `d_out` detached: identical forward pass at integer `q`, but `dL/ds`
      is exactly 0 once `q > d_in + taper - 1` (far upsampling).

    How sizes are obtained, by backend:

    * eager execution (PyTorch, JAX without jit, TensorFlow eager): `ceil(q)`
      is read from the value of `s` at every call.
    * TensorFlow `model.fit` without XLA: sizes are int32 tensors computed in
      the traced graph.
    * compiled steps (JAX jit, TensorFlow XLA) need static shapes: construct
      with `static_sizes=True`, which makes the layer jit-compatible, and pass
      `keras_resolution.SizeRefresh()` to `fit`. Sizes are then Python ints
      refreshed between steps, and the step functions are rebuilt when an
      integer size changes. Without the callback, a compiled training step
      raises rather than silently using stale sizes.

    The trainable variable `scale` (one `s` per resized axis) is marked as
    this layer's own (see `is_scale_variable`): that is how
    `ResolutionSGD` and `ResolutionAdam` give the scales their learning
    rate, whatever other layers name their variables.

    Without `static_sizes=True` (and always on PyTorch, whose
    `torch.compile` cannot trace the cached bases) the layer reports
    `supports_jit = False`, so `jit_compile="auto"` picks a path that works on
    every backend.

    Args:
        scale: Initial scale `s`, a float or one float per resized axis.
            Must lie in [min_scale, max_scale]; where `d_in * s` falls
            outside [min_size, max_size] it is clipped there (so
            `d_in * s` < 1 gives size 1).
        transform: `"dct"` (orthonormal DCT-II) or `"dft"` (real DFT, low
            frequencies kept symmetrically).
        taper: Length `l` of the relaxed mask's linear ramp (paper: 4).
        gradient: `"exact"` or `"literal"`, see above.
        min_size: Smallest output length per axis (>= 1).
        max_size: Largest output length per axis, or `None`.
        min_scale: Smallest value of `s`, or `None` (then `min_size / d_in`).
        max_scale: Largest value of `s`, or `None`. With `max_size`, bounds
            learned upsampling so it cannot exhaust memory.
        static_sizes: Keep integer sizes as Python state for compiled steps.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, length, channels)` or `(batch, height, width, channels)`
        (channels first with `data_format="channels_first"`).

    Output shape:
        Same rank; each resized axis becomes `ceil(d_in * s)`.

    Example:

    >>> layer = ResolutionLayer(scale=0.5)
    >>> layer(keras.ops.ones((2, 40, 30, 8))).shape
    (2, 20, 15, 8)
    """

    def __init__(
        self,
        scale=1.0,
        transform="dct",
        taper=4.0,
        gradient="exact",
        min_size=1,
        max_size=None,
        min_scale=None,
        max_scale=4.0,
        static_sizes=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        scales = scale if isinstance(scale, (list, tuple)) else [scale]
        self.initial_scale = [check_positive_finite("scale", s) for s in scales]
        self.transform = transforms.check_transform(transform)
        self.taper = check_positive_finite("taper", taper)
        self.gradient = resize.check_gradient(gradient)
        self.min_size, self.max_size = check_size_bounds(min_size, max_size)
        self.min_scale = None if min_scale is None else check_positive_finite(
            "min_scale", min_scale
        )
        self.max_scale = None if max_scale is None else check_positive_finite(
            "max_scale", max_scale
        )
        if self.min_scale and self.max_scale and self.min_scale > self.max_scale:
            raise ValueError(
                f"`min_scale` ({min_scale}) must not exceed `max_scale` ({max_scale})."
            )
        self.static_sizes = bool(static_sizes)
        self.data_format = resize.standardize_data_format(data_format)
        self._refreshed_scale = None
        self._size_refresh_active = False

    supports_jit = jit_follows_static_sizes

    def build(self, input_shape):
        rank = len(input_shape) - 2
        if rank not in (1, 2):
            raise ValueError(
                "ResolutionLayer expects `inputs` of rank 3 (batch, length, "
                "channels) or 4 (batch, height, width, channels); got shape "
                f"{tuple(input_shape)}."
            )
        self.rank = rank
        self.axes = resize.spatial_axes(len(input_shape), self.data_format)
        channel_axis = 1 if self.data_format == "channels_first" else -1
        if input_shape[channel_axis] is None:
            raise ValueError(
                f"The channel dimension of `inputs` must be known; got shape "
                f"{tuple(input_shape)}."
            )
        if len(self.initial_scale) not in (1, rank):
            raise ValueError(
                f"`scale` must be a float or {rank} floats for rank-{rank} "
                f"inputs, got {self.initial_scale}."
            )
        initial = np.broadcast_to(
            np.asarray(self.initial_scale, dtype=self.variable_dtype), (rank,)
        ).copy()
        input_sizes = [input_shape[axis] for axis in self.axes]
        lower, upper = self._scale_bounds(input_sizes)
        scale_lo = self.min_scale or 0.0
        scale_hi = np.inf if self.max_scale is None else self.max_scale
        if not all(scale_lo <= s <= scale_hi for s in initial):
            raise ValueError(
                f"`scale`={self.initial_scale} lies outside [min_scale, "
                f"max_scale] = [{scale_lo:g}, {scale_hi:g}]."
            )
        # Bounds from min_size/max_size clip, as in `call`: a scale whose size
        # rounds below min_size (d_in * s < 1, say) gives min_size.
        initial = np.clip(initial, lower, upper).astype(initial.dtype)
        self.scale = self.add_weight(
            name="scale",
            shape=(rank,),
            initializer=keras.initializers.Constant(initial),
            constraint=ScaleBounds(lower, upper),
            trainable=True,
            autocast=False,
        )
        mark_scale_variable(self, "scale")
        self.input_size = self.add_weight(
            name="input_size",
            shape=(rank,),
            initializer=keras.initializers.Constant(
                [d if d is not None else 0 for d in input_sizes]
            ),
            trainable=False,
            dtype="int32",
            aggregation="only_first_replica",
        )
        self._refreshed_scale = initial
        self.nominal_input_sizes = input_sizes

    def _scale_bounds(self, input_sizes):
        """Per-axis [lower, upper] bounds on s from the size and scale bounds."""
        lower, upper = [], []
        for d_in in input_sizes:
            lo = self.min_scale or (self.min_size / d_in if d_in else 1e-3)
            if not self.min_scale and d_in:
                # Round down so that ceil(d_in * lo) is min_size in the dtype
                # of s (float32 min_size / d_in can give min_size + 1).
                lo = np.dtype(self.variable_dtype).type(lo)
                while lo * d_in > self.min_size:
                    lo = np.nextafter(lo, lo.dtype.type(0))
            hi = self.max_scale if self.max_scale is not None else np.inf
            if self.max_size is not None and d_in:
                hi = min(hi, self.max_size / d_in)
            lower.append(float(lo))
            upper.append(float(hi))
        return lower, upper

    # ----------------------------------------------------------------- sizes
    def _output_sizes(self, input_sizes, training):
        """Integer output sizes: Python ints, or int tensors in TF graphs."""
        static = all(isinstance(d, int) for d in input_sizes)
        scale = concrete_value(self.scale) if static else None
        if scale is not None:
            self._refreshed_scale = scale
        if sizes_from_host(self, input_sizes, training, scale is not None, "`scale`"):
            return output_sizes_for(
                input_sizes, self._refreshed_scale, self.min_size, self.max_size
            )
        return tuple(resize.output_length(q) for q in self._target_lengths(input_sizes))

    def _target_lengths(self, input_sizes):
        """Continuous q = d_in * s per axis, clipped to [min_size, max_size]."""
        lengths = []
        for d_in, s in zip(input_sizes, ops.unstack(self.scale.value)):
            q = ops.cast(d_in, self.scale.dtype) * s
            lengths.append(ops.clip(q, self.min_size, self.max_size or np.inf))
        return lengths

    @property
    def output_sizes(self):
        """Current integer output sizes, from the last recorded input sizes."""
        return output_sizes_for(
            ops.convert_to_numpy(self.input_size).tolist(),
            ops.convert_to_numpy(self.scale),
            self.min_size,
            self.max_size,
        )

    def refresh_sizes(self):
        """Reads `s` (between steps) for compiled steps; True if a size changed."""
        input_sizes = ops.convert_to_numpy(self.input_size).tolist()
        new_scale = ops.convert_to_numpy(self.scale)
        old = output_sizes_for(input_sizes, self._refreshed_scale, self.min_size, self.max_size)
        self._refreshed_scale = new_scale
        return self.output_sizes != old

    # --------------------------------------------------------------- forward
    def _check_float_inputs(self, inputs):
        if not keras.backend.is_float_dtype(inputs.dtype):
            raise ValueError(
                f"{self.name}: `inputs` must be a float tensor, got dtype "
                f"{inputs.dtype}."
            )

    def compute_output_spec(self, inputs, *args, **kwargs):
        # Symbolic calls (functional models) do not run `call`: check here too.
        self._check_float_inputs(inputs)
        return super().compute_output_spec(inputs, *args, **kwargs)

    def call(self, inputs, training=None):
        self._check_float_inputs(inputs)
        shape = resize.shape_of(inputs)
        input_sizes = tuple(shape[axis] for axis in self.axes)
        self.input_size.assign(ops.cast(ops.stack(input_sizes), "int32"))
        matrices = resolution_matrices(
            input_sizes,
            self.scale.value,
            self._output_sizes(input_sizes, training),
            taper=self.taper,
            transform=self.transform,
            gradient=self.gradient,
            min_size=self.min_size,
            max_size=self.max_size,
        )
        return resize.apply_along_axes(inputs, matrices, self.axes)

    def compute_output_shape(self, input_shape):
        output_shape = list(input_shape)
        input_sizes = [input_shape[axis] for axis in self.axes]
        if all(d is not None for d in input_sizes):
            sizes = output_sizes_for(
                input_sizes, self._refreshed_scale, self.min_size, self.max_size
            )
        else:
            sizes = [None] * self.rank
        for axis, size in zip(self.axes, sizes):
            output_shape[axis] = size
        return tuple(output_shape)

    # ------------------------------------------------------------ complexity
    def complexity(self, definition="linear"):
        """This layer's complexity from the continuous q (differentiable in s).

        Args:
            definition: `"linear"`: sum of q over axes (the paper's section 5
                text, `q_h s_h + q_w s_w` in its notation); `"area"`: product
                of q over axes (output area, the definition behind the paper's
                detection budget).

        Returns:
            Scalar float32 tensor.
        """
        lengths = self._target_lengths(ops.unstack(ops.cast(self.input_size.value, self.scale.dtype)))
        return complexity_definitions.measure(lengths, definition)

    def learned_rates(self):
        """`{"scale": [s per axis]}` as floats, for the complexity logs."""
        return {"scale": ops.convert_to_numpy(self.scale).astype(float).tolist()}

    def full_complexity(self, definition="linear"):
        """Complexity with s = 1, as a Python float: the input sizes the layer
        was built with (every upstream scale at its initial value, 1 in the
        paper), not resized."""
        if any(d is None for d in self.nominal_input_sizes):
            raise ValueError(
                f"{self.name} was built with unknown input sizes "
                f"{self.nominal_input_sizes}; C_full needs static sizes."
            )
        return float(complexity_definitions.measure(self.nominal_input_sizes, definition))

    # --------------------------------------------------------- serialization
    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._refreshed_scale = ops.convert_to_numpy(self.scale)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "scale": self.initial_scale
                if len(self.initial_scale) > 1
                else self.initial_scale[0],
                "transform": self.transform,
                "taper": self.taper,
                "gradient": self.gradient,
                "min_size": self.min_size,
                "max_size": self.max_size,
                "min_scale": self.min_scale,
                "max_scale": self.max_scale,
                "static_sizes": self.static_sizes,
                "data_format": self.data_format,
            }
        )
        return config


