"""Command line: classify, resume, the Figure 3 sweep, and bad input."""

import argparse
import re
import json

import pytest

from training.classification.cli import add_classify_parser
from training.classification.cli import add_figure3_arguments
from training.classification.cli import _options
from training.classification.cli import main
from training.common.run_directory import read_csv

SMALL = ["--max-examples", "64", "--epochs", "1", "--batch-size", "32", "--quiet"]


def test_classify_writes_a_complete_run_directory_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "radio"
    argv = ["classify", "--data", "embedded-radio", "--transform", "dft",
            "--target-budget", "0.25", "--run-dir", str(run_dir)]  # fmt: skip
    assert main(argv + SMALL) == 0
    names = ("config.json", "state.json", "results.csv", "final.json", "last.keras",
             "best.keras", "plots/training.png", "plots/sizes.png",
             "plots/per_snr.png")  # fmt: skip
    for name in names:
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["transform"] == "dft" and config["config"]["target_budget"] == 0.25
    assert config["complexity_full"] == 7 * 128
    final = json.loads((run_dir / "final.json").read_text())
    assert 0 <= final["test_accuracy"] <= 1 and len(final["per_snr"]) > 1
    assert [row["epoch"] for row in read_csv(run_dir / "results.csv")] == [1]

    assert main(argv + SMALL) == 2  # never overwrites a run
    assert "--resume" in capsys.readouterr().err
    assert main(["classify", "--resume", str(run_dir)]) == 0  # finished: prints its summary
    assert "already finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target-budget", "1.5"], r"p\* must lie in \(0, 1\]"),
        (["--target-budget", "0"], r"p\* must lie in \(0, 1\]"),
        (["--transform", "wavelet"], "Unknown transform 'wavelet'"),
        (["--data", "mnist"], "Unknown --data 'mnist'"),
        (["--data", "radioml:/no/such/file.hdf5"], "RadioML file not found: /no/such/file.hdf5"),
    ],
)
def test_bad_input_exits_with_a_clear_message(argv, message, tmp_path, capsys):
    assert main(["classify", "--run-dir", str(tmp_path / "run")] + argv + SMALL) == 2
    assert re.search(message, capsys.readouterr().err)


def test_figure3_sweep_writes_table_and_plot(tmp_path):
    sweep_dir = tmp_path / "figure3"
    argv = ["sweep", "--figure3", "--data", "embedded-radio", "--targets", "1.0",
            "--transforms", "dct", "--run-dir", str(sweep_dir)] + SMALL  # fmt: skip
    assert main(argv) == 0
    rows = read_csv(sweep_dir / "results.csv")
    # The baseline, then p* = 1 which is also C_base / C_full (the 1D CNN's
    # baseline does not resize), trained once.
    assert [(r["transform"], r["target_budget"]) for r in rows] == [("fixed", None), ("dct", 1.0)]
    assert rows[0]["complexity_fraction"] == 1.0 and rows[1]["base_budget"] == "True"
    assert (sweep_dir / "plots" / "figure3.png").stat().st_size > 10_000
    assert main(argv) == 2  # an existing sweep needs --resume
    assert main(argv + ["--resume"]) == 0  # everything finished: nothing retrained
    assert len(read_csv(sweep_dir / "results.csv")) == 2


def test_the_main_cli_can_register_both_entry_points():
    """`python -m training` registers classify, and adds --figure3 to its own
    sweep parser, which may already define --data, --epochs, --run-dir, ..."""
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    add_classify_parser(subparsers)
    sweep = subparsers.add_parser("sweep")
    sweep.add_argument("--table1", action="store_true")
    sweep.add_argument("--data", default="embedded")
    sweep.add_argument("--epochs", type=int)
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--scale-learning-rate-factor", type=float, default=1.0)  # detection's
    add_figure3_arguments(sweep)
    args = parser.parse_args(["sweep", "--figure3", "--targets", "0.1", "0.5", "--epochs", "2"])
    assert args.figure3 and args.targets == [0.1, 0.5] and args.epochs == 2
    assert args.run_dir is None and args.resume is False  # added by add_figure3_arguments
    # Options left at the detection defaults mean "the classification default".
    options = _options(args)
    assert options["scale_learning_rate_factor"] is None and options["epochs"] == 2
    args = parser.parse_args(["sweep", "--figure3", "--scale-learning-rate-factor", "3"])
    assert _options(args)["scale_learning_rate_factor"] == 3.0
    args = parser.parse_args(["classify", "--data", "embedded-radio", "--target-budget", "0.1"])
    assert args.func.__name__ == "run_classify"
