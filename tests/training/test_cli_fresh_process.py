"""Every README command in a fresh interpreter, as a user types it.

Each `python -m training ...` runs in a new process, so a checkpoint is
loaded before anything imported `detection` or the classifiers (the crash
of issue 9 that in-process tests could not see).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from voc_fixtures import GOOD_CLASSES
from voc_fixtures import write_defective_voc

from training.common.run_directory import RunDirectory
from training.common.run_directory import read_csv
from training.common.run_loop import BatchCheckpoint
from training.detection.config import DetectionConfig
from training.detection.job import train_detection

ENV = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def tiny(backbone_weights):
    """The options of a tiny run (the class list last): the VOC recipe, its
    backbone frozen, at 32 px."""
    return ["--image-size", "32", "--batch-size", "4", "--weights", backbone_weights,
            "--classes", ",".join(GOOD_CLASSES)]  # fmt: skip


def cli(*argv, timeout=600):
    """Runs `python -m training ARGV` in a new interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "training", *map(str, argv)],
        capture_output=True, text=True, env=ENV, timeout=timeout,
    )  # fmt: skip


def kill_after_checkpoint(patch, epoch, batch):
    """Makes the run loop raise KeyboardInterrupt, as a killed process stops,
    right after the checkpoint of `batch` (0-based) of `epoch` (0-based)."""
    original = BatchCheckpoint.on_train_batch_end

    def killed(self, done, logs=None):
        original(self, done, logs)
        if self.epoch == epoch and done == batch:
            raise KeyboardInterrupt("killed")

    patch.setattr(BatchCheckpoint, "on_train_batch_end", killed)


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return write_defective_voc(tmp_path_factory.mktemp("voc"), batch_size=4)


@pytest.fixture(scope="module")
def trained(voc, tiny, tmp_path_factory):
    """One epoch of a Resolution YOLOv8 on the defective VOC directory:
    (run directory, the finished process)."""
    run_dir = tmp_path_factory.mktemp("runs") / "r1"
    done = cli("train", "--data", voc.directory, *tiny, "--epochs", "1", "--run-dir", run_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done


@pytest.fixture(scope="module")
def finished_run(trained):
    return trained[0]


def test_defects_are_reported_once_and_the_documented_images_kept(voc, trained):
    _, done = trained
    expected = f"{len(voc.train_ids)} training images (trainval), {len(voc.eval_ids)} evaluation"
    assert expected in done.stdout
    for kind, count in voc.problem_counts.items():
        assert done.stderr.count(f"{kind}: {count}") == 1, (kind, done.stderr[-3000:])
    assert "tag_says_png" in done.stderr and "Traceback" not in done.stderr


def test_train_then_evaluate_then_resume_a_finished_run(finished_run):
    results = json.loads((finished_run / "results.json").read_text())
    last_row = read_csv(finished_run / "results.csv")[-1]
    assert results["map50"] == pytest.approx(last_row["map50"], abs=1e-9)

    evaluated = cli("evaluate", finished_run, "--checkpoint", "last")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    printed = dict(line.split(None, 1) for line in evaluated.stdout.splitlines()
                   if line.startswith(("map50 ", "panet_complexity ")))  # fmt: skip
    assert float(printed["map50"]) == pytest.approx(last_row["map50"], abs=5e-5)
    assert float(printed["panet_complexity"]) == pytest.approx(results["panet_complexity"], rel=1e-3)

    resumed = cli("train", "--resume", finished_run)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already finished" in resumed.stdout


def test_train_into_an_existing_run_directory_is_refused_and_changes_nothing(voc, tiny,
                                                                             finished_run):
    before = {p: p.stat().st_mtime_ns for p in finished_run.rglob("*") if p.is_file()}
    refused = cli("train", "--data", voc.directory, *tiny, "--epochs", "1",
                  "--run-dir", finished_run)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(f"error: {finished_run} already")
    assert "--resume" in refused.stderr and "Traceback" not in refused.stderr
    assert before == {p: p.stat().st_mtime_ns for p in finished_run.rglob("*") if p.is_file()}


@pytest.mark.slow  # 4-5 min; CI covers fresh-process loading by `evaluate` and classification
def test_a_killed_resolution_run_resumes_in_a_new_process_to_the_same_end(voc, tmp_path,
                                                                          monkeypatch):
    config = DetectionConfig(
        data=str(voc.directory), classes=",".join(GOOD_CLASSES), image_size=32, batch_size=4,
        epochs=2, freeze_backbone=False, eval_every=2, checkpoint_every=1,
    )  # fmt: skip
    reference = train_detection(config, tmp_path / "reference", verbose=0)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        kill_after_checkpoint(patch, epoch=1, batch=0)
        train_detection(config, tmp_path / "killed", verbose=0)
    state = RunDirectory(tmp_path / "killed").read_state()
    assert (state.epochs_done, state.batches_done, state.finished) == (1, 1, False)

    resumed = cli("train", "--resume", tmp_path / "killed", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["map50"] == pytest.approx(reference["map50"], abs=1e-4)
    assert results["panet_complexity"] == pytest.approx(reference["panet_complexity"], rel=1e-6)
    assert [row["epoch"] for row in read_csv(tmp_path / "killed" / "results.csv")] == [1, 2]


def test_defective_voc_through_the_cli(tiny, tmp_path):
    fewer = write_defective_voc(tmp_path / "few", batch_size=4, fewer_than_batch=True)
    done = cli("train", "--data", fewer.directory, *tiny, "--run-dir", tmp_path / "few-run")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"error: {fewer.error}"
    assert not (tmp_path / "few-run").exists()  # stopped before any model or run directory

    voc = write_defective_voc(tmp_path / "voc", batch_size=4)
    strict = cli("train", "--data", voc.directory, *tiny, "--strict", "--run-dir", tmp_path / "s")
    assert strict.returncode == 2
    assert strict.stderr.strip().splitlines()[-1] == f"error: {voc.strict_error}"

    unknown = cli("train", "--data", voc.directory, *tiny[:-1], "dog,dog", "--run-dir",
                  tmp_path / "u")  # fmt: skip (the last of `tiny` is the class list)
    assert unknown.returncode == 2 and "--classes" in unknown.stderr.splitlines()[-1]


def test_classification_train_evaluate_resume_in_fresh_processes(tmp_path, monkeypatch):
    small = ["--max-examples", "64", "--epochs", "2", "--batch-size", "32", "--quiet"]
    argv = ["classify", "--data", "embedded-radio", "--target-budget", "0.5",
            "--checkpoint-every", "1", *small]  # fmt: skip
    done = cli(*argv, "--run-dir", tmp_path / "reference")
    assert done.returncode == 0, done.stderr[-3000:]
    reference = json.loads((tmp_path / "reference" / "results.json").read_text())

    evaluated = cli("evaluate", tmp_path / "reference", "--checkpoint", "last")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    line = next(line for line in evaluated.stdout.splitlines() if line.startswith("test_accuracy"))
    assert float(line.split()[1]) == pytest.approx(reference["test_accuracy"], abs=1e-4)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        kill_after_checkpoint(patch, epoch=1, batch=0)
        from training.classification.config import resolve_config
        from training.classification.job import run_classification

        config = resolve_config("embedded-radio", target_budget=0.5, max_examples=64, epochs=2,
                                batch_size=32, checkpoint_every=1)  # fmt: skip
        run_classification(config, tmp_path / "killed", verbose=0)
    assert RunDirectory(tmp_path / "killed").read_state().batches_done == 1
    resumed = cli("classify", "--resume", tmp_path / "killed", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["test_accuracy"] == pytest.approx(reference["test_accuracy"], abs=1e-6)
    assert results["sizes"] == reference["sizes"]

    # The records without the checkpoints, as a clone of docs/runs has them.
    kept = tmp_path / "kept"
    shutil.copytree(tmp_path / "reference", kept, ignore=shutil.ignore_patterns("*.keras"))
    rebuilt = cli("rebuild", kept)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert "checkpoints restored" in rebuilt.stdout
    import keras

    import keras_resolution.applications  # noqa: F401 (registers the classifiers' layers)

    for name in ("best.keras", "last.keras"):
        models = [keras.saving.load_model(path / name) for path in (tmp_path / "reference", kept)]
        for a, b in zip(*(model.weights for model in models)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow  # two runs of the README main command: about 25 min on 2 cores
def test_the_readme_main_command_twice_gives_the_same_map(tmp_path):
    maps = []
    for name in ("first", "second"):
        done = cli("train", "--data", "embedded", "--quiet", "--run-dir", tmp_path / name,
                   timeout=3600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        maps.append(json.loads((tmp_path / name / "results.json").read_text())["map50"])
    assert round(maps[0], 4) == round(maps[1], 4) and maps[0] == maps[1]
