"""YOLOv8 with a DiffStride PANet, under the Resolution PANet's complexity cap.

The comparator of the paper's Table 1 row "DiffStride (unable to upsample)"
(issue 11, item 5). The PANet is `detection.panet`'s (KerasCV's
architecture) with these hooks:

* the bottom-up path's two 3x3 stride-2 convolutions run at stride 1 and
  are followed by a `keras_resolution.DiffStride2D` initialised at stride
  2, before their batch normalization: the official DiffStride recipe
  (google-research/diffstride `resnet.py`: "the strides go into the
  pooling layer", applied to the conv's output and followed by the BN);
* the top-down x2 nearest upsampling stays fixed, since DiffStride cannot
  upsample;
* `AlignToMaxShape` on the branches of every concatenation, as in the
  Resolution PANet: a DiffStride output that is larger than the lateral map
  it is merged with (as it is at initialisation, see below) brings the
  lateral up to its size;
* `DCTResize` of the three outputs back to P3/P4/P5 for KerasCV's head.

DiffStride's ramp lies outside its nominal size (`h = min(H, 2 ceil(T_h + R)
- H % 2)`, `T_h = max(H / S_h, 2) / 2`, and likewise in width with
`T_w + 1`), so at initialisation the bottom-up maps are larger than the
baseline's: at 256 px (P3 32x32, P4 16x16, P5 8x8) the first DiffStride
gives 24x24 and the second 20x20, and at 64 to 128 px it keeps the size of
its input (8, 12 or 16). However large its strides grow, its output is at
least `2 (1 + R)` = 10 cells a side, so at 256 px the DiffStride PANet cannot
reach the baseline's complexity.

PANet complexity has the Resolution PANet's definition: the sum over the
PANet's convolutions of their output area (`"area"`) or height + width
(`"linear"`), where the stride-1 conv and its DiffStride count as the
strided conv they replace, at DiffStride's output size. The sizes are the
continuous ones, differentiable in the strides: DiffStride's
`target_lengths` (its output sizes with `T + R` not rounded up) for the two
DiffStride convs, and `max(target, lateral)` per axis for the convolutions
after each bottom-up merge, which work on the aligned map; the top-down
convolutions keep fixed sizes. The cap defaults to the baseline's PANet
complexity (11,500 at 320 px, `fpn_depth=1`) and the training loss is
KerasCV's YOLOv8 loss plus `hinge_weight * max(0, C_PAN - complexity_cap)`,
so `hinge_weight` means what it means for `resolution_yolov8`. With
`"flops"` C_PAN is the PANet's multiply-adds per image
(`detection.complexity.panet_layer_flops`: the convolutions at their
continuous sizes, the two stride-1 convolutions in front of DiffStride at
their full input size, plus DiffStride's spectral products), and the
default cap the baseline's multiply-adds.

The strides are marked as learned rates, so `ResolutionSGD` and
`ResolutionAdam` apply their `scale_learning_rate_factor` to them as to the
Resolution scales.
"""

import keras
from keras import ops

import keras_resolution
from detection.complexity import panet_baseline_flops
from detection.complexity import panet_layer_flops
from detection.panet import PANetHooks
from detection.resolution import dct_output
from detection.resolution import validate_budget_args
from detection.yolov8 import PANetYOLOV8Detector
from keras_resolution.complexity_definitions import FLOPS
from keras_resolution.complexity_definitions import measure
from keras_resolution.layer import check_positive_finite


def _maximum(length, lateral):
    """Per-axis size of an aligned merge: a number, or a tensor for a
    continuous (differentiable) length."""
    if isinstance(length, (int, float)):
        return max(length, lateral)
    return ops.maximum(ops.cast(length, "float32"), float(lateral))


def _static_size(tensor, what):
    size = tuple(tensor.shape[1:3])
    if any(d is None for d in size):
        raise ValueError(f"`image_size`: the DiffStride PANet needs fixed sizes, got {size} "
                         f"at {what}.")
    return tuple(int(d) for d in size)


@keras.saving.register_keras_serializable(package="detection")
class DiffStrideYOLOV8Detector(keras_resolution.ComplexityBudgetMixin, PANetYOLOV8Detector):
    """A KerasCV YOLOv8 detector whose bottom-up downsampling is DiffStride.

    Args:
        backbone, num_classes, bounding_box_format, fpn_depth, label_encoder,
            prediction_decoder: as for `PANetYOLOV8Detector`.
        smoothness: Ramp length `R` of the DiffStride layers (official: 4).
        complexity_definition: `"area"` (default), `"linear"` or `"flops"`
            (multiply-adds per image).
        complexity_cap: C_cap of the hinge, in the definition's units;
            None: the baseline's PANet complexity (not the model's own at
            initialisation, which is larger).
        hinge_weight: lambda_hinge >= 0.
        **kwargs: `keras.Model` arguments (e.g. `name`).
    """

    def __init__(
        self,
        backbone,
        num_classes,
        bounding_box_format,
        fpn_depth=1,
        smoothness=4.0,
        complexity_definition="area",
        complexity_cap=None,
        hinge_weight=0.0,
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        validate_budget_args(complexity_definition, complexity_cap, hinge_weight)
        smoothness = check_positive_finite("smoothness", smoothness)
        convs = []  # PANet conv block names, in build order
        diffstride_blocks = []  # the blocks whose striding DiffStride does
        stage = {}  # conv block -> the DiffStride whose merged map it works on
        laterals = {}  # DiffStride block -> size of the lateral it is merged with
        current = [None]

        def resize(x, name):  # Only records the conv and its bottom-up stage.
            convs.append(name)
            stage[name] = current[0]
            return x

        def downsample(x, strides, name):
            height, width = _static_size(x, name)
            if min(height, width) <= smoothness:
                raise ValueError(
                    f"`image_size`: the first DiffStride gets {height}x{width} maps (P3, the "
                    f"image over 8), which must exceed `smoothness` (R = {smoothness:g}).")
            diffstride_blocks.append(name)
            current[0] = name
            layer = keras_resolution.DiffStride2D(
                strides=float(strides), smoothness=smoothness, name=f"{name}_diffstride")
            return layer(x)

        def align(tensors, name):
            block = name[: -len("_merge")]
            if name.endswith("_merge") and block in diffstride_blocks:
                laterals[block] = _static_size(tensors[1], name)
            return keras_resolution.AlignToMaxShape(name=f"{name}_align")(tensors)

        super().__init__(
            backbone,
            num_classes,
            bounding_box_format,
            fpn_depth=fpn_depth,
            label_encoder=label_encoder,
            prediction_decoder=prediction_decoder,
            panet_hooks=PANetHooks(
                resize=resize, align=align, output=dct_output, downsample=downsample),
            **kwargs,
        )
        self.smoothness = smoothness
        self.panet_convs = convs
        self.diffstride_blocks = diffstride_blocks
        self.merged_blocks = {
            name: stage[name] for name in convs
            if stage[name] is not None and name not in diffstride_blocks
        }
        self.lateral_sizes = laterals
        self.fixed_sizes = {
            name: _static_size(self.get_layer(f"{name}_conv").output, name)
            for name in convs
            if name not in diffstride_blocks and name not in self.merged_blocks
        }
        self.complexity_definition = complexity_definition
        self.complexity_cap = float(complexity_cap or self.model_full_complexity())
        self.hinge_weight = float(hinge_weight)
        self.init_complexity_budget(
            keras_resolution.HingeCap(self.complexity_cap, self.hinge_weight),
            complexity_definition,
            metric_names=("panet_complexity", "hinge_penalty"),
        )

    # ------------------------------------------------------------------ sizes
    def panet_blocks(self):
        """(conv block name, its DiffStride2D, 1) for the two bottom-up
        downsamplings, in build order (`PANetComplexityLogger` logs their
        sizes)."""
        return [(name, self.get_layer(f"{name}_diffstride"), 1)
                for name in self.diffstride_blocks]

    def _conv_lengths(self, diffstride_lengths):
        """Output lengths of every PANet conv (the DiffStride's for the
        strided ones), given each DiffStride's output lengths."""
        lengths = {}
        for name in self.panet_convs:
            if name in diffstride_lengths:
                lengths[name] = list(diffstride_lengths[name])
            elif name in self.merged_blocks:
                block = self.merged_blocks[name]
                lengths[name] = [_maximum(length, lateral) for length, lateral
                                 in zip(diffstride_lengths[block], self.lateral_sizes[block])]
            else:
                lengths[name] = list(self.fixed_sizes[name])
        return lengths

    def _baseline_lengths(self):
        """The baseline's sizes: its stride-2 convs give the lateral's size."""
        return self._conv_lengths(self.lateral_sizes)

    def panet_baseline_sizes(self):
        """Per PANet convolution: the baseline's output `(height, width)`."""
        return {f"{name}_conv": tuple(lengths)
                for name, lengths in self._baseline_lengths().items()}

    def _learned_lengths(self):
        """The sizes the PANet now produces (integers)."""
        return self._conv_lengths(
            {name: layer.output_sizes for name, layer, _ in self.panet_blocks()})

    # ------------------------------------------------------------- complexity
    def panet_layer_complexities(self, definition=None):
        """Per PANet conv: its output complexity from the continuous sizes
        (scalar float32 tensors, differentiable in the strides); for
        `"flops"` `panet_layer_flops` (the convolutions, then DiffStride's
        own products)."""
        definition = definition or self.complexity_definition
        if definition == FLOPS:
            return panet_layer_flops(self)
        targets = {name: layer.target_lengths() for name, layer, _ in self.panet_blocks()}
        return {f"{name}_conv": ops.cast(measure(lengths, definition), "float32")
                for name, lengths in self._conv_lengths(targets).items()}

    def model_complexity(self):
        """C_PAN for the current strides (the mixin adds the hinge on it)."""
        total = ops.zeros((), "float32")
        for value in self.panet_layer_complexities().values():
            total = total + ops.cast(value, "float32")
        return total

    def model_full_complexity(self):
        """The baseline's C_PAN (stride-2 convolutions), a Python float: in
        cells, or its multiply-adds (`panet_baseline_flops`)."""
        if self.complexity_definition == FLOPS:
            return panet_baseline_flops(self)
        return float(sum(measure(lengths, self.complexity_definition)
                         for lengths in self._baseline_lengths().values()))

    def panet_layer_sizes(self):
        """Per PANet conv: baseline and learned output sizes, for plots;
        the DiffStride convs also give their input and strides."""
        baseline, learned = self.panet_baseline_sizes(), self._learned_lengths()
        layers = {name: layer for name, layer, _ in self.panet_blocks()}
        entries = []
        for name in self.panet_convs:
            entry = {"name": f"{name}_conv", "baseline": baseline[f"{name}_conv"],
                     "learned": tuple(int(d) for d in learned[name])}
            if name in layers:
                entry["input"] = tuple(int(d) for d in
                                       ops.convert_to_numpy(layers[name].input_size))
                entry["strides"] = tuple(layers[name].learned_rates()["stride"])
            entries.append(entry)
        return entries

    # ---------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        config.update({
            "smoothness": self.smoothness,
            "complexity_definition": self.complexity_definition,
            "complexity_cap": self.complexity_cap,
            "hinge_weight": self.hinge_weight,
        })
        return config


def diffstride_yolov8(
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
    smoothness=4.0,
    complexity_definition="area",
    complexity_cap=None,
    hinge_weight=0.0,
):
    """YOLOv8 whose PANet learns its bottom-up downsampling with DiffStride.

    Takes `baseline_yolov8`'s arguments, plus:

    Args:
        smoothness: Ramp length `R` of the two DiffStride layers (official
            default 4). P3 (the image over 8) must exceed it: `image_size`
            at least 64 for R = 4.
        complexity_definition: `"area"` (sum of conv output H*W, the paper's
            11,500 at 320), `"linear"` (H + W) or `"flops"` (the PANet's
            multiply-adds per image).
        complexity_cap: C_cap, in the definition's units; None (default) is
            the baseline's PANet complexity.
        hinge_weight: lambda_hinge >= 0 of `max(0, C_PAN - C_cap)`.

    Returns:
        A `DiffStrideYOLOV8Detector` (a `keras_cv.models.YOLOV8Detector`),
        not compiled. Its trainable parameters are the baseline's plus two
        strides per DiffStride layer (four in all).

    Raises:
        ValueError: naming the argument, for everything `baseline_yolov8`
            rejects, a bad `complexity_cap`, `hinge_weight`,
            `complexity_definition` or `smoothness` (before anything is
            built), and an `image_size` too small for the ramp.

    Example:

    ```python
    model = diffstride_yolov8(num_classes=20, hinge_weight=1e-3)
    model.compile(box_loss="ciou", classification_loss="binary_crossentropy",
                  optimizer=keras.optimizers.SGD(1e-3, global_clipnorm=10))
    model.fit(dataset, epochs=80, callbacks=[PANetComplexityLogger()])
    [layer.strides for _, layer, _ in model.panet_blocks()]
    ```
    """
    from detection.yolov8 import build_detector
    from detection.yolov8 import detector_arguments

    validate_budget_args(complexity_definition, complexity_cap, hinge_weight)
    check_positive_finite("smoothness", smoothness)
    return build_detector(
        DiffStrideYOLOV8Detector,
        **detector_arguments(locals()),
        name=f"yolov8_{backbone}_diffstride",
        smoothness=smoothness,
        complexity_definition=complexity_definition,
        complexity_cap=complexity_cap,
        hinge_weight=hinge_weight,
    )
