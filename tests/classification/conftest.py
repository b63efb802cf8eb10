"""Shared setup for the classification tests: TensorFlow backend, small data.

Keras reads KERAS_BACKEND at import, so it is pinned here before anything
imports keras; the JAX and PyTorch checks run in their own processes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

from training.classification.data import EmbeddedSizes  # noqa: E402
from training.classification.data import load_dataset  # noqa: E402


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
