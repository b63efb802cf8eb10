"""What every classification dataset provides: splits of examples and labels.

A `Split` reads examples by position from an array-like source: a NumPy
array held in memory, or an `h5py.Dataset` read lazily (RadioML 2018.01A is
about 20 GB). `ClassificationData` groups the train, validation and test
splits with what the model builder needs (input shape, classes, which
architecture the paper uses on it).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Split:
    """Examples `x[index]` with integer labels, optionally with their SNR.

    Args:
        x: Array-like of examples, indexable with a sorted integer array
            (NumPy array or `h5py.Dataset`).
        labels: Integer class of every example of this split, in split order.
        index: Rows of `x` belonging to this split, in split order (None: all
            rows, in order).
        snr: SNR in dB of every example of this split (radio data), or None.
        transform: Function applied to each batch read from `x` (dtype
            conversion, normalisation), or None.
    """

    x: object
    labels: np.ndarray
    index: np.ndarray = None
    snr: np.ndarray = None
    transform: object = None

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype="int32")
        if self.index is not None:
            self.index = np.asarray(self.index, dtype="int64")
        expected = len(self.index) if self.index is not None else len(self.x)
        if len(self.labels) != expected:
            raise ValueError(
                f"A split has {expected} examples but {len(self.labels)} labels."
            )
        if self.snr is not None and len(self.snr) != expected:
            raise ValueError(f"A split has {expected} examples but {len(self.snr)} SNRs.")

    def __len__(self):
        return len(self.labels)

    def read(self, positions):
        """Examples and labels at `positions` (positions within this split).

        Rows are read from the source in increasing order (as h5py requires)
        and returned in the order of `positions`.

        Args:
            positions: 1D integer array of positions in `[0, len(self))`.

        Returns:
            `(x, y)`: float32 examples and int32 labels.
        """
        positions = np.asarray(positions, dtype="int64")
        rows = positions if self.index is None else self.index[positions]
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        unique_rows, inverse = np.unique(sorted_rows, return_inverse=True)
        batch = np.asarray(self.x[unique_rows])[inverse]
        x = np.empty_like(batch)
        x[order] = batch
        if self.transform is not None:
            x = self.transform(x)
        return np.asarray(x, dtype="float32"), self.labels[positions]


@dataclasses.dataclass
class ClassificationData:
    """A classification dataset ready for training.

    Args:
        name: Data specification it was loaded from (`embedded-images`, ...).
        train, val, test: `Split`s.
        class_names: Tuple of class names.
        input_shape: Shape of one example, without the batch axis.
        architecture: Model the paper uses on it (`"resnet18"`,
            `"radio_cnn"`).
        augment: Whether training batches get random crops and flips
            (images only).
        description: One line for logs and config.json.
    """

    name: str
    train: Split
    val: Split
    test: Split
    class_names: tuple
    input_shape: tuple
    architecture: str
    augment: bool = False
    description: str = ""

    @property
    def num_classes(self):
        return len(self.class_names)


def split_indices(num_examples, fractions, seed):
    """A seeded partition of `range(num_examples)` into consecutive parts.

    Args:
        num_examples: Number of examples.
        fractions: Fractions of the first parts (the last part gets the rest).
        seed: Seed of the permutation.

    Returns:
        List of sorted index arrays, `len(fractions) + 1` of them.
    """
    order = np.random.default_rng(seed).permutation(num_examples)
    bounds = np.cumsum([int(round(f * num_examples)) for f in fractions])
    return [np.sort(part) for part in np.split(order, bounds)]
