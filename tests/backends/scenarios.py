"""Per-backend scenarios for tests/backends, run in a process of their own.

Keras chooses its backend once, at import, from KERAS_BACKEND, so each
backend is exercised in a separate interpreter:

    KERAS_BACKEND=jax python tests/backends/scenarios.py fit static save

Every scenario returns a dict of plain numbers; the process prints one line
`RESULTS <json>` on stdout with, per scenario, its result or the traceback
of its failure, and the wall time it took. The assertions live in
test_backends.py; this file only measures.

Weights are set from NumPy (not from the backend's random generator) and the
data are not shuffled, so the three backends compute the same function and
their size trajectories can be compared.
"""

import json
import os
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MARKER = "RESULTS "
TARGET = 0.25  # p* of the quadratic budget.


def _import_backend():
    """Imports keras (and so the backend); None or the reason it failed."""
    try:
        import keras  # noqa: F401
    except ImportError as error:  # The backend's package is not installed.
        return f"{type(error).__name__}: {error}"
    return None


# --------------------------------------------------------------- utilities
def _layers(model):
    import keras_resolution as kr

    return {layer.name: layer for layer in kr.resolution_layers(model)}


def _sizes(model):
    return {name: list(layer.output_sizes) for name, layer in _layers(model).items()}


def _scales(model):
    from keras import ops

    return {
        name: ops.convert_to_numpy(layer.scale).astype(float).tolist()
        for name, layer in _layers(model).items()
    }


def _fraction(model):
    """Continuous C / C_full (what the budget penalises)."""
    from keras import ops

    import keras_resolution as kr

    C = float(ops.convert_to_numpy(kr.complexity(model)))
    return C / kr.full_complexity(model)


def _integer_fraction(model):
    """C / C_full with the realised integer sizes (linear definition)."""
    import keras_resolution as kr

    sizes = sum(sum(layer.output_sizes) for layer in kr.resolution_layers(model))
    return sizes / kr.full_complexity(model)


def _numpy_weights(model, seed=0):
    """Backend-independent initial weights: N(0, 1/fan_in) kernels, zero bias.

    ResolutionLayer variables (scale, input_size) keep their initial values.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    values = []
    for variable in model.weights:
        shape = tuple(variable.shape)
        if variable.path.split("/")[-1] in ("scale", "input_size"):
            values.append(np.asarray(variable.numpy()))
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            values.append(rng.normal(0, fan_in**-0.5, shape).astype("float32"))
        else:
            values.append(np.zeros(shape, "float32"))
    model.set_weights(values)


def _data(n=32, size=16, channels=3, classes=4, seed=1):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, size, size, channels)).astype("float32")
    y = rng.integers(0, classes, n).astype("int32")
    return x, y


def classifier(static_sizes=False, size=16, filters=4, classes=4, penalty="default"):
    """conv - Resolution - conv - Resolution - pool - dense, under a budget."""
    import keras

    import keras_resolution as kr

    inputs = keras.Input((size, size, 3))
    h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="c1")(
        inputs
    )
    h = kr.ResolutionLayer(name="r1", static_sizes=static_sizes)(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="c2")(h)
    h = kr.ResolutionLayer(name="r2", static_sizes=static_sizes)(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    outputs = keras.layers.Dense(classes, name="logits")(h)
    if penalty == "default":
        penalty = kr.QuadraticTarget(TARGET, 100.0)
    model = kr.ResolutionModel(inputs, outputs, penalty=penalty, name="classifier")
    _numpy_weights(model)
    return model


class SizeRecorder:
    """Callback factory (keras must be imported first): records the integer
    sizes at train begin and after every batch, read through `self.model`
    (which syncs the JAX state)."""

    def __new__(cls):
        import keras

        class _Recorder(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.sizes = []
                self.lengths = []
                self.epoch_state = []

            def on_train_begin(self, logs=None):
                self.sizes.append(_sizes(self.model))
                self.lengths.append(_target_lengths(self.model))

            def on_train_batch_end(self, batch, logs=None):
                model = self.model  # Syncs the JAX state.
                self.sizes.append(_sizes(model))
                self.lengths.append(_target_lengths(model))

            def on_epoch_end(self, epoch, logs=None):
                model = self.model
                self.epoch_state.append(
                    {"sizes": _sizes(model), "scales": _scales(model),
                     "fraction": _fraction(model)}
                )

        return _Recorder()


def _target_lengths(model):
    """Continuous q = d_in * s per layer and axis (float32, as the layer)."""
    import numpy as np
    from keras import ops

    out = {}
    for name, layer in _layers(model).items():
        d_in = ops.convert_to_numpy(layer.input_size).astype("float32")
        scale = ops.convert_to_numpy(layer.scale).astype("float32")
        out[name] = (d_in * scale).astype(float).tolist()
    return out


def _changes(trajectory):
    return sum(a != b for a, b in zip(trajectory, trajectory[1:]))


def _history(history):
    """History as JSON-friendly lists (ints stay ints)."""
    out = {}
    for key, values in history.history.items():
        out[key] = [v if isinstance(v, int) else float(v) for v in values]
    return out


def _max_abs_diff(a, b):
    import numpy as np

    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _round_trip(model, x, tmpdir, name):
    """Saves to .keras, loads, and compares outputs, sizes and scales."""
    import keras
    from keras import ops

    path = os.path.join(tmpdir, f"{name}.keras")
    before = ops.convert_to_numpy(model.predict(x, verbose=0))
    model.save(path)
    loaded = keras.saving.load_model(path)
    after = ops.convert_to_numpy(loaded.predict(x, verbose=0))
    eager = ops.convert_to_numpy(loaded(x, training=False))
    return loaded, {
        "shapes": [list(before.shape), list(after.shape)],
        "max_abs_diff": _max_abs_diff(before, after),
        "max_abs_diff_eager": _max_abs_diff(before, eager),
        "sizes": [_sizes(model), _sizes(loaded)],
        "scales": [_scales(model), _scales(loaded)],
        "scale_dtypes": [
            str(layer.scale.dtype) for layer in _layers(loaded).values()
        ],
    }


# --------------------------------------------------------------- scenarios
# Shared between scenarios of one process: the model trained by "fit" is
# reused by "save" so the round trip covers scales that training moved.
STATE = {}


def scenario_fit():
    """Budgeted classifier, model.fit with jit_compile="auto" (1 + 5 in #2)."""
    import keras

    import keras_resolution as kr

    keras.backend.clear_session()
    x, y = _data()
    model = classifier()
    model.compile(
        keras.optimizers.SGD(0.02),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile="auto",
    )
    recorder = SizeRecorder()
    logger = kr.ComplexityLogger()
    start = time.perf_counter()
    history = model.fit(
        x, y, epochs=6, batch_size=16, shuffle=False, verbose=0,
        callbacks=[logger, recorder],
    )
    seconds = time.perf_counter() - start
    STATE["fit"] = (model, x)
    return {
        "jit_compile": model.jit_compile,
        "fit_seconds": seconds,
        "full_complexity": kr.full_complexity(model),
        "final_fraction": _fraction(model),
        "final_integer_fraction": _integer_fraction(model),
        "final_sizes": _sizes(model),
        "final_scales": _scales(model),
        "step_sizes": recorder.sizes,
        "step_lengths": recorder.lengths,
        "epoch_state": recorder.epoch_state,
        "logger_now": logger.complexity_logs(),
        "history": _history(history),
    }


def scenario_static():
    """static_sizes=True under jit_compile=True, with and without SizeRefresh."""
    import keras
    from keras import ops

    import keras_resolution as kr

    def compiled():
        keras.backend.clear_session()
        model = classifier(static_sizes=True)
        model.compile(
            keras.optimizers.SGD(0.02),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        return model

    x, y = _data()
    result = {}

    model = compiled()
    try:
        model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        result["without_refresh"] = {"raised": None}
    except Exception as error:  # noqa: BLE001 - the test asserts the type.
        result["without_refresh"] = {
            "raised": type(error).__name__,
            "message": str(error)[:500],
        }
        try:
            result["without_refresh"]["scales_after_error"] = _scales(model)
        except Exception as error:  # noqa: BLE001
            # Keras's JAX fit purges the variables' values while a step runs
            # and does not restore them when the step raises.
            result["without_refresh"]["scales_after_error"] = repr(error)[:200]

    model = compiled()
    refresh = kr.SizeRefresh()
    recorder = SizeRecorder()
    start = time.perf_counter()
    history = model.fit(
        x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
        callbacks=[refresh, recorder, kr.ComplexityLogger()],
    )
    seconds = time.perf_counter() - start
    # The compiled predict (traced with the refreshed sizes) must agree with
    # an eager call, where sizes are read from the concrete scale.
    compiled_out = ops.convert_to_numpy(model.predict(x[:4], verbose=0))
    eager_out = ops.convert_to_numpy(model(x[:4], training=False))
    result.update(
        {
            "jit_compile": model.jit_compile,
            "fit_seconds": seconds,
            "rebuilds": refresh.rebuilds,
            "size_changes": _changes(recorder.sizes),
            "step_sizes": recorder.sizes,
            "final_sizes": _sizes(model),
            "final_fraction": _fraction(model),
            "history": _history(history),
            "compiled_vs_eager": _max_abs_diff(compiled_out, eager_out),
        }
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        loaded, trip = _round_trip(model, x[:4], tmpdir, "static")
        trip["jit_compile"] = loaded.jit_compile
        result["round_trip"] = trip
    return result


def scenario_save():
    """.keras round trips: the trained budgeted classifier, and a DFT /
    channels_first / literal-gradient model; config round trips."""
    import keras
    import numpy as np

    import keras_resolution as kr

    result = {}
    if "fit" not in STATE:
        scenario_fit()
    model, x = STATE["fit"]
    with tempfile.TemporaryDirectory() as tmpdir:
        loaded, trip = _round_trip(model, x[:8], tmpdir, "classifier")
        trip["penalty"] = [
            keras.saving.serialize_keras_object(m.complexity_penalty)["config"]
            for m in (model, loaded)
        ]
        trip["penalty_class"] = type(loaded.complexity_penalty).__name__
        trip["definition"] = [m.complexity_definition for m in (model, loaded)]
        trip["full_complexity"] = [m.complexity_full for m in (model, loaded)]
        trip["fraction"] = [_fraction(m) for m in (model, loaded)]
        trip["scales_moved"] = any(
            abs(s - 1.0) > 1e-3 for v in _scales(model).values() for s in v
        )
        result["classifier"] = trip

        # DFT, channels_first, literal gradient, per-axis scales, bounded;
        # area complexity under a hinge cap.
        keras.backend.clear_session()
        inputs = keras.Input((3, 12, 10))
        h = keras.layers.Dense(3, name="mix")(keras.layers.Permute((2, 3, 1))(inputs))
        h = keras.layers.Permute((3, 1, 2))(h)
        layer = kr.ResolutionLayer(
            scale=(0.7, 1.1), transform="dft", gradient="literal", taper=3.0,
            max_size=24, data_format="channels_first", name="r_dft",
        )
        h = layer(h)
        h = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(h)
        outputs = keras.layers.Dense(2, name="out")(h)
        dft = kr.ResolutionModel(
            inputs, outputs, penalty=kr.HingeCap(20.0, 0.05),
            complexity_definition="area", name="dft_model",
        )
        _numpy_weights(dft)
        config = layer.get_config()
        clone = kr.ResolutionLayer.from_config(config)
        rng = np.random.default_rng(2)
        xc = rng.normal(size=(16, 3, 12, 10)).astype("float32")
        yc = rng.normal(size=(16, 2)).astype("float32")
        dft.compile(keras.optimizers.SGD(0.05), "mse")
        dft.fit(xc, yc, epochs=2, batch_size=8, shuffle=False, verbose=0)
        loaded, trip = _round_trip(dft, xc[:4], tmpdir, "dft")
        loaded_layer = loaded.get_layer("r_dft")
        trip["config_equal"] = clone.get_config() == config
        trip["loaded_config_equal"] = loaded_layer.get_config() == config
        trip["config"] = config
        trip["penalty"] = [
            keras.saving.serialize_keras_object(m.complexity_penalty)["config"]
            for m in (dft, loaded)
        ]
        trip["definition"] = [m.complexity_definition for m in (dft, loaded)]
        trip["scales_moved"] = _scales(dft)["r_dft"] != [0.7, 1.1]
        model_config = dft.get_config()
        rebuilt = kr.ResolutionModel.from_config(model_config)
        trip["model_config_equal"] = rebuilt.get_config() == model_config
        result["dft"] = trip
    return result


def _scale_gradient(model, x, weights):
    """d(sum(weights * model(x))) / d(scale) of every ResolutionLayer, and the
    output dtype, by the backend's own autodiff."""
    import keras
    import numpy as np
    from keras import ops

    backend = keras.backend.backend()
    layers = list(_layers(model).values())
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y = model(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * weights)
        grads = tape.gradient(loss, [layer.scale.value for layer in layers])
        grads = [g.numpy() for g in grads]
    elif backend == "torch":
        y = model(x, training=True)
        loss = (ops.cast(y, "float32") * ops.convert_to_tensor(weights)).sum()
        loss.backward()
        grads = [layer.scale.value.grad.detach().cpu().numpy() for layer in layers]
    else:
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss_fn(trainable):
            y, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return (y.astype("float32") * weights).sum(), y

        grads_all, y = jax.grad(loss_fn, has_aux=True)(trainable)
        index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        grads = [np.asarray(grads_all[index[id(layer.scale)]]) for layer in layers]
    return y, [np.asarray(g, dtype="float64").tolist() for g in grads]


def scenario_mixed():
    """Mixed precision: forward/backward, dtypes, and the gradient on s."""
    import keras
    import numpy as np
    from keras import ops

    import keras_resolution as kr

    result = {}
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 12, 12, 3)).astype("float32")
    y = rng.integers(0, 3, 4).astype("int32")
    for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
        entry = {}
        try:
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy(policy)
            inputs = keras.Input((12, 12, 3))
            h = keras.layers.Dense(4, name="mix")(inputs)
            h = kr.ResolutionLayer(scale=0.6, name="r_down")(h)
            h = kr.ResolutionLayer(scale=1.7, name="r_up")(h)
            features = h
            h = keras.layers.GlobalAveragePooling2D()(h)
            outputs = keras.layers.Dense(3, name="out", dtype="float32")(h)
            model = kr.ResolutionModel(
                inputs, outputs, penalty=kr.QuadraticTarget(0.5, 10.0)
            )
            _numpy_weights(model)
            feature_model = keras.Model(inputs, features)
            shape = tuple(feature_model(x).shape)  # (4, 14, 14, 4)
            # The same loss weights for every policy, so gradients compare.
            weights = np.random.default_rng(4).normal(size=shape).astype("float32")
            out, grads = _scale_gradient(feature_model, x, weights)
            entry["compute_dtype"] = keras.mixed_precision.global_policy().compute_dtype
            entry["output_dtype"] = keras.backend.standardize_dtype(out.dtype)
            entry["output_shape"] = list(out.shape)
            entry["output_finite"] = bool(
                np.isfinite(ops.convert_to_numpy(ops.cast(out, "float32"))).all()
            )
            entry["scale_dtypes"] = [
                str(layer.scale.dtype) for layer in _layers(model).values()
            ]
            entry["scale_grads"] = grads
            model.compile(
                keras.optimizers.SGD(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
            entry["fit_loss"] = [float(v) for v in history.history["loss"]]
            entry["scales_after_fit"] = _scales(model)
            entry["scale_dtypes_after_fit"] = [
                str(layer.scale.dtype) for layer in _layers(model).values()
            ]
        except Exception:  # noqa: BLE001 - reported per policy.
            entry["error"] = traceback.format_exc()[-3000:]
        finally:
            keras.mixed_precision.set_global_policy("float32")
        result[policy] = entry
    return result


def scenario_optimizer():
    """ResolutionSGD / ResolutionAdam next to other variables named "scale"
    (RMSNormalization, Attention(use_scale=True)): one full-batch step of
    each, and of the plain Keras optimizer, from the same weights."""
    import keras
    import numpy as np

    import keras_resolution as kr
    from keras_resolution.layer import is_scale_variable

    keras.backend.clear_session()
    inputs = keras.Input((12, 4))
    h = kr.ResolutionLayer(0.9, name="res")(inputs)
    h = keras.layers.RMSNormalization(name="rms")(h)
    h = keras.layers.Attention(use_scale=True, name="attention")([h, h])
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(h))
    _numpy_weights(model)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 12, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    initial = model.get_weights()

    def updates(optimizer):
        model.set_weights(initial)
        start = {v.path: np.asarray(v.numpy()).copy() for v in model.trainable_variables}
        model.compile(optimizer, "mse", jit_compile="auto")
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        return {
            v.path: (np.asarray(v.numpy()) - start[v.path]).astype(float).tolist()
            for v in model.trainable_variables
        }

    factor = 0.1
    return {
        "factor": factor,
        "named_scale": sorted(
            v.path for v in model.trainable_variables if v.name == "scale"
        ),
        "marked": [v.path for v in model.trainable_variables if is_scale_variable(v)],
        "sgd": updates(keras.optimizers.SGD(0.01)),
        "resolution_sgd": updates(
            kr.ResolutionSGD(0.01, scale_learning_rate_factor=factor)
        ),
        "adam": updates(keras.optimizers.Adam(0.01)),
        "resolution_adam": updates(
            kr.ResolutionAdam(0.01, scale_learning_rate_factor=factor)
        ),
    }


# ------------------------------------------- DiffStride and spectral pooling
def _official_diffstride(x, strides, R=4.0):
    """NumPy transcription of the official DiffStride.call (channels_last;
    tests/keras_resolution/test_diffstride.py has the commented one)."""
    import numpy as np

    f = np.float32
    x = np.transpose(np.asarray(x, np.float64), (0, 3, 1, 2))
    H, W = x.shape[2:]
    s_h = max(f(strides[0]), f(H) / (f(H) - f(R)), f(1))
    s_w = max(f(strides[1]), f(W) / (f(W) - f(R)), f(1))
    lower_height = max(f(H) / s_h, f(2)) / f(2)
    upper_width = max(f(W) / s_w, f(2)) / f(2) + f(1)
    v = np.arange(H // 2 + H % 2, dtype=f)
    v = np.concatenate([v[H % 2:][::-1], v])
    h_mask = np.clip((f(1) / f(R)) * (f(R) + upper_width - np.arange(W // 2 + 1, dtype=f)), 0, 1)
    v_mask = np.fft.fftshift(np.clip((f(1) / f(R)) * (f(R) + lower_height - v), 0, 1))
    out = np.fft.rfft2(x) * h_mask[None, None, None, :] * v_mask[None, None, :, None]
    out = out[:, :, v_mask > 0][:, :, :, h_mask > 0]
    return np.transpose(np.fft.irfft2(out), (0, 2, 3, 1))


def _official_fixed(x, strides):
    """NumPy transcription of the official FixedSpectralPooling."""
    import numpy as np

    x = np.transpose(np.asarray(x, np.float64), (0, 3, 1, 2))
    H, W = x.shape[2:]
    h = np.float32(H) // np.float32(strides[0])
    h = int(max(h - h % 2, 2))
    w = int(max(np.float32(W) // np.float32(strides[1]), 2))
    X = np.fft.rfft2(x)
    out = np.concatenate([X[:, :, : h // 2, : w // 2 + 1], X[:, :, H - h // 2:, : w // 2 + 1]], 2)
    return np.transpose(np.fft.irfft2(out, s=(h, w)), (0, 2, 3, 1))


def _relative_error(actual, expected):
    import numpy as np

    actual = np.asarray(actual, "float64")
    if actual.shape != expected.shape:
        return float("inf")
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def _gradient(model, x, weights, variables):
    """d(sum(weights * model(x))) / d(variables), by the backend's autodiff."""
    import keras
    import numpy as np
    from keras import ops

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) * weights)
        grads = [g.numpy() for g in tape.gradient(loss, [v.value for v in variables])]
    elif backend == "torch":
        loss = (model(x, training=True) * ops.convert_to_tensor(weights)).sum()
        loss.backward()
        grads = [v.value.grad.detach().cpu().numpy() for v in variables]
    else:
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss_fn(trainable):
            y, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return (y * weights).sum()

        grads_all = jax.grad(loss_fn)(trainable)
        index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        grads = [np.asarray(grads_all[index[id(v)]]) for v in variables]
    return [np.asarray(g, "float64").tolist() for g in grads]


def _comparator_weights(model, seed=0):
    """As `_numpy_weights`, keeping the strides (and scales) at their values."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values = []
    for variable in model.weights:
        shape = tuple(variable.shape)
        if variable.path.split("/")[-1] in ("scale", "input_size", "strides"):
            values.append(np.asarray(variable.numpy()))
        elif len(shape) >= 2:
            values.append(rng.normal(0, np.prod(shape[:-1]) ** -0.5, shape).astype("float32"))
        else:
            values.append(np.zeros(shape, "float32"))
    model.set_weights(values)


def comparator_classifier(static_sizes=False, penalty=None):
    """conv - Resolution - conv - DiffStride - conv - fixed spectral pooling
    - conv - pool - dense on 16x16, under a hinge cap on the complexity."""
    import keras

    import keras_resolution as kr

    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    # min_size keeps the DiffStride input above its smoothness R = 4.
    h = kr.ResolutionLayer(0.9, name="r", static_sizes=static_sizes, min_size=8)(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(h)
    h = kr.DiffStride2D((2.6, 2.6), name="ds", static_sizes=static_sizes)(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c3")(h)
    h = kr.FixedSpectralPooling2D(2, name="sp")(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c4")(h)
    outputs = keras.layers.Dense(4, name="logits")(keras.layers.GlobalAveragePooling2D()(h))
    penalty = kr.HingeCap(20.0, 0.5) if penalty is None else penalty
    model = kr.ResolutionModel(inputs, outputs, penalty=penalty, name="comparators")
    _comparator_weights(model)
    return model


def _comparator_state(model):
    from keras import ops

    import keras_resolution as kr

    return {
        "sizes": {layer.name: list(layer.output_sizes) for layer in kr.complexity_layers(model)},
        "strides": ops.convert_to_numpy(model.get_layer("ds").strides).astype(float).tolist(),
        "complexity": float(ops.convert_to_numpy(kr.complexity(model))),
    }


def scenario_comparators():
    """DiffStride2D and FixedSpectralPooling2D: values against the NumPy
    transcriptions, the stride gradient, fit under a hinge cap with
    jit_compile="auto", ComplexityLogger, and a .keras round trip."""
    import keras
    import numpy as np
    from keras import ops

    import keras_resolution as kr

    keras.backend.clear_session()
    rng = np.random.default_rng(7)
    result = {"values": {}}
    for size in [(15, 12), (16, 13)]:
        x = rng.normal(size=(2, *size, 3)).astype("float32")
        tag = f"{size[0]}x{size[1]}"
        ds = ops.convert_to_numpy(kr.DiffStride2D((1.7, 2.3))(x))
        result["values"][f"diffstride_{tag}"] = _relative_error(ds, _official_diffstride(x, (1.7, 2.3)))
        sp = ops.convert_to_numpy(kr.FixedSpectralPooling2D((2, 3))(x))
        result["values"][f"fixed_{tag}"] = _relative_error(sp, _official_fixed(x, (2, 3)))

    inputs = keras.Input((16, 13, 3))
    layer = kr.DiffStride2D((1.7, 2.3), name="ds")
    model = keras.Model(inputs, layer(inputs))
    x = rng.normal(size=(2, 16, 13, 3)).astype("float32")
    weights = rng.normal(size=(2, *layer.output_sizes, 3)).astype("float32")
    result["stride_gradient"] = _gradient(model, x, weights, [layer.strides])[0]

    if keras.backend.backend() == "jax":
        # JAX runs a non-jit fit op by op, compiling each op for each new
        # size: about 90 s here. JAX trains in "comparators_static" (jit).
        return result
    keras.backend.clear_session()
    x, y = _data()
    model = comparator_classifier()
    before = _comparator_state(model)
    model.compile(
        keras.optimizers.SGD(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile="auto",
    )
    logger = kr.ComplexityLogger()
    history = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[logger])
    result["fit"] = {
        "jit_compile": model.jit_compile,
        "before": before,
        "after": _comparator_state(model),
        "history": _history(history),
        "logger_now": logger.complexity_logs(),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        path = os.path.join(tmpdir, "comparators.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        result["round_trip"] = {
            "max_abs_diff": _max_abs_diff(
                ops.convert_to_numpy(model(x[:4])), ops.convert_to_numpy(loaded(x[:4]))
            ),
            "states": [_comparator_state(model), _comparator_state(loaded)],
            "config_equal": loaded.get_layer("ds").get_config() == model.get_layer("ds").get_config(),
        }
    return result


def scenario_comparators_static():
    """static_sizes=True DiffStride2D (and ResolutionLayer) under
    jit_compile=True with SizeRefresh: the hinge moves the sizes."""
    import keras
    from keras import ops

    import keras_resolution as kr

    keras.backend.clear_session()
    x, y = _data()
    model = comparator_classifier(static_sizes=True)
    model.compile(
        keras.optimizers.SGD(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    before = _comparator_state(model)
    refresh = kr.SizeRefresh()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[refresh])
    compiled = ops.convert_to_numpy(model.predict(x[:4], verbose=0))
    eager = ops.convert_to_numpy(model(x[:4], training=False))
    return {
        "jit_compile": model.jit_compile,
        "before": before,
        "after": _comparator_state(model),
        "rebuilds": refresh.rebuilds,
        "compiled_vs_eager": _max_abs_diff(compiled, eager),
    }


SCENARIOS = {
    "fit": scenario_fit,
    "static": scenario_static,
    "save": scenario_save,
    "mixed": scenario_mixed,
    "optimizer": scenario_optimizer,
    "comparators": scenario_comparators,
    "comparators_static": scenario_comparators_static,
}


def main(names):
    error = _import_backend()
    if error is not None:
        print(MARKER + json.dumps({"import_error": error}), flush=True)
        return 0
    import keras

    out = {"backend": keras.backend.backend(), "results": {}, "seconds": {}, "cpu": {}}
    for name in names:
        start = time.perf_counter()
        cpu = time.process_time()
        try:
            out["results"][name] = SCENARIOS[name]()
        except Exception:  # noqa: BLE001 - reported to the parent test.
            out["results"][name] = {"error": traceback.format_exc()[-4000:]}
        out["seconds"][name] = time.perf_counter() - start
        out["cpu"][name] = time.process_time() - cpu
    out["process_cpu"] = time.process_time()
    print(MARKER + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(SCENARIOS)))
