"""PANetComplexityLogger: PANet complexity (cells and FLOPs) and learned
sizes in `logs`."""

import keras
from keras import ops

from detection.complexity import panet_layer_complexities
from keras_resolution.complexity_definitions import FLOPS
from keras_resolution.complexity_definitions import check_definition


class PANetComplexityLogger(keras.callbacks.Callback):
    """Puts PANet complexity, in cells and in FLOPs, and learned sizes into
    `logs` every epoch.

    Keys, so that History, CSVLogger and TensorBoard carry them (list this
    callback before CSVLogger and TensorBoard). Every key holding a
    complexity names its definition, so none overwrites the Resolution
    YOLOv8's own metric `panet_complexity` (the mean over the epoch's
    batches of the C_PAN in the loss, in the model's
    `complexity_definition`):

    * `panet_complexity_<definition>` (e.g. `panet_complexity_area`): total
      C_PAN in cells at the epoch's end (for a baseline, its fixed value);
    * `panet_flops`: the PANet's multiply-adds per image at the epoch's end
      (`detection.complexity.panet_layer_flops`);
    * `panet_complexity_<definition>_of_cap` or `panet_flops_of_cap`: the
      one in the cap's units over C_cap (Resolution and DiffStride PANets);
    * `panet/<conv>/complexity_<definition>` per PANet convolution and
      `panet/<layer>/flops` per PANet convolution and learnable-resolution
      layer (with `per_layer`);
    * `panet/<conv>/h`, `panet/<conv>/w`: learned output size of the
      Resolution layer in front of the conv (Resolution PANet only).

    Args:
        definition: The cells definition, `"area"` (default) or
            `"linear"`.
        per_layer: Also log each convolution.

    Example:

    >>> history = model.fit(dataset, callbacks=[PANetComplexityLogger()])
    >>> history.history["panet_complexity_area"], history.history["panet_flops"]
    """

    def __init__(self, definition="area", per_layer=True):
        super().__init__()
        self.definition = check_definition(definition)
        self.per_layer = per_layer

    def complexity_logs(self):
        """The logs of the model's current state (see the class docstring)."""
        model = self.model  # Syncs the JAX state.
        logs, per_layer = {}, {}
        cells = self.definition
        measures = (
            (cells, f"panet_complexity_{cells}", f"complexity_{cells}"),
            (FLOPS, "panet_flops", "flops"),
        )
        for definition, name, suffix in measures:
            values = {
                layer: float(ops.convert_to_numpy(value))
                for layer, value in panet_layer_complexities(model, definition).items()
            }
            logs[name] = sum(values.values())
            per_layer.update({f"panet/{layer}/{suffix}": value for layer, value in values.items()})
            cap = getattr(model, "complexity_cap", None)
            if cap and getattr(model, "complexity_definition", None) == definition:
                logs[f"{name}_of_cap"] = logs[name] / cap
        if self.per_layer:
            logs.update(per_layer)
            if hasattr(model, "panet_blocks"):
                for name, layer, _ in model.panet_blocks():
                    height, width = layer.output_sizes
                    logs[f"panet/{name}_conv/h"] = height
                    logs[f"panet/{name}_conv/w"] = width
        return logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.complexity_logs())
