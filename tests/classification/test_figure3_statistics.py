"""Figure 3 over several seeds: run directories per seed, the summary's
means, t intervals and paired differences from the fixed baseline
(hand-computed), and the `--seeds` option. Training is replaced by a fake
that returns fixed accuracies, so nothing is trained."""

import json
import math
import shutil

import pytest

from training.classification import figure3
from training.cli import main
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import read_csv

T975 = {1: 12.706204736, 2: 4.302652730}  # t_{0.975, df}


def _run(transform, target, seed, accuracy, fraction):
    return dict(data="embedded-radio", transform=transform, target_budget=target, seed=seed,
                test_accuracy=accuracy, complexity_fraction=fraction, base_budget=False)


def test_summary_is_mean_std_t_interval_and_paired_difference_per_budget():
    rows = [
        _run("fixed", None, 0, 0.40, 1.0), _run("dct", 0.5, 0, 0.45, 0.50),
        _run("fixed", None, 1, 0.50, 1.0), _run("dct", 0.5, 1, 0.57, 0.52),
        _run("fixed", None, 2, 0.60, 1.0), _run("dct", 0.5, 2, 0.69, 0.54),
        _run("dft", 0.5, 2, 0.61, 0.50),
    ]
    fixed, dct, dft = figure3.summarise(rows)
    assert (fixed["transform"], fixed["runs"], fixed["seeds"]) == ("fixed", 3, "0 1 2")
    assert fixed["test_accuracy_mean"] == pytest.approx(0.5)
    assert fixed["test_accuracy_std"] == pytest.approx(0.1)
    half_width = T975[2] * 0.1 / math.sqrt(3)
    assert (fixed["test_accuracy_ci_low"], fixed["test_accuracy_ci_high"]) == pytest.approx(
        (0.5 - half_width, 0.5 + half_width))
    assert fixed["complexity_fraction_ci_low"] == fixed["complexity_fraction_ci_high"] == 1.0
    assert "accuracy_diff_mean" not in fixed
    # dct: complexity 0.50, 0.52, 0.54 -> mean 0.52, std 0.02.
    assert dct["complexity_fraction_mean"] == pytest.approx(0.52)
    assert dct["complexity_fraction_ci_high"] == pytest.approx(0.52 + T975[2] * 0.02 / math.sqrt(3))
    # Paired with the fixed run of the same seed: +0.05, +0.07, +0.09.
    assert dct["pairs"] == 3 and dct["accuracy_diff_mean"] == pytest.approx(0.07)
    assert dct["accuracy_diff_std"] == pytest.approx(0.02)
    assert dct["accuracy_diff_ci_low"] == pytest.approx(0.07 - T975[2] * 0.02 / math.sqrt(3))
    # dft ran seed 2 only: one pair, a difference without an interval.
    assert dft["runs"] == 1 and dft["test_accuracy_std"] == 0.0
    assert dft["test_accuracy_ci_low"] is None
    assert dft["pairs"] == 1 and dft["accuracy_diff_mean"] == pytest.approx(0.01)
    assert dft["accuracy_diff_ci_low"] is None

    table = figure3.format_summary([fixed, dct, dft])
    assert "50.0 +- 10.0" in table and "[25.2, 74.8]" in table  # 50 -+ 24.84
    assert "+7.0 [+2.0, +12.0]" in table  # 7 -+ 4.30 * 2 / sqrt(3) = 4.97
    assert table.splitlines()[-1].split()[-2:] == ["+1.0", "1"]


def test_seeds_are_checked_and_seed_is_not_an_option():
    assert figure3.check_seeds([2, 0]) == [2, 0]
    with pytest.raises(ValueError, match="--seeds"):
        figure3.check_seeds([1, 1])
    with pytest.raises(ValueError, match="--seeds"):
        figure3.check_seeds([])
    with pytest.raises(ValueError, match="seeds="):
        figure3.run_figure3(["embedded-radio"], "unused", seed=3)


def _fake_classification(trained):
    """A stand-in for `run_classification`: accuracy 0.4 + 0.1 * seed for the
    fixed model, and 0.05 + 0.02 * seed more for a Resolution model."""

    def run_classification(config, run_dir, resume=False, data=None, verbose=1):
        run = RunDirectory(run_dir)
        if resume:
            return json.loads(run.results_json.read_text())
        trained.append((config.transform, config.target_budget, config.seed))
        run.claim({"experiment": "classification", "config": {"seed": config.seed}})
        gain = 0.0 if config.transform == "fixed" else 0.05 + 0.02 * config.seed
        fraction = 1.0 if config.transform == "fixed" else config.target_budget
        results = dict(
            data=config.data, transform=config.transform, target_budget=config.target_budget,
            complexity=fraction * 896, complexity_full=896, complexity_base=896,
            complexity_fraction=fraction, size_complexity_fraction=fraction,
            relative_error=0.0, test_accuracy=0.4 + 0.1 * config.seed + gain, test_loss=1.0,
            best_val_accuracy=0.5, train_seconds=1.0,
        )
        run.results_json.write_text(json.dumps(results))
        run.write_state(RunState(epochs_done=1, finished=True))
        return results

    return run_classification


def test_sweep_over_seeds_writes_one_row_per_run_and_a_summary_per_budget(
        tmp_path, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(figure3, "run_classification", _fake_classification(trained))
    sweep_dir = tmp_path / "figure3"
    common = ["sweep", "figure3", "--data", "embedded-radio", "--targets", "1.0",
              "--transforms", "dct", "--sweep-dir", str(sweep_dir),
              "--max-examples", "64", "--epochs", "1", "--batch-size", "32"]  # fmt: skip
    argv = common + ["--seeds", "0", "1", "2"]
    assert main(argv + ["--quiet"]) == 0
    assert trained == [("fixed", None, s) if i % 2 == 0 else ("dct", 1.0, s)
                       for s in (0, 1, 2) for i in (0, 1)]
    assert sorted(p.name for p in (sweep_dir / "embedded-radio").iterdir()) == [
        "dct-p1.0000", "dct-p1.0000-seed1", "dct-p1.0000-seed2",
        "fixed", "fixed-seed1", "fixed-seed2"]  # fmt: skip
    rows = read_csv(sweep_dir / "results.csv")
    assert [(r["transform"], r["seed"]) for r in rows] == [
        ("fixed", 0), ("dct", 0), ("fixed", 1), ("dct", 1), ("fixed", 2), ("dct", 2)]
    assert rows[3]["run_dir"].endswith("dct-p1.0000-seed1")
    summary = read_csv(sweep_dir / "summary.csv")
    assert [(s["transform"], s["runs"], s["seeds"]) for s in summary] == [
        ("fixed", 3, "0 1 2"), ("dct", 3, "0 1 2")]
    assert summary[1]["accuracy_diff_mean"] == pytest.approx(0.07)
    assert summary[1]["accuracy_diff_ci_high"] == pytest.approx(
        0.07 + T975[2] * 0.02 / math.sqrt(3))
    text = (sweep_dir / "summary.txt").read_text()
    assert "+7.0 [+2.0, +12.0]" in text and "Student-t" in text
    assert (sweep_dir / "plots" / "figure3.png").stat().st_size > 10_000
    assert json.loads((sweep_dir / "sweep.json").read_text())["seeds"] == [0, 1, 2]

    assert main(argv) == 0  # again: nothing retrained, the summary printed
    assert len(trained) == 6
    assert "+7.0 [+2.0, +12.0]" in capsys.readouterr().out
    assert main(common + ["--seeds", "0", "1"]) == 2
    assert "other settings" in capsys.readouterr().err

    # The per-seed table: fixed 0.4 + 0.1 seed, dct 0.05 + 0.02 seed above it.
    assert [line.split() for line in text.splitlines() if line.startswith("embedded-radio")][-2:] == [
        ["embedded-radio", "fixed", "-", "40.0", "50.0", "60.0"],
        ["embedded-radio", "dct", "1", "45.0", "(+5.0)", "57.0", "(+7.0)", "69.0", "(+9.0)"]]
    # --report-only prints summary.txt from results.csv and writes nothing.
    files = sorted((p.name, p.stat().st_mtime_ns) for p in sweep_dir.rglob("*"))
    assert main(["sweep", "figure3", "--sweep-dir", str(sweep_dir), "--report-only"]) == 0
    assert capsys.readouterr().out == f"{sweep_dir}: 6 runs finished\n\n{text}\n"
    assert sorted((p.name, p.stat().st_mtime_ns) for p in sweep_dir.rglob("*")) == files
    assert main(["sweep", "figure3", "--sweep-dir", str(sweep_dir), "--report-only",
                 "--plot", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000
    assert main(["sweep", "figure3", "--sweep-dir", str(sweep_dir),
                 "--plot", str(tmp_path / "no.png")]) == 2
    assert "--plot applies to --report-only" in capsys.readouterr().err
    assert main(["sweep", "figure3", "--sweep-dir", str(tmp_path), "--report-only"]) == 2
    assert "not a Figure 3 sweep directory" in capsys.readouterr().err


def test_seed_alone_is_a_one_seed_sweep_and_repeated_seeds_are_refused(
        tmp_path, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(figure3, "run_classification", _fake_classification(trained))
    argv = ["sweep", "figure3", "--data", "embedded-radio", "--targets", "1.0",
            "--transforms", "dct", "--max-examples", "64", "--quiet"]  # fmt: skip
    assert main(argv + ["--seed", "1", "--sweep-dir", str(tmp_path / "a")]) == 0
    assert trained == [("fixed", None, 1), ("dct", 1.0, 1)]
    assert (tmp_path / "a" / "embedded-radio" / "fixed-seed1").is_dir()
    assert main(argv + ["--seeds", "1", "1", "--sweep-dir", str(tmp_path / "b")]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_plot_draws_a_dataset_without_pairs_beside_one_with_pairs(tmp_path):
    import warnings

    from training.classification.plots import plot_figure3

    runs = [dict(data=d, transform=t, target_budget=p, seed=0, test_accuracy=a,
                 complexity_fraction=c, base_budget=False)
            for d, t, p, a, c in [("images", "fixed", None, 0.80, 0.29),
                                  ("images", "dct", 0.5, 0.85, 0.5),
                                  ("radio", "fixed", None, 0.60, 0.2)]]
    summary = figure3.summarise(runs)
    assert [entry.get("accuracy_diff_mean") is not None for entry in summary] == [
        False, True, False]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns about an empty legend
        plot_figure3(summary, tmp_path / "figure3.png", runs)
    assert (tmp_path / "figure3.png").stat().st_size > 10_000


def test_an_interrupted_sweep_keeps_every_finished_run_in_its_tables(tmp_path, monkeypatch):
    # Runs finished by an earlier command stay in results.csv while a later
    # one works through the seeds again and is interrupted before reaching them.
    trained = []
    fake = _fake_classification(trained)
    monkeypatch.setattr(figure3, "run_classification", fake)
    sweep_dir = tmp_path / "figure3"
    argv = ["sweep", "figure3", "--data", "embedded-radio", "--targets", "1.0", "--transforms",
            "dct", "--sweep-dir", str(sweep_dir), "--max-examples", "64", "--epochs", "1",
            "--batch-size", "32", "--seeds", "0", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0 and len(trained) == 4
    shutil.rmtree(sweep_dir / "embedded-radio" / "dct-p1.0000")  # seed 0's DCT run, lost

    def interrupted(config, run_dir, resume=False, data=None, verbose=1):
        if not resume:
            raise KeyboardInterrupt
        return fake(config, run_dir, resume, data, verbose)

    monkeypatch.setattr(figure3, "run_classification", interrupted)
    with pytest.raises(KeyboardInterrupt):
        figure3.run_figure3(["embedded-radio"], sweep_dir, targets=[1.0], transforms=["dct"],
                            seeds=[0, 1], verbose=0, max_examples=64, epochs=1, batch_size=32)
    rows = read_csv(sweep_dir / "results.csv")
    assert [(r["transform"], r["seed"]) for r in rows] == [("fixed", 0), ("fixed", 1), ("dct", 1)]
    summary = read_csv(sweep_dir / "summary.csv")
    assert [(s["transform"], s["runs"]) for s in summary] == [("fixed", 2), ("dct", 1)]


def test_a_run_another_process_trains_is_skipped_and_named(
        tmp_path, monkeypatch, capsys, run_locked_elsewhere):
    trained = []
    fake = _fake_classification(trained)

    def locking(config, run_dir, resume=False, data=None, verbose=1):
        with RunDirectory(run_dir).training_lock():  # as the real job does
            return fake(config, run_dir, resume, data, verbose)

    monkeypatch.setattr(figure3, "run_classification", locking)
    sweep_dir = tmp_path / "figure3"
    busy = RunDirectory(sweep_dir / "embedded-radio" / "dct-p1.0000")
    options = dict(targets=[1.0], transforms=["dct"], seeds=[0, 1], verbose=0, max_examples=64,
                   epochs=1, batch_size=32)
    with run_locked_elsewhere(busy.path):
        figure3.run_figure3(["embedded-radio"], sweep_dir, **options)
    assert trained == [("fixed", None, 0), ("fixed", None, 1), ("dct", 1.0, 1)]
    out = capsys.readouterr().out
    assert "1 run(s) were being trained by another process" in out and str(busy.path) in out
    rows = read_csv(sweep_dir / "results.csv")
    assert [(r["transform"], r["seed"]) for r in rows] == [("fixed", 0), ("fixed", 1), ("dct", 1)]
    figure3.run_figure3(["embedded-radio"], sweep_dir, **options)
    assert trained[3:] == [("dct", 1.0, 0)]
    assert len(read_csv(sweep_dir / "results.csv")) == 4
