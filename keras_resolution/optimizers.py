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

Both also accept Keras's weight averaging (`use_ema=True`, `ema_momentum`).
Keras copies the averages into the model when `fit` ends, which suits one
`fit` call; a job that trains one epoch per `fit` (to resume mid-run)
passes `ema_overwrite_at_fit_end=False`, keeps training the raw weights
across calls, and swaps the averages in to evaluate (see
`swap_average_weights`).
"""

import keras

from keras_resolution.layer import is_scale_variable


class ScaleLearningRateMixin:
    """Optimizer mixin: the scales' learning rate is
    `scale_learning_rate_factor` times the optimizer's (schedule included)."""

    def _init_scale_factor(self, factor, ema_overwrite_at_fit_end=True):
        factor = float(factor)
        if not factor > 0:
            raise ValueError(f"`scale_learning_rate_factor` must be > 0, got {factor!r}.")
        self.scale_learning_rate_factor = factor
        self.ema_overwrite_at_fit_end = bool(ema_overwrite_at_fit_end)

    def finalize_variable_values(self, var_list):
        # `fit` calls this when it ends; with `ema_overwrite_at_fit_end=False`
        # the raw weights stay in place so that training can go on.
        if self.ema_overwrite_at_fit_end:
            super().finalize_variable_values(var_list)

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
        config["ema_overwrite_at_fit_end"] = self.ema_overwrite_at_fit_end
        return config


def swap_average_weights(optimizer):
    """Exchanges the values of the weights trained by `optimizer` with their
    moving averages (`use_ema=True`); calling it again swaps them back.

    Does nothing when the optimizer keeps no averages or has not been built.

    Args:
        optimizer: A Keras optimizer.

    Returns:
        True if the values were swapped.

    Example:

    >>> swap_average_weights(model.optimizer)    # evaluate the averages
    >>> model.evaluate(x, y)
    >>> swap_average_weights(model.optimizer)    # back to training
    """
    # Keras keeps the averages in the private `_model_variables_moving_average`,
    # aligned with `_trainable_variables`; its SwapEMAWeights callback reads
    # the same two lists.
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not getattr(optimizer, "use_ema", False) or not optimizer.built or not averages:
        return False
    for variable, average in zip(optimizer._trainable_variables, averages):
        if average is None:
            continue
        value = keras.ops.copy(variable.value)
        variable.assign(average)
        average.assign(value)
    return True


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionSGD(ScaleLearningRateMixin, keras.optimizers.SGD):
    """SGD with a learning-rate factor for the Resolution scales.

    Args:
        scale_learning_rate_factor: The scales' learning rate over the
            weights' (1.0: plain SGD).
        ema_overwrite_at_fit_end: With `use_ema=True`, copy the averages
            into the model when `fit` ends (Keras's behaviour); False keeps
            the raw weights for more `fit` calls.
        **kwargs: `keras.optimizers.SGD` arguments.

    Example:

    >>> optimizer = ResolutionSGD(learning_rate=0.1, momentum=0.99,
    ...                           scale_learning_rate_factor=0.01)
    """

    def __init__(
        self, *args, scale_learning_rate_factor=1.0, ema_overwrite_at_fit_end=True, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self._init_scale_factor(scale_learning_rate_factor, ema_overwrite_at_fit_end)


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionAdam(ScaleLearningRateMixin, keras.optimizers.Adam):
    """Adam with a learning-rate factor for the Resolution scales.

    Args:
        scale_learning_rate_factor: The scales' learning rate over the
            weights' (1.0: plain Adam).
        ema_overwrite_at_fit_end: As in `ResolutionSGD`.
        **kwargs: `keras.optimizers.Adam` arguments.
    """

    def __init__(
        self, *args, scale_learning_rate_factor=1.0, ema_overwrite_at_fit_end=True, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self._init_scale_factor(scale_learning_rate_factor, ema_overwrite_at_fit_end)
