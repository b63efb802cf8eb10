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

Both are handled by `keras_resolution.ResolutionSGD` / `ResolutionAdam`
(moved into the library from here), which apply the scales' updates at
`scale_learning_rate_factor` times the scheduled rate on every backend. They
are re-exported here, and their old registered names (from before the
move) still resolve, so earlier run directories load and resume.
"""

import keras

from keras_resolution.optimizers import ResolutionAdam
from keras_resolution.optimizers import ResolutionSGD

OPTIMIZERS = ("sgd", "adam")

# Run directories written before the move name the classes by their old
# registration; keep those names resolvable.
for _class in (ResolutionSGD, ResolutionAdam):
    keras.saving.get_custom_objects()[f"training.classification>{_class.__name__}"] = _class


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


__all__ = ["OPTIMIZERS", "ResolutionAdam", "ResolutionSGD", "make_optimizer", "piecewise_schedule"]
