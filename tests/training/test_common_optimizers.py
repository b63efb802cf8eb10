"""Warmup, weight averaging and the detection recipes that use them."""

import keras
import numpy as np
import pytest

from training.common.optimizers import LinearWarmup
from training.common.optimizers import make_optimizer
from training.common.optimizers import piecewise_schedule
from training.common.optimizers import with_warmup
from training.detection.config import DetectionConfig
from training.detection.config import config_of_run
from training.detection.config import resolve_config


def test_warmup_ramps_linearly_then_follows_the_schedule():
    after = piecewise_schedule([0.4, 0.04], [2], steps_per_epoch=5)
    warm = with_warmup(after, warmup_epochs=1, steps_per_epoch=5)
    rates = [float(warm(step)) for step in range(12)]
    expected = [0.08, 0.16, 0.24, 0.32, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.04, 0.04]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert with_warmup(after, 0, 5) is after


def test_warmup_round_trips_through_keras_serialization():
    warm = LinearWarmup(piecewise_schedule([1.0, 0.1], [1], steps_per_epoch=3), 2)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(warm))
    assert [float(again(s)) for s in range(5)] == pytest.approx([0.5, 1.0, 1.0, 0.1, 0.1])
    constant = LinearWarmup.from_config(LinearWarmup(0.2, 4).get_config())
    assert float(constant(1)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="warmup_steps"):
        LinearWarmup(0.1, 0)


def test_make_optimizer_keeps_averages_without_overwriting_at_fit_end():
    optimizer = make_optimizer("adam", 1e-3, ema_momentum=0.9)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    assert not optimizer.ema_overwrite_at_fit_end
    assert not make_optimizer("sgd", 1e-3).use_ema
    with pytest.raises(ValueError, match="--ema-momentum"):
        make_optimizer("sgd", 1e-3, ema_momentum=1.0)


def test_the_embedded_recipe_is_the_frozen_pretrained_protocol():
    config = resolve_config(DetectionConfig(data="embedded"))
    assert (config.freeze_backbone, config.weights) == (True, "embedded-pretrained")
    assert (config.image_size, config.epochs, config.warmup_epochs) == (256, 12, 1.0)
    assert config.ema_momentum == 0.99
    voc = resolve_config(DetectionConfig(data="/data/VOCdevkit/VOC2007", weights="w.h5"))
    assert (voc.warmup_epochs, voc.ema_momentum, voc.optimizer) == (0.0, 0.0, "sgd")
    with pytest.raises(ValueError, match="random frozen features"):
        resolve_config(DetectionConfig(data="embedded", weights="random"))
    with pytest.raises(ValueError, match="--ema-momentum"):
        resolve_config(DetectionConfig(data="embedded", ema_momentum=1.5))


def test_runs_recorded_before_averaging_resume_as_they_started():
    recorded = resolve_config(DetectionConfig(data="embedded"))
    older = {k: v for k, v in vars(recorded).items() if k not in ("warmup_epochs", "ema_momentum")}
    older.update(weights=None, freeze_backbone=False)
    config = resolve_config(config_of_run(older))
    assert (config.warmup_epochs, config.ema_momentum, config.weights) == (0.0, 0.0, "random")
    assert config_of_run(vars(recorded)) == recorded


def test_leaving_averaged_weights_restores_the_sizes_the_averaged_pass_recorded():
    import keras_resolution as kr
    from training.common.run_loop import averaged_weights

    # Two Resolution layers: the second records the size the first gives it.
    inputs = keras.Input((12, 12, 1))
    first = kr.ResolutionLayer([1.0, 1.0], name="first")
    second = kr.ResolutionLayer([1.0, 1.0], name="second")
    model = keras.Model(inputs, second(first(inputs)))
    model.compile(kr.ResolutionAdam(1e-3, use_ema=True, ema_overwrite_at_fit_end=False), "mse")
    x = np.ones((2, 12, 12, 1), "float32")
    model.fit(x, np.ones((2, 12, 12, 1), "float32"), verbose=0)
    first.scale.assign([0.5, 0.5])  # raw weights: 6 x 6 into the second layer
    model.predict(x, verbose=0)
    assert np.asarray(second.input_size).tolist() == [6, 6]
    with averaged_weights(model) as swapped:
        assert swapped  # the averages hold scale ~1: 12 x 12
        model.predict(x, verbose=0)
        assert np.asarray(second.input_size).tolist() == [12, 12]
    assert np.asarray(second.input_size).tolist() == [6, 6]
    assert second.output_sizes == (6, 6)
