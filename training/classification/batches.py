"""Batches for `model.fit`: a seeded order per epoch, resumable mid-epoch.

The order of the training examples in epoch `e` depends only on
`(seed, e)`, and the augmentation of batch `b` only on `(seed, e, b)`, so a
run resumed at epoch `e`, batch `b` sees exactly the batches an
uninterrupted run would have seen. The batches are a `keras.utils.PyDataset`
of NumPy arrays, which every Keras backend accepts.
"""

import math

import keras
import numpy as np

from training.classification.data.cifar import random_crop_and_flip
from training.common.data_order import epoch_order
from training.common.full_batches import padded_to


class SplitBatches(keras.utils.PyDataset):
    """Batches of a `Split`, in a given order, from a given batch on.

    Args:
        split: The `Split` to read.
        batch_size: Examples per batch.
        order: Positions in reading order (default: the split's order).
        skip_batches: Batches of `order` already consumed (resume).
        drop_remainder: Drop the last partial batch (training: fixed shapes).
        augment_seed: `(seed, epoch)` for random crops and flips, or None.
        with_labels: Yield `(x, y)` (True) or `x` only (prediction).
        label_outputs: Output names of a multi-output model whose every
            output is trained on the labels (MSNet's `low` and `high`):
            `y` is then `{name: labels}`. None: `y` is the labels.
        pad_last_batch: Pad a shorter last batch with blank examples up to
            `batch_size` (prediction only, so that `predict` traces one
            batch shape; drop the outputs past the split's examples).
    """

    def __init__(
        self,
        split,
        batch_size,
        order=None,
        skip_batches=0,
        drop_remainder=False,
        augment_seed=None,
        with_labels=True,
        label_outputs=None,
        pad_last_batch=False,
    ):
        super().__init__()
        if pad_last_batch and with_labels:
            raise ValueError("SplitBatches: pad_last_batch=True is for prediction; "
                             "pass with_labels=False.")
        self.split = split
        self.batch_size = int(batch_size)
        self.order = np.arange(len(split)) if order is None else np.asarray(order)
        total = len(self.order) / self.batch_size
        if drop_remainder:  # at least one batch when there are examples
            self.total_batches = max(math.floor(total), min(len(self.order), 1))
        else:
            self.total_batches = math.ceil(total)
        self.skip_batches = int(skip_batches)
        self.augment_seed = augment_seed
        self.with_labels = with_labels
        self.label_outputs = label_outputs
        self.pad_last_batch = pad_last_batch

    def __len__(self):
        return max(self.total_batches - self.skip_batches, 0)

    def __getitem__(self, index):
        batch = index + self.skip_batches
        positions = self.order[batch * self.batch_size : (batch + 1) * self.batch_size]
        x, y = self.split.read(positions)
        if self.augment_seed is not None:
            rng = np.random.default_rng(list(self.augment_seed) + [batch])
            x = random_crop_and_flip(x, rng)
        if not self.with_labels:
            return padded_to(x, self.batch_size) if self.pad_last_batch else x
        return (x, y) if self.label_outputs is None else (x, {name: y for name in self.label_outputs})


def training_batches(split, batch_size, seed, epoch, skip_batches=0, augment=False,
                     label_outputs=None):
    """The training batches of `epoch` (seeded order, last partial batch
    dropped); `label_outputs` as for `SplitBatches`."""
    return SplitBatches(
        split,
        batch_size,
        order=epoch_order(len(split), seed, epoch),
        skip_batches=skip_batches,
        drop_remainder=True,
        augment_seed=(seed, epoch) if augment else None,
        label_outputs=label_outputs,
    )
