"""The SRF-GAN generator: a learned x2 feature upsampler (Lee & Bae).

`SRFGenerator` super-resolves a feature map by a factor of two: a learned
residual is added to the bilinear x2 of its input. Two variants:

* `"paper"`, the paper's text (section 3.1): 3x3 conv + LeakyReLU(0.2),
  residual blocks [conv3x3-BN-LeakyReLU-conv3x3-BN + skip] (5 by default),
  a 3x3 conv block and a transposed-conv block (each with a LeakyReLU)
  that double the size, a 1x1 conv back to the channels.
* `"rrdb"`, the released code (`generator_rdb.py`, as recorded in
  ../shared/notes/comparators.md): 3x3 conv + LeakyReLU, one
  residual-in-residual block of residual dense blocks (3 by default; growth
  32, 5 bias-free convs each, LeakyReLU, residual scale 0.2, no BN), the
  same 3x3 conv and transposed-conv blocks, a 3x3 conv back to the
  channels.

Both end with `+ bilinear x2 (input)`, a fixed `keras.layers.UpSampling2D`
(half-pixel centres, no antialiasing: PyTorch's `F.interpolate(...,
mode="bilinear", align_corners=False)`), so with all learned weights at
zero the generator is exactly the bilinear x2. The transposed conv is
`Conv2DTranspose(kernel 6, stride 2, padding "same")`, which is PyTorch's
`ConvTranspose2d(k=6, s=2, p=2)`: 2H x 2W for every H and W.
docs/comparators-srfgan.md lists every choice between paper and code.
"""

import keras
from keras import ops

VARIANTS = ("paper", "rrdb")
DEFAULT_NUM_BLOCKS = {"paper": 5, "rrdb": 3}
# Convolutions per residual dense block (released code: conv1..conv5).
DENSE_BLOCK_CONVS = 5


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")
    return value


def scaled_kaiming_normal():
    """The released code's initializer: He (Kaiming) normal, fan in, times
    0.1 (`initialize_weights(..., 0.1)`), i.e. variance 0.02 / fan_in."""
    return keras.initializers.VarianceScaling(
        scale=0.02, mode="fan_in", distribution="untruncated_normal"
    )


@keras.saving.register_keras_serializable(package="detection")
class SRFGenerator(keras.layers.Layer):
    """The SRF-GAN generator: `x -> bilinear_x2(x) + residual(x)`.

    Args:
        channels: int, channels of the input and of the output.
        variant: `"paper"` (residual blocks with BN, 1x1 projection) or
            `"rrdb"` (the released code: residual dense blocks without BN,
            3x3 projection).
        num_blocks: int, residual blocks (`"paper"`) or residual dense
            blocks inside the residual-in-residual block (`"rrdb"`); None:
            5 or 3.
        growth: int, channels each conv of a residual dense block adds
            (`"rrdb"` only).
        residual_scale: float, the factor of the dense blocks' residuals
            and of the residual-in-residual block's (`"rrdb"` only; 0.2).
        deconv_kernel: int, even, kernel size of the stride-2 transposed
            conv (6: PyTorch's `ConvTranspose2d(k=6, s=2, p=2)`).
        negative_slope: LeakyReLU slope (0.2).
        kernel_initializer: initializer of every conv kernel; default
            `scaled_kaiming_normal()` (the released code's). Biases start
            at zero.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)`.

    Returns:
        A tensor of shape `(batch, 2 * height, 2 * width, channels)`.

    Raises:
        ValueError: naming the argument, for a bad setting, and naming
            `channels` when the input's channels differ.

    Example:

    >>> generator = SRFGenerator(64, variant="rrdb")
    >>> generator(keras.ops.ones((1, 5, 8, 64))).shape
    (1, 10, 16, 64)
    """

    def __init__(
        self,
        channels,
        variant="paper",
        num_blocks=None,
        growth=32,
        residual_scale=0.2,
        deconv_kernel=6,
        negative_slope=0.2,
        kernel_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"`variant` must be one of {VARIANTS}, got {variant!r}.")
        self.channels = _positive_int("channels", channels)
        self.variant = variant
        self.num_blocks = _positive_int(
            "num_blocks", DEFAULT_NUM_BLOCKS[variant] if num_blocks is None else num_blocks
        )
        self.growth = _positive_int("growth", growth)
        self.deconv_kernel = _positive_int("deconv_kernel", deconv_kernel)
        if self.deconv_kernel % 2:
            raise ValueError(
                f"`deconv_kernel` must be even (a stride-2 transposed conv with an odd kernel "
                f"is not centred), got {deconv_kernel!r}."
            )
        self.residual_scale = float(residual_scale)
        self.negative_slope = float(negative_slope)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or scaled_kaiming_normal()
        )

        def conv(filters, kernel_size, use_bias=True, name=None):
            return keras.layers.Conv2D(
                filters, kernel_size, padding="same", use_bias=use_bias,
                kernel_initializer=self.kernel_initializer, name=name,
            )

        self.head = conv(channels, 3, name="head")
        if variant == "paper":
            # conv-BN-LReLU-conv-BN; the convs have no bias (the BN has one).
            self.blocks = [
                [conv(channels, 3, use_bias=False, name=f"block{b}_conv1"),
                 keras.layers.BatchNormalization(name=f"block{b}_bn1"),
                 conv(channels, 3, use_bias=False, name=f"block{b}_conv2"),
                 keras.layers.BatchNormalization(name=f"block{b}_bn2")]
                for b in range(self.num_blocks)
            ]
        else:
            # Dense block: conv k sees the input and the k - 1 earlier
            # outputs; the first four add `growth` channels, the last maps
            # back to `channels`.
            self.blocks = [
                [conv(growth if k < DENSE_BLOCK_CONVS - 1 else channels, 3, use_bias=False,
                      name=f"dense{b}_conv{k + 1}")
                 for k in range(DENSE_BLOCK_CONVS)]
                for b in range(self.num_blocks)
            ]
        self.body_conv = conv(channels, 3, name="body_conv")
        self.deconv = keras.layers.Conv2DTranspose(
            channels, self.deconv_kernel, strides=2, padding="same",
            kernel_initializer=self.kernel_initializer, name="deconv",
        )
        self.projection = conv(channels, 1 if variant == "paper" else 3, name="projection")
        self.skip = keras.layers.UpSampling2D(2, interpolation="bilinear", name="bilinear_x2")

    def _check_channels(self, input_shape):
        if input_shape[-1] != self.channels:
            raise ValueError(
                f"`channels`: the generator has channels={self.channels} but its input has "
                f"{input_shape[-1]} (shape {tuple(input_shape)})."
            )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_channels(input_shape)
        shape = input_shape
        self.head.build(shape)
        for block in self.blocks:
            if self.variant == "paper":
                for layer in block:
                    layer.build(shape)
            else:
                width = self.channels
                for layer in block:
                    layer.build(shape[:-1] + (width,))
                    width += self.growth
        self.body_conv.build(shape)
        self.deconv.build(shape)
        self.projection.build(self.compute_output_shape(shape))
        self.skip.build(shape)

    def _activate(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def _paper_body(self, x, training):
        for conv1, bn1, conv2, bn2 in self.blocks:
            y = self._activate(bn1(conv1(x), training=training))
            x = x + bn2(conv2(y), training=training)
        return x

    def _rrdb_body(self, x):
        start = x
        for block in self.blocks:
            features = [x]
            for k, conv in enumerate(block):
                y = conv(ops.concatenate(features, axis=-1) if k else x)
                if k < DENSE_BLOCK_CONVS - 1:
                    features.append(self._activate(y))
            x = x + self.residual_scale * y
        return start + self.residual_scale * x

    def call(self, inputs, training=None):
        x = self._activate(self.head(inputs))
        if self.variant == "paper":
            x = self._paper_body(x, training)
        else:
            x = self._rrdb_body(x)
        x = self._activate(self.body_conv(x))
        x = self._activate(self.deconv(x))
        return self.projection(x) + self.skip(inputs)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        double = lambda d: None if d is None else 2 * d  # noqa: E731
        return (batch, double(height), double(width), self.channels)

    def get_config(self):
        config = super().get_config()
        config.update({
            "channels": self.channels,
            "variant": self.variant,
            "num_blocks": self.num_blocks,
            "growth": self.growth,
            "residual_scale": self.residual_scale,
            "deconv_kernel": self.deconv_kernel,
            "negative_slope": self.negative_slope,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
