"""YOLOv8 whose PANet upsamples with an SRF-GAN generator, or a fixed x2.

The comparator of issue 13 (Lee & Bae, "SRF-GAN: super-resolved feature
GAN for multi-scale representation"). The PANet is `detection.panet`'s
(KerasCV's architecture) with one hook filled in: `upsample`, the x2
upsampling of the two top-down merges (P5 -> P4 size, then the P4 path ->
P3 size), which KerasCV does with nearest-neighbour `ops.repeat`. The
upsampler is one of

* `"srf"`: a `detection.SRFGenerator` (the paper's or the released code's
  variant), the paper's "P_i = lateral(C_i) + G(P_{i+1})" in the PANet's
  top-down path (the released `pafpn_sr.py` also replaces the top-down
  path only);
* `"bilinear"`: `keras.layers.UpSampling2D(2, interpolation="bilinear")`,
  the same fixed op as the generator's skip;
* `"dct"`: a fixed `keras_resolution.DCTResize` to twice the size;
* `"nearest"`: KerasCV's own upsampling (the hook is left out, so the graph
  is the baseline's, layer for layer),

so Table 1's nearest / bilinear / fixed-DCT / SRF-GAN rows come from one
builder, `srf_yolov8`. Every upsampler gives exactly 2H x 2W, so every map
size, and with it the PANet complexity (`detection.panet_complexity`), is
the baseline's; the generator's cost is in its parameters
(`SRFYOLOV8Detector.generator_parameters`).

One generator shared by both merges (the released code shares one G over
all FPN levels, which all have 256 channels) needs the two upsampled maps
to have the same channels. In YOLOv8's PANet they are P5's and P4's
(256 and 128 for the XS backbone, 2048 and 1024 for ResNet-50), so with
these backbones `share_generator=True` raises a ValueError naming it;
there is no projection to a common width, which would be a different
generator than either the paper's or the code's (docs/comparators-srfgan.md).
"""

import keras

import keras_resolution
from detection.panet import PANetHooks
from detection.srf_generator import VARIANTS
from detection.srf_generator import SRFGenerator
from detection.yolov8 import PANetYOLOV8Detector

UPSAMPLERS = ("srf", "bilinear", "nearest", "dct")


def _validate_srf_args(upsampler, generator_variant, share_generator, generator_options):
    """ValueError naming the argument, before anything is built."""
    if upsampler not in UPSAMPLERS:
        raise ValueError(f"`upsampler` must be one of {UPSAMPLERS}, got {upsampler!r}.")
    if generator_variant not in VARIANTS:
        raise ValueError(
            f"`generator_variant` must be one of {VARIANTS}, got {generator_variant!r}.")
    if not isinstance(share_generator, bool):
        raise ValueError(f"`share_generator` must be a bool, got {share_generator!r}.")
    if share_generator and upsampler != "srf":
        raise ValueError(
            f"`share_generator=True` needs upsampler='srf' (a {upsampler!r} upsampler has no "
            "weights to share).")
    options = dict(generator_options or {})
    if "channels" in options or "variant" in options:
        raise ValueError("`generator_options` must not set `channels` or `variant` (the PANet "
                         "and `generator_variant` set them).")
    try:
        SRFGenerator(1, generator_variant, **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`generator_options`: {error}") from error
    return options


class TopDownUpsampler:
    """The `upsample` hook of an SRF-GAN PANet: a generator, or a fixed x2.

    Args:
        upsampler: `"srf"`, `"bilinear"` or `"dct"` (`"nearest"` needs no
            hook: it is `PANetHooks`' default).
        generator_variant: `SRFGenerator` variant, `"paper"` or `"rrdb"`.
        share_generator: one generator for both merges (their inputs must
            have the same channels) instead of one per merge.
        generator_options: other `SRFGenerator` arguments (`num_blocks`,
            `growth`, `residual_scale`, `deconv_kernel`, ...).
        shared_name: layer name of the shared generator.

    Returns (when called as `upsampler(x, name)`):
        `x` upsampled to exactly twice its height and width.

    Example:

    ```python
    hook = TopDownUpsampler("srf", generator_variant="rrdb")
    outputs = apply_path_aggregation_fpn(features, hooks=PANetHooks(upsample=hook))
    hook.layers  # {"pa_fpn_p4p5_upsample": SRFGenerator, ...}
    ```
    """

    def __init__(self, upsampler, generator_variant="paper", share_generator=False,
                 generator_options=None, shared_name="pa_fpn_srf_generator"):
        self.options = _validate_srf_args(
            upsampler, generator_variant, share_generator, generator_options)
        if upsampler == "nearest":
            raise ValueError("`upsampler`: 'nearest' is the PANet's default; pass no hook.")
        self.upsampler = upsampler
        self.generator_variant = generator_variant
        self.share_generator = share_generator
        self.shared_name = shared_name
        self.layers = {}  # hook name -> the layer that upsampled there

    def _generator(self, x, name):
        channels = x.shape[-1]
        if not self.share_generator:
            return SRFGenerator(channels, self.generator_variant, name=name, **self.options)
        shared = next(iter(self.layers.values()), None)
        if shared is None:
            return SRFGenerator(channels, self.generator_variant, name=self.shared_name,
                                **self.options)
        if shared.channels != channels:
            raise ValueError(
                f"`share_generator=True`: the PANet upsamples maps of {shared.channels} and "
                f"{channels} channels ({next(iter(self.layers))} and {name}); one generator "
                "needs equal channels. Use share_generator=False (one generator per merge)."
            )
        return shared

    def __call__(self, x, name):
        if self.upsampler == "srf":
            layer = self._generator(x, name)
        elif self.upsampler == "bilinear":
            layer = keras.layers.UpSampling2D(2, interpolation="bilinear", name=name)
        else:
            size = tuple(x.shape[1:3])
            if any(d is None for d in size):
                raise ValueError(f"`image_size`: the fixed DCT upsampling needs static sizes, "
                                 f"got {size} at {name}.")
            layer = keras_resolution.DCTResize((2 * size[0], 2 * size[1]), name=name)
        self.layers[name] = layer
        return layer(x)


@keras.saving.register_keras_serializable(package="detection")
class SRFYOLOV8Detector(PANetYOLOV8Detector):
    """A KerasCV YOLOv8 detector whose top-down x2 upsamplings are an
    SRF-GAN generator (or a fixed bilinear, DCT or nearest x2).

    Args:
        backbone, num_classes, bounding_box_format, fpn_depth, label_encoder,
            prediction_decoder: as for `PANetYOLOV8Detector`.
        upsampler: `"srf"` (default), `"bilinear"`, `"nearest"` or `"dct"`.
        generator_variant: `"paper"` (default) or `"rrdb"` (the released
            code's generator).
        share_generator: one generator for both top-down merges (needs
            P4 and P5 of equal channels); False (default): one per merge.
        generator_options: dict of further `SRFGenerator` arguments.
        **kwargs: `keras.Model` arguments (e.g. `name`).
    """

    def __init__(
        self,
        backbone,
        num_classes,
        bounding_box_format,
        fpn_depth=1,
        upsampler="srf",
        generator_variant="paper",
        share_generator=False,
        generator_options=None,
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        options = _validate_srf_args(
            upsampler, generator_variant, share_generator, generator_options)
        hook = None
        if upsampler != "nearest":
            hook = TopDownUpsampler(upsampler, generator_variant, share_generator, options)
        super().__init__(
            backbone,
            num_classes,
            bounding_box_format,
            fpn_depth=fpn_depth,
            label_encoder=label_encoder,
            prediction_decoder=prediction_decoder,
            panet_hooks=PANetHooks(upsample=hook),
            **kwargs,
        )
        self.upsampler = upsampler
        self.generator_variant = generator_variant
        self.share_generator = share_generator
        self.generator_options = options
        # Names of the generator layers, in build order (one if shared).
        self.generator_names = [] if hook is None or upsampler != "srf" else list(
            dict.fromkeys(layer.name for layer in hook.layers.values()))

    def srf_generators(self):
        """The `SRFGenerator` layers of the PANet, in build order (empty
        for a fixed upsampler; one if shared)."""
        return [self.get_layer(name) for name in self.generator_names]

    def generator_parameters(self):
        """Number of generator weights (trainable and BN statistics): the
        SRF-GAN's extra cost over the nearest-neighbour baseline."""
        return sum(layer.count_params() for layer in self.srf_generators())

    def generator_flops(self):
        """Multiply-adds per image of the generators' convolutions (0 for a
        fixed upsampler): the SRF-GAN's compute on top of the PANet's
        (`panet_complexity(model, "flops")` counts the PANet's own convs).

        A generator applied to an H x W map runs its head, body and up-conv
        at H x W, its transposed conv with `k k C C` products per input
        position, and its projection at 2H x 2W; each conv costs
        `keras_resolution.complexity.multiply_adds_per_position` per
        position. Batch normalization, activations and the bilinear skip
        are not counted (fixed resizes are left out of every FLOPs count of
        this repository). A shared generator counts once per merge.

        Returns:
            A Python float.
        """
        from keras_resolution.complexity import multiply_adds_per_position

        total = 0.0
        for generator in self.srf_generators():
            body = [layer for block in generator.blocks for layer in block
                    if isinstance(layer, keras.layers.Conv2D)]
            at_input = [generator.head, *body, generator.body_conv, generator.deconv]
            per_position = sum(map(multiply_adds_per_position, at_input))
            projection = multiply_adds_per_position(generator.projection)
            for node in generator._inbound_nodes:
                height, width = node.input_tensors[0].shape[1:3]
                total += height * width * (per_position + 4 * projection)
        return float(total)

    def get_config(self):
        config = super().get_config()
        config.update({
            "upsampler": self.upsampler,
            "generator_variant": self.generator_variant,
            "share_generator": self.share_generator,
            "generator_options": dict(self.generator_options),
        })
        return config


def srf_yolov8(
    num_classes,
    bounding_box_format="xywh",
    backbone="yolo_v8_xs",
    image_size=320,
    fpn_depth=1,
    freeze_backbone=True,
    weights=None,
    confidence_threshold=0.2,
    iou_threshold=0.7,
    max_detections=100,
    upsampler="srf",
    generator_variant="paper",
    share_generator=False,
    generator_options=None,
):
    """YOLOv8 whose PANet's top-down x2 upsamplings are an SRF-GAN generator
    (issue 13), or a fixed bilinear, DCT or nearest x2 for the other rows
    of Table 1.

    Takes `baseline_yolov8`'s arguments, plus:

    Args:
        upsampler: `"srf"` (default: `SRFGenerator`), `"bilinear"`,
            `"nearest"` (KerasCV's, the baseline's graph) or `"dct"`.
        generator_variant: `"paper"` (default) or `"rrdb"`.
        share_generator: one generator for both merges, as the released
            code shares one over its FPN levels; needs P4 and P5 of equal
            channels, which YOLOv8's backbones do not have (ValueError).
        generator_options: dict of further `SRFGenerator` arguments
            (`num_blocks`, `growth`, `residual_scale`, `deconv_kernel`).

    Returns:
        An `SRFYOLOV8Detector` (a `keras_cv.models.YOLOV8Detector`), not
        compiled, with the baseline's map sizes and PANet complexity.

    Raises:
        ValueError: naming the argument, for everything `baseline_yolov8`
            rejects, an unknown `upsampler` or `generator_variant`, bad
            `generator_options`, a non-bool `share_generator` (these before
            anything is built), and `share_generator=True` with P4 and P5
            of different channels.

    Example:

    ```python
    model = srf_yolov8(num_classes=20, generator_variant="rrdb")
    model.generator_parameters()  # the SRF-GAN's extra parameters
    rows = {name: srf_yolov8(num_classes=20, upsampler=name)
            for name in ("nearest", "bilinear", "dct", "srf")}
    ```
    """
    from detection.yolov8 import build_detector
    from detection.yolov8 import detector_arguments

    _validate_srf_args(upsampler, generator_variant, share_generator, generator_options)
    return build_detector(
        SRFYOLOV8Detector,
        **detector_arguments(locals()),
        name=f"yolov8_{backbone}_{upsampler}",
        upsampler=upsampler,
        generator_variant=generator_variant,
        share_generator=share_generator,
        generator_options=generator_options,
    )
