"""RadioML 2018.01A reader on small HDF5 files in the real file's layout."""

import h5py
import keras
import numpy as np
import pytest

from training.classification.data.radioml import RADIOML_CLASSES
from training.classification.data.radioml import load_radioml
from training.classification.job import evaluate_split

N, LENGTH = 96, 1024
SNRS = np.arange(-20, 32, 2)


def write_radioml(path, n=N, length=LENGTH, drop=None, lengths=None, y_rows=None):
    """A file like GOLD_XYZ_OSC.0001_1024.hdf5: X float32 (N, L, 2), Y int64
    one-hot (N, 24), Z int64 (N, 1). Frame i has I = 1, Q = i / n, so rows
    can be identified after the reader's unit-power scaling."""
    labels = np.arange(n) % 24
    snr = SNRS[np.arange(n) % len(SNRS)]
    x = np.ones((n, length, 2), "float32")
    x[:, :, 1] = (np.arange(n) / n)[:, None]
    y = np.eye(24, dtype="int64")[labels]
    if y_rows is not None:
        y[y_rows] = 0
    data = {"X": x, "Y": y, "Z": snr[:, None].astype("int64")}
    for name, size in (lengths or {}).items():
        data[name] = data[name][:size]
    with h5py.File(path, "w") as file:
        for name, values in data.items():
            if name != drop:
                file.create_dataset(name, data=values)


def _row_ids(x):
    return np.round(x[:, 0, 1] / x[:, 0, 0] * N).astype(int)


def test_reads_frames_labels_and_snr_in_step(tmp_path):
    path = tmp_path / "GOLD_XYZ_OSC.0001_1024.hdf5"
    write_radioml(path)
    data = load_radioml(path, seed=3)
    assert data.input_shape == (LENGTH, 2) and data.class_names == RADIOML_CLASSES
    assert data.architecture == "radio_cnn"
    sizes = [len(data.train), len(data.val), len(data.test)]
    assert sum(sizes) == N and sizes[1] == round(0.05 * N) and sizes[2] == round(0.10 * N)
    rows = np.concatenate([data.train.index, data.val.index, data.test.index])
    assert sorted(rows.tolist()) == list(range(N))  # a partition
    for split in (data.train, data.test):
        positions = np.random.default_rng(0).permutation(len(split))  # unsorted reads
        x, y = split.read(positions)
        rows = _row_ids(x)
        np.testing.assert_array_equal(rows, split.index[positions])
        np.testing.assert_array_equal(y, rows % 24)
        np.testing.assert_array_equal(split.snr, SNRS[split.index % len(SNRS)])
        power = np.mean(np.sum(x**2, axis=-1), axis=1)
        np.testing.assert_allclose(power, 1.0, rtol=1e-5)  # unit power per frame


def test_max_examples_takes_a_seeded_subset(tmp_path):
    path = tmp_path / "radioml.hdf5"
    write_radioml(path)
    first = load_radioml(path, seed=1, max_examples=40)
    again = load_radioml(path, seed=1, max_examples=40)
    assert len(first.train) + len(first.val) + len(first.test) == 40
    np.testing.assert_array_equal(first.test.index, again.test.index)


def test_evaluation_is_reported_per_snr(tmp_path):
    path = tmp_path / "radioml.hdf5"
    write_radioml(path, n=N, length=16)
    data = load_radioml(path)
    model = keras.Sequential(
        [keras.Input((16, 2)), keras.layers.Flatten(), keras.layers.Dense(24, activation="softmax")]
    )
    result = evaluate_split(model, data.test, batch_size=8)
    assert sorted(result["per_snr"]) == sorted(set(data.test.snr.tolist()))
    assert all(0.0 <= v <= 1.0 for v in result["per_snr"].values())
    assert 0.0 <= result["accuracy"] <= 1.0 and np.isfinite(result["loss"])


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.hdf5"):
        load_radioml(tmp_path / "nothere.hdf5")


def test_a_file_that_is_not_hdf5_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.hdf5"
    path.write_text("not hdf5")
    with pytest.raises(ValueError, match="notes.hdf5.*not a readable HDF5 file"):
        load_radioml(path)


@pytest.mark.parametrize("name", ["X", "Y", "Z"])
def test_missing_dataset_names_the_dataset_and_the_file(tmp_path, name):
    path = tmp_path / "partial.hdf5"
    write_radioml(path, n=8, length=16, drop=name)
    with pytest.raises(ValueError, match=f"partial.hdf5: no dataset '{name}'"):
        load_radioml(path)


def test_mismatched_lengths_name_every_dataset_and_the_file(tmp_path):
    path = tmp_path / "short.hdf5"
    write_radioml(path, n=8, length=16, lengths={"Z": 5})
    message = r"short.hdf5: datasets have different lengths \(X: 8, Y: 8, Z: 5\)"
    with pytest.raises(ValueError, match=message):
        load_radioml(path)


def test_wrong_shapes_and_non_one_hot_labels_are_named(tmp_path):
    path = tmp_path / "bad_y.hdf5"
    write_radioml(path, n=8, length=16, y_rows=[5])
    with pytest.raises(ValueError, match="bad_y.hdf5: dataset 'Y' row 5 is not one-hot"):
        load_radioml(path)
    path = tmp_path / "bad_x.hdf5"
    with h5py.File(path, "w") as file:
        file.create_dataset("X", data=np.zeros((4, 16, 3), "float32"))
        file.create_dataset("Y", data=np.eye(24)[:4])
        file.create_dataset("Z", data=np.zeros((4, 1)))
    message = r"bad_x.hdf5: dataset 'X' must have shape \(N, length, 2\)"
    with pytest.raises(ValueError, match=message):
        load_radioml(path)
