"""The comparators of issue 11 in the classification harness: `classify
--model ...` (config, and one tiny run in a fresh process), and their rows
in the Figure 3 sweep, which a sweep claimed without them accepts as an
explicit extension (training replaced by a fake, so nothing is trained
there)."""

import json
import os
import subprocess
import sys

import pytest

from training import cli
from training.classification import figure3
from training.classification import plots
from training.classification.comparators import MODELS
from training.classification.config import ClassifyConfig
from training.classification.config import resolve_config
from training.classification.job import ClassificationExperiment
from training.classification.job import realised_complexity
from training.common.run_directory import read_csv

ENV = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_models_resolve_with_their_targets_and_labels():
    diffstride = resolve_config("embedded-images", model="diffstride")
    assert (diffstride.method, diffstride.transform, diffstride.target_budget) == (
        "diffstride", None, 0.5)
    assert diffstride.learns_rate and diffstride.width == 4
    spectral = resolve_config("embedded-images", model="spectral", target_budget=0.25)
    assert (spectral.method, spectral.target_budget, spectral.learns_rate) == (
        "spectral", None, False)
    hybrid = resolve_config("cifar100", model="hybrid-pre-bn", target_budget=0.1)
    assert (hybrid.method, hybrid.target_budget, hybrid.epochs) == ("hybrid-pre-bn", 0.1, 80)
    resolution = resolve_config("embedded-images", transform="fixed")
    assert (resolution.model, resolution.method, resolution.learns_rate) == (
        "resolution", "fixed", False)
    # A config.json written before `model` existed is a Resolution run.
    old = resolve_config("embedded-radio", transform="dct", target_budget=0.25).to_dict()
    del old["model"]
    assert ClassifyConfig(**old).method == "dct"
    with pytest.raises(ValueError, match="--model diffstride is a ResNet-18.*embedded-radio"):
        resolve_config("embedded-radio", model="diffstride")
    with pytest.raises(ValueError, match="--model must be one of"):
        resolve_config("embedded-images", model="maxpool")
    assert cli.CLASSIFICATION_MODELS == MODELS


@pytest.mark.parametrize(
    "name, c_full, c_initial",
    [
        ("diffstride", 216.0, 188.0),  # 32 px: 32 -> 32 -> 24 -> 20 -> 18
        ("spectral", 176.0, 120.0),  # 32 -> 32 -> 16 -> 8 -> 4
        ("hybrid", 252.0, 205.0),  # and the head's 18x18 -> 8x9
        ("hybrid-pre-bn", 252.0, 205.0),
    ],
)
def test_the_job_builds_and_measures_each_comparator(name, c_full, c_initial, tiny_images):
    config = resolve_config("embedded-images", model=name, width=2, max_examples=64)
    experiment = ClassificationExperiment(config, data=tiny_images, verbose=0)
    assert experiment.c_full == c_full and experiment.c_base == 56.0
    assert f"resnet18 / {name} on" in experiment.describe()
    model = experiment.build_model()
    assert model.compiled and model.name.startswith("resnet18_")
    measured = realised_complexity(model, config, experiment.c_full)
    assert measured["complexity"] == c_initial
    assert measured["complexity_fraction"] == pytest.approx(c_initial / c_full)
    logs = experiment.epoch_columns(model)
    assert logs["size/stage4_" + ("spectral" if name == "spectral" else "diffstride") + "/h"] == (
        4 if name == "spectral" else 18)
    assert ("stride/stage2_diffstride/h" in logs) == (name != "spectral")
    assert (experiment.callbacks(model) != []) and config.learns_rate == (name != "spectral")


@pytest.mark.slow  # about 90 s on 2 shared cores: tracing the DiffStride ResNet's graphs
def test_classify_model_diffstride_in_a_fresh_process(tmp_path):
    run_dir = tmp_path / "diffstride"
    argv = ["classify", "--model", "diffstride", "--data", "embedded-images",
            "--target-budget", "0.5", "--max-examples", "64", "--epochs", "1",
            "--batch-size", "32", "--width", "2", "--quiet", "--run-dir", str(run_dir)]
    done = subprocess.run([sys.executable, "-m", "training", *argv], capture_output=True,
                          text=True, env=ENV, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["model"], config["transform"], config["width"]) == ("diffstride", None, 2)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["transform"] == "diffstride" and results["model"] == "diffstride"
    assert results["complexity_full"] == 216.0  # 32x32 images, any width
    assert set(results["sizes"]) == {"stem", "stage2", "stage3", "stage4"}
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert results["complexity_fraction"] == pytest.approx(results["complexity"] / 216.0)
    rows = read_csv(run_dir / "results.csv")
    assert rows[0]["stride/stage2_diffstride/h"] != 2.0  # the stride learned in one epoch
    assert (run_dir / "plots" / "sizes.png").exists()


def test_transform_is_refused_with_a_comparator_model(tmp_path, capsys):
    code = cli.main(["classify", "--model", "spectral", "--transform", "dft", "--run-dir",
                     str(tmp_path / "run")])
    assert code == 2 and "--transform applies to --model resolution" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_figure3_methods_extend_a_sweep_claimed_without_them(tmp_path, monkeypatch, fake_figure3_runs, capsys):
    trained = fake_figure3_runs
    plotted = []  # the plot is drawn once, at the end, with every row
    monkeypatch.setattr(figure3, "plot_figure3", lambda *args: plotted.append(args))
    sweep_dir = tmp_path / "figure3"
    old = ["sweep", "figure3", "--data", "embedded-images,embedded-radio", "--targets", "0.5",
           "--transforms", "dct", "--width", "2", "--max-examples", "64", "--quiet",
           "--sweep-dir", str(sweep_dir)]  # fmt: skip
    assert cli.main(old) == 0
    base = round(56 / 192, 4)  # the Resolution ResNet-18's C_base / C_full
    old_rows = [("embedded-images", "fixed", None), ("embedded-images", "dct", base),
                ("embedded-images", "dct", 0.5), ("embedded-radio", "fixed", None),
                ("embedded-radio", "dct", 0.5), ("embedded-radio", "dct", 1.0)]
    assert trained == old_rows
    assert "methods" not in json.loads((sweep_dir / "sweep.json").read_text())

    new = old + ["--methods", "diffstride", "spectral"]
    assert cli.main(new) == 0
    # Only the new rows are trained, on the image data only.
    assert trained[6:] == [("embedded-images", "diffstride", base),
                           ("embedded-images", "diffstride", 0.5),
                           ("embedded-images", "spectral", None)]
    assert json.loads((sweep_dir / "sweep.json").read_text())["methods"] == [
        "diffstride", "spectral"]
    rows = read_csv(sweep_dir / "results.csv")
    assert [(r["data"], r["transform"], r["target_budget"]) for r in rows] == [
        old_rows[0], old_rows[1], old_rows[2], *trained[6:], *old_rows[3:]]
    assert sorted(p.name for p in (sweep_dir / "embedded-images").iterdir()) == [
        "dct-p0.2917", "dct-p0.5000", "diffstride-p0.2917", "diffstride-p0.5000", "fixed",
        "spectral"]  # fmt: skip
    summary = read_csv(sweep_dir / "summary.csv")
    assert ("embedded-images", "spectral") in [(s["data"], s["transform"]) for s in summary]
    assert "spectral" in (sweep_dir / "summary.txt").read_text()

    capsys.readouterr()
    assert cli.main(old) == 2  # would drop the methods' rows: other settings
    assert "other settings" in capsys.readouterr().err
    more = new + ["hybrid"]
    assert cli.main(more) == 0  # a further method is another accepted extension
    assert [row[1] for row in trained[9:]] == ["hybrid", "hybrid"]
    summary, path, rows = plotted[-1]
    plots.plot_figure3(summary, path, rows)
    assert path.stat().st_size > 10_000 and len(rows) == 6 + 3 + 2


def test_diffstride_methods_skip_the_targets_under_their_floor(tmp_path, fake_figure3_runs):
    # DiffStride's floor is 0.37 C_full (0.35 for the hybrids): p* = 0.1 and
    # 0.25 would end where p* = 0.2917 ends, so only that one runs.
    trained = fake_figure3_runs
    command = ["sweep", "figure3", "--data", "embedded-images", "--targets", "0.1", "0.25",
               "0.5", "--transforms", "dct", "--width", "2", "--max-examples", "64", "--quiet",
               "--methods", "diffstride", "hybrid-pre-bn", "spectral",
               "--sweep-dir", str(tmp_path / "figure3")]  # fmt: skip
    assert cli.main(command) == 0
    base = round(56 / 192, 4)
    assert [(method, p) for _, method, p in trained] == [
        ("fixed", None), ("dct", 0.1), ("dct", 0.25), ("dct", base), ("dct", 0.5),
        ("diffstride", base), ("diffstride", 0.5),
        ("hybrid-pre-bn", base), ("hybrid-pre-bn", 0.5), ("spectral", None)]


def test_unknown_or_repeated_methods_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="--methods"):
        figure3.check_methods(["diffstride", "diffstride"])
    with pytest.raises(SystemExit) as exit_info:  # argparse: not a choice
        cli.main(["sweep", "figure3", "--methods", "maxpool", "--sweep-dir",
                  str(tmp_path / "s")])
    assert exit_info.value.code == 2 and "invalid choice: 'maxpool'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
