"""Checkpoints of a kept run restored by training it again: the moves, the
record check, resumption, and where the harness asks for it (SRF-GAN's
stages, the Table 1 sweep, the CLI). The real retraining of a run is checked
bit for bit in tests/classification/test_classification_resume.py."""

import dataclasses
import json

import pytest

from training.cli import main
from training.common.checkpoint_rebuild import RebuildMismatchError
from training.common.checkpoint_rebuild import missing_checkpoints
from training.common.checkpoint_rebuild import rebuild_checkpoints
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import atomic_write_csv
from training.detection.config import DetectionConfig

ROWS = [{"epoch": 1, "loss": 2.5, "map50": float("nan"), "seconds": 10.0},
        {"epoch": 2, "loss": 1.25, "map50": 0.5, "seconds": 11.0}]
RESULTS = {"map50": 0.5, "per_class": {"a": 0.25}, "train_seconds": 21.0, "run_dir": "kept"}


def _write_run(path, rows=ROWS, results=RESULTS, finished=True, checkpoints=False):
    run = RunDirectory(path)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config({"experiment": "detection", "config": {"seed": 3}})
    atomic_write_csv(run.results_csv, rows)
    run.results_json.write_text(json.dumps(results))
    run.write_state(RunState(epochs_done=len(rows), finished=finished))
    if checkpoints:
        run.best_checkpoint.write_bytes(b"best")
        run.last_checkpoint.write_bytes(b"last")
    return run


def _trainer(calls, rows=ROWS, results=RESULTS):
    """A stand-in for a training job: writes `rows`, `results` and two
    checkpoints in the directory it is given (other wall times and path)."""

    def train(directory):
        calls.append(directory)
        assert RunDirectory(directory).read_config() == ("detection", {"seed": 3})
        again = [{**row, "seconds": row["seconds"] + 1} for row in rows]
        _write_run(directory, again, {**results, "train_seconds": 99.0,
                                      "run_dir": str(directory)}, checkpoints=True)

    return train


def test_records_added_since_the_kept_run_are_not_differences(tmp_path):
    run = _write_run(tmp_path / "run")
    rows = [{**row, "panet_flops": 2.0} for row in ROWS]
    rebuild_checkpoints(run.path, _trainer([], rows, {**RESULTS, "new": 1}), verbose=0)
    assert run.best_checkpoint.exists()


def test_a_kept_run_gets_the_retrained_runs_checkpoints(tmp_path):
    run = _write_run(tmp_path / "run")
    assert missing_checkpoints(run.path)
    calls = []
    assert rebuild_checkpoints(run.path, _trainer(calls), verbose=0) == run.best_checkpoint
    assert calls == [run.path / "rebuild"]
    assert run.best_checkpoint.read_bytes() == b"best"
    assert run.last_checkpoint.read_bytes() == b"last"
    assert not (run.path / "rebuild").exists()
    assert not missing_checkpoints(run.path)
    # The kept records are untouched (their wall times included).
    assert json.loads(run.results_json.read_text()) == RESULTS
    # Nothing to do a second time.
    assert rebuild_checkpoints(run.path, _trainer(calls), verbose=0) == run.best_checkpoint
    assert len(calls) == 1


@pytest.mark.parametrize("where, rows, results", [
    ("results.json map50: kept 0.5, retrained 0.51", ROWS, {**RESULTS, "map50": 0.51}),
    ("results.json per_class: kept {'a': 0.25}, retrained {'a': 0.26}", ROWS,
     {**RESULTS, "per_class": {"a": 0.26}}),
    ("results.csv row 1 map50: kept nan, retrained 0.0", [{**ROWS[0], "map50": 0.0}, ROWS[1]],
     RESULTS),
    ("results.csv rows: kept 2, retrained 1", ROWS[:1], RESULTS),
    ("results.json map50: kept 0.5, retrained None", ROWS,
     {key: value for key, value in RESULTS.items() if key != "map50"}),
])
def test_a_retrained_run_with_other_records_moves_nothing(tmp_path, where, rows, results):
    run = _write_run(tmp_path / "run")
    with pytest.raises(RebuildMismatchError, match=f"run: the retrained run differs from the kept "
                                                   f"one \\({where}\\)"):
        rebuild_checkpoints(run.path, _trainer([], rows, results), verbose=0)
    assert not run.best_checkpoint.exists() and not run.last_checkpoint.exists()
    assert (run.path / "rebuild" / "best.keras").exists()  # kept for inspection


def test_an_interrupted_rebuild_continues_in_the_same_directory(tmp_path):
    run = _write_run(tmp_path / "run")
    seen = []

    def killed(directory):
        seen.append(sorted(path.name for path in directory.iterdir()))
        RunDirectory(directory).write_state(RunState(epochs_done=1))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild_checkpoints(run.path, killed, verbose=0)
    calls = []
    train = _trainer(calls)

    def resumed(directory):
        seen.append(sorted(path.name for path in directory.iterdir()))
        train(directory)

    rebuild_checkpoints(run.path, resumed, verbose=0)
    assert seen == [["config.json"], ["config.json", "state.json"]]
    assert run.best_checkpoint.read_bytes() == b"best"


def test_only_finished_runs_are_rebuilt(tmp_path):
    run = _write_run(tmp_path / "run", finished=False)
    assert not missing_checkpoints(run.path)
    with pytest.raises(ValueError, match=f"{run.path}: not a finished run"):
        rebuild_checkpoints(run.path, _trainer([]), verbose=0)
    assert not (run.path / "rebuild").exists()


def test_a_kept_run_names_the_rebuild_command(tmp_path):
    run = _write_run(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="restore it with python -m training rebuild"):
        run.checkpoint("best")
    unfinished = _write_run(tmp_path / "unfinished", finished=False)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint \(last.keras\)\.$"):
        unfinished.checkpoint("last")


def test_the_cli_refuses_an_unfinished_run_in_one_line(tmp_path, capsys):
    run = _write_run(tmp_path / "run", finished=False)
    assert main(["rebuild", str(run.path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"{run.path}: not a finished run" in error


def test_the_cli_leaves_a_run_with_its_checkpoints_and_its_sources_alone(
        tmp_path, monkeypatch, capsys):
    from training.detection import srf_stages

    monkeypatch.setattr(srf_stages, "restore_sources", lambda *args, **kwargs: 1 / 0)
    baseline = _detection_run(tmp_path / "baseline")  # kept, without checkpoints
    stage1 = _detection_run(tmp_path / "stage1", model="srf", srf_stage=1,
                            srf_target=str(baseline.path))
    for checkpoint in (stage1.best_checkpoint, stage1.last_checkpoint):
        checkpoint.write_bytes(b"")
    assert main(["rebuild", str(stage1.path)]) == 0
    assert "its checkpoints are here; nothing to rebuild" in capsys.readouterr().out
    assert missing_checkpoints(baseline.path)


# ------------------------------------------------- SRF-GAN's stages
def _detection_run(path, finished=True, **config):
    run = RunDirectory(path)
    run.path.mkdir(parents=True)
    run.write_config({"experiment": "detection",
                      "config": dataclasses.asdict(DetectionConfig(**config))})
    run.results_json.write_text("{}")
    run.write_state(RunState(epochs_done=1, finished=finished))
    return run


def test_a_stage_restores_its_sources_baseline_first(tmp_path, monkeypatch):
    from training.detection import srf_stages

    baseline = _detection_run(tmp_path / "baseline")
    stage1 = _detection_run(tmp_path / "stage1", model="srf", srf_stage=1,
                            srf_target=str(baseline.path))
    rebuilt = []

    def rebuild(run_dir, train, verbose=1):
        rebuilt.append(run_dir)
        RunDirectory(run_dir).best_checkpoint.write_bytes(b"")
        RunDirectory(run_dir).last_checkpoint.write_bytes(b"")

    monkeypatch.setattr(srf_stages, "rebuild_checkpoints", rebuild)
    stage3 = DetectionConfig(model="srf", srf_stage=3, srf_generators=str(stage1.path))
    with pytest.raises(ValueError, match=f"--srf-generators {stage1.path}: the run's records "
                                         "were kept without its checkpoints; restore them "
                                         f"with python -m training rebuild {stage1.path}"):
        srf_stages.finished_run(stage1.path, "--srf-generators", srf_stages.STAGE1_RUN)
    srf_stages.restore_sources(stage3, verbose=0)
    assert rebuilt == [str(baseline.path), str(stage1.path)]
    srf_stages.restore_sources(stage3, verbose=0)  # all there now
    baseline.last_checkpoint.unlink()  # a stage loads best.keras only
    assert missing_checkpoints(baseline.path)
    assert not missing_checkpoints(baseline.path, which=("best",))
    srf_stages.restore_sources(stage3, verbose=0)
    srf_stages.restore_sources(DetectionConfig(), verbose=0)  # no sources
    assert len(rebuilt) == 2
    assert srf_stages.finished_run(stage1.path, "--srf-generators", srf_stages.STAGE1_RUN)


def test_the_table1_sweep_restores_sources_of_pending_stages_only(
        tmp_path, monkeypatch, fake_detection_training):
    from training.detection import srf_stages
    from training.detection import table1

    results = {"map50": 0.5, "panet_complexity": 1.0, "panet_flops": 2.0, "trainable_params": 3}
    trained = fake_detection_training(lambda config: results,
                                      lambda config: (config.model, config.srf_stage))
    restored = []
    monkeypatch.setattr(srf_stages, "restore_sources",
                        lambda config, verbose=1: restored.append(config.srf_stage))
    table1.run_table1(DetectionConfig(), [0], [], tmp_path, verbose=0, upsamplers=["srf"])
    assert trained == [("baseline", None), ("srf", 1), ("srf", 3)]
    assert restored == [1, 3]
    table1.run_table1(DetectionConfig(), [0], [], tmp_path, verbose=0, upsamplers=["srf"])
    assert restored == [1, 3]  # every stage finished: nothing to restore


def test_a_moved_sweep_finds_each_runs_sources_beside_it(tmp_path, monkeypatch):
    """Runs record their sources' absolute paths; in a sweep moved or cloned
    elsewhere those hold nothing, and the runs of the same names beside the
    run are used (resume, rebuild, restore)."""
    from training.detection import job
    from training.detection import srf_stages

    kept = tmp_path / "kept"
    baseline = _detection_run(kept / "baseline_seed0")
    stage1 = _detection_run(kept / "srf_stage1_seed0", model="srf", srf_stage=1,
                            srf_target=str(baseline.path))
    _detection_run(kept / "srf_seed0", finished=False, model="srf", srf_stage=3,
                   srf_generators=str(stage1.path))
    clone = tmp_path / "clone"
    kept.rename(clone)
    stage3 = srf_stages.source_config(clone / "srf_seed0")
    assert stage3.srf_generators == str(clone / "srf_stage1_seed0")
    assert srf_stages.source_config(stage3.srf_generators).srf_target == str(
        clone / "baseline_seed0")
    # From a rebuild directory, which is inside its run.
    rebuild_dir = clone / "srf_stage1_seed0" / "rebuild"
    rebuild_dir.mkdir()
    (rebuild_dir / "config.json").write_text((clone / "srf_stage1_seed0" /
                                              "config.json").read_text())
    assert srf_stages.source_config(rebuild_dir).srf_target == str(clone / "baseline_seed0")
    # A recorded path that holds a run is kept, and one with no neighbour.
    elsewhere = _detection_run(tmp_path / "elsewhere" / "baseline_seed0")
    config = DetectionConfig(model="srf", srf_stage=1, srf_target=str(elsewhere.path))
    assert srf_stages.located_sources(config, clone / "x") == config
    lost = DetectionConfig(model="srf", srf_stage=1, srf_target=str(kept / "baseline_seed1"))
    assert srf_stages.located_sources(lost, clone / "x") == lost
    # A resumed stage starts from the located sources.
    monkeypatch.setattr(srf_stages, "experiment_for", lambda config, verbose: config)
    monkeypatch.setattr(job, "run_experiment", lambda experiment, *args: experiment)
    resumed = job.train_detection(None, clone / "srf_seed0", resume=True, verbose=0)
    assert resumed.srf_generators == str(clone / "srf_stage1_seed0")
    # Restoring its sources rebuilds the moved runs, the baseline first.
    rebuilt = []
    monkeypatch.setattr(srf_stages, "rebuild_checkpoints",
                        lambda run_dir, train, verbose=1: rebuilt.append(str(run_dir)))
    srf_stages.restore_sources(resumed, verbose=0)
    assert rebuilt == [str(clone / "baseline_seed0"), str(clone / "srf_stage1_seed0")]


def test_a_rebuild_elsewhere_may_record_another_source_path(tmp_path):
    results = {**RESULTS, "srf_target": "/kept/baseline_seed0"}
    run = _write_run(tmp_path / "run", results=results)

    def train(directory):
        _write_run(directory, ROWS, {**results, "srf_target": str(tmp_path / "baseline_seed0")},
                   checkpoints=True)

    assert rebuild_checkpoints(run.path, train, verbose=0) == run.best_checkpoint
    assert json.loads(run.results_json.read_text())["srf_target"] == "/kept/baseline_seed0"
