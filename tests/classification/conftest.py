"""Shared setup for the classification tests: TensorFlow backend, small data.

Keras reads KERAS_BACKEND at import, so it is pinned here before anything
imports keras; the JAX and PyTorch checks run in their own processes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import json  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402

from training.classification import figure3  # noqa: E402
from training.classification.data import EmbeddedSizes  # noqa: E402
from training.classification.data import load_dataset  # noqa: E402
from training.common.run_directory import RunDirectory  # noqa: E402
from training.common.run_directory import RunState  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_radio():
    """Generated I/Q frames of length 32: 128 training, 32 val, 64 test."""
    return load_dataset("embedded-radio", sizes=EmbeddedSizes(128, 32, 64, length=32))


@pytest.fixture(scope="session")
def tiny_images():
    """Generated 32x32 images: 64 training, 16 val, 16 test."""
    return load_dataset("embedded-images", sizes=EmbeddedSizes(64, 16, 16))


@pytest.fixture
def fake_figure3_runs(monkeypatch):
    """The Figure 3 sweep with a stand-in for `run_classification` that
    trains nothing: it claims each new run's directory, writes results of
    that run's label (accuracy 0.5, C/C_full = p*) and records
    `(data, method, target_budget)`; a resumed run returns what it wrote.

    Returns:
        The list of records, in the order the sweep asked for the runs.
    """
    trained = []

    def run_classification(config, run_dir, resume=False, data=None, verbose=1):
        run = RunDirectory(run_dir)
        if resume:
            return json.loads(run.results_json.read_text())
        trained.append((config.data, config.method, config.target_budget))
        run.claim({"experiment": "classification", "config": config.to_dict()})
        fraction = 1.0 if config.target_budget is None else config.target_budget
        results = dict(
            data=config.data, transform=config.method, target_budget=config.target_budget,
            complexity=fraction * 100, complexity_full=100, complexity_base=100,
            complexity_fraction=fraction, size_complexity_fraction=fraction,
            relative_error=0.0, test_accuracy=0.5, test_loss=1.0, best_val_accuracy=0.5,
            train_seconds=1.0,
        )
        run.results_json.write_text(json.dumps(results))
        run.write_state(RunState(epochs_done=1, finished=True))
        return results

    monkeypatch.setattr(figure3, "run_classification", run_classification)
    return trained
