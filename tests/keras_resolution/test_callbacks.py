"""keras_resolution.ComplexityLogger: complexity and learned sizes in the
epoch logs, hence in History and CSVLogger, under keys that never overwrite
the model's own `complexity` and `complexity_penalty` metrics."""

import csv

import keras
import numpy as np
import pytest

import keras_resolution as kr
from keras_resolution import ResolutionLayer


def tiny_model_2d():
    inputs = keras.Input((16, 12, 2))
    h = ResolutionLayer(0.9, name="ra")(inputs)
    h = keras.layers.Conv2D(4, 3, padding="same")(h)
    h = ResolutionLayer([1.2, 0.8], name="rb")(h)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(h))
    return kr.ResolutionModel(inputs, outputs, penalty=kr.QuadraticTarget(0.5, 10.0))


def fit_tiny(model, callbacks, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16,) + tuple(model.input_shape[1:])).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks)


def test_complexity_logger_fills_history():
    model = tiny_model_2d()
    history = fit_tiny(model, [kr.ComplexityLogger()])
    logs = history.history
    expected_keys = {
        "complexity_linear",
        "complexity_linear_fraction",
        "complexity_linear/ra",
        "complexity_linear/rb",
        "size/ra/h",
        "size/ra/w",
        "size/rb/h",
        "size/rb/w",
        "scale/ra/h",
        "scale/ra/w",
        "scale/rb/h",
        "scale/rb/w",
    }
    assert expected_keys <= set(logs), set(logs)
    assert all(len(logs[key]) == 2 for key in expected_keys)
    ra, rb = kr.resolution_layers(model)
    # The last epoch's values describe the trained model.
    assert logs["complexity_linear"][-1] == pytest.approx(float(kr.complexity(model)), rel=1e-6)
    assert logs["complexity_linear/ra"][-1] == pytest.approx(float(ra.complexity()), rel=1e-6)
    assert logs["complexity_linear/rb"][-1] == pytest.approx(float(rb.complexity()), rel=1e-6)
    full = kr.full_complexity(model)
    assert full == (16 + 12) + (15 + 11)  # rb was built on ra's initial output
    for epoch in range(2):
        assert logs["complexity_linear_fraction"][epoch] == pytest.approx(
            logs["complexity_linear"][epoch] / full, rel=1e-6
        )
        assert logs["complexity_linear"][epoch] == pytest.approx(
            logs["complexity_linear/ra"][epoch] + logs["complexity_linear/rb"][epoch], rel=1e-6
        )
    for layer in (ra, rb):
        sizes = [logs[f"size/{layer.name}/{axis}"][-1] for axis in ("h", "w")]
        assert all(isinstance(size, int) for size in sizes)
        assert tuple(sizes) == layer.output_sizes
        scales = [logs[f"scale/{layer.name}/{axis}"][-1] for axis in ("h", "w")]
        np.testing.assert_allclose(scales, layer.scale.numpy(), rtol=1e-6)
    # Training moved the scales, and the logs saw it.
    assert logs["scale/ra/h"][0] != 0.9


def test_complexity_logger_area_definition_and_1d_axis_names():
    inputs = keras.Input((20, 3))
    h = ResolutionLayer(0.5, name="r1d")(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(h))
    model = keras.Model(inputs, outputs)
    history = fit_tiny(model, [kr.ComplexityLogger("area", per_layer=True)], epochs=1)
    logs = history.history
    (scale,) = logs["scale/r1d/length"]
    assert scale == pytest.approx(0.5, abs=0.05) and scale != 0.5  # trained
    assert logs["size/r1d/length"] == [int(np.ceil(np.float32(20) * np.float32(scale)))]
    assert logs["complexity_area"] == [pytest.approx(20 * scale, rel=1e-6)]  # 1D area = q
    assert logs["complexity_area_fraction"] == [pytest.approx(scale, rel=1e-6)]  # C_full = 20
    assert logs["complexity_area/r1d"] == logs["complexity_area"]
    assert "complexity" not in logs  # a plain keras.Model has no budget metric


def test_complexity_logger_without_per_layer_keys_and_on_chosen_layers():
    model = tiny_model_2d()
    model(np.zeros((1, 16, 12, 2), "float32"))
    logger = kr.ComplexityLogger(per_layer=False)
    logger.set_model(model)
    logs = {"loss": 1.0}
    logger.on_epoch_end(0, logs)
    assert set(logs) == {"loss", "complexity_linear", "complexity_linear_fraction"}
    assert logs["complexity_linear"] == pytest.approx(float(kr.complexity(model)), rel=1e-6)
    ra = model.get_layer("ra")
    only_ra = kr.ComplexityLogger("area", layers=[ra])
    only_ra.set_model(model)
    logs = only_ra.complexity_logs()
    assert logs["complexity_area"] == pytest.approx(16 * 0.9 * 12 * 0.9, rel=1e-6)
    assert logs["complexity_area_fraction"] == pytest.approx(0.81, rel=1e-6)
    assert (logs["size/ra/h"], logs["size/ra/w"]) == (15, 11)
    assert not any(key.endswith("/rb") or "/rb/" in key for key in logs)


def test_complexity_logger_columns_in_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    model = tiny_model_2d()
    history = fit_tiny(model, [kr.ComplexityLogger(), keras.callbacks.CSVLogger(str(path))])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    columns = set(rows[0])
    for column in (
        "epoch",
        "loss",
        "complexity",
        "complexity_penalty",
        "complexity_linear",
        "complexity_linear_fraction",
        "complexity_linear/ra",
        "complexity_linear/rb",
        "size/ra/h",
        "size/ra/w",
        "size/rb/h",
        "size/rb/w",
    ):
        assert column in columns, columns
    for epoch, row in enumerate(rows):
        assert int(row["epoch"]) == epoch
        for key in ("complexity", "complexity_linear", "complexity_linear_fraction"):
            assert float(row[key]) == pytest.approx(history.history[key][epoch], rel=1e-5)
        assert int(float(row["size/rb/h"])) == history.history["size/rb/h"][epoch]
    ra, rb = kr.resolution_layers(model)
    assert (int(float(rows[-1]["size/ra/h"])), int(float(rows[-1]["size/ra/w"]))) == ra.output_sizes


class BatchComplexity(keras.callbacks.Callback):
    """C (the model's definition) before each training batch, i.e. the value
    that batch's loss uses."""

    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append([])

    def on_train_batch_begin(self, batch, logs=None):
        # A forward pass records each layer's current input size, as the
        # batch's own forward pass does before its loss.
        self.model(np.zeros((1,) + tuple(self.model.input_shape[1:]), "float32"))
        value = kr.complexity(self.model, self.model.complexity_definition)
        self.per_epoch[-1].append(float(value))


@pytest.mark.parametrize("definition", ["linear", "area"])
def test_logger_keys_do_not_overwrite_the_model_metrics(definition):
    """The model's `complexity` is the epoch mean of the loss's C (linear
    here); the logger's `complexity_<definition>` is C at epoch end."""
    model = tiny_model_2d()  # complexity_definition="linear"
    batches = BatchComplexity()
    history = fit_tiny(model, [kr.ComplexityLogger(definition), batches], epochs=3)
    logs = history.history
    for epoch, values in enumerate(batches.per_epoch):
        assert len(values) == 2
        assert logs["complexity"][epoch] == pytest.approx(np.mean(values), rel=1e-6)
        # Training moved the scales, so the mean differs from the end value.
        assert values[0] != values[1]
    ra = model.get_layer("ra")
    model(np.zeros((1, 16, 12, 2), "float32"))  # rb's input size after training
    assert logs[f"complexity_{definition}"][-1] == pytest.approx(
        float(kr.complexity(model, definition)), rel=1e-6
    )
    assert logs[f"complexity_{definition}/ra"][-1] == pytest.approx(
        float(ra.complexity(definition)), rel=1e-6
    )
    end = float(kr.complexity(model, "linear"))
    assert abs(logs["complexity"][-1] - end) > 1e-3 * end  # two distinct values
    assert "complexity_penalty" in logs and "complexity_fraction" not in logs


def test_two_loggers_with_both_definitions_keep_both():
    model = tiny_model_2d()
    history = fit_tiny(model, [kr.ComplexityLogger("linear"), kr.ComplexityLogger("area")], epochs=1)
    logs = history.history
    ra = model.get_layer("ra")
    for definition in ("linear", "area"):
        assert logs[f"complexity_{definition}/ra"] == [
            pytest.approx(float(ra.complexity(definition)), rel=1e-6)
        ]
        full = kr.full_complexity(model, definition)
        assert logs[f"complexity_{definition}_fraction"] == [
            pytest.approx(logs[f"complexity_{definition}"][0] / full, rel=1e-6)
        ]
    assert logs["complexity_area"][0] != pytest.approx(logs["complexity_linear"][0], rel=0.1)


def test_logger_refuses_an_unknown_definition():
    with pytest.raises(ValueError, match="definition"):
        kr.ComplexityLogger("volume")
