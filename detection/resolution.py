"""YOLOv8 with a Resolution PANet, trained under a PANet complexity cap.

The paper's section 5.2 detector. The PANet is `detection.panet`'s (KerasCV's
architecture) with three hooks filled in:

* a `ResolutionLayer` (s initialised at 1) in front of every PANet
  convolution, 22 at `fpn_depth=1`. For the 1x1 convolutions that reduce
  channels (the CSP blocks' first and last convs) it is applied to the conv's
  output instead, before the batch normalization: a bias-free 1x1 conv mixes
  channels pixel by pixel and the Resolution layer resizes every channel by
  the same linear map, so the two commute and the result is the same, while
  the resize runs on 1/3 to 2/3 of the channels (see BENCHMARKS.md);
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
scales and equals the baseline's at s = 1. With `"flops"` it is the PANet's
multiply-adds per image (`detection.complexity.panet_layer_flops`: every
PANet convolution at its continuous size, plus the Resolution layers' own
products); its default cap is the baseline's PANet multiply-adds, which the
model exceeds at s = 1 by its resize products, so the hinge acts from the
first step. The training loss is KerasCV's YOLOv8 loss plus
`hinge_weight * max(0, C_PAN - complexity_cap)`, logged as `hinge_penalty`
next to `box_loss` and `class_loss`.

Sizes start on an integer boundary. At s = 1, d_out = ceil(d_in * s) = d_in
exactly, and an update that moves s a hair above 1 adds a row or column; the
next layer then resizes that larger input, so along a chain of convolutions
sizes can grow by one per layer within the first steps (with SGD at lr 1e-3
the 40x40 maps of the top-down path measured 41x48 after one step). The
complexity is computed from the sizes the layers actually receive, so it
counts this growth, and a hinge with its cap at the baseline's complexity
pushes back.

Cost (TensorFlow, CPU; `benchmarks/yolov8_step_time.py`, BENCHMARKS.md): a
training step at 320x320, batch 8, XS backbone took 1.11-1.20x the
baseline's over three runs on a loaded machine (1.15-1.19x with
learned-looking sizes), and 1.22-1.26x on an idle one. Nearly
all of the extra is the Resolution layers' dense per-axis products, which
the math requires. In a TensorFlow graph the sizes are int tensors computed
from the scales; the max-shape alignments and the output resizes skip their
product at run time for branches that already have the target size
(`keras_resolution.dct_resize`). Tracing the training step (and its first
run) takes 3-5x the baseline's: its graph has about 23,000 ops, plus 12,000
in the functions of those conditionals, against 8,300.

Backends: see `detection.yolov8` (TensorFlow: everything; JAX: everything,
without jit; PyTorch: no `predict`, which needs torchvision there).
"""

import math

import keras
import numpy as np
from keras import ops

import keras_resolution
from keras_resolution.complexity_definitions import FLOPS
from keras_resolution.complexity_definitions import check_definition
from keras_resolution.complexity_definitions import measure
from detection.complexity import panet_baseline_flops
from detection.complexity import panet_layer_flops
from detection.panet import PANetHooks
from detection.yolov8 import PANetYOLOV8Detector



def _finite_number(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
    return number


def validate_budget_args(complexity_definition, complexity_cap, hinge_weight):
    """ValueError naming the argument for a bad budget setting (shared by
    every detector with a hinge on PANet complexity)."""
    check_definition(complexity_definition, "complexity_definition", allow_flops=True)
    if complexity_cap is not None and not _finite_number(
        "complexity_cap", complexity_cap
    ) > 0:
        raise ValueError(f"`complexity_cap` must be > 0, got {complexity_cap!r}.")
    if not _finite_number("hinge_weight", hinge_weight) >= 0:
        raise ValueError(f"`hinge_weight` must be >= 0, got {hinge_weight!r}.")


def dct_output(x, size, name):
    """The PANet output hook of a PANet whose maps move: a fixed DCT resize
    back to the `size` of the backbone level the YOLOv8 head expects."""
    return keras_resolution.DCTResize(size, name=f"{name}_dct")(x)


# Where each learned scale starts: exactly 1 (the paper), so that every size
# starts on the ceil boundary and any increase adds a row or column; or half
# a cell below it, s = (d_in - 0.5) / d_in per axis, so the same sizes need
# half a cell's move, up or down, to change.
SCALE_STARTS = ("one", "mid-cell")


def _validate_scale_start(scale_start):
    if scale_start not in SCALE_STARTS:
        raise ValueError(
            f"`scale_start` must be one of {', '.join(SCALE_STARTS)}, got {scale_start!r}."
        )


def _starting_scale(scale_start, x, name):
    """The initial scale of the Resolution layer before `name` on `x`."""
    if scale_start == "one":
        return 1.0
    sizes = tuple(x.shape[1:3])
    if any(size is None for size in sizes):
        raise ValueError(f"`scale_start='mid-cell'` needs static sizes at {name}, got {sizes}.")
    return [(size - 0.5) / size for size in sizes]


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
        complexity_definition: `"area"` (default), `"linear"` or `"flops"`
            (multiply-adds per image).
        complexity_cap: C_cap of the hinge, in the definition's units;
            None: the baseline's complexity (for cells the model's own at
            s = 1; for FLOPs less than that, by the resize products).
        hinge_weight: lambda_hinge >= 0.
        scale_start: `"one"` (the paper: s = 1, every size on the ceil
            boundary) or `"mid-cell"` (s = (d_in - 0.5) / d_in: the same
            sizes, half a cell below the boundary; `SCALE_STARTS`).
        static_sizes: Every Resolution layer keeps its integer sizes as
            Python ints between steps (`ResolutionLayer(static_sizes=True)`):
            the traced step has no size arithmetic and no conditionals, and
            `fit` needs `keras_resolution.SizeRefresh()`, which traces the
            step again whenever an integer size changes.
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
        scale_start="one",
        static_sizes=False,
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        validate_budget_args(complexity_definition, complexity_cap, hinge_weight)
        _validate_scale_start(scale_start)
        resolution_layers = {}

        def resize(x, name):
            layer = keras_resolution.ResolutionLayer(
                scale=_starting_scale(scale_start, x, name),
                transform=transform, taper=taper, gradient=gradient,
                max_scale=max_scale, static_sizes=static_sizes, name=f"{name}_resolution",
            )
            resolution_layers[name] = layer
            return layer(x)

        def align(tensors, name):
            return keras_resolution.AlignToMaxShape(name=f"{name}_align")(tensors)

        super().__init__(
            backbone,
            num_classes,
            bounding_box_format,
            fpn_depth=fpn_depth,
            label_encoder=label_encoder,
            prediction_decoder=prediction_decoder,
            panet_hooks=PANetHooks(
                resize=resize,
                align=align,
                output=dct_output,
                resize_commutes_with_pointwise=True,
            ),
            **kwargs,
        )
        self.transform = transform
        self.taper = taper
        self.gradient = gradient
        self.max_scale = max_scale
        self.scale_start = scale_start
        self.static_sizes = bool(static_sizes)
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

    def panet_baseline_sizes(self):
        """Per PANet convolution: the baseline's output `(height, width)`."""
        return {
            f"{name}_conv": tuple(-(-d // stride) for d in layer.nominal_input_sizes)
            for name, layer, stride in self.panet_blocks()
        }

    def _panet_output_lengths(self):
        """The continuous output lengths of every PANet convolution, q / its
        stride: an `(n convs, 2)` float32 tensor, differentiable in the
        scales. One product and one clip for all the layers (each layer's
        `_target_lengths` per element): the hinge is in every training
        step's graph, where per-layer arithmetic made it a large share of
        the ops to trace (BENCHMARKS.md, issue 14 item 5)."""
        blocks = self.panet_blocks()
        layers = [layer for _, layer, _ in blocks]
        d_in = ops.cast(ops.stack([layer.input_size.value for layer in layers]), "float32")
        s = ops.stack([layer.scale.value for layer in layers])
        low = np.array([[layer.min_size] * 2 for layer in layers], "float32")
        high = np.array([[layer.max_size or np.inf] * 2 for layer in layers], "float32")
        strides = np.array([[stride] for _, _, stride in blocks], "float32")
        return ops.clip(d_in * s, low, high) / strides

    def _panet_complexity_vector(self, definition):
        """Each PANet convolution's complexity, an `(n convs,)` tensor."""
        return measure(ops.unstack(self._panet_output_lengths(), axis=1), definition)

    def panet_layer_complexities(self, definition=None):
        """Per PANet convolution: its output complexity from the continuous
        sizes (scalar tensors, differentiable in the scales); for `"flops"`
        `panet_layer_flops` (the convolutions, then the Resolution layers'
        own products)."""
        definition = definition or self.complexity_definition
        if definition == FLOPS:
            return panet_layer_flops(self)
        values = self._panet_complexity_vector(check_definition(definition))
        return {f"{name}_conv": values[i] for i, (name, _, _) in enumerate(self.panet_blocks())}

    def model_complexity(self):
        """C_PAN for the current scales (the mixin adds the hinge on it)."""
        if self.complexity_definition == FLOPS:
            total = ops.zeros((), "float32")
            for value in panet_layer_flops(self).values():
                total = total + ops.cast(value, "float32")
            return total
        return ops.sum(self._panet_complexity_vector(self.complexity_definition))

    def model_full_complexity(self):
        """The baseline's PANet complexity: C_PAN with every scale at 1 (in
        cells), or the baseline's multiply-adds (`panet_baseline_flops`)."""
        if self.complexity_definition == FLOPS:
            return panet_baseline_flops(self)
        return float(sum(
            measure([d / stride for d in layer.nominal_input_sizes], self.complexity_definition)
            for _, layer, stride in self.panet_blocks()
        ))

    # ------------------------------------------------------------ observability
    def panet_layer_sizes(self):
        """Per PANet convolution: baseline and learned sizes, for plots."""
        entries = []
        baseline = self.panet_baseline_sizes()
        for name, layer, stride in self.panet_blocks():
            learned = layer.output_sizes
            entries.append({
                "name": f"{name}_conv",
                "baseline": baseline[f"{name}_conv"],
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
        entries = self.panet_layer_sizes()
        width = max(len("PANet conv"), *(len(entry["name"]) for entry in entries))
        header = (f"{'PANet conv':<{width}} {'input':>9} {'resized':>9} {'s_h':>6} {'s_w':>6} "
                  f"{'C':>8} {'baseline out':>12} {'learned out':>11}")
        lines = [header, "-" * len(header)]
        for entry, (name, layer, _) in zip(entries, self.panet_blocks()):
            resized = "x".join(str(v) for v in layer.output_sizes)
            lines.append(
                f"{entry['name']:<{width}} {'x'.join(map(str, entry['input'])):>9} {resized:>9} "
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
            "scale_start": self.scale_start,
            "static_sizes": self.static_sizes,
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
    scale_start="one",
    static_sizes=False,
):
    """YOLOv8 with a Resolution PANet: the paper's section 5.2 model.

    Takes `baseline_yolov8`'s arguments, plus:

    Args:
        transform: `"dct"` (default, the paper's) or `"dft"`.
        taper: Taper length of every Resolution layer (paper: 4).
        gradient: `"exact"` (default) or `"literal"` (Algorithm 1 as printed).
        max_scale: Upper bound on each learned scale.
        complexity_definition: `"area"` (sum of conv output H*W, the paper's
            11,500 at 320), `"linear"` (H + W) or `"flops"` (the PANet's
            multiply-adds per image, resize products included).
        complexity_cap: C_cap, in the definition's units (e.g. `8e8` with
            `"flops"`); None (default) is the baseline's PANet complexity,
            which the model has at initialisation (s = 1) in cells and
            exceeds by its resize products in FLOPs.
        hinge_weight: lambda_hinge >= 0 of `max(0, C_PAN - C_cap)`.
        scale_start: `"one"` (default, the paper's s = 1) or `"mid-cell"`
            (each scale half a cell below the ceil boundary, same sizes).
        static_sizes: Integer sizes as Python ints between steps, refreshed
            by `keras_resolution.SizeRefresh()` in `fit` (a new trace of the
            step at each change of an integer size); default False: sizes
            computed in the graph, one trace.

    Returns:
        A `ResolutionYOLOV8Detector` (a `keras_cv.models.YOLOV8Detector`),
        not compiled. Its trainable parameters are the baseline's plus two
        per Resolution layer (2,152,488 against 2,152,444 for XS, 20 classes,
        `fpn_depth=1`).

    Raises:
        ValueError: naming the argument, for everything `baseline_yolov8`
            rejects, a `complexity_cap` that is not a finite number > 0, a
            negative or non-numeric `hinge_weight`, an unknown
            `complexity_definition` (these three before anything is
            built), and bad Resolution layer settings (`transform`, `taper`,
            `gradient`, `max_scale`).

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
    from detection.yolov8 import detector_arguments

    # Before the backbone is built, so that bad settings fail at once.
    validate_budget_args(complexity_definition, complexity_cap, hinge_weight)
    _validate_scale_start(scale_start)
    return build_detector(
        ResolutionYOLOV8Detector,
        **detector_arguments(locals()),
        name=f"yolov8_{backbone}_resolution",
        transform=transform,
        taper=taper,
        gradient=gradient,
        max_scale=max_scale,
        complexity_definition=complexity_definition,
        complexity_cap=complexity_cap,
        hinge_weight=hinge_weight,
        scale_start=scale_start,
        static_sizes=static_sizes,
    )
