"""PANetComplexityLogger: PANet complexity and learned sizes in `logs`."""

import keras
from keras import ops

from detection.complexity import panet_layer_complexities
from keras_resolution.complexity_definitions import check_definition


class PANetComplexityLogger(keras.callbacks.Callback):
    """Puts PANet complexity and learned sizes into `logs` every epoch.

    Keys, so that History, CSVLogger and TensorBoard carry them (list this
    callback before CSVLogger and TensorBoard). Every key holding a
    complexity names its definition, so none overwrites the Resolution
    YOLOv8's own metric `panet_complexity` (the mean over the epoch's
    batches of the C_PAN in the loss):

    * `panet_complexity_<definition>` (e.g. `panet_complexity_area`): total
      C_PAN at the epoch's end (for a baseline, its fixed value);
    * `panet_complexity_<definition>_of_cap`: that over C_cap (Resolution
      PANet only);
    * `panet/<conv>/complexity_<definition>` per PANet convolution (with
      `per_layer`);
    * `panet/<conv>/h`, `panet/<conv>/w`: learned output size of the
      Resolution layer in front of the conv (Resolution PANet only).

    Args:
        definition: `"area"` (default) or `"linear"`.
        per_layer: Also log each convolution.

    Example:

    >>> history = model.fit(dataset, callbacks=[PANetComplexityLogger()])
    >>> history.history["panet_complexity_area"]
    """

    def __init__(self, definition="area", per_layer=True):
        super().__init__()
        self.definition = check_definition(definition)
        self.per_layer = per_layer

    def complexity_logs(self):
        model = self.model  # Syncs the JAX state.
        values = {
            name: float(ops.convert_to_numpy(value))
            for name, value in panet_layer_complexities(model, self.definition).items()
        }
        key = f"panet_complexity_{self.definition}"
        logs = {key: sum(values.values())}
        cap = getattr(model, "complexity_cap", None)
        if cap:
            logs[f"{key}_of_cap"] = logs[key] / cap
        if self.per_layer:
            for name, value in values.items():
                logs[f"panet/{name}/complexity_{self.definition}"] = value
            if hasattr(model, "panet_blocks"):
                for name, layer, _ in model.panet_blocks():
                    height, width = layer.output_sizes
                    logs[f"panet/{name}_conv/h"] = height
                    logs[f"panet/{name}_conv/w"] = width
        return logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.complexity_logs())
