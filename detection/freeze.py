"""Freezing a YOLOv8 detector's learned PANet resolutions.

`keras_resolution.freeze` rebuilds a functional graph layer by layer, but a
detector is a `keras_cv.models.YOLOV8Detector`: its class carries the
predict-time decoding (anchors, NMS) and its own constructor, and a copy of
its graph alone would lose both. The detector is rebuilt instead the way it
was built, through the PANet's hooks (`detection.panet.PANetHooks`), by
`FrozenYOLOV8Detector`:

* `resize`: a `keras_resolution.FrozenResolutionLayer` at the learned scale
  of the block's Resolution layer, for the (static) size it receives;
* `downsample` (for a DiffStride PANet): a
  `keras_resolution.FrozenDiffStride2D` at the strides of the block's
  `DiffStride2D`;
* `align`: `AlignToMaxShape` only where the branches' sizes differ;
* `output`: `DCTResize` only where a PANet output is not at the head's size.

Its config holds the learned scales and strides, so a `.keras` file of a
frozen detector rebuilds the same graph. `freeze_detector` builds one from
a trained `ResolutionYOLOV8Detector` or `DiffStrideYOLOV8Detector` (or a
baseline, which has neither) and copies every weight; importing `detection` registers it with
`keras_resolution.register_freezer`, so `keras_resolution.freeze` works on
detectors too.
"""

import keras
from keras import ops

import keras_resolution
from detection.diffstride import DiffStrideYOLOV8Detector
from detection.panet import PANetHooks
from detection.resolution import ResolutionYOLOV8Detector
from detection.yolov8 import PANetYOLOV8Detector


def _copy(obj):
    """A new object from `obj`'s serialized config (no weights)."""
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))


@keras.saving.register_keras_serializable(package="detection")
class FrozenYOLOV8Detector(PANetYOLOV8Detector):
    """A YOLOv8 detector whose PANet resizes are fixed: the deployable form
    of a `ResolutionYOLOV8Detector` or a `DiffStrideYOLOV8Detector`.

    Every PANet convolution listed in `panet_scales` has a
    `keras_resolution.FrozenResolutionLayer` in front of it (behind it for
    the channel-reducing 1x1 convs, as in the Resolution PANet), at that
    scale and at the size the block receives; concatenations and residual
    additions align their branches only where the sizes differ, and the
    PANet outputs are DCT-resized only where they are not at the head's
    strides. With `panet_strides`, the strided convolutions run at stride 1
    followed by a `keras_resolution.FrozenDiffStride2D`, as in the DiffStride
    PANet. With neither it is the baseline detector.

    Args:
        backbone, num_classes, bounding_box_format, fpn_depth,
            label_encoder, prediction_decoder: as for `PANetYOLOV8Detector`.
        panet_scales: `{conv block name: [s_h, s_w]}`, the learned scales
            of the Resolution layers in front of those PANet convolutions
            (`ResolutionYOLOV8Detector.panet_blocks`).
        panet_strides: `{conv block name: [S_h, S_w]}` for a DiffStride
            PANet: every strided PANet convolution runs at stride 1 and is
            followed by a `FrozenDiffStride2D` at these strides (the ones
            its `DiffStride2D` used, `effective_strides`), so every strided
            block must be listed. None or `{}`: the convolutions stride
            themselves.
        smoothness: Ramp length `R` of those DiffStride layers.
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
        panet_strides=None,
        smoothness=4.0,
        transform="dct",
        taper=4.0,
        gradient="exact",
        label_encoder=None,
        prediction_decoder=None,
        **kwargs,
    ):
        for argument, value in (("panet_scales", panet_scales), ("panet_strides", panet_strides)):
            if value is not None and not isinstance(value, dict):
                raise ValueError(
                    f"`{argument}` must be a dict of conv block name to two numbers, got "
                    f"{value!r}."
                )
        scales = {name: [float(s) for s in value] for name, value in (panet_scales or {}).items()}
        strides = {name: [float(s) for s in value] for name, value in (panet_strides or {}).items()}
        placed = set()

        def resize(x, name):
            if name not in scales:
                return x
            placed.add(name)
            return keras_resolution.FrozenResolutionLayer(
                tuple(x.shape[1:3]), scales[name], transform=transform, taper=taper,
                gradient=gradient, name=f"{name}_resolution",
            )(x)

        def downsample(x, conv_strides, name):
            del conv_strides  # The learned strides replace the conv's 2.
            if name not in strides:
                raise ValueError(f"`panet_strides` has no strides for the strided block {name!r}.")
            placed.add(name)
            return keras_resolution.FrozenDiffStride2D(
                tuple(x.shape[1:3]), strides[name], smoothness=smoothness,
                name=f"{name}_diffstride",
            )(x)

        def align(tensors, name):
            layer = keras_resolution.AlignToMaxShape(name=f"{name}_align")
            if layer.is_identity([t.shape for t in tensors]):
                return list(tensors)
            return layer(tensors)

        def output(x, size, name):
            layer = keras_resolution.DCTResize(size, name=f"{name}_dct")
            return x if layer.is_identity(x.shape) else layer(x)

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
                output=output,
                downsample=downsample if strides else None,
                resize_commutes_with_pointwise=True,
            ),
            **kwargs,
        )
        for argument, value in (("panet_scales", scales), ("panet_strides", strides)):
            unknown = sorted(set(value) - placed)
            if unknown:
                raise ValueError(f"`{argument}` names no PANet convolution: {unknown}.")
        self.panet_scales = scales
        self.panet_strides = strides
        self.smoothness = smoothness
        self.transform = transform
        self.taper = taper
        self.gradient = gradient

    def get_config(self):
        config = super().get_config()
        config.update({
            "panet_scales": {name: list(value) for name, value in self.panet_scales.items()},
            "panet_strides": {name: list(value) for name, value in self.panet_strides.items()},
            "smoothness": self.smoothness,
            "transform": self.transform,
            "taper": self.taper,
            "gradient": self.gradient,
        })
        return config


def freeze_detector(model):
    """A `FrozenYOLOV8Detector` with the learned PANet resolutions of
    `model` fixed, and all its weights.

    Each PANet Resolution layer becomes a `FrozenResolutionLayer` at its
    current scale, each DiffStride layer a `FrozenDiffStride2D` at its
    current strides; alignments and output resizes that have become
    identities are left out. The raw outputs (`model(images)`, boxes and
    classes) are the trained model's to float32 rounding, every shape is
    static, no scale variable is left, and `predict` decodes as KerasCV's
    detector does. The backbone, the label encoder and the NMS decoder are
    copies with the same settings (the backbone stays frozen if it was).
    Also `keras_resolution.freeze(model)` once `detection` is imported.

    Args:
        model: A `ResolutionYOLOV8Detector` or `DiffStrideYOLOV8Detector`;
            a baseline `PANetYOLOV8Detector` (or a frozen detector) gives an
            equivalent copy.

    Returns:
        A `FrozenYOLOV8Detector`, not compiled (call `compile` to fine-tune
        it at the frozen sizes).

    Raises:
        ValueError: naming `model` if it is not one of these (another
            subclass has hooks of its own).

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
    learned = (ResolutionYOLOV8Detector, DiffStrideYOLOV8Detector, FrozenYOLOV8Detector)
    if not isinstance(model, learned) and type(model) is not PANetYOLOV8Detector:
        raise ValueError(
            "`model`: freeze_detector rebuilds Resolution and DiffStride PANets and "
            f"baselines; a {type(model).__name__} has PANet hooks it does not know."
        )
    settings = {}
    if isinstance(model, ResolutionYOLOV8Detector):
        settings["panet_scales"] = {
            name: ops.convert_to_numpy(layer.scale).tolist()
            for name, layer, _ in model.panet_blocks()
        }
        settings.update(transform=model.transform, taper=model.taper, gradient=model.gradient)
    elif isinstance(model, DiffStrideYOLOV8Detector):
        # The strides the forward pass uses are clamped for the input size,
        # so run the model once at its image size to record every size.
        model(ops.zeros((1, *model.input.shape[1:]), "float32"), training=False)
        settings["panet_strides"] = {
            name: layer.strides_for(*ops.convert_to_numpy(layer.input_size).tolist())
            for name, layer, _ in model.panet_blocks()
        }
        settings["smoothness"] = model.smoothness
    elif isinstance(model, FrozenYOLOV8Detector):
        settings = {
            key: getattr(model, key)
            for key in ("panet_scales", "panet_strides", "smoothness", "transform", "taper",
                        "gradient")
        }
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
