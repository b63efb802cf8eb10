"""Optimizers and learning-rate schedules for the classification jobs.

The quadratic budget `lambda * (C / C_full - p*)^2` with lambda = 100 gives
the learned scales gradients of about `200 * d_in / C_full` per unit of
`C / C_full - p*`: 20 to 25 at the start of a run, a hundred times the
classification gradients of the weights. The scales therefore need their
own learning rate:

* with the weights' SGD rate, every scale moves by several tenths in one
  step, overshoots, and the chain of Resolution layers collapses (measured
  on the embedded radio set, SGD lr 0.01 momentum 0.9: after one epoch the
  first layer held the whole budget at 218 samples, the six others were 1
  sample long, accuracy at chance);
* Adam moves each parameter by about its learning rate per step whatever
  the gradient, so with the weights' rate (3e-3) a scale needs hundreds of
  steps to reach a 10% budget: too slow for short runs.

`ResolutionSGD` and `ResolutionAdam` multiply the learning rate of the
Resolution scales (the variables named `scale`) by
`scale_learning_rate_factor`, on every backend: the update of one step is
applied to two groups, the weights at the scheduled rate and the scales at
`factor` times it.
"""

import keras

OPTIMIZERS = ("sgd", "adam")


def is_scale_variable(variable):
    """Whether `variable` is a ResolutionLayer's learned scale."""
    return variable.name == "scale"


class _ScaleLearningRate:
    """Mixin: the scales' learning rate is `scale_learning_rate_factor` times
    the optimizer's (schedule included)."""

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


@keras.saving.register_keras_serializable(package="training.classification")
class ResolutionSGD(_ScaleLearningRate, keras.optimizers.SGD):
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


@keras.saving.register_keras_serializable(package="training.classification")
class ResolutionAdam(_ScaleLearningRate, keras.optimizers.Adam):
    """Adam with a learning-rate factor for the Resolution scales.

    Args:
        scale_learning_rate_factor: The scales' learning rate over the
            weights' (1.0: plain Adam).
        **kwargs: `keras.optimizers.Adam` arguments.
    """

    def __init__(self, *args, scale_learning_rate_factor=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_scale_factor(scale_learning_rate_factor)


def piecewise_schedule(learning_rate, decay_epochs, decay_factor, steps_per_epoch):
    """Learning rate multiplied by `decay_factor` at each epoch of `decay_epochs`.

    The schedule counts optimizer steps, so a resumed run (whose optimizer
    state holds the step counter) continues on the same schedule.

    Args:
        learning_rate: Initial learning rate.
        decay_epochs: Epochs (0-based boundaries) where the rate decays.
        decay_factor: Multiplier at each boundary (paper: 0.1).
        steps_per_epoch: Optimizer steps per epoch.

    Returns:
        A float (no decay) or a `PiecewiseConstantDecay` schedule.
    """
    decay_epochs = sorted(int(e) for e in decay_epochs)
    if not decay_epochs:
        return float(learning_rate)
    # The rate of a step is read at `iterations` = steps already taken, and
    # PiecewiseConstantDecay switches after a boundary: the first step of
    # epoch e (iterations = e * steps_per_epoch) takes the decayed rate.
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[e * steps_per_epoch - 1 for e in decay_epochs],
        values=[float(learning_rate) * decay_factor**i for i in range(len(decay_epochs) + 1)],
    )


def make_optimizer(name, learning_rate, momentum=0.9, scale_learning_rate_factor=1.0):
    """The optimizer of a classification run.

    Args:
        name: `"sgd"` (`ResolutionSGD`) or `"adam"` (`ResolutionAdam`).
        learning_rate: Float or schedule.
        momentum: SGD momentum.
        scale_learning_rate_factor: Learning-rate factor of the scales.

    Returns:
        A Keras optimizer.
    """
    if name == "sgd":
        return ResolutionSGD(
            learning_rate=learning_rate,
            momentum=momentum,
            scale_learning_rate_factor=scale_learning_rate_factor,
        )
    if name == "adam":
        return ResolutionAdam(
            learning_rate=learning_rate, scale_learning_rate_factor=scale_learning_rate_factor
        )
    raise ValueError(f"Unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}.")
