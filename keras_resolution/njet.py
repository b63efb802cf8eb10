"""NJetConv2D: filters in a Gaussian-derivative basis of learned scale (N-Jet).

A Keras 3 port of the N-Jet layer of Pintea, Tomen, Goes, Loog and van
Gemert, "Resolution learning in deep convolutional networks using
scale-space theory" (TIP 2021), official code SilviaLauraPintea/N-JetNet
(`srf/structured_conv_layer.py`, `srf/gaussian_basis_filters.py`). Each
filter is a learned combination (coefficients `alpha`) of the 2-D Gaussian
derivatives up to order `N`, scale-normalised by `sigma^m`; `sigma = 2^s`
with one trainable `s` per layer, and the filter extent follows `sigma`.

Where the paper and the code differ (docs/comparators-njet.md lists every
choice), both are offered and the code is the default:

* extent: the code's half-width `ceil(k sigma + 0.5)` (`size_rule="code"`)
  or the paper's `ceil(k sigma)` (filter size `2 ceil(k sigma) + 1`,
  `size_rule="paper"`);
* safe subsampling (`keras_resolution.SafeSubsample`): the code's
  `int(s / max(1, 2^sigma / r))` or the paper's `s (1/2)^(sigma / r)`.

Shapes stay static: the filter lives on a fixed grid of the largest
half-width that `max_sigma` allows, and the taps outside the current extent
are exactly zero, so the output equals the convolution with the exact-size
filter (the official code builds a new filter size at every call).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_resolution.constraints import ScaleBounds
from keras_resolution.layer import check_positive_finite
from keras_resolution.layer import mark_scale_variable
from keras_resolution.resize import standardize_data_format

SIZE_RULES = ("code", "paper")


def check_size_rule(rule, argument="size_rule"):
    """`rule` if it is `"code"` or `"paper"`, else a `ValueError` naming
    `argument`."""
    if rule not in SIZE_RULES:
        raise ValueError(f"`{argument}` must be one of {SIZE_RULES}, got {rule!r}.")
    return rule


def filter_half_width(sigma, k=2.0, rule="code"):
    """Half-width `f` of the N-Jet filter (its size is `2 f + 1`).

    * `"code"` (official `filtersize = ceil(init_k * sigma + 0.5)`):
      `f = ceil(k sigma + 0.5)`; sigma = 1, k = 2 gives 7x7.
    * `"paper"` (section 3.3, size `2 ceil(k sigma) + 1`): `f = ceil(k
      sigma)`; sigma = 1, k = 2 gives 5x5.

    Computed in float32 for Python numbers (as the layer's float32 sigma),
    so host and graph agree on every `ceil`.

    Args:
        sigma: Scale, a number or a tensor.
        k: Extent factor (official `init_k`), > 0.
        rule: `"code"` or `"paper"`.

    Returns:
        A Python int for a number, a float tensor (integer-valued) for a
        tensor.

    Example:

    >>> filter_half_width(1.0, 2.0, "code"), filter_half_width(1.0, 2.0, "paper")
    (3, 2)
    """
    offset = 0.5 if check_size_rule(rule, "rule") == "code" else 0.0
    if isinstance(sigma, (int, float, np.generic)):
        value = np.float32(k) * np.float32(sigma) + np.float32(offset)
        return int(np.ceil(value))
    return ops.ceil(ops.cast(k, sigma.dtype) * sigma + ops.cast(offset, sigma.dtype))


def sigma_of(log2_sigma):
    """`2^s` in NumPy float32, the arithmetic of the layer's float32 graph."""
    return np.power(np.float32(2.0), np.float32(log2_sigma))


def basis_orders(order):
    """`[(i, j), ...]`: the derivative orders of the 2-D basis, in the
    official order (`i = 0..N` outer, `j = N - i .. 0` inner), `i` along the
    rows (height) and `j` along the columns (width). There are
    `(N + 1)(N + 2) / 2` of them.

    Example:

    >>> basis_orders(1)
    [(0, 1), (0, 0), (1, 0)]
    """
    order = _check_order(order)
    return [(i, j) for i in range(order + 1) for j in range(order - i, -1, -1)]


def gaussian_derivative_basis(sigma, order, half_width, grid_half_width=None, dtype=None):
    """The 1-D scale-normalised Gaussian-derivative basis `sigma^m G^m(x; sigma)`.

    For `m = 0..order` on the grid `x = -half_width .. half_width`:

        g(x) = exp(-x^2 / (2 sigma^2)) / (sqrt(2 pi) sigma), then g / sum(g)
        G^m(x) = sigma^m (-1 / (sigma sqrt 2))^m H_m(x / (sigma sqrt 2)) g(x)

    with the physicists' Hermite polynomials `H_m` (paper Eq. 2; the
    Gaussian is normalised over its truncated support, as the official
    code does). This equals `sigma^m` times SciPy's Gaussian derivative
    kernel of order `m` and radius `half_width`.

    With `grid_half_width = M >= half_width`, the basis is laid on the fixed
    grid `-M .. M` and is exactly zero outside `|x| <= half_width` (the
    normalisation runs over the support only); `half_width` may then be a
    tensor, so the shape stays static while the extent follows `sigma`.

    Args:
        sigma: Scale > 0, a number or a scalar tensor (differentiable).
        order: Highest derivative order `N >= 0`.
        half_width: Support half-width (int >= 0, or a tensor with
            `grid_half_width`).
        grid_half_width: Half-width of the grid, or None (the support).
        dtype: Computation dtype; None: that of `sigma` if it has one, else
            Keras's float type.

    Returns:
        Tensor of shape `(order + 1, 2 * grid + 1)`; row `m` is `G^m`.

    Example:

    >>> basis = gaussian_derivative_basis(1.0, 3, 3)
    >>> tuple(basis.shape), round(float(keras.ops.sum(basis[0])), 6)
    ((4, 7), 1.0)
    """
    order = _check_order(order)
    if isinstance(sigma, (int, float, np.generic)) and not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"`sigma` must be finite and > 0, got {sigma!r}.")
    grid = half_width if grid_half_width is None else grid_half_width
    if not isinstance(grid, (int, np.integer)) or grid < 0:
        raise ValueError(
            "`half_width` (or `grid_half_width`) must be an integer >= 0, got "
            f"{grid!r}."
        )
    if isinstance(half_width, (int, np.integer)) and not 0 <= half_width <= grid:
        raise ValueError(
            f"`half_width` must lie in [0, grid_half_width={grid}], got {half_width!r}."
        )
    dtype = keras.backend.standardize_dtype(
        dtype or getattr(sigma, "dtype", None) or keras.config.floatx()
    )
    if isinstance(sigma, (int, float, np.generic)):
        sigma = ops.convert_to_tensor(np.asarray(sigma, dtype))  # No float32 detour.
    sigma = ops.cast(sigma, dtype)
    x = ops.arange(-grid, grid + 1, dtype=dtype)
    support = ops.cast(ops.abs(x) <= ops.cast(half_width, dtype), dtype)
    x = x * support  # Zero outside the support: finite values and gradients.
    gauss = ops.exp(-(x * x) / (2.0 * sigma * sigma)) / (math.sqrt(2.0 * math.pi) * sigma)
    gauss = gauss * support / ops.sum(gauss * support)
    u = x / (math.sqrt(2.0) * sigma)
    hermite = [ops.ones_like(u), 2.0 * u]  # H_0, H_1; H_m = 2u H_{m-1} - 2(m-1) H_{m-2}
    for m in range(2, order + 1):
        hermite.append(2.0 * u * hermite[m - 1] - 2.0 * (m - 1) * hermite[m - 2])
    return ops.stack(
        [sigma**m * (-1.0 / (math.sqrt(2.0) * sigma)) ** m * hermite[m] * gauss
         for m in range(order + 1)]
    )


def gaussian_derivative_basis_2d(basis, order):
    """The 2-D basis `G^{i,j} = G^i(rows) G^j(columns)` for `i + j <= N`, in
    the order of `basis_orders`: shape `(F, n, n)` from a 1-D basis of shape
    `(N + 1, n)`."""
    return ops.stack([ops.outer(basis[i], basis[j]) for i, j in basis_orders(order)])


@keras.saving.register_keras_serializable(package="keras_resolution")
class NJetConv2D(keras.layers.Layer):
    """A convolution whose filters combine Gaussian derivatives of learned scale.

    The N-Jet layer (Pintea et al., TIP 2021; official
    `Srf_layer_shared`): for each output channel `o` and input channel `c`,

        K[:, :, c, o] = sum_{i + j <= N} alpha[f(i, j), c, o] sigma^{i+j} G^{i,j}(sigma)

    with `sigma = 2^s` (one trainable `s` per layer, `log2_sigma`), the
    Gaussian-derivative basis of `gaussian_derivative_basis` (truncated to
    the half-width of `size_rule` and normalised over it) and `F = (N + 1)
    (N + 2) / 2` basis filters in `basis_orders`' order. The convolution is
    a cross-correlation with stride 1 and zero padding that keeps the size
    (official `F.conv2d(padding=f)`). With `safe_subsample`, the input is
    first subsampled to the size that `sigma` permits (official `ssample`).

    The filter sits on a fixed grid of half-width `M = f(max_sigma)`; taps
    outside the current half-width `f(sigma)` are exactly zero, so the
    output equals the exact `(2f + 1)^2` convolution while shapes stay
    static (jit-compatible). The half-width is detached, as in the official
    code: `s` gets its gradient through the values of the basis
    (`dF/dsigma`, paper section 3.3), never through the jumps of `f`.

    `call` computes the same convolution basis-first. Each `G^{i,j}` is
    separable and a zero-padded convolution is linear, so

        x * K[..., o] = sum_{c, i+j<=N} alpha[f(i, j), c, o] (x_c * G^j(columns)) * G^i(rows)

    (`*`: zero-padded cross-correlation): for each input channel and each
    basis filter, a depthwise 1-D pass along the width and one along the
    height, then the alphas as a 1x1 convolution over the `F C_in` maps.
    That is `2 F (2 M + 1) C_in + F C_in C_out` multiply-adds per pixel
    instead of the full kernel's `(2 M + 1)^2 C_in C_out`, and about
    `2 F C_in` more channels per pixel kept for the backward pass. (Only
    `N + 1` width passes are distinct; sharing them needs a gather of the
    `F C_in` maps, slower on TensorFlow's CPU than the passes it saves;
    BENCHMARKS.md.) Only float rounding differs from `ops.conv(x,
    kernel(), padding="same")` (tests); `kernel()` is the filter itself
    (freezing, export).

    `s` is kept in `[log2 min_sigma, log2 max_sigma]` by a constraint that
    Keras optimizers apply after each update (the official code has no
    bound). It is marked as a learned resolution rate (`is_scale_variable`),
    so `ResolutionSGD` / `ResolutionAdam` apply `scale_learning_rate_factor`
    to it as to the Resolution scales and DiffStride strides; with the
    default factor 1 this is the official single learning rate.

    Args:
        filters: Number of output channels.
        order: Highest derivative order `N >= 0` (paper: 3; official
            `demo.sh`: 2).
        k: Extent factor of the filter (official `init_k`, paper `k`), > 0.
        init_log2_sigma: Initial `s` (official `init_scale`, 0: sigma = 1).
        learn_sigma: Whether `s` is trainable.
        min_sigma: Smallest sigma (> 0, finite).
        max_sigma: Largest sigma (finite, >= min_sigma); sets the grid.
        size_rule: `"code"` (half-width `ceil(k sigma + 0.5)`) or
            `"paper"` (`ceil(k sigma)`); see `filter_half_width`.
        safe_subsample: None, or a `keras_resolution.SafeSubsample` that
            subsamples the input by this layer's sigma before the
            convolution.
        use_bias: Add a bias (the official layer has none).
        alpha_initializer: Initializer of `alphas` (official: N(0, 1)).
        alpha_regularizer: Regularizer of `alphas` (the paper's L2 on
            alpha).
        bias_initializer: Initializer of the bias.
        bias_regularizer: Regularizer of the bias.
        data_format: `"channels_last"` or `"channels_first"`; None means
            `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first with
        `data_format="channels_first"`).

    Output shape:
        `(batch, height, width, filters)`, or the safe-subsampled size.

    Example:

    >>> layer = NJetConv2D(8, order=2)
    >>> tuple(layer(keras.ops.ones((1, 16, 16, 3))).shape), layer.kernel_size
    ((1, 16, 16, 8), 7)
    """

    def __init__(
        self,
        filters,
        order=3,
        k=2.0,
        init_log2_sigma=0.0,
        learn_sigma=True,
        min_sigma=0.25,
        max_sigma=4.0,
        size_rule="code",
        safe_subsample=None,
        use_bias=False,
        alpha_initializer=None,
        alpha_regularizer=None,
        bias_initializer="zeros",
        bias_regularizer=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or int(filters) != filters or filters < 1:
            raise ValueError(f"`filters` must be an integer >= 1, got {filters!r}.")
        self.filters = int(filters)
        self.order = _check_order(order)
        self.k = check_positive_finite("k", k)
        self.min_sigma = check_positive_finite("min_sigma", min_sigma)
        self.max_sigma = check_positive_finite("max_sigma", max_sigma)
        if self.min_sigma > self.max_sigma:
            raise ValueError(
                f"`min_sigma` ({min_sigma!r}) must not exceed `max_sigma` ({max_sigma!r})."
            )
        try:
            self.init_log2_sigma = float(init_log2_sigma)
        except (TypeError, ValueError):
            raise ValueError(f"`init_log2_sigma` must be a number, got {init_log2_sigma!r}.") from None
        if not math.isfinite(self.init_log2_sigma) or not (
            self.min_sigma <= 2.0**self.init_log2_sigma <= self.max_sigma
        ):
            raise ValueError(
                f"`init_log2_sigma`={init_log2_sigma!r} gives sigma outside [min_sigma, "
                f"max_sigma] = [{self.min_sigma:g}, {self.max_sigma:g}]."
            )
        self.learn_sigma = bool(learn_sigma)
        self.size_rule = check_size_rule(size_rule)
        if isinstance(safe_subsample, dict):
            safe_subsample = keras.saving.deserialize_keras_object(safe_subsample)
        if safe_subsample is not None and not hasattr(safe_subsample, "tie"):
            raise ValueError(
                f"`safe_subsample` must be None or a SafeSubsample, got {safe_subsample!r}."
            )
        self.safe_subsample = safe_subsample
        if safe_subsample is not None:
            safe_subsample.tie(self)
        self.use_bias = bool(use_bias)
        self.alpha_initializer = keras.initializers.get(
            alpha_initializer or keras.initializers.RandomNormal(0.0, 1.0)
        )
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = 1 if self.data_format == "channels_first" else -1
        # Half-width of the fixed grid: the largest extent sigma can reach,
        # also at the float32 value of log2(max_sigma) that bounds s (its
        # 2^s can exceed max_sigma by an ulp, across a ceil).
        self.max_half_width = max(
            filter_half_width(sigma, self.k, self.size_rule)
            for sigma in (self.max_sigma, sigma_of(math.log2(self.max_sigma)))
        )

    @property
    def num_basis(self):
        """`F = (N + 1)(N + 2) / 2`, the number of 2-D basis filters."""
        return (self.order + 1) * (self.order + 2) // 2

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"NJetConv2D expects 4D `inputs`, got shape {tuple(input_shape)}.")
        channels = input_shape[self.channel_axis]
        if channels is None:
            raise ValueError(f"The channel dimension of `inputs` must be known, got {input_shape}.")
        self.alphas = self.add_weight(
            name="alphas",
            shape=(self.num_basis, channels, self.filters),
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
        )
        bounds = ScaleBounds([math.log2(self.min_sigma)], [math.log2(self.max_sigma)])
        self.log2_sigma = self.add_weight(
            name="log2_sigma",
            shape=(1,),
            # Clipped like every later value of s (float32 rounding).
            initializer=keras.initializers.Constant(bounds(np.float32([self.init_log2_sigma]))),
            constraint=bounds,
            trainable=self.learn_sigma,
            autocast=False,
        )
        mark_scale_variable(self, "log2_sigma")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        if self.safe_subsample is not None and not self.safe_subsample.built:
            self.safe_subsample.build(input_shape)  # Built already when loaded.

    # ------------------------------------------------------------------ sigma
    def sigma(self):
        """`sigma = 2^s` as a scalar tensor (differentiable in `s`)."""
        return ops.power(ops.cast(2.0, self.log2_sigma.dtype), self.log2_sigma[0])

    @property
    def sigma_value(self):
        """Current sigma as a Python float."""
        return float(sigma_of(ops.convert_to_numpy(self.log2_sigma)[0]))

    @property
    def half_width(self):
        """Current half-width `f(sigma)` as a Python int."""
        return filter_half_width(np.float32(self.sigma_value), self.k, self.size_rule)

    @property
    def kernel_size(self):
        """Current filter size `2 f + 1` (the exact-size filter's)."""
        return 2 * self.half_width + 1

    # ---------------------------------------------------------------- forward
    def basis(self):
        """The 1-D basis `sigma^m G^m(x; sigma)`, `m = 0..N`, of the current
        sigma (the official `Srf_layer_shared`'s steps, the paper's names in
        the comments).

        Returns:
            Tensor `(N + 1, 2 M + 1)` in the dtype of `log2_sigma`, on the
            fixed grid of half-width `M = max_half_width` and exactly zero
            beyond the current half-width `f(sigma)`; differentiable in `s`.
        """
        # sigma = 2^scales
        sigma = self.sigma()
        # filtersize: f = ceil(k sigma + 0.5) (code) | ceil(k sigma) (paper), detached
        half_width = ops.stop_gradient(filter_half_width(sigma, self.k, self.size_rule))
        # G^m(x; sigma) sigma^m, m = 0..N (Eq. 2, scale-normalised), on |x| <= f
        return gaussian_derivative_basis(sigma, self.order, half_width, self.max_half_width)

    def kernel(self):
        """The current filter `F` (the filter that `call` applies).

        Returns:
            Tensor `(2 M + 1, 2 M + 1, channels, filters)` in the compute
            dtype, on the fixed grid of half-width `M = max_half_width` and
            exactly zero beyond the current half-width `f(sigma)`;
            differentiable in `s` and `alphas`.
        """
        # G^{i,j}(x, y; sigma) = G^i(x) G^j(y), i + j <= N (Eq. 3)
        basis = ops.cast(gaussian_derivative_basis_2d(self.basis(), self.order), self.compute_dtype)
        # F(x, y, c; sigma) = sum_{i+j<=N} alpha_{i,j,c} G^{i,j}(x, y; sigma) (Eq. 5)
        return ops.einsum("fhw,fco->hwco", basis, self.alphas)

    def _basis_first_conv(self, x):
        """`ops.conv(x, self.kernel(), padding="same")` of a channels-last
        `x`, computed basis-first (class docstring; `*`: zero-padded
        cross-correlation)."""
        channels, orders = x.shape[-1], basis_orders(self.order)
        # G^m(x; sigma) sigma^m, m = 0..N (Eq. 2), as columns: (2 M + 1, N + 1)
        g = ops.transpose(ops.cast(self.basis(), self.compute_dtype))
        # G^i and G^j of each G^{i,j} (f in basis_orders' order) for each channel c: F c + f
        g_i = ops.tile(ops.take(g, [i for i, _ in orders], axis=1), (1, channels))
        g_j = ops.tile(ops.take(g, [j for _, j in orders], axis=1), (1, channels))
        # x_c * G^j along the columns (width), for each G^{i,j}: channel F c + f
        x = ops.depthwise_conv(x, ops.reshape(g_j, (1, -1, channels, len(orders))), padding="same")
        # x_c * G^{i,j} = (x_c * G^j along the columns) * G^i along the rows (height) (Eq. 3)
        x = ops.depthwise_conv(x, g_i[:, None, :, None], padding="same")
        # x * F_o = sum_{c, i+j<=N} alpha_{i,j,c,o} (x_c * G^{i,j}) (Eq. 5): a 1x1 convolution
        alphas = ops.reshape(ops.transpose(self.alphas, (1, 0, 2)), (1, 1, -1, self.filters))
        return ops.conv(x, alphas)

    def call(self, inputs, training=None):
        """The official `Srf_layer_shared.forward`: safe subsampling, then the
        convolution with `kernel()`, computed basis-first."""
        # data = safe_sample(data, sigma): s_bar = the size sigma permits
        x = inputs if self.safe_subsample is None else self.safe_subsample(inputs, training=training)
        channels_first = self.data_format == "channels_first"
        if channels_first:  # TensorFlow's CPU convolution takes NHWC only
            x = ops.transpose(x, (0, 2, 3, 1))
        # conv2d(data, F, stride 1, zero padding f): taps beyond f are 0
        outputs = self._basis_first_conv(x)
        if self.bias is not None:
            outputs = outputs + self.bias
        return ops.transpose(outputs, (0, 3, 1, 2)) if channels_first else outputs

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.safe_subsample is not None:
            shape = list(self.safe_subsample.compute_output_shape(input_shape))
        shape[self.channel_axis] = self.filters
        return tuple(shape)

    # ----------------------------------------------------------- serialization
    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.safe_subsample is not None:
            self.safe_subsample.sync_sigma()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "order": self.order,
                "k": self.k,
                "init_log2_sigma": self.init_log2_sigma,
                "learn_sigma": self.learn_sigma,
                "min_sigma": self.min_sigma,
                "max_sigma": self.max_sigma,
                "size_rule": self.size_rule,
                "safe_subsample": None
                if self.safe_subsample is None
                else keras.saving.serialize_keras_object(self.safe_subsample),
                "use_bias": self.use_bias,
                "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": keras.regularizers.serialize(self.alpha_regularizer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "data_format": self.data_format,
            }
        )
        return config


def _check_order(order):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"`order` must be an integer >= 0, got {order!r}.")
    return int(order)

