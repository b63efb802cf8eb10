"""The order of the training examples: a function of `(seed, epoch)` only,
so a run resumed at epoch e, batch b sees exactly the batches an
uninterrupted run would have seen."""

import numpy as np


def epoch_order(num_examples, seed, epoch):
    """The permutation of the training examples used in `epoch`.

    Example:

    >>> bool((epoch_order(5, 0, 1) == epoch_order(5, 0, 1)).all())
    True
    """
    return np.random.default_rng([seed, epoch]).permutation(num_examples)
