"""ScaleBounds: keeps each learned scale inside its bounds after every update."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_resolution")
class ScaleBounds(keras.constraints.Constraint):
    """Clips a scale vector elementwise to `[lower[i], upper[i]]`.

    Keras optimizers apply a variable's constraint after each update, so an
    update that would push `s` out of bounds is clipped instead of raising
    mid-training.

    Args:
        lower: One lower bound per axis.
        upper: One upper bound per axis (`inf` for none).

    Example:

    >>> ScaleBounds([0.1], [2.0])(keras.ops.array([3.0]))
    """

    def __init__(self, lower, upper):
        self.lower = [float(v) for v in lower]
        self.upper = [float(v) for v in upper]

    def __call__(self, w):
        lower = ops.convert_to_tensor(self.lower, dtype=w.dtype)
        upper = ops.convert_to_tensor(self.upper, dtype=w.dtype)
        return ops.minimum(ops.maximum(w, lower), upper)

    def get_config(self):
        return {"lower": self.lower, "upper": self.upper}
