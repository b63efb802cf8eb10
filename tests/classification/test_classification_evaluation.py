"""training.classification.job.evaluate_split: one trace of `predict` for a
split whose last batch is short, and scores of the split's own examples."""

import keras
import numpy as np
import pytest

from training.classification.batches import SplitBatches
from training.classification.data import Split
from training.classification.job import evaluate_split

LABELS = np.array([0, 1, 2, 1, 0])


def _split():
    x = np.random.default_rng(4).normal(size=(5, 3)).astype("float32")
    return Split(x, LABELS)


def _softmax_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])


def _expected(model, split):
    p = keras.ops.convert_to_numpy(model(split.x)).astype("float64")
    return (float(np.mean(np.argmax(p, axis=1) == LABELS)),
            float(-np.mean(np.log(p[np.arange(5), LABELS]))))


def test_a_short_last_batch_is_padded_so_predict_traces_once():
    split, model = _split(), _softmax_model(1)
    result = evaluate_split(model, split, batch_size=2)  # batches of 2, 2, 1

    assert model.predict_function.experimental_get_tracing_count() == 1
    accuracy, loss = _expected(model, split)
    assert result["accuracy"] == accuracy
    assert result["loss"] == pytest.approx(loss, rel=1e-6)


def test_two_output_scores_drop_the_padding_too():
    split = _split()
    inputs = keras.Input((3,))
    low, high = _softmax_model(2), _softmax_model(3)
    model = keras.Model(inputs, {"low": low(inputs), "high": high(inputs)})
    result = evaluate_split(model, split, batch_size=3)  # batches of 3 and 2

    assert model.predict_function.experimental_get_tracing_count() == 1
    assert result["accuracy"] == _expected(high, split)[0]
    assert result["low_accuracy"] == _expected(low, split)[0]


def test_padding_is_for_prediction_only():
    batches = SplitBatches(_split(), 2, with_labels=False, pad_last_batch=True)
    np.testing.assert_array_equal(batches[2][1:], np.zeros((1, 3)))
    np.testing.assert_array_equal(batches[2][0], _split().x[4])
    with pytest.raises(ValueError, match="pad_last_batch"):
        SplitBatches(_split(), 2, pad_last_batch=True)
