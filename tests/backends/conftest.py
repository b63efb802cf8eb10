"""Runs tests/backends/scenarios.py once per Keras backend, in subprocesses.

Keras picks its backend at import, so every backend gets its own interpreter
with KERAS_BACKEND set. The first test that needs results starts the
processes of every backend the session's tests use, all at once (they run in
parallel), and each test then reads the JSON its backend printed. This
process never imports keras.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "scenarios.py"
BACKENDS = ("tensorflow", "jax", "torch")
# torch has no compiled path with static sizes (torch.compile recompiles
# for every size), so "static" runs on the two backends that jit.
SCENARIOS = {
    "tensorflow": ("fit", "save", "mixed", "static", "optimizer", "comparators",
                   "comparators_static"),
    "jax": ("fit", "save", "mixed", "static", "optimizer", "comparators",
            "comparators_static"),
    "torch": ("fit", "save", "mixed", "optimizer", "comparators"),
}
TIMEOUT = 900  # Seconds per backend process; the suite normally needs far less.
MARKER = "RESULTS "


def missing_package(backend):
    """The reason the backend cannot run here, or None."""
    if importlib.util.find_spec(backend) is None:
        return f"{backend} is not installed"
    return None


class BackendRuns:
    """Starts backend processes on demand, in parallel, and caches results."""

    def __init__(self, backends):
        self.backends = [b for b in BACKENDS if b in backends]
        self.processes = {}
        self.started = {}
        self.results = {}

    def _start(self, backend):
        env = dict(os.environ)
        env.update(
            {
                "KERAS_BACKEND": backend,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONHASHSEED": "0",
            }
        )
        self.started[backend] = time.perf_counter()
        self.processes[backend] = subprocess.Popen(
            [sys.executable, str(SCRIPT), *SCENARIOS[backend]],
            env=env,
            cwd=str(HERE.parent.parent),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_all(self):
        for backend in self.backends:
            if backend not in self.processes and missing_package(backend) is None:
                self._start(backend)

    def get(self, backend):
        """The decoded output of `backend`'s process (skips if unavailable)."""
        reason = missing_package(backend)
        if reason:
            pytest.skip(reason)
        if backend not in self.results:
            self.start_all()
            if backend not in self.processes:
                self._start(backend)
            self.results[backend] = self._collect(backend)
        out = self.results[backend]
        if "import_error" in out:
            pytest.skip(f"{backend} cannot be imported: {out['import_error']}")
        if "failure" in out:
            pytest.fail(out["failure"], pytrace=False)
        return out

    def _collect(self, backend):
        process = self.processes[backend]
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()  # Only the process this fixture started.
            stdout, stderr = process.communicate()
            return {"failure": f"{backend}: no result within {TIMEOUT} s"}
        wall = time.perf_counter() - self.started[backend]
        lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
        if process.returncode != 0 or not lines:
            return {
                "failure": f"{backend} process exited with {process.returncode}:\n"
                + stderr[-4000:]
            }
        out = json.loads(lines[-1][len(MARKER):])
        out["process_seconds"] = wall
        return out

    def close(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


_RUNS = []


@pytest.fixture(scope="session")
def backend_runs(request):
    """`runs.get(backend)` -> {"backend", "results": {scenario: ...}, ...}."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            wanted.add(callspec.params["backend"])
        elif item.fspath and Path(str(item.fspath)).parent == HERE:
            wanted.update(BACKENDS)  # Cross-backend tests use all of them.
    runs = BackendRuns(wanted or BACKENDS)
    _RUNS.append(runs)
    yield runs
    runs.close()


@pytest.fixture
def scenario(backend_runs):
    """`scenario(backend, name)` -> that scenario's result dict."""

    def get(backend, name):
        out = backend_runs.get(backend)
        result = out["results"].get(name)
        if result is None:
            pytest.fail(f"{backend}: scenario {name!r} was not run", pytrace=False)
        if "error" in result:
            pytest.fail(f"{backend} / {name} raised:\n{result['error']}", pytrace=False)
        return result

    return get


def pytest_terminal_summary(terminalreporter):
    """Per-backend timings, so the suite's cost is visible in every run."""
    for runs in _RUNS:
        for backend, out in runs.results.items():
            if "seconds" not in out:
                continue
            parts = ", ".join(
                f"{k} {v:.1f} s wall / {out['cpu'][k]:.1f} s cpu"
                for k, v in out["seconds"].items()
            )
            terminalreporter.write_line(
                f"backends/{backend}: process {out['process_seconds']:.1f} s wall, "
                f"{out['process_cpu']:.1f} s cpu ({parts})"
            )
