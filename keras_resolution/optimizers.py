"""Optimizers with a separate learning rate for the Resolution scales.

A Resolution scale is not a weight like the others: its gradient carries a
factor `d_in` (q = d_in * s) and, under a budget, the penalty's gradient,
so it can be a hundred times the weights' gradients; and with Adam every
parameter moves by about the learning rate per step whatever its gradient,
which lets a chain of Resolution layers drift by the same step in every
layer and compound. The scales therefore want their own learning rate.

`ResolutionSGD` and `ResolutionAdam` apply each update to two groups: the
weights at the scheduled rate and the scales at `scale_learning_rate_factor`
times it. A scale is recognised by identity, as the variable a
`ResolutionLayer` created and marked as its own (`is_scale_variable`), not by
its name: other layers' variables named `scale` (RMSNormalization,
Attention with `use_scale=True`) are ordinary weights. This works on every
backend.
"""

import keras

from keras_resolution.layer import is_scale_variable


class ScaleLearningRateMixin:
    """Optimizer mixin: the scales' learning rate is
    `scale_learning_rate_factor` times the optimizer's (schedule included)."""

    def _init_scale_factor(self, factor):
        factor = float(factor)
        if not factor > 0:
            raise ValueError(f"`scale_learning_rate_factor` must be > 0, got {factor!r}.")
        self.scale_learning_rate_factor = factor

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        factor = self.scale_learning_rate_factor
        groups = ([], [], [], [])  # weight grads, weights, scale grads, scales
        for grad, variable in zip(grads, trainable_variables):
            offset = 2 if factor != 1.0 and is_scale_variable(variable) else 0
            groups[offset].append(grad)
            groups[offset + 1].append(variable)
        if groups[1]:
            super()._backend_update_step(groups[0], groups[1], learning_rate)
        if groups[3]:
            super()._backend_update_step(groups[2], groups[3], learning_rate * factor)

    def get_config(self):
        config = super().get_config()
        config["scale_learning_rate_factor"] = self.scale_learning_rate_factor
        return config


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionSGD(ScaleLearningRateMixin, keras.optimizers.SGD):
    """SGD with a learning-rate factor for the Resolution scales.

    Args:
        scale_learning_rate_factor: The scales' learning rate over the
            weights' (1.0: plain SGD).
        **kwargs: `keras.optimizers.SGD` arguments.

    Example:

    >>> optimizer = ResolutionSGD(learning_rate=0.1, momentum=0.99,
    ...                           scale_learning_rate_factor=0.01)
    """

    def __init__(self, *args, scale_learning_rate_factor=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_scale_factor(scale_learning_rate_factor)


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionAdam(ScaleLearningRateMixin, keras.optimizers.Adam):
    """Adam with a learning-rate factor for the Resolution scales.

    Args:
        scale_learning_rate_factor: The scales' learning rate over the
            weights' (1.0: plain Adam).
        **kwargs: `keras.optimizers.Adam` arguments.
    """

    def __init__(self, *args, scale_learning_rate_factor=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_scale_factor(scale_learning_rate_factor)
