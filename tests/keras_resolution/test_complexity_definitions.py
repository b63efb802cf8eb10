"""The registry of complexity definitions, and that every user reads it."""

import keras
import numpy as np
import pytest

import keras_resolution as kr
from keras_resolution.applications import size_complexity
from keras_resolution.complexity_definitions import measure


def test_definitions_by_hand():
    assert measure([16, 8], "linear") == 24 and measure([16, 8], "area") == 128
    assert measure([128], "linear") == measure([128], "area") == 128
    assert sorted(kr.COMPLEXITY_DEFINITIONS) == ["area", "linear"]
    with pytest.raises(ValueError, match="`definition`.*'volume'"):
        measure([2, 2], "volume")


@pytest.mark.parametrize("definition, expected", [("linear", 8 + 12), ("area", 8 * 12)])
def test_layer_model_logger_and_sizes_agree(definition, expected):
    inputs = keras.Input((16, 24, 3))
    layer = kr.ResolutionLayer([0.5, 0.5], name="site_resolution")
    model = keras.Model(inputs, layer(inputs))
    assert float(layer.complexity(definition)) == pytest.approx(expected)
    assert float(kr.complexity(model, definition)) == pytest.approx(expected)
    assert kr.full_complexity(model, definition) == measure([16, 24], definition)
    logger = kr.ComplexityLogger(definition)
    logger.set_model(model)
    assert logger.complexity_logs()[f"complexity_{definition}"] == pytest.approx(expected)
    assert size_complexity(model, definition) == pytest.approx(expected)
    assert np.isfinite(float(kr.complexity(model, definition)))
