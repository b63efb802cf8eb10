"""MSNet in the classification harness (issue 12, item 5): `classify --model
msnet` trains both branches under the joint loss, and its calibrated early
exit, traced over tau after training, gives the rows of the Figure 3 sweep."""

import json

import numpy as np
import pytest

from training.classification import figure3
from training.classification.config import resolve_config
from training.classification.data import EmbeddedSizes
from training.classification.data import load_dataset
from training.classification.job import MSNET_HIGH_FRACTIONS
from training.classification.job import ClassificationExperiment
from training.classification.job import early_exit_curve
from training.classification.job import run_classification
from training.common.run_directory import read_csv


def _accuracy(probabilities, labels):
    return np.mean(np.argmax(np.asarray(probabilities), axis=1) == labels)


@pytest.fixture(scope="module")
def calibration_images():
    """Generated 32x32 images with a validation split large enough to
    calibrate tau (at least 50): 64 training, 56 validation, 40 test."""
    return load_dataset("embedded-images", sizes=EmbeddedSizes(64, 56, 40))


def test_msnet_resolves_as_an_image_model_without_a_budget():
    config = resolve_config("embedded-images", model="msnet", target_budget=0.25)
    assert (config.method, config.transform, config.target_budget) == ("msnet", None, None)
    assert not config.learns_rate and not config.has_complexity_layers and config.width == 4
    with pytest.raises(ValueError, match="--model msnet is a ResNet-18.*embedded-radio"):
        resolve_config("embedded-radio", model="msnet")


def test_the_job_measures_msnet_against_the_resnets_c_full(calibration_images):
    config = resolve_config("embedded-images", model="msnet", width=2)
    experiment = ClassificationExperiment(config, data=calibration_images, verbose=0)
    # Linear complexity on 32x32 images: C_full of the ResNet-18 is
    # 3 * (32 + 32) = 192, C_base = 2 * (16 + 8 + 4) = 56 (= C_H).
    assert (experiment.c_full, experiment.c_base) == (192.0, 56.0)
    model = experiment.build_model()
    assert model.compiled and sorted(model.loss) == ["high", "low"]
    batch_x, batch_y = experiment.train_batches(epoch=0, skip_batches=0)[0]
    assert batch_x.shape == (32, 32, 32, 3)  # both heads learn the labels
    assert sorted(batch_y) == ["high", "low"] and (batch_y["low"] == batch_y["high"]).all()


@pytest.mark.slow  # about 20 s alone, 50 s on 2 shared cores: 5 calibrations, eager
def test_the_early_exit_curve_runs_from_the_low_branch_to_both(calibration_images):
    config = resolve_config("embedded-images", model="msnet", width=2)
    model = ClassificationExperiment(config, data=calibration_images, verbose=0).build_model()
    curve = early_exit_curve(model, calibration_images, config, c_full=192.0)
    assert [point["high_fraction_target"] for point in curve] == list(MSNET_HIGH_FRACTIONS)
    first, last = curve[0], curve[-1]
    # f = 0: every image exits (tau = 0), cost C_L = 2 * (8 + 4 + 2) = 28.
    assert (first["threshold"], first["test_high_fraction"], first["complexity"]) == (0.0, 0.0, 28.0)
    # f = 1: no image exits (tau = 1), cost C_L + C_H = 84; accuracy = p_H's.
    assert (last["threshold"], last["test_high_fraction"], last["complexity"]) == (1.0, 1.0, 84.0)
    x_test, y_test = calibration_images.test.read(np.arange(40))
    predictions = model(x_test, training=False)
    assert last["test_accuracy"] == pytest.approx(_accuracy(predictions["high"], y_test))
    assert first["test_accuracy"] == pytest.approx(_accuracy(predictions["low"], y_test))
    for point in curve:  # calibration keeps the validation cost within its target
        assert point["val_complexity"] <= point["target_complexity"] + 1e-9
        assert point["complexity"] == pytest.approx(28.0 + 56.0 * point["test_high_fraction"])
        assert point["complexity_fraction"] == pytest.approx(point["complexity"] / 192.0)
    thresholds = [point["threshold"] for point in curve]
    assert thresholds == sorted(thresholds)


@pytest.mark.slow  # about 2 min on 2 shared cores: tracing the two ResNet-18s' steps
def test_an_msnet_run_writes_its_curve_and_gives_one_sweep_row_per_point(
        calibration_images, tmp_path):
    config = resolve_config("embedded-images", model="msnet", width=2, epochs=1,
                            batch_size=32, lr_decay_epochs=[])
    results = run_classification(config, tmp_path / "msnet", data=calibration_images, verbose=0)
    assert len(results["early_exit"]) == len(MSNET_HIGH_FRACTIONS)
    assert results["complexity"] == 84.0 and results["complexity_full"] == 192.0
    assert results["test_accuracy"] == results["early_exit"][-1]["test_accuracy"]
    assert (tmp_path / "msnet" / "plots" / "early_exit.png").stat().st_size > 0
    stored = json.loads((tmp_path / "msnet" / "results.json").read_text())
    assert stored["early_exit"] == results["early_exit"]
    epoch = read_csv(tmp_path / "msnet" / "results.csv")[-1]
    assert 0 <= epoch["val_low_accuracy"] <= 1 and epoch["loss"] == pytest.approx(
        epoch["low_loss"] + epoch["high_loss"], rel=1e-4)

    rows = figure3.early_exit_rows(results, tmp_path / "msnet", seed=0)
    assert [row["test_accuracy"] for row in rows] == [
        point["test_accuracy"] for point in results["early_exit"]]


def test_an_msnet_run_gives_one_figure3_row_per_calibrated_point():
    results = {"transform": "msnet", "data": "embedded-images", "complexity_full": 192.0,
               "complexity_base": 56.0, "test_loss": 1.0, "best_val_accuracy": 0.6,
               "early_exit": [{"target_complexity": 28.0 + f * 56.0, "threshold": f,
                               "complexity": 28.0 + f * 50.0, "test_accuracy": 0.5 + f / 10,
                               "complexity_fraction": (28.0 + f * 50.0) / 192.0}
                              for f in MSNET_HIGH_FRACTIONS]}
    rows = figure3.early_exit_rows(results, "sweep/embedded-images/msnet-seed3", seed=3)
    # p* = (C_L + f * C_H) / C_full, rounded as the sweep rounds budgets.
    assert [row["target_budget"] for row in rows] == [0.1458, 0.2188, 0.2917, 0.3646, 0.4375]
    assert [row["test_accuracy"] for row in rows] == [0.5, 0.525, 0.55, 0.575, 0.6]
    assert rows[-1]["complexity_fraction"] == pytest.approx(78.0 / 192.0)
    assert rows[-1]["relative_error"] == pytest.approx(abs(78 / 192 - 0.4375) / 0.4375)
    assert all(row["transform"] == "msnet" and row["seed"] == 3 for row in rows)
    fixed = dict(rows[0], transform="fixed", target_budget=None, test_accuracy=0.5)
    summary = figure3.summarise([fixed] + rows)
    assert [entry["target_budget"] for entry in summary[1:]] == [
        row["target_budget"] for row in rows]
    assert summary[-1]["accuracy_diff_mean"] == pytest.approx(0.1)


def test_the_sweep_plans_one_msnet_run_per_seed():
    plan = figure3.sweep_plan(56.0, 192.0, (0.5,), ("dct",), ("msnet",))
    assert plan == [("fixed", None), ("dct", 0.2917), ("dct", 0.5), ("msnet", None)]
    assert figure3.run_name("msnet", None, seed=2) == "msnet-seed2"
