"""The Table 1 sweep: run plan, mean and spread over seeds, table, reuse of finished runs."""

import dataclasses
import json

import numpy as np
import pytest

from training.detection import table1 as sweeps
from training.detection.config import DetectionConfig
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState


def test_plan_has_the_baseline_and_every_hinge_weight_for_every_seed():
    runs = sweeps.table1_runs(DetectionConfig(), seeds=[0, 1], hinge_weights=[0.0, 1e-3, 1e-2])
    assert [label for label, _ in runs] == 2 * [
        "baseline", "resolution lambda=0", "resolution lambda=0.001", "resolution lambda=0.01"]
    assert [config.seed for _, config in runs] == [0] * 4 + [1] * 4
    assert [config.model for _, config in runs[:4]] == ["baseline"] + 3 * ["resolution"]
    assert [config.hinge_weight for _, config in runs[1:4]] == [0.0, 1e-3, 1e-2]


def _result(map50, complexity, small=None):
    result = {"map50": map50, "panet_complexity": complexity, "trainable_params": 100}
    if small is not None:
        result.update(ap50_small=small, ap50_medium=2 * small, ap50_large=3 * small)
    return result


def test_summary_is_mean_and_sample_std_over_seeds():
    rows = sweeps.summarise({
        "baseline": [_result(0.4, 2875.0, 0.1), _result(0.5, 2875.0, 0.2), _result(0.6, 2875.0, 0.3)],
        "resolution lambda=0": [_result(0.45, 3000.0)],
    })
    baseline, single = rows
    assert baseline["runs"] == 3
    assert baseline["map50_mean"] == pytest.approx(0.5)
    assert baseline["map50_std"] == pytest.approx(0.1)  # sqrt((0.01 + 0 + 0.01) / 2)
    assert baseline["panet_complexity_std"] == 0.0
    assert baseline["ap50_small_mean"] == pytest.approx(0.2)
    assert baseline["ap50_large_mean"] == pytest.approx(0.6)
    assert single["map50_std"] == 0.0 and "ap50_small_mean" not in single


def test_table_shows_percentages_with_spread_and_band_columns_only_when_all_have_them():
    with_bands = sweeps.summarise({"baseline": [_result(0.4, 2875.0, 0.1), _result(0.6, 2875.0, 0.3)]})
    table = sweeps.format_table1(with_bands)
    assert "50.0% +- 14.1" in table and "AP small" in table and "40.0%" in table
    mixed = sweeps.summarise({"a": [_result(0.4, 1.0, 0.1)], "b": [_result(0.4, 1.0)]})
    assert "AP small" not in sweeps.format_table1(mixed)


def test_sweep_trains_each_run_once_and_reuses_finished_runs(tmp_path, monkeypatch, capsys):
    trained = []

    def fake_train(config, run_dir, resume=False, verbose=1):
        run = RunDirectory(run_dir)
        if resume:  # as the run loop: a finished run returns its stored results
            assert run.read_state().finished
            return json.loads(run.results_json.read_text())
        trained.append((config.model, config.hinge_weight, config.seed))
        run.claim({"experiment": "detection", "config": dataclasses.asdict(config)})
        result = _result(0.4 + 0.1 * config.seed, 2875.0 - 100 * config.hinge_weight * 1e3, 0.1)
        run.results_json.write_text(json.dumps(result))
        run.write_state(RunState(epochs_done=1, finished=True))
        return result

    monkeypatch.setattr("training.detection.job.train_detection", fake_train)
    base = DetectionConfig()
    rows = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4
    assert (tmp_path / "resolution_lambda0.001_seed1" / "results.json").exists()
    assert rows[0]["map50_mean"] == pytest.approx(0.45)
    assert rows[1]["panet_complexity_mean"] == pytest.approx(2775.0)
    assert (tmp_path / "table1.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "table1.json").read_text())
    assert len(saved["runs"]["baseline"]) == 2
    assert (tmp_path / "table1.txt").read_text().splitlines()[0].startswith("Model")
    assert "45.0% +- 7.1" in capsys.readouterr().out

    again = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4  # nothing retrained
    assert again == rows
    with pytest.raises(FileExistsError, match="other settings"):
        sweeps.run_table1(base, [0, 2], [1e-3], tmp_path, verbose=0)
