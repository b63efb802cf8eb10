"""Run directories: atomic writes, state round trip, checkpoints with optimizer state."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from training.common.run_directory import RunDirectory
from training.common.run_directory import RunInUseError
from training.common.run_directory import RunState
from training.common.run_directory import atomic_write
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import claim_sweep
from training.common.run_directory import read_csv

REPO = Path(__file__).resolve().parents[2]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "state.json"
    target.write_text('{"old": true}')

    def broken_writer(temporary):
        with open(temporary, "w") as file:
            file.write('{"half')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken_writer)
    assert json.loads(target.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["state.json"]  # No temporary left behind.


def test_csv_round_trip_keeps_columns_types_and_missing_cells(tmp_path):
    rows = [
        {"epoch": 1, "loss": 2.5, "name": "stage2"},
        {"epoch": 2, "loss": 1.25, "map50": 0.375},  # a column that appears later
    ]
    path = tmp_path / "results.csv"
    atomic_write_csv(path, rows)
    assert path.read_text().splitlines()[0] == "epoch,loss,name,map50"
    assert read_csv(path) == [
        {"epoch": 1, "loss": 2.5, "name": "stage2", "map50": None},
        {"epoch": 2, "loss": 1.25, "name": None, "map50": 0.375},
    ]
    assert read_csv(tmp_path / "missing.csv") == []


def test_state_and_config_round_trip(tmp_path):
    run = RunDirectory(tmp_path / "run")
    assert run.read_state() == RunState()
    run.claim({"experiment": "detection", "config": {"epochs": 3, "model": "resolution"}})
    run.write_state(RunState(epochs_done=2, batches_done=5, best_metric=0.5, best_epoch=2))
    again = RunDirectory(tmp_path / "run")
    assert again.read_config() == ("detection", {"epochs": 3, "model": "resolution"})
    assert again.read_state() == RunState(2, 5, 0.5, 2, False)


def test_checkpoint_restores_weights_and_optimizer_state(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    run = RunDirectory(tmp_path)
    run.save_best(model)
    run.save_checkpoint(model, RunState(epochs_done=1))
    restored = keras.saving.load_model(run.checkpoint("last"))
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))
    assert run.best_checkpoint.exists() and run.read_state().epochs_done == 1
    assert run.checkpoint("best") == run.best_checkpoint


def test_missing_files_name_the_path(tmp_path):
    run = RunDirectory(tmp_path / "empty")
    assert not run.path.exists()  # reading never creates the directory
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        run.read_config()
    with pytest.raises(FileNotFoundError, match="last.keras"):
        run.checkpoint("last")
    assert not run.path.exists()


def test_claim_refuses_a_directory_that_holds_a_run(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.claim({"experiment": "detection", "config": {"seed": 0}})
    with pytest.raises(FileExistsError, match="--resume"):
        RunDirectory(tmp_path / "run").claim({"experiment": "detection", "config": {"seed": 1}})
    assert run.read_config() == ("detection", {"seed": 0})


def test_a_sweep_continues_with_the_same_settings_and_refuses_others(tmp_path):
    claim_sweep(tmp_path, {"seeds": [0, 1]})
    claim_sweep(tmp_path, {"seeds": [0, 1]})  # the same sweep: continue
    with pytest.raises(FileExistsError, match="other settings"):
        claim_sweep(tmp_path, {"seeds": [0, 2]})


def test_atomic_write_gives_the_umask_permissions_and_keeps_keras_suffixes(tmp_path):
    seen = []

    def writer(temporary):
        seen.append(os.path.basename(temporary))
        with open(temporary, "w") as file:
            file.write("x")

    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "backbone-1a2b.weights.h5", writer)
        atomic_write(tmp_path / "best.keras", writer)
    finally:
        os.umask(mask)
    assert seen[0].endswith(".weights.h5") and seen[1].endswith(".keras")
    for name in ("backbone-1a2b.weights.h5", "best.keras"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o644, name


def test_a_run_is_trained_by_one_process_at_a_time(tmp_path, run_locked_elsewhere):
    run = RunDirectory(tmp_path / "run")
    with run_locked_elsewhere(run.path) as holder:
        with pytest.raises(RunInUseError, match=f"process {holder.pid} on .*run.lock"):
            with run.training_lock():
                pass
    # The holder was killed without letting go: the system released its lock.
    with run.training_lock():
        assert f"process {os.getpid()} " in run.lock_path.read_text()
        with run.training_lock():  # Re-entrant within a process (job, then run loop).
            pass
        assert run.lock_path.exists()
    assert not run.lock_path.exists()
    fresh = RunDirectory(tmp_path / "fresh")
    with fresh.training_lock():
        assert fresh.lock_path.exists()
    assert not fresh.path.exists()  # The lock made the directory; nothing else was written.
    with fresh.training_lock():
        fresh.write_config({"epochs": 1})
    assert sorted(p.name for p in fresh.path.iterdir()) == ["config.json"]


def test_resuming_a_run_another_process_trains_is_refused_in_one_line(
        tmp_path, run_locked_elsewhere):
    run = RunDirectory(tmp_path / "run")
    run.write_config({"experiment": "detection", "config": {}})
    with run_locked_elsewhere(run.path) as holder:
        result = subprocess.run(
            [sys.executable, "-m", "training", "train", "--resume", str(run.path)],
            capture_output=True, text=True, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
    assert result.returncode == 2, result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(message) == 1 and f"process {holder.pid}" in message[0], result.stderr
    assert str(run.path) in message[0]
