"""Checkpoints of a finished run, restored by training the run again.

The run records this project keeps in git (docs/runs/) hold a run's config,
state, results and plots but not its `.keras` files, and a checkout made
elsewhere has none either. A later step that starts from such a run (SRF-GAN's
stage 1 from a trained baseline, its stage 3 from stage 1's generators, an
export, an evaluation) needs the weights. Since a run is deterministic on a
given machine and software stack (seeds plus TensorFlow op determinism), the
weights can be restored by training the run again from its `config.json`
and checking that the new run wrote the same records (on another machine
float rounding usually differs, and the check says so):

    RUN_DIR/rebuild/    the run again (resumable: it is a run directory of
                        its own); removed once its checkpoints have moved
                        into RUN_DIR

The check compares every `results.csv` cell and every `results.json` value
the kept run recorded, except wall-clock times and the run's own path. If
one differs, nothing is moved: the error names the first difference, and
RUN_DIR/rebuild keeps the retrained run for inspection.
"""

import json
import pathlib
import shutil

from training.common.run_directory import RunDirectory
from training.common.run_directory import read_csv
from training.common.run_directory import read_json

REBUILD_DIR = "rebuild"
# Values of a run's records that two identical trainings need not share
# (times, and paths: a run rebuilt in a clone elsewhere records its own).
UNCOMPARED = ("seconds", "train_seconds", "run_dir", "srf_target")


class RebuildMismatchError(ValueError):
    """The retrained run's records differ from the kept ones."""


def missing_checkpoints(run_dir, which=("best", "last")):
    """Whether `run_dir` holds a finished run without one of the checkpoints
    `which` (best.keras, last.keras): its records were kept, its checkpoints
    were not."""
    run = RunDirectory(run_dir)
    paths = {"best": run.best_checkpoint, "last": run.last_checkpoint}
    finished = run.read_state().finished and run.results_json.exists()
    return finished and not all(paths[name].exists() for name in which)


def rebuild_checkpoints(run_dir, train, verbose=1):
    """Restores the checkpoints of the finished run in `run_dir` by training
    it again in `RUN_DIR/rebuild/` and moving its best.keras and last.keras
    into `run_dir` once its records equal the kept ones.

    Args:
        run_dir: A finished run directory.
        train: `train(directory)` trains (or resumes) the run whose
            config.json is in `directory`, and returns when it has finished.
        verbose: Print what is being rebuilt (1) or nothing (0).

    Returns:
        `run_dir`'s best checkpoint path.

    Raises:
        ValueError: naming `run_dir`, if it holds no finished run.
        RebuildMismatchError: the retrained run's records differ from the
            kept ones (nothing is moved; the retrained run stays in
            `RUN_DIR/rebuild`).
        RunInUseError: another process is training or rebuilding the run.

    Example:

    >>> rebuild_checkpoints("docs/runs/table1-embedded/baseline_seed0",
    ...                     lambda d: train_detection(None, d, resume=True))
    """
    run = RunDirectory(run_dir)
    with run.training_lock():
        if not (run.read_state().finished and run.results_json.exists()):
            raise ValueError(f"{run.path}: not a finished run (finish it with --resume instead).")
        if not missing_checkpoints(run.path):
            if verbose:
                print(f"{run.path}: its checkpoints are here; nothing to rebuild.", flush=True)
            return run.best_checkpoint
        again = RunDirectory(run.path / REBUILD_DIR)
        if not again.config_path.exists():
            again.path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.config_path, again.config_path)
        if verbose:
            print(f"{run.path}: its checkpoints are not here; training the run again in "
                  f"{again.path} to restore them.", flush=True)
        train(again.path)
        _check_same_records(run.path, again.path)
        for name in (run.best_checkpoint.name, run.last_checkpoint.name):
            (again.path / name).replace(run.path / name)
        shutil.rmtree(again.path)
        if verbose:
            print(f"{run.path}: checkpoints restored (the retrained run wrote the same "
                  "records).", flush=True)
        return run.best_checkpoint


def _check_same_records(kept_dir, again_dir):
    """Raises `RebuildMismatchError` at the first record that differs
    (compared as JSON text: NaN equals NaN, nested values compare whole)."""
    kept, again = pathlib.Path(kept_dir), pathlib.Path(again_dir)
    for what, kept_value, new_value in _record_pairs(kept, again):
        if json.dumps(kept_value, sort_keys=True) != json.dumps(new_value, sort_keys=True):
            raise RebuildMismatchError(
                f"{kept}: the retrained run differs from the kept one ({what}: kept "
                f"{kept_value!r}, retrained {new_value!r}); nothing was moved, the retrained "
                f"run is in {again}.")


def _record_pairs(kept, again):
    """(what, kept value, retrained value) of every compared record: each
    value the kept run recorded (a record the harness added since, such as
    a new results.csv column, is not a difference of the run)."""
    kept_rows, new_rows = read_csv(kept / "results.csv"), read_csv(again / "results.csv")
    yield "results.csv rows", len(kept_rows), len(new_rows)
    for index, (row, new) in enumerate(zip(kept_rows, new_rows), start=1):
        for key in sorted(row):
            if key not in UNCOMPARED:
                yield f"results.csv row {index} {key}", row[key], new.get(key)
    kept_results = read_json(kept / "results.json")
    new_results = read_json(again / "results.json")
    for key in sorted(kept_results):
        if key not in UNCOMPARED:
            yield f"results.json {key}", kept_results[key], new_results.get(key)
