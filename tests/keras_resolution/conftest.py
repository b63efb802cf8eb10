"""Shared setup for the keras_resolution numerical tests.

These tests exercise the TensorFlow backend (tf.GradientTape, tf.function
with dynamic sizes, model.fit without XLA). Keras reads KERAS_BACKEND at
import, so it is pinned here before anything imports keras; the other
backends are tested in their own processes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="keras_resolution numerical suite runs on TensorFlow")
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    """Same random seed for every test (no clear_session: it costs ~0.3 s)."""
    keras.utils.set_random_seed(0)
    yield
