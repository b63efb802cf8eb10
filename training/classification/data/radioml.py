"""RadioML 2018.01A from the user's HDF5 file (`GOLD_XYZ_OSC.0001_1024.hdf5`).

The file holds three datasets of equal length N (2,555,904 in the release):

* `X`: float32 `(N, 1024, 2)`, I/Q frames;
* `Y`: one-hot `(N, 24)`, the modulation;
* `Z`: `(N, 1)`, the SNR in dB (-20 to 30 in steps of 2).

Frames are read lazily from the open file, batch by batch (the file is about
20 GB); labels and SNRs are read once into memory. A seeded split gives 85%
training, 5% validation and 10% test frames; `max_examples` draws a seeded
subset first, for shorter runs. Every frame is scaled to unit average power
when read (the same preprocessing as the embedded modulation set).

Class names follow the order commonly used with this release (DeepSig's
`classes.txt` is known to be wrong; this is the corrected order); a file
with a different number of classes gets generic names.
"""

import pathlib

import numpy as np

from training.classification.data.base import ClassificationData
from training.classification.data.base import Split
from training.classification.data.base import split_indices

RADIOML_CLASSES = (
    "OOK", "4ASK", "8ASK", "BPSK", "QPSK", "8PSK", "16PSK", "32PSK",
    "16APSK", "32APSK", "64APSK", "128APSK", "16QAM", "32QAM", "64QAM",
    "128QAM", "256QAM", "AM-SSB-WC", "AM-SSB-SC", "AM-DSB-WC", "AM-DSB-SC",
    "FM", "GMSK", "OQPSK",
)  # fmt: skip
FRACTIONS = (0.05, 0.10)  # validation, test; training gets the rest
_CHUNK = 65536


def unit_power(frames):
    """Scales every frame `(N, L, 2)` to unit average I/Q power."""
    power = np.mean(np.sum(np.square(frames, dtype="float32"), axis=-1), axis=1)
    return frames / np.sqrt(np.maximum(power, 1e-12))[:, None, None]


def _dataset(file, name, path):
    if name not in file:
        raise ValueError(
            f"{path}: no dataset {name!r} in this HDF5 file (found "
            f"{sorted(file.keys())}); RadioML 2018.01A files hold 'X' (I/Q "
            "frames), 'Y' (one-hot classes) and 'Z' (SNR)."
        )
    return file[name]


def _read_labels(y, path):
    """Integer classes from the one-hot `Y`, read in chunks, checked."""
    labels = np.empty(len(y), "int32")
    for start in range(0, len(y), _CHUNK):
        block = np.asarray(y[start : start + _CHUNK])
        ones = np.count_nonzero(block, axis=1)
        bad = np.flatnonzero(ones != 1)
        if len(bad):
            raise ValueError(
                f"{path}: dataset 'Y' row {start + bad[0]} is not one-hot "
                f"({ones[bad[0]]} non-zero entries)."
            )
        labels[start : start + len(block)] = np.argmax(block, axis=1)
    return labels


def open_radioml(path):
    """Opens and checks a RadioML 2018.01A file.

    Args:
        path: Path of the HDF5 file.

    Returns:
        `(x, labels, snr, num_classes)`: `x` the open `h5py.Dataset` `X`,
        int32 labels, int32 SNR in dB, number of classes (width of `Y`).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Not an HDF5 file, a dataset is missing or has the wrong
            shape, the lengths of `X`, `Y` and `Z` differ, or `Y` is not
            one-hot. The message names the file and the dataset.
    """
    import h5py

    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"RadioML file not found: {path}")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error}).") from None
    x, y, z = (_dataset(file, name, path) for name in ("X", "Y", "Z"))
    if x.ndim != 3 or x.shape[2] != 2:
        raise ValueError(
            f"{path}: dataset 'X' must have shape (N, length, 2) (I/Q), got {x.shape}."
        )
    if y.ndim != 2 or y.shape[1] < 2:
        raise ValueError(
            f"{path}: dataset 'Y' must be one-hot of shape (N, classes), got {y.shape}."
        )
    if z.ndim not in (1, 2) or (z.ndim == 2 and z.shape[1] != 1):
        raise ValueError(f"{path}: dataset 'Z' must have shape (N, 1), got {z.shape}.")
    lengths = {"X": len(x), "Y": len(y), "Z": len(z)}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"{path}: datasets have different lengths "
            f"({', '.join(f'{k}: {v}' for k, v in lengths.items())}); they must "
            "describe the same frames."
        )
    labels = _read_labels(y, path)
    snr = np.asarray(z[:]).reshape(-1).astype("int32")
    return x, labels, snr, y.shape[1]


def load_radioml(path, seed=0, max_examples=None):
    """RadioML 2018.01A as `ClassificationData` for the 1D CNN.

    Args:
        path: Path of the HDF5 file.
        seed: Seed of the subset and of the split.
        max_examples: Use a seeded subset of this many frames (None: all).

    Returns:
        `ClassificationData`; every split carries its SNRs.

    Example:

    >>> data = load_radioml("GOLD_XYZ_OSC.0001_1024.hdf5", max_examples=100000)
    >>> data.input_shape
    (1024, 2)
    """
    x, labels, snr, num_classes = open_radioml(path)
    rows = np.arange(len(labels))
    if max_examples is not None and max_examples < len(rows):
        rows = np.sort(np.random.default_rng([seed, 1]).choice(rows, max_examples, replace=False))
    val, test, train = split_indices(len(rows), FRACTIONS, seed)

    def split(part):
        index = rows[part]
        return Split(x, labels[index], index, snr=snr[index], transform=unit_power)

    names = RADIOML_CLASSES if num_classes == len(RADIOML_CLASSES) else tuple(
        f"class{i}" for i in range(num_classes)
    )
    return ClassificationData(
        name=f"radioml:{path}",
        train=split(train),
        val=split(val),
        test=split(test),
        class_names=names,
        input_shape=tuple(x.shape[1:]),
        architecture="radio_cnn",
        description=f"RadioML 2018.01A from {path} ({len(rows)} frames)",
    )
