"""The SRF-GAN feature patch discriminator (Lee & Bae, section 3.1).

Three blocks of 3x3 conv + batch normalization + LeakyReLU(0.2) at stride 1
(512, 1024 and 1024 channels in the paper) and a 1x1 conv to one logit per
feature-map position, so its output has the spatial size of its input: each
position judges the patch of its receptive field (7x7 feature cells). The
paper ends with a sigmoid; here `call` returns the logits, which the
SRF-GAN losses feed to a binary cross-entropy `from_logits` (the same value
as the sigmoid's log-likelihood, without its saturation), and
`probability` applies the sigmoid. `width_multiplier` scales the widths
for small data (the paper's widths give about 15.3M parameters on 256
input channels).
"""

import keras
from keras import ops

PAPER_WIDTHS = (512, 1024, 1024)


@keras.saving.register_keras_serializable(package="detection")
class FeaturePatchDiscriminator(keras.layers.Layer):
    """Per-position real/fake logits for a feature map.

    Args:
        widths: tuple of ints, channels of the conv-BN-LeakyReLU blocks
            (the paper's three: 512, 1024, 1024).
        width_multiplier: float > 0; every width is
            `max(1, round(width * width_multiplier))`.
        negative_slope: LeakyReLU slope (0.2).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)`, any channels.

    Returns:
        Logits of shape `(batch, height, width, 1)`; `probability(x)` gives
        their sigmoid, the paper's per-position probability of "real".

    Example:

    >>> discriminator = FeaturePatchDiscriminator(width_multiplier=1 / 64)
    >>> discriminator(keras.ops.ones((2, 5, 7, 32))).shape
    (2, 5, 7, 1)
    """

    def __init__(self, widths=PAPER_WIDTHS, width_multiplier=1.0, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        widths = tuple(widths)
        if not widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths
        ):
            raise ValueError(f"`widths` must be a non-empty tuple of ints >= 1, got {widths!r}.")
        multiplier = float(width_multiplier)
        if not multiplier > 0 or multiplier == float("inf"):
            raise ValueError(f"`width_multiplier` must be a finite number > 0, got "
                             f"{width_multiplier!r}.")
        self.widths = widths
        self.width_multiplier = multiplier
        self.negative_slope = float(negative_slope)
        self.scaled_widths = tuple(max(1, round(w * multiplier)) for w in widths)
        # Conv without bias before each BN (the BN has one), as in a patch
        # discriminator.
        self.blocks = [
            (keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{b}_conv"),
             keras.layers.BatchNormalization(name=f"block{b}_bn"))
            for b, width in enumerate(self.scaled_widths)
        ]
        self.classifier = keras.layers.Conv2D(1, 1, name="classifier")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv, bn in self.blocks:
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)
            bn.build(shape)
        self.classifier.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        for conv, bn in self.blocks:
            x = ops.leaky_relu(bn(conv(x), training=training), self.negative_slope)
        return self.classifier(x)

    def probability(self, inputs, training=None):
        """The paper's output: the sigmoid of the logits, per position."""
        return ops.sigmoid(self(inputs, training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (1,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "widths": self.widths,
            "width_multiplier": self.width_multiplier,
            "negative_slope": self.negative_slope,
        })
        return config
