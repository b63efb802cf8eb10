"""Run directories: resolved config, atomic checkpoints, and resume state.

A run directory holds everything one training job produces:

    config.json        the resolved configuration (every default filled in)
    state.json         progress: epochs done, batches done in the current
                       epoch, best metric (written after each checkpoint)
    last.keras         model + optimizer state at the last checkpoint
    best.keras         model with the best monitored metric so far
    results.csv        one row per epoch (losses, complexity, mAP, lr, ...)
    plots/             PNG figures
    tensorboard/       TensorBoard logs

Every file is written to a temporary name in the same directory and renamed
into place (`os.replace`), so a run killed at any moment leaves either the
old file or the new one, never a torn one. `state.json` is written after the
checkpoint it describes, so it never points at a checkpoint that does not
exist yet.
"""

import csv
import dataclasses
import io
import json
import os
import pathlib
import tempfile

import keras


def atomic_write(path, write_to):
    """Calls `write_to(temporary_path)` then renames it to `path`.

    Args:
        path: Final path.
        write_to: Callable writing the full file at the path it is given.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        write_to(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def atomic_write_json(path, data):
    """Writes `data` as indented JSON, atomically."""

    def write(temporary):
        with open(temporary, "w") as file:
            json.dump(data, file, indent=2, sort_keys=True, default=str)
            file.write("\n")

    atomic_write(path, write)


def atomic_write_text(path, text):
    """Writes `text` to `path`, atomically."""
    atomic_write(path, lambda temporary: pathlib.Path(temporary).write_text(text))


def atomic_write_csv(path, rows):
    """Writes dict rows as CSV, atomically.

    Args:
        path: The CSV file.
        rows: List of dicts; the columns are every key in order of first
            use, and a row without a key gets an empty cell.
    """
    columns = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_csv(path):
    """Rows of a CSV written by `atomic_write_csv`, numbers parsed back and
    empty cells as None; a missing file has no rows."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return [{key: _parse_cell(text) for key, text in row.items()}
                for row in csv.DictReader(file)]


def _parse_cell(text):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def atomic_save_model(model, path):
    """`model.save(path)` (weights, config and optimizer state), atomically."""
    atomic_write(path, model.save)


@dataclasses.dataclass
class RunState:
    """Where a run is: what has been trained and the best result so far.

    Attributes:
        epochs_done: Completed epochs.
        batches_done: Completed batches of epoch `epochs_done` (mid-epoch
            checkpoint), 0 at an epoch boundary.
        best_metric: Best value of the monitored metric, or None.
        best_epoch: Epoch (1-based) of `best_metric`, or None.
        finished: True once the last epoch and the final evaluation ran.
    """

    epochs_done: int = 0
    batches_done: int = 0
    best_metric: float = None
    best_epoch: int = None
    finished: bool = False


class RunDirectory:
    """The files of one run (see module docstring).

    Args:
        path: Directory of the run; created if missing.

    Example:

    >>> run = RunDirectory("runs/resolution-seed0")
    >>> run.write_config({"epochs": 10})
    >>> run.read_state().epochs_done
    0
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    config_path = property(lambda self: self.path / "config.json")
    state_path = property(lambda self: self.path / "state.json")
    last_checkpoint = property(lambda self: self.path / "last.keras")
    best_checkpoint = property(lambda self: self.path / "best.keras")
    results_csv = property(lambda self: self.path / "results.csv")
    plots_dir = property(lambda self: self.path / "plots")
    tensorboard_dir = property(lambda self: self.path / "tensorboard")

    def write_config(self, config):
        atomic_write_json(self.config_path, config)

    def read_config(self):
        if not self.config_path.exists():
            raise FileNotFoundError(
                f"{self.config_path}: no config.json; is {self.path} a run directory?"
            )
        with open(self.config_path) as file:
            return json.load(file)

    def read_state(self):
        if not self.state_path.exists():
            return RunState()
        with open(self.state_path) as file:
            return RunState(**json.load(file))

    def write_state(self, state):
        atomic_write_json(self.state_path, dataclasses.asdict(state))

    def save_checkpoint(self, model, state, best=False):
        """Saves `last.keras` (and `best.keras`), then the state describing it."""
        atomic_save_model(model, self.last_checkpoint)
        if best:
            atomic_save_model(model, self.best_checkpoint)
        self.write_state(state)

    def load_last(self, custom_objects=None):
        """The model of the last checkpoint, with its optimizer state."""
        if not self.last_checkpoint.exists():
            raise FileNotFoundError(
                f"{self.last_checkpoint}: no checkpoint to resume from."
            )
        return keras.saving.load_model(self.last_checkpoint, custom_objects=custom_objects)
