"""ResolutionSGD / ResolutionAdam: the scales step at factor x the rate."""

import keras
import numpy as np
import pytest

import keras_resolution as kr


def _one_step(optimizer):
    keras.utils.set_random_seed(0)
    layer = kr.ResolutionLayer(1.0)
    dense = keras.layers.Dense(1)
    inputs = keras.Input((8, 2))
    model = keras.Model(inputs, dense(layer(inputs)))
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).normal(size=(4, 8, 2)).astype("float32")
    y = np.ones((4, 8, 1), "float32")
    kernel_before = np.asarray(dense.kernel).copy()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    return (np.asarray(layer.scale) - 1.0), np.asarray(dense.kernel) - kernel_before


@pytest.mark.parametrize("cls", [kr.ResolutionSGD, kr.ResolutionAdam])
def test_scale_step_is_factor_times_the_plain_step(cls):
    plain_scale, plain_kernel = _one_step(cls(learning_rate=0.01))
    slow_scale, slow_kernel = _one_step(cls(learning_rate=0.01, scale_learning_rate_factor=0.1))
    assert np.all(plain_scale != 0)
    # s is stored near 1.0 in float32: steps are exact to two ulps of 1.0.
    np.testing.assert_allclose(slow_scale, 0.1 * plain_scale, rtol=0, atol=2.4e-7)
    np.testing.assert_allclose(slow_kernel, plain_kernel, rtol=1e-5)


def test_factor_must_be_positive_and_round_trips():
    with pytest.raises(ValueError, match="scale_learning_rate_factor"):
        kr.ResolutionSGD(0.1, scale_learning_rate_factor=0)
    optimizer = kr.ResolutionAdam(1e-3, scale_learning_rate_factor=0.25)
    again = kr.ResolutionAdam.from_config(optimizer.get_config())
    assert again.scale_learning_rate_factor == 0.25
