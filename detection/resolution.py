"""YOLOv8 with a Resolution PANet, trained under a PANet complexity cap.

The paper's section 5.2 detector. The PANet is `detection.panet`'s (KerasCV's
architecture) with three hooks filled in:

* a `ResolutionLayer` (s initialised at 1) in front of every PANet
  convolution, 22 at `fpn_depth=1`;
* `AlignToMaxShape` on the branches of every concatenation and residual
  addition: branches that learned different sizes are DCT-resized to
  (max height, max width);
* `DCTResize` of the three PANet outputs back to the head's strides 8/16/32,
  so the head, anchors, label assignment and loss stay KerasCV's.

The baseline's fixed resizes are kept fixed: the x2 nearest upsampling of the
top-down path and the two stride-2 convolutions of the bottom-up path. The
Resolution layer in front of each of them can already learn any rate, so
making them learnable as well would add a second, redundant scale per resize;
keeping them also keeps the baseline's layer-for-layer architecture, which is
what makes "all scales at 1 reproduces the baseline" testable.

PANet complexity (`panet_complexity`) is the sum over PANet convolutions of
their output area (`"area"`, the paper's number: 11,500 for the baseline at
320x320, `fpn_depth=1`) or of height + width (`"linear"`). Here it is
computed from the continuous target sizes q of the Resolution layers, divided
by the stride of the convolution that follows, so it is differentiable in the
scales and equals the baseline's at s = 1. The training loss is KerasCV's
YOLOv8 loss plus `hinge_weight * max(0, C_PAN - complexity_cap)`, logged as
`hinge_penalty` next to `box_loss` and `class_loss`.
"""

import keras
from keras import ops

import keras_resolution
from detection.panet import PANetHooks
from detection.yolov8 import PANetYOLOV8Detector

COMPLEXITY_DEFINITIONS = ("area", "linear")


def _stride_of(model, block_name):
    conv = model.get_layer(f"{block_name}_conv")
    return int(conv.strides[0])


@keras.saving.register_keras_serializable(package="detection")
class ResolutionYOLOV8Detector(keras_resolution.ComplexityBudgetMixin, PANetYOLOV8Detector):
    """A KerasCV YOLOv8 detector whose PANet resolutions are learned.

    Args:
        backbone, num_classes, bounding_box_format, fpn_depth, label_encoder,
            prediction_decoder: as for `PANetYOLOV8Detector`.
        transform: `"dct"` (the paper's choice) or `"dft"`.
        taper: Taper length of the Resolution layers.
        gradient: `"exact"` or `"literal"` (see `keras_resolution`).
        max_scale: Largest scale a Resolution layer may learn.
        complexity_definition: `"area"` (default) or `"linear"`.
        complexity_cap: C_cap of the hinge; None: the baseline's complexity
            (the model's own at s = 1).
        hinge_weight: lambda_hinge >= 0.
        **kwargs: `keras.Model` arguments (e.g. `name`).
    """

    def __init__(
        self,
        backbone,
        num_classes,
        bounding_box_format,
        fpn_depth=1,
        transform="dct",
        taper=4.0,
        gradient="exact",
        max_scale=4.0,
        complexity_definition="area",
        complexity_cap=None,
        hinge_weight=0.0,
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        if complexity_definition not in COMPLEXITY_DEFINITIONS:
            raise ValueError(
                f"Unknown `complexity_definition` {complexity_definition!r}; "
                f"expected one of {COMPLEXITY_DEFINITIONS}."
            )
        if complexity_cap is not None and not float(complexity_cap) > 0:
            raise ValueError(f"`complexity_cap` must be > 0, got {complexity_cap}.")
        if not float(hinge_weight) >= 0:
            raise ValueError(f"`hinge_weight` must be >= 0, got {hinge_weight}.")
        resolution_layers = {}

        def resize(x, name):
            layer = keras_resolution.ResolutionLayer(
                scale=1.0, transform=transform, taper=taper, gradient=gradient,
                max_scale=max_scale, name=f"{name}_resolution",
            )
            resolution_layers[name] = layer
            return layer(x)

        def align(tensors, name):
            return keras_resolution.AlignToMaxShape(name=f"{name}_align")(tensors)

        def output(x, size, name):
            return keras_resolution.DCTResize(size, name=f"{name}_dct")(x)

        super().__init__(
            backbone,
            num_classes,
            bounding_box_format,
            fpn_depth=fpn_depth,
            label_encoder=label_encoder,
            prediction_decoder=prediction_decoder,
            panet_hooks=PANetHooks(resize=resize, align=align, output=output),
            **kwargs,
        )
        self.transform = transform
        self.taper = taper
        self.gradient = gradient
        self.max_scale = max_scale
        # PANet conv block name -> stride of its conv, in build order.
        self.panet_strides = {name: _stride_of(self, name) for name in resolution_layers}
        self.complexity_definition = complexity_definition
        baseline = self.model_full_complexity()
        self.complexity_cap = float(complexity_cap or baseline)
        self.hinge_weight = float(hinge_weight)
        self.init_complexity_budget(
            keras_resolution.HingeCap(self.complexity_cap, self.hinge_weight),
            complexity_definition,
            metric_names=("panet_complexity", "hinge_penalty"),
        )

    # -------------------------------------------------------------- complexity
    def panet_blocks(self):
        """(conv block name, its ResolutionLayer, conv stride), in build order."""
        return [
            (name, self.get_layer(f"{name}_resolution"), stride)
            for name, stride in self.panet_strides.items()
        ]

    @staticmethod
    def _block_complexity(stride, definition, lengths):
        lengths = [length / stride for length in lengths]
        if definition == "area":
            return lengths[0] * lengths[1]
        return lengths[0] + lengths[1]

    def panet_layer_complexities(self, definition=None):
        """Per PANet convolution: its output complexity from the continuous
        sizes (scalar tensors, differentiable in the scales)."""
        definition = definition or self.complexity_definition
        values = {}
        for name, layer, stride in self.panet_blocks():
            input_sizes = [ops.cast(layer.input_size[i], "float32") for i in range(2)]
            lengths = layer._target_lengths(input_sizes)
            values[f"{name}_conv"] = self._block_complexity(stride, definition, lengths)
        return values

    def model_complexity(self):
        """C_PAN for the current scales (the mixin adds the hinge on it)."""
        total = ops.zeros((), "float32")
        for value in self.panet_layer_complexities().values():
            total = total + ops.cast(value, "float32")
        return total

    def model_full_complexity(self):
        """C_PAN with every scale at 1: the baseline's PANet complexity."""
        total = 0.0
        for name, layer, stride in self.panet_blocks():
            sizes = [float(d) for d in layer.nominal_input_sizes]
            total += self._block_complexity(stride, self.complexity_definition, sizes)
        return total

    # ------------------------------------------------------------ observability
    def panet_layer_sizes(self):
        """Per PANet convolution: baseline and learned sizes, for plots."""
        entries = []
        for name, layer, stride in self.panet_blocks():
            learned = layer.output_sizes
            baseline = tuple(layer.nominal_input_sizes)
            entries.append({
                "name": f"{name}_conv",
                "baseline": tuple(-(-d // stride) for d in baseline),
                "learned": tuple(-(-d // stride) for d in learned),
                "input": tuple(int(d) for d in ops.convert_to_numpy(layer.input_size)),
                "scale": tuple(float(v) for v in ops.convert_to_numpy(layer.scale)),
            })
        return entries

    def resolution_summary(self, print_fn=print):
        """Prints a table of the PANet convolutions: input size, learned
        resize output, scales, conv output complexity, baseline conv size."""
        complexities = {
            name: float(ops.convert_to_numpy(value))
            for name, value in self.panet_layer_complexities().items()
        }
        header = (f"{'PANet conv':<40} {'input':>9} {'resized':>9} {'s_h':>6} {'s_w':>6} "
                  f"{'C':>8} {'baseline out':>12} {'learned out':>11}")
        lines = [header, "-" * len(header)]
        for entry, (name, layer, _) in zip(self.panet_layer_sizes(), self.panet_blocks()):
            resized = "x".join(str(v) for v in layer.output_sizes)
            lines.append(
                f"{entry['name']:<40} {'x'.join(map(str, entry['input'])):>9} {resized:>9} "
                f"{entry['scale'][0]:>6.3f} {entry['scale'][1]:>6.3f} "
                f"{complexities[entry['name']]:>8.1f} "
                f"{'x'.join(map(str, entry['baseline'])):>12} "
                f"{'x'.join(map(str, entry['learned'])):>11}"
            )
        total = float(ops.convert_to_numpy(self.model_complexity()))
        lines.append("-" * len(header))
        lines.append(f"PANet complexity ({self.complexity_definition}): {total:,.1f} "
                     f"(baseline {self.complexity_full:,.0f}, cap {self.complexity_cap:,.0f})")
        print_fn("\n".join(lines))

    # ------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        config.update({
            "transform": self.transform,
            "taper": self.taper,
            "gradient": self.gradient,
            "max_scale": self.max_scale,
            "complexity_definition": self.complexity_definition,
            "complexity_cap": self.complexity_cap,
            "hinge_weight": self.hinge_weight,
        })
        return config


def resolution_yolov8(
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
    transform="dct",
    taper=4.0,
    gradient="exact",
    max_scale=4.0,
    complexity_definition="area",
    complexity_cap=None,
    hinge_weight=0.0,
):
    """YOLOv8 with a Resolution PANet: the paper's section 5.2 model.

    Takes `baseline_yolov8`'s arguments, plus:

    Args:
        transform: `"dct"` (default, the paper's) or `"dft"`.
        taper: Taper length of every Resolution layer (paper: 4).
        gradient: `"exact"` (default) or `"literal"` (Algorithm 1 as printed).
        max_scale: Upper bound on each learned scale.
        complexity_definition: `"area"` (sum of conv output H*W, the paper's
            11,500 at 320) or `"linear"` (H + W).
        complexity_cap: C_cap; None (default) is the baseline's PANet
            complexity, which the model has at initialisation (s = 1).
        hinge_weight: lambda_hinge >= 0 of `max(0, C_PAN - C_cap)`.

    Returns:
        A `ResolutionYOLOV8Detector` (a `keras_cv.models.YOLOV8Detector`),
        not compiled.

    Example:

    ```python
    model = resolution_yolov8(num_classes=20, hinge_weight=1e-3)
    model.compile(box_loss="ciou", classification_loss="binary_crossentropy",
                  optimizer=keras.optimizers.SGD(1e-3, global_clipnorm=10))
    model.fit(dataset, epochs=80, callbacks=[PANetComplexityLogger()])
    model.resolution_summary()
    ```
    """
    from detection.yolov8 import build_detector

    return build_detector(
        ResolutionYOLOV8Detector,
        num_classes=num_classes,
        bounding_box_format=bounding_box_format,
        backbone=backbone,
        image_size=image_size,
        fpn_depth=fpn_depth,
        freeze_backbone=freeze_backbone,
        weights=weights,
        confidence_threshold=confidence_threshold,
        iou_threshold=iou_threshold,
        max_detections=max_detections,
        name=f"yolov8_{backbone}_resolution",
        transform=transform,
        taper=taper,
        gradient=gradient,
        max_scale=max_scale,
        complexity_definition=complexity_definition,
        complexity_cap=complexity_cap,
        hinge_weight=hinge_weight,
    )
