"""KerasCV's YOLOv8 detector with our PANet, and the paper's baseline.

`keras_cv.models.YOLOV8Detector` builds its PANet inside `__init__`, with no
way to pass another one in. `PANetYOLOV8Detector` is a thin subclass that
builds the same functional graph itself (backbone feature extractor ->
`detection.panet.apply_path_aggregation_fpn` -> KerasCV's YOLOv8 head) and
then calls `Task.__init__` directly, as `YOLOV8Detector.__init__` does.
Everything else is KerasCV's: `compile` (CIoU + BCE), `compute_loss` with the
task-aligned label encoder, `get_anchors` with strides 8/16/32,
`decode_predictions` and NMS, `get_config` / `from_config`.

With the default (identity) `PANetHooks` the model is the same architecture
as `keras_cv.models.YOLOV8Detector`, layer for layer; `baseline_yolov8` is
the paper's section 5.2 baseline.

Backends (both builders, measured with keras 3.15.1, keras-cv 0.9.0):

- TensorFlow: everything (the tests run here).
- JAX 0.10: build, fit, predict and `.keras` save/load work. A Resolution
  PANet runs without jit (its sizes follow the scales), so its steps are
  slow.
- PyTorch 2.13 (CPU): build, fit and the raw outputs `model(images)` work;
  `predict` raises a RuntimeError. KerasCV 0.9's `NonMaxSuppression` decodes
  boxes with `torchvision.ops.nms` on PyTorch
  (keras_cv/src/layers/object_detection/non_max_suppression.py); torchvision
  is not a dependency here, and the PyPI torchvision 0.28 wheel does not
  load with the CPU build of torch 2.13 ("operator torchvision::nms does not
  exist"). Predict on TensorFlow or JAX (the weights load there), or install
  a torchvision built for your torch.
"""

import importlib
import numbers
import warnings

import keras

from detection.backbones import RandomFrozenBackboneWarning
from detection.backbones import build_backbone
from detection.backbones import validate_backbone
from detection.backbones import validate_weights
from detection.panet import PANetHooks
from detection.panet import apply_path_aggregation_fpn

# KerasCV 0.9.0 is the last release and is pinned; these private modules
# are where it keeps the pieces `YOLOV8Detector.__init__` is made of.
from keras_cv.src.bounding_box.converters import FROM_XYXY_CONVERTERS
from keras_cv.src.bounding_box.converters import TO_XYXY_CONVERTERS
from keras_cv.src.layers import NonMaxSuppression
from keras_cv.src.models.object_detection.yolo_v8.yolo_v8_detector import (
    YOLOV8Detector,
)
from keras_cv.src.models.object_detection.yolo_v8.yolo_v8_detector import (
    apply_yolo_v8_head,
)
from keras_cv.src.models.object_detection.yolo_v8.yolo_v8_label_encoder import (  # noqa: E501
    YOLOV8LabelEncoder,
)
from keras_cv.src.models.task import Task
from keras_cv.src.utils.train import get_feature_extractor

BOUNDING_BOX_FORMATS = tuple(
    name for name in TO_XYXY_CONVERTERS if name in FROM_XYXY_CONVERTERS
)


@keras.saving.register_keras_serializable(package="detection")
class PANetYOLOV8Detector(YOLOV8Detector):
    """A KerasCV `YOLOV8Detector` whose PANet is `detection.panet`'s.

    Args:
        backbone: a KerasCV backbone with `pyramid_level_inputs` "P3", "P4"
            and "P5" (e.g. from `detection.backbones.build_backbone`).
        num_classes: int, number of object classes (labels 0..num_classes-1).
        bounding_box_format: KerasCV bounding box format of the labels and
            of the predictions, e.g. "xywh".
        fpn_depth: int, depth of the PANet's top-down CSP blocks.
        label_encoder: optional `YOLOV8LabelEncoder`; KerasCV's default if
            None.
        prediction_decoder: optional NMS layer for `predict`; KerasCV's
            default (`NonMaxSuppression`, confidence 0.2, IoU 0.7) if None.
        panet_hooks: optional `detection.panet.PANetHooks` injected into the
            PANet (identity hooks if None). Hooks are code, not config: they
            are not serialized. A subclass that uses hooks must create them
            in its own `__init__` from its own (serializable) arguments.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    ```python
    backbone = detection.backbones.build_backbone("yolo_v8_xs", 320)
    model = PANetYOLOV8Detector(
        backbone, num_classes=20, bounding_box_format="xywh", fpn_depth=1
    )
    ```
    """

    def __init__(
        self,
        backbone,
        num_classes,
        bounding_box_format,
        fpn_depth=2,
        label_encoder=None,
        prediction_decoder=None,
        panet_hooks=None,
        **kwargs,
    ):
        if not backbone.trainable:
            # A backbone deserialized with `trainable=False` (as `from_config`
            # does when a frozen model is loaded) has trainable layers. On
            # TensorFlow, `backbone.trainable = False` is then a no-op
            # (`self.x = self.x` is short-circuited), so toggle the flag to
            # propagate it to the layers and keep a reloaded model frozen.
            backbone.trainable = True
            backbone.trainable = False
        levels = ["P3", "P4", "P5"]
        feature_extractor = get_feature_extractor(
            backbone,
            [backbone.pyramid_level_inputs[level] for level in levels],
            levels,
        )
        images = keras.layers.Input(feature_extractor.input_shape[1:])
        features = list(feature_extractor(images).values())
        panet_outputs = apply_path_aggregation_fpn(
            features, depth=fpn_depth, name="pa_fpn", hooks=panet_hooks
        )
        head_outputs = apply_yolo_v8_head(panet_outputs, num_classes)
        # No-op layers whose names label the losses, as in KerasCV.
        boxes = keras.layers.Concatenate(axis=1, name="box")(
            [head_outputs["boxes"]]
        )
        scores = keras.layers.Concatenate(axis=1, name="class")(
            [head_outputs["classes"]]
        )
        # Skip YOLOV8Detector.__init__ (it would build KerasCV's own PANet).
        Task.__init__(
            self,
            inputs=images,
            outputs={"boxes": boxes, "classes": scores},
            **kwargs,
        )

        self.bounding_box_format = bounding_box_format
        self._prediction_decoder = prediction_decoder or NonMaxSuppression(
            bounding_box_format=bounding_box_format,
            from_logits=False,
            confidence_threshold=0.2,
            iou_threshold=0.7,
        )
        self.backbone = backbone
        self.fpn_depth = fpn_depth
        self.num_classes = num_classes
        self.label_encoder = label_encoder or YOLOV8LabelEncoder(
            num_classes=num_classes
        )

    def decode_predictions(self, pred, images):
        """KerasCV's NMS decoding; on PyTorch, first a clear error when the
        torchvision NMS that KerasCV uses there is not available."""
        check_nms_backend()
        return super().decode_predictions(pred, images)

    def compile(self, box_loss, classification_loss, **kwargs):
        """KerasCV's `compile`; also remembers the losses as given (e.g. the
        string "ciou": KerasCV's CIoULoss cannot be rebuilt from its own
        config) for `get_compile_config`."""
        super().compile(box_loss, classification_loss, **kwargs)
        self._compile_losses = {
            "box_loss": box_loss,
            "classification_loss": classification_loss,
        }

    def get_compile_config(self):
        """The arguments of KerasCV's `compile`, so that `load_model`
        recompiles the detector and restores its optimizer state (resumed
        training needs both; KerasCV's custom `compile` keeps Keras from
        doing it)."""
        if not self.compiled:
            return {}
        return {
            **{
                key: keras.saving.serialize_keras_object(value)
                for key, value in self._compile_losses.items()
            },
            "box_loss_weight": self.box_loss_weight,
            "classification_loss_weight": self.classification_loss_weight,
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("box_loss", "classification_loss", "optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config, jit_compile=False)
        if self.built:
            self.optimizer.build(self.trainable_variables)


def check_nms_backend():
    """Raises a RuntimeError on PyTorch when torchvision's NMS, which KerasCV
    0.9's `NonMaxSuppression` calls there, cannot be used."""
    if keras.backend.backend() != "torch":
        return
    try:
        importlib.import_module("torchvision")
    except Exception as error:  # ImportError, or torchvision's own RuntimeError.
        raise RuntimeError(
            "predict() needs torchvision on the PyTorch backend: KerasCV 0.9's "
            "NonMaxSuppression decodes boxes with torchvision.ops.nms there "
            "(keras_cv/src/layers/object_detection/non_max_suppression.py), "
            f"and importing torchvision failed ({type(error).__name__}: {error}). "
            "The PyPI torchvision wheel does not load with the CPU build of "
            "torch. Install a torchvision built for your torch, or predict on "
            "the TensorFlow or JAX backend (the .keras file loads there); "
            "fit() and the raw outputs model(images) work on PyTorch."
        ) from error


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _validate_image_size(image_size):
    sizes = (image_size, image_size) if _is_int(image_size) else image_size
    valid = (
        isinstance(sizes, (tuple, list))
        and len(sizes) == 2
        and all(_is_int(size) and size > 0 and size % 32 == 0 for size in sizes)
    )
    if not valid:
        raise ValueError(
            "`image_size` must be a positive int, or a (height, width) pair "
            "of them, divisible by 32 (the largest YOLOv8 head stride). "
            f"Received: image_size={image_size!r}"
        )
    return tuple(int(size) for size in sizes)


def _validate_detector_args(
    num_classes,
    bounding_box_format,
    backbone,
    image_size,
    fpn_depth,
    weights,
    confidence_threshold,
    iou_threshold,
    max_detections,
):
    if not _is_int(num_classes) or num_classes < 1:
        raise ValueError(
            "`num_classes` must be an int >= 1. "
            f"Received: num_classes={num_classes!r}"
        )
    if bounding_box_format not in BOUNDING_BOX_FORMATS:
        raise ValueError(
            f"`bounding_box_format` must be one of {BOUNDING_BOX_FORMATS}. "
            f"Received: bounding_box_format={bounding_box_format!r}"
        )
    validate_backbone(backbone)
    image_size = _validate_image_size(image_size)
    if not _is_int(fpn_depth) or fpn_depth < 1:
        raise ValueError(
            "`fpn_depth` must be an int >= 1. "
            f"Received: fpn_depth={fpn_depth!r}"
        )
    validate_weights(backbone, weights)
    for name, value in (
        ("confidence_threshold", confidence_threshold),
        ("iou_threshold", iou_threshold),
    ):
        if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
            raise ValueError(
                f"`{name}` must be a number in [0, 1]. "
                f"Received: {name}={value!r}"
            )
    if not _is_int(max_detections) or max_detections < 1:
        raise ValueError(
            "`max_detections` must be an int >= 1. "
            f"Received: max_detections={max_detections!r}"
        )
    return image_size


def baseline_yolov8(
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
):
    """KerasCV's YOLOv8 detector, the paper's section 5.2 baseline.

    The PANet has 22 convolutions at `fpn_depth=1` (26 at 2), and its
    complexity (`detection.panet_complexity`) is 11,500 at 320x320 and
    `fpn_depth=1`. With the XS backbone frozen and 20 classes the model has
    2,152,444 trainable parameters.

    Args:
        num_classes: int >= 1, number of object classes (labels are
            0..num_classes-1; padded boxes and classes are -1).
        bounding_box_format: KerasCV box format of the labels and of the
            predicted boxes, e.g. "xywh", "xyxy", "rel_yxyx".
        backbone: "yolo_v8_xs" or "resnet50".
        image_size: int or `(height, width)`, divisible by 32. The model's
            input shape is fixed to it.
        fpn_depth: int >= 1, depth of the PANet's top-down CSP blocks.
        freeze_backbone: bool, whether the backbone's weights are frozen.
        weights: backbone weights; see `detection.backbones.build_backbone`.
            None gives random weights. Pretrained weights that cannot be
            fetched (offline) fall back to random ones with a warning.
        confidence_threshold: float, minimum score of a predicted box after
            NMS. KerasCV's default 0.2 suits visual inspection; use a small
            value (e.g. 0.001) for mAP evaluation.
        iou_threshold: float, NMS IoU threshold.
        max_detections: int, maximum number of boxes per image.

    Returns:
        A `PANetYOLOV8Detector` (a `keras_cv.models.YOLOV8Detector`), not
        compiled. After `keras.saving.load_model` the weights, the frozen
        backbone and the NMS settings are restored but the compilation is
        not (KerasCV's `compile` is custom): call `compile` again to train.

    Raises:
        ValueError: naming the argument, for `num_classes < 1`, an
            `image_size` not divisible by 32, an unknown `backbone`,
            `bounding_box_format` or `weights`, and weights that do not
            match the backbone.

    Example:

    ```python
    model = baseline_yolov8(num_classes=20)
    model.compile(
        box_loss="ciou",
        classification_loss="binary_crossentropy",
        optimizer=keras.optimizers.SGD(1e-3, momentum=0.9, global_clipnorm=10),
        jit_compile=False,
    )
    model.fit(images, {"boxes": boxes, "classes": classes}, epochs=1)
    predictions = model.predict(images)  # {"boxes", "classes", ...}
    ```
    """
    return build_detector(
        PANetYOLOV8Detector,
        **detector_arguments(locals()),
        name=f"yolov8_{backbone}_baseline",
    )


# The arguments every detector builder (`baseline_yolov8`,
# `resolution_yolov8`, `diffstride_yolov8`, `srf_yolov8`) takes and passes on
# to `build_detector` unchanged.
DETECTOR_ARGUMENTS = (
    "num_classes", "bounding_box_format", "backbone", "image_size", "fpn_depth",
    "freeze_backbone", "weights", "confidence_threshold", "iou_threshold", "max_detections",
)  # fmt: skip


def detector_arguments(builder_locals):
    """The `DETECTOR_ARGUMENTS` of a builder, from its `locals()`."""
    return {name: builder_locals[name] for name in DETECTOR_ARGUMENTS}


def build_detector(
    detector_class,
    num_classes,
    bounding_box_format,
    backbone,
    image_size,
    fpn_depth,
    freeze_backbone,
    weights,
    confidence_threshold,
    iou_threshold,
    max_detections,
    name,
    **detector_kwargs,
):
    """Validates the common arguments, builds the backbone and the NMS
    decoder, and returns `detector_class(...)`; shared by `baseline_yolov8`
    and `resolution_yolov8` (`detector_kwargs` go to the class)."""
    image_size = _validate_detector_args(
        num_classes,
        bounding_box_format,
        backbone,
        image_size,
        fpn_depth,
        weights,
        confidence_threshold,
        iou_threshold,
        max_detections,
    )
    backbone_model = build_backbone(backbone, image_size, weights=weights)
    if freeze_backbone:
        if weights is None:
            warnings.warn(
                f"freeze_backbone=True with weights=None freezes a RANDOM {backbone} backbone: "
                "only PANet and head train, on random features. Pass `weights` (a file of "
                "the pretrained backbone) or freeze_backbone=False.",
                RandomFrozenBackboneWarning,
                stacklevel=3,
            )
        backbone_model.trainable = False
    return detector_class(
        backbone=backbone_model,
        num_classes=num_classes,
        bounding_box_format=bounding_box_format,
        fpn_depth=fpn_depth,
        prediction_decoder=NonMaxSuppression(
            bounding_box_format=bounding_box_format,
            from_logits=False,
            confidence_threshold=confidence_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
        ),
        name=name,
        **detector_kwargs,
    )
