"""Optimizers, learning-rate schedules and steps per epoch of every job.

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


def piecewise_schedule(values, boundary_epochs, steps_per_epoch):
    """A learning rate that steps through `values` at `boundary_epochs`.

    `values[0]` until the first boundary, `values[i]` from epoch
    `boundary_epochs[i - 1]` on. Boundaries may be fractional epochs. The
    schedule counts optimizer steps, so a resumed run (whose optimizer state
    holds the step counter) continues on the same schedule.

    Args:
        values: Learning rates, one more than `boundary_epochs`.
        boundary_epochs: Increasing epochs (0-based) where the rate changes.
        steps_per_epoch: Optimizer steps per epoch.

    Returns:
        A float (one value) or a `PiecewiseConstantDecay` schedule.

    Example:

    >>> schedule = piecewise_schedule([0.1, 0.01], [2], steps_per_epoch=10)
    >>> round(float(schedule(19)), 6), round(float(schedule(20)), 6)
    (0.1, 0.01)
    """
    values = [float(value) for value in values]
    if len(values) != len(boundary_epochs) + 1:
        raise ValueError(
            f"`values` needs one more entry than `boundary_epochs`, got {len(values)} "
            f"and {len(boundary_epochs)}."
        )
    if not boundary_epochs:
        return values[0]
    # The rate of a step is read at `iterations` = steps already taken, and
    # PiecewiseConstantDecay switches after a boundary: the first step of
    # epoch e (iterations = e * steps_per_epoch) takes the next value.
    if list(boundary_epochs) != sorted(boundary_epochs):
        raise ValueError(f"`boundary_epochs` must be increasing, got {list(boundary_epochs)}.")
    boundaries = []
    for epoch in boundary_epochs:  # strictly increasing even when epochs are short
        step = max(round(epoch * steps_per_epoch) - 1, 0)
        boundaries.append(max(step, boundaries[-1] + 1) if boundaries else step)
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


@keras.saving.register_keras_serializable(package="training")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` with its rate ramped up linearly over the first steps.

    Step `i < warmup_steps` (counting from 0) takes `(i + 1) / warmup_steps`
    of `schedule(i)`; later steps take `schedule(i)`. Like the schedule, it
    counts optimizer steps, so a resumed run continues on it.

    Args:
        schedule: A `LearningRateSchedule` or a float.
        warmup_steps: Steps of the ramp (a positive integer).

    Example:

    >>> warm = LinearWarmup(0.1, warmup_steps=4)
    >>> [round(float(warm(step)), 3) for step in range(5)]
    [0.025, 0.05, 0.075, 0.1, 0.1]
    """

    def __init__(self, schedule, warmup_steps):
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 1:
            raise ValueError(f"`warmup_steps` must be a positive integer, got {warmup_steps!r}.")
        self.schedule = schedule
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        if isinstance(self.schedule, keras.optimizers.schedules.LearningRateSchedule):
            rate = self.schedule(step)
        else:
            rate = keras.ops.convert_to_tensor(float(self.schedule), "float32")
        ramp = keras.ops.minimum((step + 1.0) / float(self.warmup_steps), 1.0)
        return keras.ops.cast(rate, "float32") * ramp

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["schedule"], dict):
            config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def with_warmup(schedule, warmup_epochs, steps_per_epoch):
    """`schedule` behind a `LinearWarmup` of `warmup_epochs` epochs (none
    when `warmup_epochs` is 0)."""
    warmup_steps = round(float(warmup_epochs) * steps_per_epoch)
    return LinearWarmup(schedule, warmup_steps) if warmup_steps > 0 else schedule


def step_decay(learning_rate, decay_epochs, decay_factor, steps_per_epoch):
    """`learning_rate` multiplied by `decay_factor` at each of `decay_epochs`
    (the paper's classification schedules)."""
    decay_epochs = sorted(int(e) for e in decay_epochs)
    values = [float(learning_rate) * decay_factor**i for i in range(len(decay_epochs) + 1)]
    return piecewise_schedule(values, decay_epochs, steps_per_epoch)


def make_optimizer(
    name,
    learning_rate,
    momentum=0.9,
    global_clipnorm=None,
    scale_learning_rate_factor=1.0,
    ema_momentum=0.0,
):
    """The optimizer of a run: `ResolutionSGD` or `ResolutionAdam`.

    Args:
        name: `"sgd"` or `"adam"`.
        learning_rate: Float or schedule.
        momentum: SGD momentum.
        global_clipnorm: Clip the global gradient norm (None: no clipping).
        scale_learning_rate_factor: The Resolution scales' learning rate over
            the weights'.
        ema_momentum: Keep an exponential moving average of the weights with
            this momentum (0: none). The run loop evaluates and saves the
            averages; training continues on the raw weights.

    Returns:
        A Keras optimizer.
    """
    common = dict(
        learning_rate=learning_rate,
        global_clipnorm=global_clipnorm,
        scale_learning_rate_factor=scale_learning_rate_factor,
    )
    if ema_momentum:
        if not 0.0 < ema_momentum < 1.0:
            raise ValueError(f"--ema-momentum must be in [0, 1), got {ema_momentum!r}.")
        common.update(use_ema=True, ema_momentum=ema_momentum, ema_overwrite_at_fit_end=False)
    if name == "sgd":
        return ResolutionSGD(momentum=momentum, **common)
    if name == "adam":
        return ResolutionAdam(**common)
    raise ValueError(f"Unknown `--optimizer` {name!r}: expected one of {', '.join(OPTIMIZERS)}.")


def steps_per_epoch(num_examples, batch_size):
    """Training steps in one epoch (the last partial batch is dropped)."""
    return max(int(num_examples) // int(batch_size), 1)


__all__ = [
    "OPTIMIZERS",
    "LinearWarmup",
    "with_warmup",
    "make_optimizer",
    "piecewise_schedule",
    "step_decay",
    "steps_per_epoch",
]
