"""Command line of the classification experiment: classify, resume, evaluate,
the Figure 3 sweep, and bad input (in-process through `training.cli.main`;
tests/training/test_cli_fresh_process.py runs the same in new interpreters)."""

import json
import re

import pytest

from training.cli import main
from training.common.run_directory import read_csv

SMALL = ["--max-examples", "64", "--epochs", "1", "--batch-size", "32", "--quiet"]


def test_classify_writes_a_complete_run_directory_and_refuses_to_overwrite(tmp_path, capsys):
    run_dir = tmp_path / "radio"
    argv = ["classify", "--data", "embedded-radio", "--transform", "dft",
            "--target-budget", "0.25", "--run-dir", str(run_dir)]  # fmt: skip
    assert main(argv + SMALL) == 0
    names = ("config.json", "state.json", "results.csv", "results.json", "summary.txt",
             "last.keras", "best.keras", "plots/training.png", "plots/sizes.png",
             "plots/per_snr.png")  # fmt: skip
    for name in names:
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["experiment"] == "classification"
    assert config["config"]["transform"] == "dft" and config["config"]["target_budget"] == 0.25
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complexity_full"] == 7 * 128
    assert 0 <= results["test_accuracy"] <= 1 and len(results["per_snr"]) > 1
    assert [row["epoch"] for row in read_csv(run_dir / "results.csv")] == [1]

    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*") if path.is_file()}
    capsys.readouterr()
    assert main(argv + SMALL) == 2  # never overwrites a run
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--resume" in error and str(run_dir) in error
    assert before == {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")
                      if path.is_file()}  # fmt: skip
    assert main(["classify", "--resume", str(run_dir)]) == 0  # finished: prints its summary
    assert "already finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target-budget", "1.5"], r"--target-budget \(p\*\) must lie in \(0, 1\]"),
        (["--target-budget", "0"], r"--target-budget must be > 0"),
        (["--epochs", "0"], r"--epochs must be an integer >= 1, got 0"),
        (["--data", "mnist"], "Unknown --data 'mnist'"),
        (["--data", "radioml:/no/such/file.hdf5"], "RadioML file not found: /no/such/file.hdf5"),
    ],
)
def test_bad_input_exits_with_one_clear_line(argv, message, tmp_path, capsys):
    code = main(["classify", "--run-dir", str(tmp_path / "run")] + SMALL + argv)
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and re.search(message, error), error
    assert not (tmp_path / "run").exists()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="--epochs"):
        main(["classify", "--debug", "--run-dir", str(tmp_path / "run"), "--epochs", "0"])


def test_figure3_sweep_writes_table_and_plot_and_continues(tmp_path, capsys):
    sweep_dir = tmp_path / "figure3"
    argv = ["sweep", "figure3", "--data", "embedded-radio", "--targets", "1.0",
            "--transforms", "dct", "--sweep-dir", str(sweep_dir)] + SMALL  # fmt: skip
    assert main(argv) == 0
    rows = read_csv(sweep_dir / "results.csv")
    # The baseline, then p* = 1 which is also C_base / C_full (the 1D CNN's
    # baseline does not resize), trained once.
    assert [(r["transform"], r["target_budget"]) for r in rows] == [("fixed", None), ("dct", 1.0)]
    assert rows[0]["complexity_fraction"] == 1.0 and rows[1]["base_budget"] == "True"
    assert [r["seed"] for r in rows] == [0, 0]
    assert (sweep_dir / "plots" / "figure3.png").stat().st_size > 10_000
    # One seed: means without intervals, and the paired difference of the one pair.
    summary = read_csv(sweep_dir / "summary.csv")
    assert [(s["transform"], s["runs"]) for s in summary] == [("fixed", 1), ("dct", 1)]
    assert summary[0]["test_accuracy_mean"] == pytest.approx(rows[0]["test_accuracy"])
    assert summary[0]["test_accuracy_ci_low"] is None and summary[0]["accuracy_diff_mean"] is None
    assert summary[1]["accuracy_diff_mean"] == pytest.approx(
        rows[1]["test_accuracy"] - rows[0]["test_accuracy"])
    assert summary[1]["pairs"] == 1 and summary[1]["accuracy_diff_ci_low"] is None
    text = (sweep_dir / "summary.txt").read_text()
    assert text.startswith("data") and "accuracy 95% CI" in text and "Student-t" in text
    assert sorted(p.name for p in (sweep_dir / "embedded-radio").iterdir()) == [
        "dct-p1.0000", "fixed"]  # seed 0 keeps the one-seed layout
    mtime = (sweep_dir / "embedded-radio" / "fixed" / "last.keras").stat().st_mtime_ns
    assert main(argv) == 0  # the same sweep again: everything finished, nothing retrained
    assert (sweep_dir / "embedded-radio" / "fixed" / "last.keras").stat().st_mtime_ns == mtime
    assert len(read_csv(sweep_dir / "results.csv")) == 2
    capsys.readouterr()
    assert main(argv[:-len(SMALL)] + ["--epochs", "2", "--quiet"]) == 2  # other settings
    assert "other settings" in capsys.readouterr().err
