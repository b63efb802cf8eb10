"""Prediction batches padded to one batch size.

Keras traces `predict` once per batch shape: a smaller last batch traces it
a second time (with the batch axis relaxed), and a Resolution model's trace
is long. The evaluations therefore pad the last batch with blank examples
and drop their outputs.
"""

import numpy as np
import tensorflow as tf


def padded_to(examples, batch_size):
    """`examples` with blank (all-zero) examples appended up to `batch_size`.

    Args:
        examples: A batch of at most `batch_size` examples: a NumPy array,
            or a TensorFlow tensor (as in a `tf.data` map).
        batch_size: The size every batch is padded to.

    Returns:
        The padded batch, the same kind of array; a tensor's batch axis is
        static (`batch_size`).

    Example:

    >>> padded_to(np.ones((1, 2), "float32"), 3).tolist()
    [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    """
    if isinstance(examples, np.ndarray):
        missing = batch_size - len(examples)
        return np.pad(examples, [(0, missing)] + [(0, 0)] * (examples.ndim - 1))
    missing = batch_size - tf.shape(examples)[0]
    padded = tf.pad(examples, [[0, missing]] + [[0, 0]] * (examples.shape.rank - 1))
    return tf.ensure_shape(padded, (batch_size,) + tuple(examples.shape[1:]))
