"""SafeSubsample: the map size that an N-Jet layer's sigma permits.

N-Jet's "safe subsampling" (Pintea et al., TIP 2021, section 4.1; official
`safe_sample` in SilviaLauraPintea/N-JetNet, `srf/structured_conv_layer.py`)
shrinks a feature map as the learned scale sigma grows: a blurred map needs
fewer samples. The paper and the code give different functions of sigma,
and both are offered (docs/comparators-njet.md), the code's by default:

* `"code"`: `s_bar = int(s / max(1, 2^sigma / r))` (official);
* `"paper"`: `s_bar = floor(s (1/2)^(sigma / r))` (the paper gives the
  real number `s (1/2)^(sigma / r)`; rounding down is this port's choice,
  as the code's `int`).

The map is resized by nearest neighbour (PyTorch's `F.interpolate` default,
which the official code calls), so no gradient reaches sigma through the
resize, as in the official code. Extension of the paper: `complexity()` is a
continuous surrogate of the size, the same formula before rounding, which
is differentiable in sigma, so a complexity budget (`QuadraticTarget`,
`HingeCap`) can act on sigma.
"""

import math
import weakref

import keras
import numpy as np
from keras import ops

from keras_resolution.complexity_definitions import measure
from keras_resolution.layer import concrete_value
from keras_resolution.layer import jit_follows_static_sizes
from keras_resolution.layer import sizes_from_host
from keras_resolution.resize import spatial_axes
from keras_resolution.resize import standardize_data_format

SUBSAMPLE_RULES = ("code", "paper")


def _xp(*values):
    return np if all(isinstance(v, (int, float, np.generic)) for v in values) else ops


def continuous_safe_size(size, sigma, r=4.0, rule="code"):
    """The size before rounding: `s / max(1, 2^sigma / r)` (code) or
    `s (1/2)^(sigma / r)` (paper), at least 1.

    Float32 NumPy for Python numbers, tensors otherwise (differentiable in
    sigma: the code rule only once `2^sigma > r`).
    """
    xp = _xp(size, sigma)
    f32 = np.float32 if xp is np else (lambda v: ops.cast(v, "float32"))
    size, sigma, r = f32(size), f32(sigma), f32(r)
    two, one = f32(2.0), f32(1.0)
    if check_subsample_rule(rule, "rule") == "code":
        q = size / xp.maximum(one, xp.power(two, sigma) / r)
    else:
        q = size * xp.power(two, -sigma / r)
    return xp.maximum(q, one)


def safe_size(size, sigma, r=4.0, rule="code"):
    """The integer size safe subsampling gives a map of size `size`:
    `continuous_safe_size` rounded down (the code's `int`), at least 1.

    Args:
        size: Input size, an int (or an int tensor).
        sigma: The N-Jet scale, a number (or a tensor).
        r: The safe-subsampling hyperparameter, > 0.
        rule: `"code"` or `"paper"`.

    Returns:
        A Python int (or an int32 tensor).

    Example:

    >>> [safe_size(32, sigma, 4.0, "code") for sigma in (1.0, 3.0, 4.0)]
    [32, 16, 8]
    >>> [safe_size(32, sigma, 4.0, "paper") for sigma in (1.0, 3.0, 4.0)]
    [26, 19, 16]
    """
    q = continuous_safe_size(size, sigma, r, rule)
    if _xp(size, sigma) is np:
        return int(np.floor(q))
    return ops.cast(ops.floor(q), "int32")


def nearest_indices(input_size, output_size):
    """PyTorch's `F.interpolate(mode="nearest")` source indices:
    `min(floor(j * (float32) in / out), in - 1)`, `j = 0 .. out - 1`."""
    if isinstance(input_size, int) and isinstance(output_size, int):
        scale = np.float32(input_size) / np.float32(output_size)
        j = np.arange(output_size, dtype=np.float32)
        return np.minimum(np.floor(j * scale).astype("int32"), input_size - 1)
    scale = ops.cast(input_size, "float32") / ops.cast(output_size, "float32")
    j = ops.cast(ops.arange(output_size), "float32")
    return ops.minimum(ops.cast(ops.floor(j * scale), "int32"), input_size - 1)


def check_subsample_rule(rule, argument="rule"):
    if rule not in SUBSAMPLE_RULES:
        raise ValueError(f"`{argument}` must be one of {SUBSAMPLE_RULES}, got {rule!r}.")
    return rule


@keras.saving.register_keras_serializable(package="keras_resolution")
class SafeSubsample(keras.layers.Layer):
    """Subsamples a map to the size that an `NJetConv2D`'s sigma permits.

    Pass it to the N-Jet layer, which ties it to its sigma and applies it to
    its input before the convolution, as the official `ssample=True` does:

        kr.NJetConv2D(64, safe_subsample=kr.SafeSubsample(r=4.0))

    For an input of height `H` and width `W`, the output is
    `safe_size(H, sigma)` by `safe_size(W, sigma)` (the `"code"` rule:
    `int(s / max(1, 2^sigma / r))`; `"paper"`: `floor(s 2^(-sigma / r))`),
    taken by nearest neighbour as PyTorch's `F.interpolate` (source index
    `floor(j H / h)`). Each axis is at least 1 (the official code takes a
    lexicographic `max([1, 1], [h, w])` of lists, which differs only when
    `h` is 0).

    The size depends on the value of sigma; it is obtained with the
    mechanism of `ResolutionLayer`: read from sigma in eager execution
    (PyTorch, JAX without jit, TensorFlow eager), int tensors inside
    TensorFlow graphs (`model.fit` without XLA), and with
    `static_sizes=True` Python ints refreshed between compiled steps by
    `keras_resolution.SizeRefresh`.

    It is a `keras_resolution.ComplexityLayer`: `complexity()` applies the
    complexity definition to the continuous sizes `continuous_safe_size`,
    which are differentiable in sigma. This surrogate is an extension of
    the paper (which has no complexity budget), so that `QuadraticTarget`
    and `HingeCap` can act on sigma. Under the `"code"` rule its gradient is
    zero while `2^sigma <= r` (sigma <= 2 for r = 4): there the code never
    subsamples, and a budget cannot act on sigma through this layer.

    Args:
        r: The safe-subsampling hyperparameter, > 0 (paper: 4; 2 and 6
            also tested).
        rule: `"code"` (default) or `"paper"`.
        static_sizes: Keep integer sizes as Python state for compiled steps
            (JAX jit, TensorFlow XLA), with `SizeRefresh`.
        data_format: `"channels_last"` or `"channels_first"`; None means
            `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first with
        `data_format="channels_first"`).

    Output shape:
        `(batch, safe_size(height), safe_size(width), channels)`.

    Example:

    >>> njet = NJetConv2D(8, init_log2_sigma=math.log2(3.0), safe_subsample=SafeSubsample())
    >>> njet(keras.ops.ones((1, 32, 32, 3))).shape
    (1, 16, 16, 8)
    """

    rank = 2  # Resized axes (`keras_resolution.ComplexityLayer`).

    def __init__(self, r=4.0, rule="code", static_sizes=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        try:
            self.r = float(r)
        except (TypeError, ValueError):
            raise ValueError(f"`r` must be a number, got {r!r}.") from None
        if not math.isfinite(self.r) or self.r <= 0:
            raise ValueError(f"`r` must be finite and > 0, got {r!r}.")
        self.rule = check_subsample_rule(rule)
        self.static_sizes = bool(static_sizes)
        self.data_format = standardize_data_format(data_format)
        self.axes = spatial_axes(4, self.data_format)
        self._source = None
        self._refreshed_log2_sigma = None
        self._size_refresh_active = False

    supports_jit = jit_follows_static_sizes

    # ----------------------------------------------------------------- sigma
    def tie(self, layer):
        """Ties this layer to `layer.log2_sigma` (`NJetConv2D` calls it)."""
        self._source = weakref.ref(layer)
        self._refreshed_log2_sigma = np.float32(layer.init_log2_sigma)

    def source(self):
        """The `NJetConv2D` whose sigma sets the size (a method, not a
        property: Keras's saving walks properties, and the N-Jet layer holds
        this one)."""
        layer = None if self._source is None else self._source()
        if layer is None:
            raise ValueError(
                f"{self.name} is not tied to an N-Jet layer: pass it as "
                "`NJetConv2D(..., safe_subsample=SafeSubsample(...))`."
            )
        return layer

    def sigma(self):
        """The tied layer's sigma, a scalar tensor differentiable in its s."""
        return self.source().sigma()

    def _host_sigma(self, log2_sigma):
        return np.power(np.float32(2.0), np.float32(log2_sigma))

    def sync_sigma(self):
        """Reads the tied sigma into the host copy (after loading weights)."""
        if self._source is not None and getattr(self.source(), "built", False):
            self._refreshed_log2_sigma = np.float32(ops.convert_to_numpy(self.source().log2_sigma)[0])

    # ----------------------------------------------------------------- sizes
    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"SafeSubsample expects 4D `inputs`, got shape {tuple(input_shape)}.")
        sizes = [input_shape[axis] for axis in self.axes]
        self.input_size = self.add_weight(
            name="input_size",
            shape=(2,),
            initializer=keras.initializers.Constant([d or 0 for d in sizes]),
            trainable=False,
            dtype="int32",
            aggregation="only_first_replica",
        )
        self.nominal_input_sizes = sizes

    def _host_sizes(self, sizes, log2_sigma):
        sigma = self._host_sigma(log2_sigma)
        return tuple(safe_size(int(d), sigma, self.r, self.rule) for d in sizes)

    def _sizes(self, height, width, training):
        """Output sizes: Python ints, or int tensors in TF graphs."""
        static = isinstance(height, int) and isinstance(width, int)
        concrete = concrete_value(self.source().log2_sigma) if static else None
        if concrete is not None:
            self._refreshed_log2_sigma = np.float32(concrete[0])
        if sizes_from_host(self, (height, width), training, concrete is not None, "sigma"):
            return self._host_sizes((height, width), self._refreshed_log2_sigma)
        sigma = ops.stop_gradient(self.sigma())
        return tuple(safe_size(d, sigma, self.r, self.rule) for d in (height, width))

    # --------------------------------------------------------------- forward
    def call(self, inputs, training=None):
        """The official `safe_sample`: `F.interpolate(x, (h, w))`, nearest."""
        shape = ops.shape(inputs)
        sizes = (shape[self.axes[0]], shape[self.axes[1]])
        self.input_size.assign(ops.cast(ops.stack(sizes), "int32"))
        outputs = inputs
        for axis, size, new in zip(self.axes, sizes, self._sizes(*sizes, training)):
            outputs = ops.take(outputs, nearest_indices(size, new), axis=axis)
        return outputs

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        sizes = [shape[axis] for axis in self.axes]
        if None in sizes:
            out = (None, None)
        else:
            log2_sigma = self._refreshed_log2_sigma
            out = self._host_sizes(sizes, 0.0 if log2_sigma is None else log2_sigma)
        for axis, size in zip(self.axes, out):
            shape[axis] = size
        return tuple(shape)

    def output_sizes_for(self, input_sizes):
        """`(h, w)` for inputs of spatial sizes `input_sizes` at the current
        sigma, as Python ints: the sizes of a `FrozenSafeSubsample` for
        them."""
        return self._host_sizes(input_sizes, ops.convert_to_numpy(self.source().log2_sigma)[0])

    @property
    def output_sizes(self):
        """`(h, w)` for the last recorded input size and the current sigma."""
        return self.output_sizes_for(ops.convert_to_numpy(self.input_size).tolist())

    def refresh_sizes(self):
        """Reads sigma (between steps) for compiled steps; True if a size
        changed."""
        sizes = ops.convert_to_numpy(self.input_size).tolist()
        old = self._host_sizes(sizes, self._refreshed_log2_sigma)
        self.sync_sigma()
        return self.output_sizes != old

    # ------------------------------------------------------------ complexity
    def target_lengths(self):
        """Continuous sizes `continuous_safe_size(H)`, `(W)`, differentiable
        in sigma (the surrogate; the realised sizes round them down)."""
        sigma = self.sigma()
        return [
            continuous_safe_size(self.input_size[i], sigma, self.r, self.rule) for i in range(2)
        ]

    def complexity(self, definition="linear"):
        """`definition` (`"linear"` or `"area"`) of `target_lengths`."""
        return measure(self.target_lengths(), definition)

    def full_complexity(self, definition="linear"):
        """`definition` of the built input sizes (no subsampling), a float."""
        if any(d is None for d in self.nominal_input_sizes):
            raise ValueError(
                f"{self.name} was built with unknown input sizes "
                f"{self.nominal_input_sizes}; C_full needs static sizes."
            )
        return float(measure(self.nominal_input_sizes, definition))

    def learned_rates(self):
        """`{"sigma": [sigma, sigma]}` (one sigma sets both axes)."""
        sigma = float(self._host_sigma(ops.convert_to_numpy(self.source().log2_sigma)[0]))
        return {"sigma": [sigma, sigma]}

    # --------------------------------------------------------- serialization
    def load_own_variables(self, store):
        super().load_own_variables(store)
        self.sync_sigma()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "r": self.r,
                "rule": self.rule,
                "static_sizes": self.static_sizes,
                "data_format": self.data_format,
            }
        )
        return config
