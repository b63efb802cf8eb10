"""The detection job: a run end to end, its files, resume after a crash."""

import csv

import keras
import numpy as np
import pytest

from training.detection.data.embedded import EMBEDDED_CLASSES
from training.common.run_directory import RunDirectory
from training.common.run_directory import read_csv
from training.detection.config import DetectionConfig
from training.common.run_loop import averaged_weights
from training.detection.job import evaluate_run
from training.detection.job import load_detector
from training.detection.job import train_detection


def _config(data, **overrides):
    values = dict(
        data=data, model="resolution", hinge_weight=1e-3,
        epochs=2, image_size=64, batch_size=4, learning_rate=1e-3,
        final_learning_rate=1e-4, optimizer="adam", freeze_backbone=False,
        eval_every=1, train_split="train", eval_split="test",
        classes=list(EMBEDDED_CLASSES), checkpoint_every=1,
    )
    values.update(overrides)
    return DetectionConfig(**values)


def _weights(path):
    model = keras.saving.load_model(path)
    return [np.asarray(w) for w in model.weights]


@pytest.mark.parametrize(
    "model",
    ["baseline", pytest.param("resolution", marks=pytest.mark.slow)],
)
def test_run_writes_its_files_and_a_killed_run_resumes_to_the_same_end(
    tiny_data, tmp_path, model, interrupt_after_batch
):
    """Baseline in CI; the Resolution PANet (slower to trace) with -m slow.
    Both warm up and average their weights, as the embedded recipe does."""
    averaging = dict(model=model, ema_momentum=0.5, warmup_epochs=1.0)
    straight = train_detection(_config(tiny_data, **averaging), tmp_path / "straight", verbose=0)
    run = RunDirectory(tmp_path / "straight")
    for name in ("config.json", "results.csv", "last.keras", "best.keras",
                 "summary.txt", "results.json"):
        assert (run.path / name).exists(), name
    plots = ["losses.png", "map_and_complexity.png", "validation_detections.png"]
    if model == "resolution":
        plots.append("learned_sizes.png")
    for name in plots:
        assert (run.plots_dir / name).exists(), name
    with open(run.results_csv) as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    keys = ["loss", "box_loss", "class_loss", "panet_complexity_area", "map50", "learning_rate"]
    if model == "resolution":
        keys.append("hinge_penalty")
    for key in keys:
        assert rows[-1][key] != "", key
    assert run.read_state().finished

    crashed = tmp_path / "crashed"
    interrupt_after_batch(lambda: train_detection(_config(tiny_data, **averaging), crashed, verbose=0))
    state = RunDirectory(crashed).read_state()
    assert (state.epochs_done, state.batches_done, state.finished) == (1, 2, False)
    resumed = train_detection(None, crashed, resume=True, verbose=0)

    for a, b in zip(_weights(run.last_checkpoint), _weights(tmp_path / "crashed" / "last.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert resumed["map50"] == pytest.approx(straight["map50"], abs=1e-6)
    assert resumed["panet_complexity"] == pytest.approx(straight["panet_complexity"], rel=1e-5)

    # last.keras holds the training weights, the results are the averages'.
    model_ = load_detector(run.last_checkpoint)
    raw = [np.asarray(w) for w in model_.trainable_weights]
    with averaged_weights(model_) as swapped:
        assert swapped
        averaged = [np.asarray(w) for w in model_.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(raw, averaged))
    again = evaluate_run(run.path, checkpoint="last", verbose=0)
    assert again["map50"] == pytest.approx(straight["map50"], abs=1e-6)


def test_the_same_run_twice_gives_the_same_weights_and_numbers(tiny_data, tmp_path):
    """Seeds plus TensorFlow op determinism: bit-identical weights, equal mAP."""
    config = _config(tiny_data, model="baseline", epochs=1, image_size=32, checkpoint_every=0)
    first = train_detection(config, tmp_path / "first", verbose=0)
    second = train_detection(config, tmp_path / "second", verbose=0)
    for a, b in zip(_weights(tmp_path / "first" / "last.keras"),
                    _weights(tmp_path / "second" / "last.keras")):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    assert first["map50"] == second["map50"]
    rows = [read_csv(tmp_path / name / "results.csv")[0] for name in ("first", "second")]
    assert rows[0]["loss"] == rows[1]["loss"]
