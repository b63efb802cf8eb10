"""Callbacks: complexity logging, and the size refresh for compiled steps."""

import keras
from keras import ops

from keras_resolution.complexity import full_complexity, resolution_layers


class ComplexityLogger(keras.callbacks.Callback):
    """Writes complexity and learned sizes into `logs` at each epoch end.

    Keys (so History, CSVLogger and TensorBoard carry them; list this
    callback before CSVLogger/TensorBoard):

    * `complexity`: total C; `complexity_fraction`: C / C_full;
    * `complexity/<layer>`: each layer's C;
    * `size/<layer>/<axis>`: integer output size, axis `h`, `w` (2D) or
      `length` (1D); `scale/<layer>/<axis>`: the learned s.

    Args:
        definition: `"linear"` or `"area"`.
        per_layer: Also log each layer's complexity, sizes and scales.
        layers: Layers to report (default: every ResolutionLayer of the model).

    Example:

    >>> history = model.fit(x, y, callbacks=[ComplexityLogger("area")])
    >>> history.history["complexity"]
    """

    def __init__(self, definition="linear", per_layer=True, layers=None):
        super().__init__()
        self.definition = definition
        self.per_layer = per_layer
        self._layers = layers

    def complexity_logs(self):
        """The logged values as a dict of Python numbers."""
        layers = self._layers or resolution_layers(self.model)  # Syncs on JAX.
        logs = {}
        total = 0.0
        for layer in layers:
            value = float(ops.convert_to_numpy(layer.complexity(self.definition)))
            total += value
            if self.per_layer:
                logs[f"complexity/{layer.name}"] = value
                axes = ("length",) if layer.rank == 1 else ("h", "w")
                scales = ops.convert_to_numpy(layer.scale)
                for axis, size, scale in zip(axes, layer.output_sizes, scales):
                    logs[f"size/{layer.name}/{axis}"] = int(size)
                    logs[f"scale/{layer.name}/{axis}"] = float(scale)
        logs["complexity"] = total
        full = full_complexity(layers, self.definition)
        logs["complexity_fraction"] = total / full if full else float("nan")
        return logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.complexity_logs())


class SizeRefresh(keras.callbacks.Callback):
    """Keeps static sizes in step with the learned scales on compiled backends.

    For layers built with `static_sizes=True` (needed under JAX jit or
    TensorFlow XLA), after every training batch this reads the scales, and
    when an integer output size changed it rebuilds the model's train, test
    and predict functions so the next step is traced with the new sizes.
    Rebuilds are counted in `rebuilds` and logged as `size_rebuilds` at each
    epoch end. Layers without `static_sizes` need nothing and are skipped.

    Example:

    >>> model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    >>> model.fit(x, y, callbacks=[SizeRefresh()])
    """

    def __init__(self):
        super().__init__()
        self.rebuilds = 0

    def _static_layers(self):
        return [layer for layer in resolution_layers(self.model) if layer.static_sizes]

    def refresh(self):
        """Refreshes every static layer; rebuilds the step functions if needed.

        Returns:
            True if the step functions were rebuilt.
        """
        changed = False
        for layer in self._static_layers():  # `self.model` syncs JAX state.
            changed = layer.refresh_sizes() or changed
        if changed:
            self.rebuilds += 1
            self.model.make_train_function(force=True)
            self.model.make_test_function(force=True)
            self.model.make_predict_function(force=True)
        return changed

    def on_train_begin(self, logs=None):
        for layer in self._static_layers():
            layer._size_refresh_active = True
        self.refresh()

    def on_train_batch_end(self, batch, logs=None):
        self.refresh()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["size_rebuilds"] = self.rebuilds

    def on_train_end(self, logs=None):
        self.refresh()
        for layer in self._static_layers():
            layer._size_refresh_active = False
