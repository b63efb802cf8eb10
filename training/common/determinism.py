"""Same command, same seed, same machine: the same numbers.

`seed_everything(seed)` seeds Python, NumPy and the Keras backend
(`keras.utils.set_random_seed`) and, on TensorFlow, turns on op
determinism (TensorFlow's deterministic kernels and a fixed order of
reductions), so that two runs of one command agree.
"""

import keras


def seed_everything(seed):
    """Seeds every random source of a run and makes TensorFlow deterministic.

    Args:
        seed: Integer seed of the run.
    """
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
