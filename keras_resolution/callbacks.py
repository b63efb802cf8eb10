"""Callbacks: complexity logging, and the size refresh for compiled steps."""

import keras
from keras import ops

from keras_resolution.complexity import complexity_layers, full_complexity
from keras_resolution.complexity_definitions import check_definition


class ComplexityLogger(keras.callbacks.Callback):
    """Writes complexity and learned sizes into `logs` at each epoch end.

    The values are those of the model at the end of the epoch, and every key
    that holds a complexity names its definition, so the keys never collide
    with the metrics of a `ResolutionModel` (or `ComplexityBudgetMixin`),
    nor with those of a second logger using the other definition:

    * `complexity_<definition>` (`complexity_linear` or `complexity_area`):
      the total C at epoch end;
    * `complexity_<definition>_fraction`: C / C_full;
    * `complexity_<definition>/<layer>`: each layer's C (with `per_layer`);
    * `size/<layer>/<axis>`: integer output size, axis `h`, `w` (2D) or
      `length` (1D), and `<rate>/<layer>/<axis>`: the learned rate,
      `scale` (the s of a `ResolutionLayer`) or `stride` (the S of a
      `DiffStride2D`) (with `per_layer`; these do not depend on the
      definition).

    The model's own metrics are different quantities: `complexity` is the C
    of its loss (under the model's `complexity_definition`) averaged over
    the epoch's training batches, and `complexity_penalty` the penalty term
    averaged likewise.

    Keys are added to `logs`, so History, CSVLogger and TensorBoard carry
    them: list this callback before CSVLogger and TensorBoard.

    Args:
        definition: `"linear"` or `"area"`.
        per_layer: Also log each layer's complexity, sizes and scales.
        layers: Layers to report (default: every `ComplexityLayer` of the
            model: Resolution layers, DiffStride2D, FixedSpectralPooling2D).

    Example:

    >>> history = model.fit(x, y, callbacks=[ComplexityLogger("area")])
    >>> history.history["complexity_area"]  # at each epoch's end
    >>> history.history["complexity"]  # the model's metric: epoch mean
    """

    def __init__(self, definition="linear", per_layer=True, layers=None):
        super().__init__()
        self.definition = check_definition(definition)
        self.per_layer = per_layer
        self._layers = layers

    @property
    def complexity_key(self):
        """Log key of the total complexity, `complexity_<definition>`."""
        return f"complexity_{self.definition}"

    @property
    def fraction_key(self):
        """Log key of C / C_full, `complexity_<definition>_fraction`."""
        return f"{self.complexity_key}_fraction"

    def complexity_logs(self):
        """The logged values as a dict of Python numbers."""
        layers = self._layers or complexity_layers(self.model)  # Syncs on JAX.
        logs = {}
        total = 0.0
        for layer in layers:
            value = float(ops.convert_to_numpy(layer.complexity(self.definition)))
            total += value
            if self.per_layer:
                logs[f"{self.complexity_key}/{layer.name}"] = value
                axes = ("length",) if layer.rank == 1 else ("h", "w")
                for axis, size in zip(axes, layer.output_sizes):
                    logs[f"size/{layer.name}/{axis}"] = int(size)
                for rate, values in layer.learned_rates().items():
                    for axis, value in zip(axes, values):
                        logs[f"{rate}/{layer.name}/{axis}"] = float(value)
        logs[self.complexity_key] = total
        full = full_complexity(layers, self.definition)
        logs[self.fraction_key] = total / full if full else float("nan")
        return logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.complexity_logs())


class SizeRefresh(keras.callbacks.Callback):
    """Keeps static sizes in step with the learned scales on compiled backends.

    For layers built with `static_sizes=True` (needed under JAX jit or
    TensorFlow XLA: `ResolutionLayer`, `DiffStride2D`), after every training
    batch this reads the scales (or strides), and
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
        return [layer for layer in complexity_layers(self.model) if layer.static_sizes]

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
