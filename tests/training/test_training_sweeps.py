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


def _result(map50, complexity, small=None, seed=None):
    result = {"map50": map50, "panet_complexity": complexity, "trainable_params": 100}
    if small is not None:
        result.update(ap50_small=small, ap50_medium=2 * small, ap50_large=3 * small)
    if seed is not None:
        result["seed"] = seed
    return result


T975_DF2 = 4.302652730  # t_{0.975, 2}


def test_summary_is_mean_sample_std_and_t_interval_over_seeds():
    rows = sweeps.summarise({
        "baseline": [_result(0.4, 2875.0, 0.1, seed=0), _result(0.5, 2875.0, 0.2, seed=1),
                     _result(0.6, 2875.0, 0.3, seed=2)],
        "resolution lambda=0": [_result(0.45, 3000.0, seed=1)],
    })
    baseline, single = rows
    assert baseline["runs"] == 3
    assert baseline["map50_mean"] == pytest.approx(0.5)
    assert baseline["map50_std"] == pytest.approx(0.1)  # sqrt((0.01 + 0 + 0.01) / 2)
    half_width = T975_DF2 * 0.1 / np.sqrt(3)  # 0.2484
    assert (baseline["map50_ci_low"], baseline["map50_ci_high"]) == pytest.approx(
        (0.5 - half_width, 0.5 + half_width))
    assert baseline["panet_complexity_std"] == 0.0
    assert baseline["panet_complexity_ci_low"] == baseline["panet_complexity_ci_high"] == 2875.0
    assert baseline["ap50_small_mean"] == pytest.approx(0.2)
    assert baseline["ap50_large_mean"] == pytest.approx(0.6)
    assert "map50_diff_mean" not in baseline  # the baseline is not compared with itself
    assert single["map50_std"] == 0.0 and "ap50_small_mean" not in single
    assert single["map50_ci_low"] is None and single["map50_ci_high"] is None
    # One shared seed (1): the difference without an interval.
    assert single["pairs"] == 1 and single["paired_seeds"] == [1]
    assert single["map50_diff_mean"] == pytest.approx(-0.05)
    assert single["map50_diff_ci_low"] is None


def test_paired_difference_uses_the_seeds_both_models_ran():
    rows = sweeps.summarise({
        "baseline": [_result(0.40, 1.0, seed=0), _result(0.50, 1.0, seed=1),
                     _result(0.60, 1.0, seed=2)],
        "resolution lambda=0.01": [_result(0.65, 1.0, seed=2), _result(0.50, 1.0, seed=0),
                                   _result(0.58, 1.0, seed=1), _result(0.9, 1.0, seed=7)],
    })
    resolution = rows[1]
    assert resolution["paired_seeds"] == [0, 1, 2] and resolution["pairs"] == 3
    assert resolution["map50_diffs"] == pytest.approx([0.10, 0.08, 0.05])
    assert resolution["map50_diff_mean"] == pytest.approx(0.23 / 3)
    std = np.std([0.10, 0.08, 0.05], ddof=1)
    assert resolution["map50_diff_std"] == pytest.approx(std)
    half_width = T975_DF2 * std / np.sqrt(3)
    assert resolution["map50_diff_ci_low"] == pytest.approx(0.23 / 3 - half_width)
    assert resolution["map50_diff_ci_high"] == pytest.approx(0.23 / 3 + half_width)
    with pytest.raises(ValueError, match="same seed"):
        sweeps.summarise({"baseline": [_result(0.4, 1.0, seed=0), _result(0.5, 1.0, seed=0)]})


def test_table_shows_percentages_with_spread_interval_and_paired_difference():
    with_bands = sweeps.summarise({
        "baseline": [_result(0.4, 2875.0, 0.1, seed=0), _result(0.6, 2875.0, 0.3, seed=1)],
        "resolution lambda=0.01": [_result(0.5, 2800.0, 0.1, seed=0),
                                   _result(0.8, 2900.0, 0.3, seed=1)],
    })
    table = sweeps.format_table1(with_bands)
    assert "50.0% +- 14.1" in table and "AP small" in table and "40.0%" in table
    assert "[-77.1, 177.1]" in table  # 50 -+ t_{0.975,1} * 14.14 / sqrt(2) = 127.06
    assert "[2,875, 2,875]" in table and "[2,215, 3,485]" in table  # 2850 -+ 635.3
    # Differences +10 and +20 points: mean +15, half-width 12.706 * 7.071 / 1.414 = 63.5.
    assert "+15.0 [-48.5, +78.5]" in table
    header = table.splitlines()[0]
    assert "mAP@0.5 95% CI" in header and "mAP@0.5 - baseline [95% CI]  pairs" in header
    mixed = sweeps.summarise({"a": [_result(0.4, 1.0, 0.1)], "b": [_result(0.4, 1.0)]})
    assert "AP small" not in sweeps.format_table1(mixed)
    assert "pairs" not in sweeps.format_table1(mixed)  # no baseline: no paired column


def test_sweep_trains_each_run_once_and_reuses_finished_runs(tmp_path, capsys,
                                                             fake_detection_training):
    def results(config):
        gain = 0.02 + 0.02 * config.seed if config.model == "resolution" else 0.0
        return _result(0.4 + 0.1 * config.seed + gain,
                       2875.0 - 100 * config.hinge_weight * 1e3, 0.1)

    trained = fake_detection_training(
        results, lambda config: (config.model, config.hinge_weight, config.seed))
    base = DetectionConfig()
    rows = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4
    assert (tmp_path / "resolution_lambda0.001_seed1" / "results.json").exists()
    assert rows[0]["map50_mean"] == pytest.approx(0.45)
    assert rows[1]["panet_complexity_mean"] == pytest.approx(2775.0)
    assert (tmp_path / "table1.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "table1.json").read_text())
    assert len(saved["runs"]["baseline"]) == 2
    assert saved["rows"][1]["map50_diffs"] == pytest.approx([0.02, 0.04])  # paired by seed
    assert saved["rows"][1]["paired_seeds"] == [0, 1] and "Student-t" in saved["statistics"]
    text = (tmp_path / "table1.txt").read_text()
    assert text.splitlines()[0].startswith("Model")
    # mean +3 points, half-width t_{0.975,1} * 1.414 / sqrt(2) = 12.7
    assert "+3.0 [-9.7, +15.7]" in text and "95% CI" in text and "Student-t" in text
    out = capsys.readouterr().out
    assert "45.0% +- 7.1" in out and "+3.0 [-9.7, +15.7]" in out

    again = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4  # nothing retrained
    assert again == rows
    with pytest.raises(FileExistsError, match="other settings"):
        sweeps.run_table1(base, [0, 2], [1e-3], tmp_path, verbose=0)


def test_a_sweep_without_hinge_weights_is_the_baseline_alone(tmp_path, fake_detection_training):
    from training.cli import build_parser

    args = build_parser().parse_args(["sweep", "table1", "--data", "embedded", "--seeds", "0",
                                      "1", "2", "--hinge-weights", "--ema-momentum", "0"])
    assert args.hinge_weights == []
    trained = fake_detection_training(
        lambda config: _result(0.40 + 0.01 * config.seed ** 2, 2875.0),
        lambda config: (config.model, config.seed, config.ema_momentum))
    rows = sweeps.run_table1(DetectionConfig(ema_momentum=0.0), [0, 1, 2], [], tmp_path,
                             verbose=0)
    assert trained == [("baseline", seed, 0.0) for seed in (0, 1, 2)]
    assert [row["model"] for row in rows] == ["baseline"]
    # mAP 0.40, 0.41, 0.44: mean 0.41667, sample std 0.020817
    assert rows[0]["map50_mean"] == pytest.approx(0.416667, abs=1e-6)
    assert rows[0]["map50_std"] == pytest.approx(0.020817, abs=1e-6)


def test_report_only_tables_the_finished_runs_and_writes_nothing(tmp_path, capsys):
    base = DetectionConfig()
    settings = {"sweep": "table1", "config": dataclasses.asdict(base), "seeds": [0, 1],
                "hinge_weights": [1e-3]}
    with pytest.raises(FileNotFoundError, match="sweep.json"):
        sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True)
    # A sweep started before `scale_start` existed: its sweep.json lacks it.
    older = json.loads(json.dumps(settings))
    del older["config"]["scale_start"]
    (tmp_path / "sweep.json").write_text(json.dumps(older))
    with pytest.raises(ValueError, match="no run of the sweep has finished"):
        sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True)
    for name, seed, value in [("baseline_seed0", 0, 0.5), ("baseline_seed1", 1, 0.7),
                              ("resolution_lambda0.001_seed1", 1, 0.75)]:
        run = RunDirectory(tmp_path / name)
        run.claim({"experiment": "detection", "config": {}})
        run.results_json.write_text(json.dumps(_result(value, 2875.0, 0.1)))
        run.write_state(RunState(epochs_done=1, finished=True))
    unfinished = RunDirectory(tmp_path / "resolution_lambda0.001_seed0")
    unfinished.claim({"experiment": "detection", "config": {}})
    before = sorted(p.name for p in tmp_path.iterdir())
    rows = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert [row["runs"] for row in rows] == [2, 1]
    assert rows[0]["map50_mean"] == pytest.approx(0.6)
    assert rows[1]["map50_diffs"] == pytest.approx([0.05]) and rows[1]["paired_seeds"] == [1]
    out = capsys.readouterr().out
    assert "3 of 4 runs finished; not yet: resolution_lambda0.001_seed0" in out
    per_seed = out[out.index("mAP@0.5 per seed"):].splitlines()
    assert per_seed[1].split() == ["Model", "seed", "0", "seed", "1"]
    assert per_seed[3].split() == ["baseline", "50.0", "70.0"]
    assert per_seed[4].split() == ["resolution", "lambda=0.001", "-", "75.0", "(+5.0)"]
    plot = tmp_path.parent / f"{tmp_path.name}-report.png"
    sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True, plot=plot)
    assert plot.stat().st_size > 10_000  # both panels: one paired seed
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(ValueError, match="^--plot applies to --report-only"):
        sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, plot=plot)
    with pytest.raises(ValueError, match="other settings"):
        sweeps.run_table1(base, [0, 1, 2], [1e-3], tmp_path, verbose=0, report_only=True)
    # The same older sweep.json is continued, not refused, by a training sweep.
    sweeps.claim_sweep(tmp_path, settings, upgrade=sweeps.upgrade_settings)


# ------------------------------------------------------------ DiffStride rows
def test_plan_adds_the_diffstride_rows_after_the_resolution_ones():
    runs = sweeps.table1_runs(DetectionConfig(), seeds=[0, 1], hinge_weights=[1e-3],
                              diffstride_hinge_weights=[0.0, 1e-3])
    assert [label for label, _ in runs] == 2 * [
        "baseline", "resolution lambda=0.001", "diffstride lambda=0", "diffstride lambda=0.001"]
    assert [(c.model, c.hinge_weight, c.seed) for _, c in runs[2:4]] == [
        ("diffstride", 0.0, 0), ("diffstride", 1e-3, 0)]
    assert sweeps.run_name("diffstride lambda=0.001", 1) == "diffstride_lambda0.001_seed1"
    # Without DiffStride rows the plan and the sweep.json are the ones of before.
    assert sweeps.table1_runs(DetectionConfig(), [0], [1e-3]) == runs[:2]
    assert set(sweeps.table1_settings(DetectionConfig(), [0], [1e-3])) == {
        "sweep", "config", "seeds", "hinge_weights"}


def test_table_has_the_diffstride_row_with_its_paired_difference():
    rows = sweeps.summarise({
        "baseline": [_result(0.4, 2875.0, seed=0), _result(0.6, 2875.0, seed=1)],
        "resolution lambda=0.001": [_result(0.5, 2800.0, seed=0), _result(0.8, 2900.0, seed=1)],
        "diffstride lambda=0.001": [_result(0.35, 4000.0, seed=0),
                                    _result(0.45, 4200.0, seed=1)],
    })
    diffstride = rows[2]
    assert diffstride["map50_diffs"] == pytest.approx([-0.05, -0.15])
    table = sweeps.format_table1(rows).splitlines()
    row = next(line for line in table if line.startswith("diffstride lambda=0.001"))
    # 40.0 +- 7.1 (std of 0.35, 0.45); complexity 4,100 +- 141; difference
    # -10 points, half-width t_{0.975,1} * 7.071 / sqrt(2) = 63.5.
    assert "40.0% +- 7.1" in row and "4,100 +- 141" in row and "-10.0 [-73.5, +53.5]" in row
    assert len(table) == 5  # header, rule, three models


def _sweep_results(config):
    """What a fake run of the sweep finishes with, by model and seed."""
    return _result({"baseline": 0.4, "resolution": 0.45, "diffstride": 0.35}[config.model]
                   + 0.1 * config.seed, 2875.0, 0.1)


def test_adding_diffstride_rows_to_a_sweep_reuses_its_finished_runs(
        tmp_path, fake_detection_training, capsys):
    trained = fake_detection_training(
        _sweep_results, lambda config: (config.model, config.hinge_weight, config.seed))
    base = DetectionConfig()
    # A sweep of the current settings, run by the default command, whose
    # sweep.json predates `scale_start` too (as an older run would).
    sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4
    older = json.loads((tmp_path / "sweep.json").read_text())
    del older["config"]["scale_start"]
    (tmp_path / "sweep.json").write_text(json.dumps(older))
    grown = sweeps.table1_settings(base, [0, 1], [1e-3], [1e-3])
    # claim_sweep accepts the stored sweep as an upgrade to the grown one.
    sweeps.claim_sweep(tmp_path, grown,
                       upgrade=lambda stored: sweeps.upgrade_settings(stored, grown))
    assert sweeps.upgrade_settings(older, grown) == grown
    assert sweeps.upgrade_settings(older) != grown  # without the request: the old sweep

    rows = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0,
                             diffstride_hinge_weights=[1e-3])
    assert trained[4:] == [("diffstride", 1e-3, 0), ("diffstride", 1e-3, 1)]  # only the new row
    assert [row["model"] for row in rows] == [
        "baseline", "resolution lambda=0.001", "diffstride lambda=0.001"]
    assert rows[2]["map50_diffs"] == pytest.approx([-0.05, -0.05])
    assert "diffstride lambda=0.001" in (tmp_path / "table1.txt").read_text()
    assert json.loads((tmp_path / "sweep.json").read_text()) == grown  # the rows are recorded
    # The same command again trains nothing; more DiffStride rows grow it again.
    assert sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0,
                             diffstride_hinge_weights=[1e-3]) == rows
    assert len(trained) == 6
    report = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True,
                               diffstride_hinge_weights=[1e-3])
    assert report == rows
    # Reading only, the command from before the sweep grew still prints its
    # rows, and says which rows it leaves out.
    capsys.readouterr()
    older_report = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0,
                                     report_only=True)
    assert older_report == rows[:2]
    out = capsys.readouterr().out
    assert "4 of 4 runs finished" in out and "diffstride lambda" not in out
    assert "(The sweep also holds --diffstride-hinge-weights 0.001" in out
    with pytest.raises(ValueError, match="other settings"):
        sweeps.run_table1(base, [0, 1], [1e-2], tmp_path, verbose=0, report_only=True)
    # Training, dropping the recorded rows or changing anything else is another sweep.
    with pytest.raises(FileExistsError, match="other settings"):
        sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    with pytest.raises(FileExistsError, match="other settings"):
        sweeps.run_table1(base, [0, 1], [1e-2], tmp_path, verbose=0,
                          diffstride_hinge_weights=[1e-3, 1e-2])
    assert len(trained) == 6


def test_table1_shows_no_spread_for_a_single_run():
    one = {"map50": 0.5899, "panet_complexity": 7360.0, "trainable_params": 2149519, "seed": 0}
    two = [one, {**one, "map50": 0.6295, "seed": 1}]
    single = sweeps.format_table1(sweeps.summarise({"baseline": [one]})).splitlines()[2].split()
    assert single[:5] == ["baseline", "1", "59.0%", "-", "7,360"]
    pair = sweeps.format_table1(sweeps.summarise({"baseline": two})).splitlines()[2].split()
    assert pair[:5] == ["baseline", "2", "61.0%", "+-", "2.8"]  # mean, std of 58.99, 62.95


def test_runs_another_process_trains_are_skipped_with_the_runs_that_start_from_them(
        tmp_path, capsys, fake_detection_training, run_locked_elsewhere):
    trained = fake_detection_training(lambda config: _result(0.5, 1000.0),
                                      lambda config: (config.model, config.srf_stage, config.seed))
    base = DetectionConfig()
    with run_locked_elsewhere(tmp_path / "baseline_seed0"):  # a second command's run
        sweeps.run_table1(base, [0, 1], [], tmp_path, verbose=0, upsamplers=["srf"])
    # Seed 0's SRF-GAN stages start from that baseline: skipped with it.
    assert trained == [("baseline", None, 1), ("srf", 1, 1), ("srf", 3, 1)]
    out = capsys.readouterr().out
    assert "3 run(s) skipped" in out and "Skipped:" in out and "baseline_seed0 is being trained" in out
    assert json.loads((tmp_path / "table1.json").read_text())["runs"]["baseline"] == [
        {**_result(0.5, 1000.0), "seed": 1}]
    sweeps.run_table1(base, [0, 1], [], tmp_path, verbose=0, upsamplers=["srf"])
    assert trained[3:] == [("baseline", None, 0), ("srf", 1, 0), ("srf", 3, 0)]
    assert "skipped" not in capsys.readouterr().out


def test_table1_warns_when_runs_started_from_different_backbones():
    from training.detection.table1 import backbone_warning

    kept = {"baseline": [{"map50": 0.5, "seed": 0}, {"map50": 0.6, "seed": 1}]}
    assert backbone_warning(kept) is None  # runs from before the record: as printed before
    same = {"baseline": [{"backbone_fingerprint": "aa"}], "srf": [{"backbone_fingerprint": "aa"}]}
    assert backbone_warning(same) is None
    mixed = {"baseline": [{"backbone_fingerprint": "bb"}, {}, {}],
             "bilinear": [{"backbone_fingerprint": "aa"}], "srf": [{"backbone_fingerprint": "bb"}]}
    assert backbone_warning(mixed) == (
        "Backbones differ: aa (1 run: bilinear), bb (2 runs: baseline, srf), not recorded "
        "(2 runs: baseline). Differences between runs on different backbones include the "
        "backbones' difference.")
