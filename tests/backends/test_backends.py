"""keras_resolution on TensorFlow, JAX and PyTorch (issue 2, points 7 and 8).

Each backend runs tests/backends/scenarios.py in its own process (see
conftest.py); these tests assert on the numbers it reports:

* fit: a budgeted classifier (QuadraticTarget(0.25, 100)) trained with
  model.fit and jit_compile="auto" reaches the target complexity, and the
  three backends follow the same trajectory of integer sizes;
* static: static_sizes=True under jit_compile=True (JAX jit, TensorFlow
  XLA) trains with SizeRefresh, rebuilding once per size change, and raises
  without it;
* save: .keras round trips give identical outputs, sizes and scales;
* mixed: mixed_float16 / mixed_bfloat16 forward and backward;
* ComplexityLogger values in History match the final model state (on JAX the
  variables are only synced at epoch end);
* optimizer: ResolutionSGD / ResolutionAdam scale the update of the
  Resolution scales only, not of other layers' variables named "scale".
"""

import math

import numpy as np
import pytest

BACKENDS = ["tensorflow", "jax", "torch"]
JIT_BACKENDS = ["tensorflow", "jax"]
TARGET = 0.25


def _axes(sizes):
    return ("length",) if len(sizes) == 1 else ("h", "w")


# ---------------------------------------------------------------- 1. fit
@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_reaches_quadratic_budget(scenario, backend):
    result = scenario(backend, "fit")
    # jit_compile="auto" picked the non-compiled path, which works everywhere.
    assert result["jit_compile"] is False
    fraction = result["final_fraction"]
    assert abs(fraction - TARGET) <= 0.1 * TARGET, fraction
    # The realised integer sizes are ceil(q): never below q, at most one
    # more per axis.
    n_axes = sum(len(s) for s in result["final_sizes"].values())
    integer = result["final_integer_fraction"]
    full = result["full_complexity"]
    assert fraction - 1e-6 <= integer <= fraction + n_axes / full
    # Training really resized: every size left its initial 16.
    assert all(s < 16 for sizes in result["final_sizes"].values() for s in sizes)
    logged = result["history"]["complexity_linear_fraction"][-1]
    assert logged == pytest.approx(fraction, abs=1e-6)


def _ambiguous(lengths, tol=1e-3):
    """True if some continuous length q sits within `tol` of an integer, where
    float32 rounding on another backend may legitimately give another ceil."""
    return any(
        abs(q - round(q)) < tol for values in lengths.values() for q in values
    )


def test_fit_trajectories_agree_across_backends(backend_runs):
    runs = {}
    for backend in BACKENDS:
        try:
            runs[backend] = backend_runs.get(backend)["results"]["fit"]
        except pytest.skip.Exception:
            continue
    if len(runs) < 2:
        pytest.skip(f"needs two backends, have {sorted(runs)}")
    for backend, result in runs.items():
        assert "error" not in result, f"{backend}: {result.get('error')}"
    reference_name, reference = next(iter(runs.items()))
    for backend, result in runs.items():
        steps = list(zip(reference["step_sizes"], result["step_sizes"]))
        assert len(steps) == len(reference["step_sizes"]) == len(result["step_sizes"])
        for step, (a, b) in enumerate(steps):
            if a != b:
                # Only where a length is on an integer boundary.
                assert _ambiguous(reference["step_lengths"][step]) or _ambiguous(
                    result["step_lengths"][step]
                ), (reference_name, backend, step, a, b)
        agree = sum(a == b for a, b in steps) / len(steps)
        assert agree >= 0.8, (reference_name, backend, agree)
        np.testing.assert_allclose(
            result["history"]["complexity_linear_fraction"],
            reference["history"]["complexity_linear_fraction"],
            atol=2e-3,
            err_msg=f"{reference_name} vs {backend}",
        )
        assert result["final_fraction"] == pytest.approx(
            reference["final_fraction"], abs=1e-3
        )


# ----------------------------------------------- 2. static sizes under jit
@pytest.mark.parametrize("backend", JIT_BACKENDS)
def test_static_sizes_train_with_size_refresh(scenario, backend):
    result = scenario(backend, "static")
    assert result["jit_compile"] is True
    sizes = result["step_sizes"]
    assert sizes[0] != sizes[-1], "the integer sizes never changed"
    assert result["rebuilds"] > 0
    # One rebuild per integer-size change, no more, no fewer.
    assert result["rebuilds"] == result["size_changes"]
    history = result["history"]
    assert "size_rebuilds" in history
    assert history["size_rebuilds"][-1] == result["rebuilds"]
    # The compiled predict, traced with the refreshed sizes, matches an
    # eager call whose sizes come from the concrete scale.
    assert result["compiled_vs_eager"] < 1e-5
    trip = result["round_trip"]
    assert trip["max_abs_diff"] <= 1e-6
    assert trip["sizes"][0] == trip["sizes"][1]
    assert trip["scales"][0] == trip["scales"][1]


@pytest.mark.parametrize("backend", JIT_BACKENDS)
def test_static_sizes_without_size_refresh_raise(scenario, backend):
    result = scenario(backend, "static")["without_refresh"]
    assert result["raised"] == "RuntimeError", result
    assert "SizeRefresh" in result["message"]
    if backend == "tensorflow":
        # Raised while tracing, before any step could move s.
        assert result["scales_after_error"] == {"r1": [1.0, 1.0], "r2": [1.0, 1.0]}
    # On JAX, Keras's fit has purged the variables' values when the first
    # step raises (keras behaviour for any error in a step): not checked.


# ---------------------------------------------------------- 3. save / load
def _assert_round_trip(trip):
    assert trip["shapes"][0] == trip["shapes"][1]
    assert trip["max_abs_diff"] <= 1e-6, trip["max_abs_diff"]
    assert trip["max_abs_diff_eager"] <= 1e-5, trip["max_abs_diff_eager"]
    assert trip["sizes"][0] == trip["sizes"][1]
    assert trip["scales"][0] == trip["scales"][1]  # Bit for bit.
    assert set(trip["scale_dtypes"]) == {"float32"}
    assert trip["scales_moved"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_load_budgeted_classifier(scenario, backend):
    trip = scenario(backend, "save")["classifier"]
    _assert_round_trip(trip)
    assert trip["penalty_class"] == "QuadraticTarget"
    assert trip["penalty"][0] == trip["penalty"][1] == {"target": 0.25, "weight": 100.0}
    assert trip["definition"] == ["linear", "linear"]
    assert trip["full_complexity"][0] == trip["full_complexity"][1]
    assert trip["fraction"][0] == pytest.approx(trip["fraction"][1], abs=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_load_dft_channels_first_literal(scenario, backend):
    trip = scenario(backend, "save")["dft"]
    _assert_round_trip(trip)
    config = trip["config"]
    assert config["transform"] == "dft"
    assert config["gradient"] == "literal"
    assert config["data_format"] == "channels_first"
    assert config["scale"] == [0.7, 1.1]
    assert trip["config_equal"], "from_config(get_config()) changed the config"
    assert trip["loaded_config_equal"]
    assert trip["model_config_equal"]
    assert trip["penalty"][0] == trip["penalty"][1] == {"cap": 20.0, "weight": 0.05}
    assert trip["definition"] == ["area", "area"]


# ------------------------------------------------------ 4. mixed precision
# Relative error of the mixed-precision gradient on s against float32 (same
# weights, same loss): about 1e-3 for float16 and 2e-2 for bfloat16 measured.
GRADIENT_TOLERANCE = {"mixed_float16": 0.02, "mixed_bfloat16": 0.1}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_precision(scenario, backend, policy):
    result = scenario(backend, "mixed")
    entry, reference = result[policy], result["float32"]
    assert "error" not in reference, reference.get("error")
    assert "error" not in entry, entry.get("error")
    compute = policy.split("_")[1]
    assert entry["compute_dtype"] == compute
    assert entry["output_dtype"] == compute
    assert entry["output_finite"]
    assert entry["output_shape"] == reference["output_shape"]
    assert set(entry["scale_dtypes"]) == {"float32"}
    assert set(entry["scale_dtypes_after_fit"]) == {"float32"}
    grads = np.array(entry["scale_grads"], dtype="float64")
    assert np.isfinite(grads).all()
    assert (grads != 0).all(), grads
    ref = np.array(reference["scale_grads"], dtype="float64")
    error = np.linalg.norm(grads - ref) / np.linalg.norm(ref)
    assert error < GRADIENT_TOLERANCE[policy], (grads, ref)
    assert all(math.isfinite(v) for v in entry["fit_loss"])


# ------------------------------------------- 5. ComplexityLogger in History
@pytest.mark.parametrize("backend", BACKENDS)
def test_complexity_logger_matches_model_state(scenario, backend):
    result = scenario(backend, "fit")
    history = result["history"]
    epochs = len(history["loss"])
    for key in ("complexity", "complexity_linear", "complexity_linear_fraction"):
        assert len(history[key]) == epochs
    # The model's metric `complexity` (the loss's C, averaged over the
    # epoch's batches) is not overwritten by the logger's end-of-epoch
    # `complexity_linear`: in the first epoch the scales fall fast (C from
    # 64 to about 14 on TensorFlow), so the mean is far above the end value.
    mean, end = history["complexity"][0], history["complexity_linear"][0]
    assert mean > 1.5 * end, (mean, end)
    # Every epoch: the logged values are the state at that epoch's end (on
    # JAX, the state the callback synced), not a stale one.
    for epoch, state in enumerate(result["epoch_state"]):
        assert history["complexity_linear_fraction"][epoch] == pytest.approx(
            state["fraction"], abs=1e-6
        )
        for layer, sizes in state["sizes"].items():
            for axis, size, scale in zip(
                _axes(sizes), sizes, state["scales"][layer]
            ):
                assert history[f"size/{layer}/{axis}"][epoch] == size
                assert history[f"scale/{layer}/{axis}"][epoch] == pytest.approx(
                    scale, abs=1e-7
                )
    # The last epoch's values are the final model state.
    for layer, sizes in result["final_sizes"].items():
        for axis, size, scale in zip(
            _axes(sizes), sizes, result["final_scales"][layer]
        ):
            assert history[f"size/{layer}/{axis}"][-1] == size
            logged = history[f"scale/{layer}/{axis}"][-1]
            assert logged == pytest.approx(scale, abs=1e-7)
    assert history["complexity_linear_fraction"][-1] == pytest.approx(
        result["final_fraction"], abs=1e-6
    )
    now = result["logger_now"]
    for key, value in now.items():
        assert history[key][-1] == pytest.approx(value, abs=1e-6), key


# ------------------------------------ 6. the scales' learning-rate factor
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_only_resolution_scales_get_the_learning_rate_factor(scenario, backend, optimizer):
    result = scenario(backend, "optimizer")
    # Three variables are named "scale"; only the Resolution layer's is one.
    assert result["named_scale"] == ["attention/scale", "res/scale", "rms/scale"]
    assert result["marked"] == ["res/scale"]
    plain, scaled = result[optimizer], result[f"resolution_{optimizer}"]
    assert set(plain) == set(scaled)
    for path, step in plain.items():
        step = np.array(step)
        # Every variable moved, by far more than float32 rounding near 1.0.
        assert np.max(np.abs(step)) > 2e-5, (path, step)
        expected = result["factor"] * step if path == "res/scale" else step
        # Variables stored near 1.0 in float32: exact to about two ulps.
        np.testing.assert_allclose(
            scaled[path], expected, rtol=1e-4, atol=2.4e-7, err_msg=path
        )


# ------------------------- 7. DiffStride2D and FixedSpectralPooling2D (#11)
@pytest.mark.parametrize("backend", BACKENDS)
def test_comparator_values_equal_the_official_forward_pass(scenario, backend):
    result = scenario(backend, "comparators")
    # Relative to NumPy transcriptions of the official code, odd and even sizes.
    assert set(result["values"]) == {
        "diffstride_15x12", "fixed_15x12", "diffstride_16x13", "fixed_16x13"
    }
    for name, error in result["values"].items():
        assert error < 2e-6, (name, error)


def test_diffstride_gradients_agree_across_backends(backend_runs):
    gradients = {}
    for backend in BACKENDS:
        try:
            out = backend_runs.get(backend)["results"]["comparators"]
        except pytest.skip.Exception:
            continue
        assert "error" not in out, f"{backend}: {out.get('error')}"
        gradients[backend] = np.array(out["stride_gradient"])
    if len(gradients) < 2:
        pytest.skip(f"needs two backends, have {sorted(gradients)}")
    reference = next(iter(gradients.values()))
    assert np.all(np.abs(reference) > 0.1), reference
    for backend, gradient in gradients.items():
        np.testing.assert_allclose(gradient, reference, rtol=1e-4, err_msg=backend)


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_mixed_comparator_model_fits_under_a_hinge_and_round_trips(scenario, backend):
    result = scenario(backend, "comparators")
    fit = result["fit"]
    assert fit["jit_compile"] is False  # "auto": the layers do not jit without static sizes.
    before, after = fit["before"], fit["after"]
    # The hinge (cap 20) pushes the strides up and the complexity down.
    assert all(b > a for a, b in zip(before["strides"], after["strides"]))
    assert after["complexity"] < before["complexity"]
    now = fit["logger_now"]
    assert now["complexity_linear"] == pytest.approx(after["complexity"], abs=1e-4)
    for layer, sizes in after["sizes"].items():
        assert [now[f"size/{layer}/h"], now[f"size/{layer}/w"]] == sizes
    assert [now["stride/ds/h"], now["stride/ds/w"]] == pytest.approx(after["strides"])
    assert "stride/sp/h" not in now and "scale/ds/h" not in now
    trip = result["round_trip"]
    assert trip["max_abs_diff"] <= 1e-6
    assert trip["states"][0] == trip["states"][1]
    assert trip["config_equal"]


@pytest.mark.parametrize("backend", JIT_BACKENDS)
def test_diffstride_static_sizes_train_under_jit_with_size_refresh(scenario, backend):
    result = scenario(backend, "comparators_static")
    assert result["jit_compile"] is True
    before, after = result["before"], result["after"]
    assert after["sizes"]["ds"] != before["sizes"]["ds"]
    assert all(b > a for a, b in zip(before["strides"], after["strides"]))
    assert result["rebuilds"] >= 1
    assert result["compiled_vs_eager"] < 1e-5
