"""Shared fixtures of the training tests: a tiny generated detection set,
a backbone weights file for runs that freeze the backbone as the recipes
do, a run killed mid-epoch as a crash would kill it, and a stand-in for
training that lets the detection sweeps run without training anything."""

import dataclasses
import json

import pytest

from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_loop import BatchCheckpoint
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A generated detection dataset of 16 training, 2 validation and 8 test
    images (its directory, as a `--data` value)."""
    config = EmbeddedConfig(seed=7, num_train=16, num_val=2, num_test=8)
    return str(ensure_embedded_dataset(config, tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="session")
def backbone_weights(tmp_path_factory):
    """A `.weights.h5` file of a YOLOv8-XS backbone with seeded random
    weights (its path, as a `--weights` value): tiny runs freeze it as the
    embedded and VOC recipes freeze theirs, which also spares them the
    backbone's gradients and optimizer updates."""
    import keras

    from detection.backbones import build_backbone

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("backbone") / "yolo_v8_xs.weights.h5"
    build_backbone("yolo_v8_xs", image_size=32).save_weights(path)
    return str(path)


@pytest.fixture
def interrupt_after_batch(monkeypatch):
    """Runs `start()` and kills it with a KeyboardInterrupt right after
    batch `batch` of epoch `epoch` (0-based) has been checkpointed, as a
    crash would; the run is left for `--resume`.

    Example:

        interrupt_after_batch(lambda: train_detection(config, run_dir, verbose=0))
    """

    def interrupt(start, epoch=1, batch=1):
        checkpoint = BatchCheckpoint.on_train_batch_end

        def kill_after_the_checkpoint(self, index, logs=None):
            checkpoint(self, index, logs)
            if self.epoch == epoch and index == batch:
                raise KeyboardInterrupt("simulated kill")

        with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
            patch.setattr(BatchCheckpoint, "on_train_batch_end", kill_after_the_checkpoint)
            start()

    return interrupt


@pytest.fixture
def fake_detection_training(monkeypatch):
    """Replaces `training.detection.job.train_detection`, which the detection
    sweeps call, by a stand-in that trains nothing: a new run is claimed
    with its config and finishes at once with `results_of(config)` and
    empty checkpoint files; a resumed run must be finished and returns what
    it stored, as the run loop does. It holds the run's lock meanwhile, as
    the real job does.

    Returns:
        `install(results_of, record)`: installs the stand-in and returns the
        list to which `record(config)` of every new run is appended.
    """

    def install(results_of, record):
        trained = []

        def train_detection(config, run_dir, resume=False, verbose=1):
            run = RunDirectory(run_dir)
            with run.training_lock():
                if resume:
                    assert run.read_state().finished
                    return json.loads(run.results_json.read_text())
                trained.append(record(config))
                run.claim({"experiment": "detection", "config": dataclasses.asdict(config)})
                result = results_of(config)
                run.results_json.write_text(json.dumps(result))
                for checkpoint in (run.best_checkpoint, run.last_checkpoint):
                    checkpoint.write_bytes(b"")  # as a run's own, not a kept record's
                run.write_state(RunState(epochs_done=1, finished=True))
                return result

        monkeypatch.setattr("training.detection.job.train_detection", train_detection)
        return trained

    return install
