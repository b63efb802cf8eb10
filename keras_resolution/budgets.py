"""Complexity budgets: penalties on the total complexity C, and the model mixin
that adds them to the training loss on every backend."""

import math

import keras
from keras import ops

from keras_resolution.complexity import complexity, full_complexity


@keras.saving.register_keras_serializable(package="keras_resolution")
class QuadraticTarget:
    """`weight * (C / C_full - target)^2`: pulls C toward a fraction of C_full.

    The paper's matched-budget objective (section 5.1, lambda = 100).

    Args:
        target: Target fraction p* in (0, 1].
        weight: lambda >= 0.

    Example:

    >>> float(QuadraticTarget(0.25, weight=100.0)(50.0, 100.0))
    6.25
    """

    def __init__(self, target, weight=100.0):
        try:
            target = float(target)
        except (TypeError, ValueError):
            raise ValueError(f"`target`: p* must be a number, got {target!r}.") from None
        if not 0.0 < target <= 1.0:
            raise ValueError(f"`target`: p* must lie in (0, 1], got {target}.")
        _check_weight(weight)
        self.target = target
        self.weight = float(weight)

    def __call__(self, C, C_full):
        return self.weight * ops.square(ops.cast(C, "float32") / C_full - self.target)

    def get_config(self):
        return {"target": self.target, "weight": self.weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_resolution")
class HingeCap:
    """`weight * max(0, C - cap)`: penalises C only above a cap.

    The paper's capped objective for detection (section 5.2).

    Args:
        cap: C_cap > 0, in the units of the complexity definition.
        weight: lambda_hinge >= 0.

    Example:

    >>> float(HingeCap(100.0, weight=0.01)(150.0, 200.0))
    0.5
    """

    def __init__(self, cap, weight):
        cap = _as_float("cap", cap)
        if not math.isfinite(cap) or cap <= 0:
            raise ValueError(f"`cap` (complexity cap) must be finite and > 0, got {cap}.")
        _check_weight(weight)
        self.cap = cap
        self.weight = float(weight)

    def __call__(self, C, C_full=None):
        return self.weight * ops.relu(ops.cast(C, "float32") - self.cap)

    def get_config(self):
        return {"cap": self.cap, "weight": self.weight}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _as_float(name, value):
    """float(value), or a ValueError naming the argument."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number, got {value!r}.") from None


def _check_weight(weight):
    weight = _as_float("weight", weight)
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"`weight` (lambda) must be finite and >= 0, got {weight}.")


class ComplexityBudgetMixin:
    """Adds a complexity penalty to a Keras model's training loss.

    Mix in before a `keras.Model` subclass (for example KerasCV's
    `YOLOV8Detector`) and call `init_complexity_budget` in `__init__`.
    `compute_loss` then returns the model's own loss plus
    `penalty(C, C_full)`, on every backend, and two metrics appear in the
    logs (names set by `metric_names`):

    * `complexity`: the C of the loss, under `complexity_definition`,
      averaged over the epoch's batches (`val_complexity` on validation);
    * `complexity_penalty`: the penalty term, averaged likewise.

    `keras_resolution.ComplexityLogger` writes the values at epoch end under
    other keys (`complexity_linear`, `complexity_area`, ...), so the two
    never overwrite each other.
    """

    def init_complexity_budget(
        self,
        penalty=None,
        definition="linear",
        metric_names=("complexity", "complexity_penalty"),
    ):
        """Sets the penalty (`QuadraticTarget`, `HingeCap` or None) and the
        complexity definition, and creates the two trackers.

        Args:
            penalty: Callable `penalty(C, C_full)`, or None.
            definition: `"linear"` or `"area"`.
            metric_names: Log names of C and of the penalty. They must
                differ from the keys of any logger used alongside (see
                `ComplexityLogger` for its keys).
        """
        self.complexity_penalty = penalty
        self.complexity_definition = definition
        self.complexity_full = self.model_full_complexity()
        self.complexity_tracker = keras.metrics.Mean(name=metric_names[0])
        self.complexity_penalty_tracker = keras.metrics.Mean(name=metric_names[1])

    def model_complexity(self):
        """C for the current scales; override to measure a part of a model."""
        return complexity(self, self.complexity_definition)

    def model_full_complexity(self):
        """C_full (every s = 1); override together with `model_complexity`."""
        return full_complexity(self, self.complexity_definition)

    def complexity_penalty_loss(self):
        """(C, penalty) as scalar tensors for the current scales."""
        C = self.model_complexity()
        if self.complexity_penalty is None:
            return C, ops.zeros((), "float32")
        return C, self.complexity_penalty(C, self.complexity_full)

    def compute_loss(self, *args, **kwargs):
        loss = super().compute_loss(*args, **kwargs)
        C, penalty = self.complexity_penalty_loss()
        self.complexity_tracker.update_state(C)
        self.complexity_penalty_tracker.update_state(penalty)
        return loss + ops.cast(penalty, loss.dtype)


@keras.saving.register_keras_serializable(package="keras_resolution")
class ResolutionModel(ComplexityBudgetMixin, keras.Model):
    """A functional `keras.Model` trained under a complexity budget.

    Args:
        inputs, outputs: As for `keras.Model`.
        penalty: `QuadraticTarget`, `HingeCap` or None.
        complexity_definition: `"linear"` or `"area"`.
        **kwargs: Other `keras.Model` arguments.

    Example:

    >>> inputs = keras.Input((32, 32, 3))
    >>> x = ResolutionLayer()(keras.layers.Conv2D(8, 3, padding="same")(inputs))
    >>> outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    >>> model = ResolutionModel(inputs, outputs, penalty=QuadraticTarget(0.25))
    """

    # The positional arguments must be exactly Functional's (inputs, outputs,
    # name): Keras serializes a Model subclass as a functional graph only when
    # `functional_like_constructor` accepts its __init__; otherwise
    # get_config() has no "layers" and a saved .keras file cannot be loaded.
    def __init__(
        self,
        inputs,
        outputs,
        name=None,
        *,
        penalty=None,
        complexity_definition="linear",
        **kwargs,
    ):
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.init_complexity_budget(penalty, complexity_definition)

    def get_config(self):
        config = super().get_config()
        config["penalty"] = keras.saving.serialize_keras_object(self.complexity_penalty)
        config["complexity_definition"] = self.complexity_definition
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        penalty = keras.saving.deserialize_keras_object(config.pop("penalty"))
        definition = config.pop("complexity_definition")
        # `keras.Model.from_config` rebuilds the functional graph (its
        # `functional_from_config`) for a class whose __init__ takes
        # Functional's (inputs, outputs, name), as this one does; __init__
        # then runs with the default penalty and definition, set below.
        model = super().from_config(config, custom_objects=custom_objects)
        model.complexity_penalty = penalty
        if definition != model.complexity_definition:
            model.complexity_definition = definition
            model.complexity_full = full_complexity(model, definition)
        return model
