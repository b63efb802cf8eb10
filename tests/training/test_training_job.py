"""The detection job: a run end to end, its files, resume after a crash."""

import csv
import dataclasses

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


def _config(data, weights, **overrides):
    """A tiny run of the embedded recipe's kind: frozen backbone, warmup,
    averaged weights, an evaluation every epoch."""
    values = dict(
        data=data, model="resolution", hinge_weight=1e-3,
        epochs=2, image_size=64, batch_size=4, learning_rate=1e-3,
        final_learning_rate=1e-4, optimizer="adam", freeze_backbone=True, weights=weights,
        eval_every=1, train_split="train", eval_split="test",
        classes=list(EMBEDDED_CLASSES), ema_momentum=0.5, warmup_epochs=1.0,
    )  # fmt: skip
    values.update(overrides)
    return DetectionConfig(**values)


def _weights(path):
    model = keras.saving.load_model(path)
    return [np.asarray(w) for w in model.weights]


@pytest.fixture(scope="module", params=["baseline", pytest.param("resolution", marks=pytest.mark.slow)])
def straight(request, tiny_data, backbone_weights, tmp_path_factory):
    """A run trained without interruption: (its config, its directory, its
    results). Baseline in CI; the Resolution PANet (slower to trace) with
    -m slow."""
    config = _config(tiny_data, backbone_weights, model=request.param)
    run_dir = tmp_path_factory.mktemp("straight") / request.param
    return config, run_dir, train_detection(config, run_dir, verbose=0)


def test_a_run_writes_its_files(straight):
    config, run_dir, _ = straight
    run = RunDirectory(run_dir)
    for name in ("config.json", "results.csv", "last.keras", "best.keras",
                 "summary.txt", "results.json"):
        assert (run.path / name).exists(), name
    plots = ["losses.png", "map_and_complexity.png", "validation_detections.png"]
    if config.model == "resolution":
        plots.append("learned_sizes.png")
    for name in plots:
        assert (run.plots_dir / name).exists(), name
    with open(run.results_csv) as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    keys = ["loss", "box_loss", "class_loss", "panet_complexity_area", "map50", "learning_rate"]
    if config.model == "resolution":
        keys.append("hinge_penalty")
    for key in keys:
        assert rows[-1][key] != "", key
    assert run.read_state().finished


def test_results_are_the_averaged_weights_and_evaluate_gives_them_again(straight):
    _, run_dir, results = straight
    run = RunDirectory(run_dir)
    # last.keras holds the training weights, the results are the averages'.
    model = load_detector(run.last_checkpoint)
    raw = [np.asarray(w) for w in model.trainable_weights]
    with averaged_weights(model) as swapped:
        assert swapped
        averaged = [np.asarray(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(raw, averaged))
    again = evaluate_run(run.path, checkpoint="last", verbose=0)
    assert again["map50"] == pytest.approx(results["map50"], abs=1e-6)


def test_a_killed_run_resumes_to_the_same_end(straight, tmp_path, interrupt_after_batch):
    """Killed after the checkpoint of batch 2 of epoch 2, resumed from it.
    (It checkpoints every 2 batches, the straight run at epoch ends only:
    how often a run is saved does not change what it learns.)"""
    config, run_dir, results = straight
    crashed = tmp_path / "crashed"
    config = dataclasses.replace(config, checkpoint_every=2)
    interrupt_after_batch(lambda: train_detection(config, crashed, verbose=0))
    state = RunDirectory(crashed).read_state()
    assert (state.epochs_done, state.batches_done, state.finished) == (1, 2, False)
    resumed = train_detection(None, crashed, resume=True, verbose=0)

    for a, b in zip(_weights(run_dir / "last.keras"), _weights(crashed / "last.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert resumed["map50"] == pytest.approx(results["map50"], abs=1e-6)
    assert resumed["panet_complexity"] == pytest.approx(results["panet_complexity"], rel=1e-5)


def test_the_same_run_twice_gives_the_same_weights_and_numbers(straight, tmp_path):
    """Seeds plus TensorFlow op determinism: bit-identical weights, equal mAP."""
    config, run_dir, results = straight
    again = train_detection(config, tmp_path / "again", verbose=0)
    for a, b in zip(_weights(run_dir / "last.keras"), _weights(tmp_path / "again" / "last.keras")):
        np.testing.assert_array_equal(a, b)
    assert again["map50"] == results["map50"]
    rows = [read_csv(path / "results.csv") for path in (run_dir, tmp_path / "again")]
    assert [row["loss"] for row in rows[0]] == [row["loss"] for row in rows[1]]


def test_results_record_the_fingerprint_of_the_frozen_backbone(straight, backbone_weights):
    """Runs started from the same backbone file print the same fingerprint;
    one changed weight changes it."""
    from detection import build_backbone
    from training.detection.backbone_pretraining import weights_fingerprint

    _, run_dir, results = straight
    start = build_backbone("yolo_v8_xs", 64, weights=backbone_weights)
    assert results["backbone_fingerprint"] == weights_fingerprint(start)
    trained = load_detector(RunDirectory(run_dir).best_checkpoint).backbone
    assert weights_fingerprint(trained) == results["backbone_fingerprint"]
    assert len(results["backbone_fingerprint"]) == 12
    weight = start.weights[0]
    weight.assign(weight.value + 1e-3)
    assert weights_fingerprint(start) != results["backbone_fingerprint"]
