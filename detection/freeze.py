"""Freezing a YOLOv8 detector's learned PANet resolutions.

`keras_resolution.freeze` rebuilds a functional graph layer by layer, but a
detector is a `keras_cv.models.YOLOV8Detector`: its class carries the
predict-time decoding (anchors, NMS) and its own constructor, and a copy of
its graph alone would lose both. The detector is rebuilt instead the way it
was built, through the PANet's hooks (`detection.panet.PANetHooks`), by
`FrozenYOLOV8Detector`:

* `resize`: a `keras_resolution.FrozenResolutionLayer` at the learned scale
  of the block's Resolution layer, for the (static) size it receives;
* `align`: `AlignToMaxShape` only where the branches' sizes differ;
* `output`: `DCTResize` only where a PANet output is not at the head's size.

Its config holds the learned scales, so a `.keras` file of a frozen
detector rebuilds the same graph. `freeze_detector` builds one from a
trained `ResolutionYOLOV8Detector` (or a baseline, which has no scales) and
copies every weight; importing `detection` registers it with
`keras_resolution.register_freezer`, so `keras_resolution.freeze` works on
detectors too.
"""

import keras
from keras import ops

import keras_resolution
from detection.panet import PANetHooks
from detection.resolution import ResolutionYOLOV8Detector
from detection.yolov8 import PANetYOLOV8Detector


def _copy(obj):
    """A new object from `obj`'s serialized config (no weights)."""
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))


@keras.saving.register_keras_serializable(package="detection")
class FrozenYOLOV8Detector(PANetYOLOV8Detector):
    """A YOLOv8 detector whose PANet resizes are fixed: the deployable form
    of a `ResolutionYOLOV8Detector`.

    Every PANet convolution listed in `panet_scales` has a
    `keras_resolution.FrozenResolutionLayer` in front of it (behind it for
    the channel-reducing 1x1 convs, as in the Resolution PANet), at that
    scale and at the size the block receives; concatenations and residual
    additions align their branches only where the sizes differ, and the
    PANet outputs are DCT-resized only where they are not at the head's
    strides. With `panet_scales={}` it is the baseline detector.

    Args:
        backbone, num_classes, bounding_box_format, fpn_depth,
            label_encoder, prediction_decoder: as for `PANetYOLOV8Detector`.
        panet_scales: `{conv block name: [s_h, s_w]}`, the learned scales
            of the Resolution layers in front of those PANet convolutions
            (`ResolutionYOLOV8Detector.panet_blocks`).
        transform: `"dct"` or `"dft"`, as the Resolution layers had.
        taper: Their taper length.
        gradient: Their `gradient` mode (it selects the synthesis basis).
        **kwargs: `keras.Model` arguments (e.g. `name`).

    Example:

    ```python
    frozen = FrozenYOLOV8Detector(
        backbone, num_classes=20, bounding_box_format="xywh", fpn_depth=1,
        panet_scales={"pa_fpn_p4p5_pre": [0.8, 0.9]},
    )
    ```
    """

    def __init__(
        self,
        backbone,
        num_classes,
        bounding_box_format,
        fpn_depth=1,
        panet_scales=None,
        transform="dct",
        taper=4.0,
        gradient="exact",
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        if panet_scales is not None and not isinstance(panet_scales, dict):
            raise ValueError(
                f"`panet_scales` must be a dict of conv block name to [s_h, s_w], got "
                f"{panet_scales!r}."
            )
        scales = {name: [float(s) for s in value] for name, value in (panet_scales or {}).items()}
        placed = set()

        def resize(x, name):
            if name not in scales:
                return x
            placed.add(name)
            return keras_resolution.FrozenResolutionLayer(
                tuple(x.shape[1:3]), scales[name], transform=transform, taper=taper,
                gradient=gradient, name=f"{name}_resolution",
            )(x)

        def align(tensors, name):
            if len({tuple(t.shape[1:3]) for t in tensors}) == 1:
                return list(tensors)
            return keras_resolution.AlignToMaxShape(name=f"{name}_align")(tensors)

        def output(x, size, name):
            if tuple(x.shape[1:3]) == tuple(size):
                return x
            return keras_resolution.DCTResize(size, name=f"{name}_dct")(x)

        super().__init__(
            backbone,
            num_classes,
            bounding_box_format,
            fpn_depth=fpn_depth,
            label_encoder=label_encoder,
            prediction_decoder=prediction_decoder,
            panet_hooks=PANetHooks(
                resize=resize, align=align, output=output, resize_commutes_with_pointwise=True
            ),
            **kwargs,
        )
        unknown = sorted(set(scales) - placed)
        if unknown:
            raise ValueError(f"`panet_scales` names no PANet convolution: {unknown}.")
        self.panet_scales = scales
        self.transform = transform
        self.taper = taper
        self.gradient = gradient

    def get_config(self):
        config = super().get_config()
        config.update({
            "panet_scales": {name: list(value) for name, value in self.panet_scales.items()},
            "transform": self.transform,
            "taper": self.taper,
            "gradient": self.gradient,
        })
        return config


def freeze_detector(model):
    """A `FrozenYOLOV8Detector` with the learned PANet resolutions of
    `model` fixed, and all its weights.

    Each PANet Resolution layer becomes a `FrozenResolutionLayer` at its
    current scale; alignments and output resizes that have become
    identities are left out. The raw outputs (`model(images)`, boxes and
    classes) are the trained model's to float32 rounding, every shape is
    static, no scale variable is left, and `predict` decodes as KerasCV's
    detector does. The backbone, the label encoder and the NMS decoder are
    copies with the same settings (the backbone stays frozen if it was).
    Also `keras_resolution.freeze(model)` once `detection` is imported.

    Args:
        model: A `ResolutionYOLOV8Detector`; a baseline `PANetYOLOV8Detector`
            (or a frozen detector) gives an equivalent copy.

    Returns:
        A `FrozenYOLOV8Detector`, not compiled (call `compile` to fine-tune
        it at the frozen sizes).

    Raises:
        ValueError: naming `model` if it is not one of these (another
            subclass, such as the DiffStride PANet, has hooks of its own).

    Example:

    ```python
    model = detection.resolution_yolov8(num_classes=20, hinge_weight=1e-3)
    model.fit(...)
    frozen = detection.freeze_detector(model)
    frozen.save("frozen.keras")
    ```
    """
    if not isinstance(model, PANetYOLOV8Detector):
        raise ValueError(
            f"`model` must be a PANetYOLOV8Detector (e.g. from resolution_yolov8), got "
            f"{type(model).__name__}."
        )
    if not isinstance(model, (ResolutionYOLOV8Detector, FrozenYOLOV8Detector)) and (
        type(model) is not PANetYOLOV8Detector
    ):
        raise ValueError(
            f"`model`: freeze_detector rebuilds Resolution PANets and baselines; a "
            f"{type(model).__name__} has PANet hooks of its own that it does not know."
        )
    settings = {}
    if isinstance(model, ResolutionYOLOV8Detector):
        settings["panet_scales"] = {
            name: ops.convert_to_numpy(layer.scale).tolist()
            for name, layer, _ in model.panet_blocks()
        }
    elif isinstance(model, FrozenYOLOV8Detector):
        settings["panet_scales"] = model.panet_scales
    if "panet_scales" in settings:
        settings.update(transform=model.transform, taper=model.taper, gradient=model.gradient)
    frozen = FrozenYOLOV8Detector(
        backbone=_copy(model.backbone),
        num_classes=model.num_classes,
        bounding_box_format=model.bounding_box_format,
        fpn_depth=model.fpn_depth,
        label_encoder=_copy(model.label_encoder),
        prediction_decoder=_copy(model.prediction_decoder),
        name=model.name,
        **settings,
    )
    _copy_weights(model, frozen)
    return frozen


def _copy_weights(source, target):
    """Assigns every variable of `target` from the same-path variable of
    `source` (layer names are the builder's, the same in both); the
    Resolution layers' own variables have no counterpart and are left."""
    by_path = {variable.path: variable for variable in source.weights}
    missing = [variable.path for variable in target.weights if variable.path not in by_path]
    if missing:
        raise ValueError(f"`model` has no weights for {missing[:3]} of the frozen detector.")
    for variable in target.weights:
        variable.assign(by_path[variable.path])


keras_resolution.register_freezer(PANetYOLOV8Detector, freeze_detector)
