"""A run killed mid-epoch and resumed ends where an uninterrupted run ends."""

import numpy as np
import pytest

import keras

import keras_resolution.applications  # noqa: F401 (registers the classifiers' layers)
from training.classification.config import resolve_config
from training.classification.job import run_classification
from training.common.run_directory import RunDirectory
from training.common.run_directory import read_csv
from training.common.run_loop import BatchCheckpoint


class Killed(Exception):
    pass


def _config():
    return resolve_config(
        "embedded-radio", transform="dct", target_budget=0.5, epochs=2, batch_size=32,
        checkpoint_every=2, lr_decay_epochs=[1],
    )  # fmt: skip


def _weights(run_dir):
    model = keras.saving.load_model(RunDirectory(run_dir).last_checkpoint)
    return [np.asarray(v) for v in model.weights] + [
        np.asarray(v) for v in model.optimizer.variables
    ]


@pytest.fixture(scope="module")
def reference(tiny_radio, tmp_path_factory):
    """(run directory, results) of an uninterrupted run of `_config()`."""
    run_dir = tmp_path_factory.mktemp("runs") / "reference"
    return run_dir, run_classification(_config(), run_dir, data=tiny_radio, verbose=0)


def test_resume_after_a_kill_mid_epoch_matches_an_uninterrupted_run(
    tiny_radio, reference, tmp_path, monkeypatch
):
    reference_dir, reference = reference

    original = BatchCheckpoint.on_train_batch_end

    def kill_after_the_checkpoint(self, batch, logs=None):
        original(self, batch, logs)
        if self.epoch == 1 and self.skip_batches + batch + 1 == 2:
            raise Killed()

    monkeypatch.setattr(BatchCheckpoint, "on_train_batch_end", kill_after_the_checkpoint)
    with pytest.raises(Killed):
        run_classification(_config(), tmp_path / "killed", data=tiny_radio, verbose=0)
    state = RunDirectory(tmp_path / "killed").read_state()
    assert (state.epochs_done, state.batches_done, state.finished) == (1, 2, False)
    monkeypatch.setattr(BatchCheckpoint, "on_train_batch_end", original)

    with pytest.raises(FileExistsError, match="--resume"):
        run_classification(_config(), tmp_path / "killed", data=tiny_radio, verbose=0)
    resumed = run_classification(None, tmp_path / "killed", resume=True, data=tiny_radio, verbose=0)

    for a, b in zip(_weights(reference_dir), _weights(tmp_path / "killed")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key in ("test_accuracy", "complexity_fraction"):
        assert resumed[key] == pytest.approx(reference[key])
    assert resumed["sizes"] == reference["sizes"]
    assert [row["epoch"] for row in read_csv(tmp_path / "killed" / "results.csv")] == [1, 2]
    assert RunDirectory(tmp_path / "killed").read_state().finished
    # A finished run resumes to its stored results without training.
    assert run_classification(None, tmp_path / "killed", resume=True, verbose=0) == resumed


def test_a_kept_runs_checkpoints_are_rebuilt_bit_for_bit(tiny_radio, reference, tmp_path):
    """The records of a finished run without its .keras files (as git keeps
    them): training it again gives the same records, and the same weights."""
    import shutil

    from training.common.checkpoint_rebuild import rebuild_checkpoints

    original = reference[0]
    kept = tmp_path / "kept"
    shutil.copytree(original, kept, ignore=shutil.ignore_patterns("*.keras", "tensorboard"))
    rebuilt = rebuild_checkpoints(kept, lambda directory: run_classification(
        None, directory, resume=True, data=tiny_radio, verbose=0), verbose=0)
    assert rebuilt == RunDirectory(kept).best_checkpoint
    assert not (kept / "rebuild").exists()
    for a, b in zip(_weights(original), _weights(kept)):
        np.testing.assert_array_equal(a, b)
    best = [keras.saving.load_model(path / "best.keras").weights for path in (original, kept)]
    for a, b in zip(*best):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
