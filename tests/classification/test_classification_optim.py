"""Optimizers with a learning-rate factor for the Resolution scales."""

import keras
import numpy as np
import pytest

from keras_resolution import ResolutionLayer
from training.common.optimizers import ResolutionAdam
from training.common.optimizers import ResolutionSGD
from training.common.optimizers import make_optimizer
from training.common.optimizers import step_decay


def _one_step(optimizer):
    """(change of s, change of the dense kernel) after one step from s = 1."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 2))
    x = ResolutionLayer(1.0, name="resolution")(inputs)
    outputs = keras.layers.Dense(1, name="dense")(keras.layers.Flatten()(x[:, :8]))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).normal(size=(8, 16, 2)).astype("float32")
    watched = (model.get_layer("resolution").scale, model.get_layer("dense").kernel)
    before = [np.array(v) for v in watched]
    model.train_on_batch(x, np.ones((8, 1), "float32"))
    after = [np.array(v) for v in watched]
    return [a - b for a, b in zip(after, before)]


@pytest.mark.parametrize("cls", [ResolutionSGD, ResolutionAdam])
def test_scale_learning_rate_factor_scales_only_the_scale_step(cls):
    plain_scale, plain_kernel = _one_step(cls(learning_rate=1e-3))
    fast_scale, fast_kernel = _one_step(cls(learning_rate=1e-3, scale_learning_rate_factor=10.0))
    assert np.all(plain_scale != 0)
    np.testing.assert_allclose(fast_scale, 10 * plain_scale, rtol=1e-4)
    np.testing.assert_allclose(fast_kernel, plain_kernel, rtol=1e-5)


def test_optimizers_serialize_their_factor():
    optimizer = make_optimizer("sgd", 0.1, momentum=0.99, scale_learning_rate_factor=0.01)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again, ResolutionSGD) and again.scale_learning_rate_factor == 0.01
    assert again.momentum == 0.99
    with pytest.raises(ValueError, match="scale_learning_rate_factor"):
        ResolutionAdam(scale_learning_rate_factor=0.0)
    with pytest.raises(ValueError, match="Unknown `--optimizer` 'rmsprop'"):
        make_optimizer("rmsprop", 0.1)


def test_paper_schedule_decays_by_ten_at_the_given_epochs():
    schedule = step_decay(0.1, [20, 40, 60], 0.1, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 199, 200, 399, 400, 600, 10_000)]  # iterations
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.001, 1e-4, 1e-4], rtol=1e-5)
    assert step_decay(0.5, [], 0.1, 10) == 0.5
