"""The one run loop of every experiment: resumable epochs in a run directory.

An experiment (detection, classification, the comparators) is an
`Experiment`: a few small pieces (build the model, the batches of an epoch,
evaluate, extra columns, the final report). `run_experiment` does the rest
the same way for all of them:

    seed -> build or reload the model -> for each epoch:
        fit one epoch (progress bar titled "Epoch e/N", mid-epoch
        checkpoints, TensorBoard) -> evaluate when due (printed) ->
        append a row to results.csv -> checkpoint last.keras (best.keras
        when the monitored metric improves) -> plots
    -> final report (results.json, summary.txt) -> state "finished"

When the optimizer keeps moving averages of the weights (`use_ema`), the
evaluations, best.keras and the final report use the averages, and training
goes on with the raw weights (`averaged_weights`).

Batches are a function of `(seed, epoch)` only, so a run killed at any
point and resumed with `resume=True` ends where an uninterrupted run ends.
A new run never writes into a directory that already holds a run.
"""

import contextlib
import dataclasses
import json
import time

import keras

from keras_resolution.optimizers import swap_average_weights
from training.common import determinism
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import read_csv
from training.common.run_directory import read_json


class Experiment:
    """The pieces of one experiment, handed to `run_experiment`.

    Subclasses set `name` (the experiment's name in config.json), `config` (a dataclass with at least `epochs`, `seed` and
    `checkpoint_every`), `monitor` (the metric of `evaluate` that selects
    `best.keras`, higher is better) and `eval_every`, and implement the
    methods below that raise `NotImplementedError`.
    """

    name = None
    config = None
    monitor = None
    eval_every = 1

    def describe(self):
        """One line printed when the run starts."""
        return type(self).__name__

    def build_model(self):
        """A new compiled model (called after seeding)."""
        raise NotImplementedError

    def load_model(self, path):
        """The compiled model saved at `path` (`last.keras`), optimizer state
        included. Subclasses import the modules that register their layers."""
        return keras.saving.load_model(path)

    def train_batches(self, epoch, skip_batches):
        """The training batches of `epoch`, from batch `skip_batches` on."""
        raise NotImplementedError

    def callbacks(self, model):
        """Extra Keras callbacks of every epoch's `fit` (e.g. complexity)."""
        return []

    def evaluate(self, model):
        """Validation metrics (a dict holding `monitor`)."""
        raise NotImplementedError

    def epoch_columns(self, model):
        """More results.csv columns after each epoch (e.g. per-layer sizes)."""
        return {}

    def plot(self, run, rows, model):
        """Draws the run's plots from the rows so far."""

    def final_results(self, model, run, rows, state):
        """The final results dict (test metrics, complexity, sizes, ...)."""
        raise NotImplementedError

    def summary(self, results):
        """The end-of-run text summary of `results`."""
        from training.common.tables import format_mapping

        return format_mapping(results)


class EpochProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar titled "Epoch e/N" with the run's N.

    Each epoch is its own `fit` call (so a run can resume mid-epoch), which
    would otherwise title epoch 3 of 16 "Epoch 3/3".
    """

    def __init__(self, total_epochs):
        super().__init__()
        self.total_epochs = total_epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs


class BatchCheckpoint(keras.callbacks.Callback):
    """Saves `last.keras` and the run state every `every` batches.

    Args:
        run: `RunDirectory`.
        every: Batches between checkpoints (0: never).
        state: `RunState` at the start of this epoch's `fit`.
        epoch: Index (0-based) of the epoch being trained.
        skip_batches: Batches of this epoch done before this `fit`.
    """

    def __init__(self, run, every, state, epoch, skip_batches):
        super().__init__()
        self.run, self.every, self.state = run, every, state
        self.epoch, self.skip_batches = epoch, skip_batches

    def on_train_batch_end(self, batch, logs=None):
        done = self.skip_batches + batch + 1
        if self.every and done % self.every == 0:
            state = dataclasses.replace(self.state, epochs_done=self.epoch, batches_done=done)
            self.run.save_checkpoint(self.model, state)


def run_experiment(experiment, run_dir, resume=False, verbose=1):
    """Trains (or resumes) one run of `experiment` and returns its results.

    Args:
        experiment: An `Experiment`.
        run_dir: The run directory. A new run refuses a directory that
            already holds a run (`FileExistsError`); `resume=True` continues
            the run there from its last checkpoint (a finished run returns
            its stored results).
        resume: Continue the run in `run_dir`.
        verbose: 1 for progress bars and messages, 0 for silence.

    Returns:
        The results dict, also in `RUN_DIR/results.json`.

    Raises:
        RunInUseError: another process is training the run.
    """
    run = RunDirectory(run_dir)
    with run.training_lock():
        return _train(experiment, run, resume, verbose)


def _train(experiment, run, resume, verbose):
    """`run_experiment` once the run is locked."""
    config = experiment.config
    if resume:
        state = run.read_state()
        if state.finished and run.results_json.exists():
            results = read_json(run.results_json)
            _say(verbose, f"{run.path}: already finished.\n" + experiment.summary(results))
            return results
    else:
        run.claim({"experiment": experiment.name, "config": dataclasses.asdict(config)})
        state = RunState()
    determinism.seed_everything(config.seed)
    resuming = resume and run.last_checkpoint.exists()
    if resuming:
        model = experiment.load_model(run.last_checkpoint)
        where = f"epoch {state.epochs_done + 1}, batch {state.batches_done + 1}"
        _say(verbose, f"{experiment.describe()}\nResuming {run.path} at {where}.")
    else:
        state = RunState()
        model = experiment.build_model()
        _say(verbose, f"{experiment.describe()}\nRun directory: {run.path}")
    rows = read_csv(run.results_csv)[: state.epochs_done] if resuming else []
    for epoch in range(state.epochs_done, config.epochs):
        skip = state.batches_done if epoch == state.epochs_done else 0
        started = time.time()
        callbacks = [
            EpochProgbar(config.epochs),
            *experiment.callbacks(model),
            BatchCheckpoint(run, config.checkpoint_every, state, epoch, skip),
            keras.callbacks.TensorBoard(str(run.tensorboard_dir), write_graph=False),
        ]
        history = model.fit(
            experiment.train_batches(epoch, skip),
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,  # the batches come in the run's (seed, epoch) order
            callbacks=callbacks,
            verbose=verbose,
        )
        row = {"epoch": epoch + 1, "learning_rate": current_learning_rate(model)}
        row.update({key: float(values[-1]) for key, values in history.history.items()})
        if (epoch + 1) % experiment.eval_every == 0 or epoch + 1 == config.epochs:
            with averaged_weights(model):
                metrics = experiment.evaluate(model)
                shown = " - ".join(f"{key}: {value:.4f}" for key, value in metrics.items())
                _say(verbose, f"Epoch {epoch + 1}/{config.epochs} evaluation: {shown}")
                row.update(metrics)
                value = metrics[experiment.monitor]
                if state.best_metric is None or value > state.best_metric:
                    run.save_best(model)
                    state = dataclasses.replace(state, best_metric=value, best_epoch=epoch + 1)
        row["seconds"] = round(time.time() - started, 2)
        row.update(experiment.epoch_columns(model))
        rows.append(row)
        atomic_write_csv(run.results_csv, rows)
        state = dataclasses.replace(state, epochs_done=epoch + 1, batches_done=0)
        run.save_checkpoint(model, state)
        experiment.plot(run, rows, model)
    with averaged_weights(model):
        final = experiment.final_results(model, run, rows, state)
    # As JSON will give it back, so a resumed finished run returns the same.
    results = json.loads(json.dumps(final))
    summary = experiment.summary(results)
    atomic_write_json(run.results_json, results)
    atomic_write_text(run.path / "summary.txt", summary + "\n")
    run.write_state(dataclasses.replace(state, finished=True))
    _say(verbose, summary + f"\n\nRun directory: {run.path}")
    return results


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block, the model holds its weights' moving averages (when
    its optimizer keeps them; otherwise nothing changes).

    On leaving, the model is as it was on entering: the trained weights
    come back, and so do the non-trainable variables a forward pass of the
    averaged model rewrites (a Resolution layer's recorded `input_size`
    follows the sizes of the averaged layers before it)."""
    swapped = swap_average_weights(model.optimizer) if model.optimizer else False
    kept = [keras.ops.copy(v.value) for v in model.non_trainable_variables] if swapped else []
    try:
        yield swapped
    finally:
        if swapped:
            swap_average_weights(model.optimizer)
            for variable, value in zip(model.non_trainable_variables, kept):
                variable.assign(value)


def evaluated_weights(model, checkpoint):
    """The weights a run evaluates, for a model loaded from `checkpoint`:
    best.keras already holds them; last.keras holds the training weights,
    so their averages (if kept) are swapped in."""
    if str(checkpoint).endswith("last.keras"):
        return averaged_weights(model)
    return contextlib.nullcontext(False)


def read_run_config(run_dir, experiment):
    """The config dict of the run in `run_dir`, checked to be `experiment`'s."""
    name, config = RunDirectory(run_dir).read_config()
    if name != experiment:
        raise ValueError(f"{run_dir} holds a {name} run, not a {experiment} run.")
    return config


def current_learning_rate(model):
    """The optimizer's learning rate at its current step, as a float."""
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def _say(verbose, message):
    if verbose:
        print(message, flush=True)
