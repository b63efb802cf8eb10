"""Run directories: resolved config, atomic checkpoints, and resume state.

A run directory holds everything one training job produces:

    config.json        the experiment's name and its resolved configuration
                       (every default filled in)
    state.json         progress: epochs done, batches done in the current
                       epoch, best metric (written after each checkpoint)
    last.keras         model + optimizer state at the last checkpoint (the
                       training weights; their moving averages, when the run
                       keeps them, are in the optimizer state)
    best.keras         model with the best monitored metric so far (the
                       weights that were evaluated: the averages, if kept)
    results.csv        one row per epoch (losses, complexity, metrics, lr, ...)
    results.json       the final results (test metrics, complexity, sizes)
    summary.txt        the same as a text table
    plots/             PNG figures
    tensorboard/       TensorBoard logs
    run.lock           while a process trains the run: its host and pid

Every file is written to a temporary name in the same directory and renamed
into place (`os.replace`), so a run killed at any moment leaves either the
old file or the new one, never a torn one. `state.json` is written after the
checkpoint it describes, so it never points at a checkpoint that does not
exist yet.

One process trains a run at a time: `RunDirectory.training_lock` holds
`run.lock` while it does, so a second command on the same run (two sweeps
sharing a directory, or `--resume` of a run that is still training) gets
`RunInUseError` instead of writing the same checkpoints. The system lets
go of the lock of a process that dies.
"""

import contextlib
import csv
import dataclasses
import io
import json
import os
import pathlib
import socket
import tempfile

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None



def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write_to):
    """Calls `write_to(temporary_path)` then renames it to `path`.

    The temporary file sits beside `path` and ends with the same suffixes
    (Keras wants `.keras` or `.weights.h5`); the file gets the permissions a
    plain `open(path, "w")` would give (the umask's), not the private ones
    of a temporary file.

    Args:
        path: Final path.
        write_to: Callable writing the full file at the path it is given.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".weights.h5") else path.suffix
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        write_to(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
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


def read_json(path):
    """The JSON document at `path`, or a one-line error naming the file."""
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None


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


class RunInUseError(FileExistsError):
    """Another process is training the run (it holds its `run.lock`)."""


_LOCKED_HERE = set()  # Run directories whose lock this process holds.


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

    config_path = property(lambda self: self.path / "config.json")
    state_path = property(lambda self: self.path / "state.json")
    last_checkpoint = property(lambda self: self.path / "last.keras")
    best_checkpoint = property(lambda self: self.path / "best.keras")
    results_csv = property(lambda self: self.path / "results.csv")
    results_json = property(lambda self: self.path / "results.json")
    plots_dir = property(lambda self: self.path / "plots")
    tensorboard_dir = property(lambda self: self.path / "tensorboard")

    lock_path = property(lambda self: self.path / "run.lock")

    @contextlib.contextmanager
    def training_lock(self):
        """Holds an exclusive lock on `run.lock` within the block (an
        advisory `flock`, which the system releases when the holder dies, so
        a killed run never stays locked). The file records the holder's
        host and process id for the error message, and is removed on exit
        (with the directory, if the lock created it and it stayed empty).
        Without `fcntl` (Windows) runs are not locked. Re-entrant within a
        process: a job can lock its run before it loads data, and the run
        loop lock it again.

        Raises:
            RunInUseError: another process holds the lock.
        """
        key = self.path.resolve()
        if fcntl is None or key in _LOCKED_HERE:
            yield
            return
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        while True:
            handle = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(handle, 256).decode(errors="replace").strip() or "another process"
                os.close(handle)
                raise RunInUseError(
                    f"{self.path} is being trained by {holder} ({self.lock_path}); wait for it "
                    "to finish, or stop it and run the command again."
                ) from None
            try:  # The file may have been removed by the holder that just let go.
                if os.stat(self.lock_path).st_ino == os.fstat(handle).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(handle)
        _LOCKED_HERE.add(key)
        try:
            os.ftruncate(handle, 0)
            os.write(handle, f"process {os.getpid()} on {socket.gethostname()}".encode())
            yield
        finally:
            _LOCKED_HERE.discard(key)
            self.lock_path.unlink(missing_ok=True)  # Before letting go: see the loop above.
            os.close(handle)
            if created and not any(self.path.iterdir()):  # Nothing started: leave no trace.
                self.path.rmdir()

    def holds_run(self):
        """Whether the directory already holds a run (config or checkpoint)."""
        return self.config_path.exists() or self.last_checkpoint.exists()

    def claim(self, config):
        """Starts a new run here: writes `config.json`, or raises
        `FileExistsError` if the directory already holds a run."""
        if self.holds_run():
            raise FileExistsError(
                f"{self.path} already holds a run: resume it with --resume {self.path}, "
                "or choose another --run-dir."
            )
        self.write_config(config)

    def write_config(self, config):
        atomic_write_json(self.config_path, config)

    def read_config(self):
        """`(experiment name, config dict)` of the run."""
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.path}: not a run directory (no config.json).")
        document = read_json(self.config_path)
        if "experiment" not in document or "config" not in document:
            raise ValueError(f"{self.config_path}: not written by this version of the harness.")
        return document["experiment"], document["config"]

    def read_state(self):
        if not self.state_path.exists():
            return RunState()
        return RunState(**read_json(self.state_path))

    def write_state(self, state):
        atomic_write_json(self.state_path, dataclasses.asdict(state))

    def save_checkpoint(self, model, state):
        """Saves `last.keras`, then the state describing it."""
        atomic_save_model(model, self.last_checkpoint)
        self.write_state(state)

    def save_best(self, model):
        """Saves `best.keras` (before the state that records its metric)."""
        atomic_save_model(model, self.best_checkpoint)

    def checkpoint(self, which="best"):
        """Path of `best.keras` (falling back to `last.keras`) or `last.keras`."""
        if which not in ("best", "last"):
            raise ValueError(f"`--checkpoint` must be 'best' or 'last', got {which!r}.")
        if which == "best" and self.best_checkpoint.exists():
            return self.best_checkpoint
        if not self.last_checkpoint.exists():
            finished = self.read_state().finished
            raise FileNotFoundError(
                f"{self.path}: the run has no checkpoint (last.keras)"
                + ("; its records were kept without it: restore it with python -m training "
                   f"rebuild {self.path}." if finished else "."))
        return self.last_checkpoint


def claim_sweep(sweep_dir, settings, upgrade=None):
    """Starts the sweep in `sweep_dir`, or continues it if the directory holds
    the same sweep (its `sweep.json` equals `settings`): finished runs are
    reused and an interrupted one resumes. A different sweep there raises
    `FileExistsError`, so nothing is overwritten.

    Args:
        sweep_dir: Directory of the sweep.
        settings: JSON-serialisable dict of everything the sweep depends on.
        upgrade: Function giving a stored `sweep.json` dict the fields added
            since it was written, with the values it ran with (None: none).
    """
    path = pathlib.Path(sweep_dir) / "sweep.json"
    settings = json.loads(json.dumps(settings, default=str))
    if path.exists():
        stored = read_json(path)
        if upgrade is not None:
            stored = json.loads(json.dumps(upgrade(stored), default=str))
        if stored != settings:
            raise FileExistsError(
                f"{sweep_dir} holds a sweep with other settings ({path}); "
                "choose another --sweep-dir."
            )
        return
    atomic_write_json(path, settings)
