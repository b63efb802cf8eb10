"""NJetConv2D and SafeSubsample on TensorFlow, JAX and PyTorch (issue 12).

Each backend runs tests/backends/njet_scenarios.py in its own process (all
three in parallel, started by the first test that needs one); the tests
assert on the numbers it prints:

* values of the masked maximal-grid N-Jet convolution against the exact-size
  SciPy reference, and sigma gradients equal across backends;
* SafeSubsample equal to the nearest resize, and on PyTorch to
  `F.interpolate`, which the official code calls;
* TensorFlow and PyTorch: a fit under a hinge cap with jit_compile="auto"
  raises sigma and lowers the complexity, ComplexityLogger agrees with the
  final state, and a .keras round trip is exact;
* TensorFlow XLA and JAX jit: static_sizes=True trains with SizeRefresh.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
BACKENDS = ["tensorflow", "jax", "torch"]
JIT_BACKENDS = ["tensorflow", "jax"]
SCENARIOS = {"tensorflow": ["njet", "njet_static"], "jax": ["njet", "njet_static"],
             "torch": ["njet"]}
TIMEOUT = 900
MARKER = "RESULTS "


@pytest.fixture(scope="module")
def njet_runs():
    """`get(backend)` -> that backend's decoded results (skips if missing)."""
    processes = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONHASHSEED": "0"}
        processes[backend] = subprocess.Popen(
            [sys.executable, str(HERE / "njet_scenarios.py"), *SCENARIOS[backend]],
            env=env, cwd=str(HERE.parent.parent), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
    results = {}

    def get(backend):
        if backend not in processes:
            pytest.skip(f"{backend} is not installed")
        if backend not in results:
            process = processes[backend]
            try:
                stdout, stderr = process.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()  # Only the process this fixture started.
                stdout, stderr = process.communicate()
            lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
            if process.returncode != 0 or not lines:
                results[backend] = {"failure": f"{backend} exited {process.returncode}:\n"
                                    + stderr[-4000:]}
            else:
                results[backend] = json.loads(lines[-1][len(MARKER):])
        out = results[backend]
        if "import_error" in out:
            pytest.skip(f"{backend} cannot be imported: {out['import_error']}")
        if "failure" in out:
            pytest.fail(out["failure"], pytrace=False)
        return out

    yield get
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def scenario(njet_runs, backend, name):
    result = njet_runs(backend)["results"][name]
    if "error" in result:
        pytest.fail(f"{backend} / {name} raised:\n{result['error']}", pytrace=False)
    return result


@pytest.mark.parametrize("backend", BACKENDS)
def test_njet_values_and_safe_subsample(njet_runs, backend):
    result = scenario(njet_runs, backend, "njet")
    assert result["njet_error"] < 2e-6  # Relative to the float64 exact-size reference.
    assert result["kernel_size"] == 9  # sigma = 2^0.6 = 1.52: ceil(3.53) = 4.
    assert result["subsample_shape"] == [2, 19, 16, 3]
    assert result["subsample_equal"] is True
    if backend == "torch":
        assert result["subsample_equals_torch_interpolate"] is True


def test_sigma_gradients_agree_across_backends(njet_runs):
    gradients = {}
    for backend in BACKENDS:
        try:
            gradients[backend] = np.array(scenario(njet_runs, backend, "njet")["sigma_gradient"])
        except pytest.skip.Exception:
            continue
    if len(gradients) < 2:
        pytest.skip(f"needs two backends, have {sorted(gradients)}")
    reference = next(iter(gradients.values()))
    assert np.all(np.abs(reference) > 0.1), reference
    for backend, gradient in gradients.items():
        np.testing.assert_allclose(gradient, reference, rtol=1e-4, err_msg=backend)


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_njet_model_fits_under_a_hinge_logs_and_round_trips(njet_runs, backend):
    result = scenario(njet_runs, backend, "njet")
    fit = result["fit"]
    assert fit["jit_compile"] is False  # "auto": SafeSubsample without static sizes.
    before, after = fit["before"], fit["after"]
    assert before["sizes"] == [11, 11] and before["sigma"] == pytest.approx(2.5)
    # The hinge acts on sigma through the surrogate: sigma up, complexity down.
    assert 2.5 < after["sigma"] < 3.0
    assert after["complexity"] < before["complexity"]
    assert after["sizes"][0] < 11
    now = fit["logger_now"]
    assert now["complexity_linear"] == pytest.approx(after["complexity"], abs=1e-4)
    assert [now["size/ss/h"], now["size/ss/w"]] == after["sizes"]
    assert now["sigma/ss/h"] == pytest.approx(after["sigma"])
    trip = result["round_trip"]
    assert trip["max_abs_diff"] <= 1e-6
    assert trip["states"][0] == trip["states"][1]
    assert trip["scale_variable"] is True


@pytest.mark.parametrize("backend", JIT_BACKENDS)
def test_safe_subsample_static_sizes_train_under_jit_with_size_refresh(njet_runs, backend):
    result = scenario(njet_runs, backend, "njet_static")
    assert result["jit_compile"] is True
    before, after = result["before"], result["after"]
    assert after["sizes"] != before["sizes"] and after["sigma"] > before["sigma"]
    assert result["rebuilds"] >= 1
    assert result["compiled_vs_eager"] < 1e-5
