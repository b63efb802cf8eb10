"""Per-backend scenarios for NJetConv2D and SafeSubsample (issue 12), run in
a process of their own by test_njet_backends.py:

    KERAS_BACKEND=jax python tests/backends/njet_scenarios.py njet njet_static

Same protocol as scenarios.py (whose helpers and `main` this reuses): one
line `RESULTS <json>` on stdout with each scenario's numbers or traceback.
"""

import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scenarios  # noqa: E402  (tests/backends/scenarios.py)
from scenarios import _data, _gradient, _history, _max_abs_diff, _relative_error  # noqa: E402

# Exposed through scenarios.SCENARIOS below.


def _exact_reference(x, alphas, sigma, order, half_width):
    """The official convolution with the exact (2f + 1)^2 filter, in float64:
    SciPy Gaussian derivative kernels (times sigma^m), the official 2-D basis
    order, zero-padded cross-correlation."""
    import numpy as np
    from scipy import ndimage

    def kernel_1d(m):
        impulse = np.zeros(2 * half_width + 1)
        impulse[half_width] = 1.0
        return sigma**m * ndimage.gaussian_filter1d(
            impulse, sigma, order=m, mode="constant", radius=half_width
        )

    g = [kernel_1d(m) for m in range(order + 1)]
    orders = [(i, j) for i in range(order + 1) for j in range(order - i, -1, -1)]
    kernel = np.einsum("fhw,fco->hwco", np.stack([np.outer(g[i], g[j]) for i, j in orders]),
                       np.asarray(alphas, "float64"))
    out = np.zeros((*x.shape[:3], kernel.shape[3]))
    for n in range(x.shape[0]):
        for o in range(kernel.shape[3]):
            for c in range(x.shape[3]):
                out[n, :, :, o] += ndimage.correlate(
                    x[n, :, :, c].astype("float64"), kernel[:, :, c, o], mode="constant"
                )
    return out


def _nearest(x, size):
    """PyTorch's F.interpolate(mode="nearest") on NHWC, in NumPy."""
    import numpy as np

    for axis, out in zip((1, 2), size):
        n = x.shape[axis]
        scale = np.float32(n) / np.float32(out)
        index = np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(int), n - 1)
        x = np.take(x, index, axis=axis)
    return x


def njet_classifier(static_sizes=False):
    """conv - N-Jet with safe subsampling (code rule, sigma = 2.5, so
    16 -> 11) - BN - ReLU - pool - dense on 16x16, under a hinge cap."""
    import keras
    import numpy as np

    import keras_resolution as kr

    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    subsample = kr.SafeSubsample(rule="code", static_sizes=static_sizes, name="ss")
    h = kr.NJetConv2D(4, order=2, init_log2_sigma=math.log2(2.5), max_sigma=3.0,
                      safe_subsample=subsample, name="njet")(h)
    h = keras.layers.Activation("relu")(keras.layers.BatchNormalization(name="bn")(h))
    outputs = keras.layers.Dense(4, name="logits")(keras.layers.GlobalAveragePooling2D()(h))
    model = kr.ResolutionModel(inputs, outputs, penalty=kr.HingeCap(8.0, 0.02), name="njet_model")
    rng = np.random.default_rng(0)
    values = []
    for variable in model.weights:  # Backend-independent initial weights.
        name, shape = variable.path.split("/")[-1], tuple(variable.shape)
        if name in ("log2_sigma", "input_size") or "moving" in name or name in ("gamma", "beta"):
            values.append(np.asarray(variable.numpy()))
        elif len(shape) >= 2:
            values.append(rng.normal(0, np.prod(shape[:-1]) ** -0.5, shape).astype("float32"))
        else:
            values.append(np.zeros(shape, "float32"))
    model.set_weights(values)
    return model


def _state(model):
    from keras import ops

    import keras_resolution as kr

    layer = model.get_layer("njet")
    return {
        "sizes": list(layer.safe_subsample.output_sizes),
        "sigma": layer.sigma_value,
        "kernel_size": layer.kernel_size,
        "complexity": float(ops.convert_to_numpy(kr.complexity(model))),
    }


def scenario_njet():
    """NJetConv2D values against the exact-size SciPy reference, the sigma
    gradient, SafeSubsample against the nearest resize (and, on torch,
    against F.interpolate itself), then on TensorFlow and PyTorch a fit
    under a hinge cap with jit_compile="auto", logging and a .keras round
    trip."""
    import keras
    import numpy as np
    from keras import ops

    import keras_resolution as kr

    keras.backend.clear_session()
    rng = np.random.default_rng(7)
    result = {}
    x = rng.normal(size=(2, 11, 9, 3)).astype("float32")
    inputs = keras.Input((11, 9, 3))
    layer = kr.NJetConv2D(4, order=3, init_log2_sigma=0.6, name="njet")
    model = keras.Model(inputs, layer(inputs))
    layer.alphas.assign(rng.normal(size=(10, 3, 4)).astype("float32"))
    expected = _exact_reference(x, layer.alphas.numpy(), layer.sigma_value, 3, layer.half_width)
    result["njet_error"] = _relative_error(ops.convert_to_numpy(model(x)), expected)
    result["kernel_size"] = layer.kernel_size
    weights = rng.normal(size=(2, 11, 9, 4)).astype("float32")
    result["sigma_gradient"] = _gradient(model, x, weights, [layer.log2_sigma])[0]

    x32 = rng.normal(size=(2, 32, 27, 3)).astype("float32")
    host = kr.NJetConv2D(2, order=1, init_log2_sigma=math.log2(3.0),
                         safe_subsample=kr.SafeSubsample(rule="paper"))
    host(x32)
    sub = ops.convert_to_numpy(host.safe_subsample(x32))
    result["subsample_shape"] = list(sub.shape)
    result["subsample_equal"] = bool(np.array_equal(sub, _nearest(x32, (19, 16))))
    if keras.backend.backend() == "torch":
        import torch
        import torch.nn.functional as F

        official = F.interpolate(torch.from_numpy(x32).permute(0, 3, 1, 2), (19, 16))
        result["subsample_equals_torch_interpolate"] = bool(
            np.array_equal(sub, official.permute(0, 2, 3, 1).numpy())
        )

    if keras.backend.backend() == "jax":
        return result  # A non-jit JAX fit compiles op by op: njet_static trains on JAX.
    keras.backend.clear_session()
    x, y = _data()
    model = njet_classifier()
    before = _state(model)
    model.compile(keras.optimizers.SGD(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile="auto")
    logger = kr.ComplexityLogger()
    history = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[logger])
    result["fit"] = {
        "jit_compile": model.jit_compile,
        "before": before,
        "after": _state(model),
        "history": _history(history),
        "logger_now": logger.complexity_logs(),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        path = os.path.join(tmpdir, "njet.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        result["round_trip"] = {
            "max_abs_diff": _max_abs_diff(
                ops.convert_to_numpy(model(x[:4])), ops.convert_to_numpy(loaded(x[:4]))
            ),
            "states": [_state(model), _state(loaded)],
            "scale_variable": kr.is_scale_variable(loaded.get_layer("njet").log2_sigma),
        }
    return result


def scenario_njet_static():
    """static_sizes=True SafeSubsample under jit_compile=True with
    SizeRefresh: the hinge raises sigma and the sizes fall."""
    import keras
    from keras import ops

    import keras_resolution as kr

    keras.backend.clear_session()
    x, y = _data()
    model = njet_classifier(static_sizes=True)
    model.compile(keras.optimizers.SGD(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    before = _state(model)
    refresh = kr.SizeRefresh()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[refresh])
    compiled = ops.convert_to_numpy(model.predict(x[:4], verbose=0))
    eager = ops.convert_to_numpy(model(x[:4], training=False))
    return {
        "jit_compile": model.jit_compile,
        "before": before,
        "after": _state(model),
        "rebuilds": refresh.rebuilds,
        "compiled_vs_eager": _max_abs_diff(compiled, eager),
    }


scenarios.SCENARIOS.update({"njet": scenario_njet, "njet_static": scenario_njet_static})

if __name__ == "__main__":
    sys.exit(scenarios.main(sys.argv[1:] or ["njet", "njet_static"]))
