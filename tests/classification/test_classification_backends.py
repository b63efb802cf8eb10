"""The 1D CNN trains on JAX and PyTorch (each in its own process).

On JAX the Resolution model runs without jit (its sizes follow the learned
scales), and eager JAX compiles every operation for every new size: two
training steps took 28 s on an idle 2-core machine (and 30-40 s per step
under load), so that case is marked slow; the fixed baseline
(jit-compiled) stands in for it in the fast suite.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import keras
    import keras_resolution
    from training.classification.config import resolve_config
    from training.classification.data import EmbeddedSizes, load_dataset
    from training.classification.job import build_model

    assert keras.backend.backend() == "{backend}"
    keras.utils.set_random_seed(0)
    data = load_dataset("embedded-radio", sizes=EmbeddedSizes(64, 8, 8, length=32))
    config = resolve_config("embedded-radio", transform="{transform}", target_budget=0.5,
                            epochs=1, batch_size=32, learning_rate=1e-2)
    model = build_model(config, data)
    x, y = data.train.read(np.arange(64))
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"])), history.history
    if "{transform}" != "fixed":
        fraction = float(keras_resolution.complexity(model)) / model.complexity_full
        assert fraction < 1.0, fraction  # the budget moved the scales
    print("ok", keras.backend.backend())
    """
)


@pytest.mark.parametrize(
    "backend, transform",
    [
        ("torch", "dct"),
        ("jax", "fixed"),
        pytest.param("jax", "dct", marks=pytest.mark.slow),
    ],
)
def test_radio_cnn_trains_a_few_steps(backend, transform):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(backend=backend, transform=transform)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"ok {backend}" in result.stdout
