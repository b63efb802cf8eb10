"""Importing keras_resolution on JAX or PyTorch does not import TensorFlow.

Each backend gets a fresh interpreter with KERAS_BACKEND set, which imports
keras and then every module of keras_resolution (keras_resolution.
applications included), and reports which `tensorflow` modules are loaded
after each step.

Keras itself (3.15.1 here) does not import TensorFlow on these backends, so
the check isolates our modules. Keras does import it later, lazily, when
TensorFlow is installed: `keras.saving.serialize_keras_object` (hence
`model.save`) tests `isinstance(obj, tf.TensorShape)` through
`keras.src.utils.module_utils.LazyModule`. That is Keras's, not ours, and
is not checked here.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = """
import json, pkgutil, sys, importlib

def tensorflow_modules():
    return sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))

import keras
after_keras = tensorflow_modules()
import keras_resolution
import keras_resolution.applications
after_package = tensorflow_modules()
names = [
    info.name
    for info in pkgutil.walk_packages(keras_resolution.__path__, "keras_resolution.")
]
for name in names:
    importlib.import_module(name)
print("RESULT " + json.dumps({
    "backend": keras.backend.backend(),
    "after_keras": after_keras,
    "after_package": after_package,
    "after_all_modules": tensorflow_modules(),
    "modules": names,
}))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_does_not_load_tensorflow(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    (line,) = [l for l in process.stdout.splitlines() if l.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert result["backend"] == backend
    assert result["after_keras"] == [], "keras itself imported TensorFlow"
    assert result["after_package"] == []
    assert result["after_all_modules"] == []
    # The walk really covered the package, applications included.
    for name in (
        "keras_resolution.layer",
        "keras_resolution.optimizers",
        "keras_resolution.applications.classifiers",
        "keras_resolution.applications.radio_cnn",
        "keras_resolution.applications.resnet18",
        "keras_resolution.applications.sites",
    ):
        assert name in result["modules"], name
