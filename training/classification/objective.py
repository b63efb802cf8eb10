"""The matched-budget objective: cross-entropy + lambda * (C / C_full - p*)^2.

The classification loss is Keras's sparse categorical cross-entropy on the
softmax outputs; the budget term is `keras_resolution.QuadraticTarget`,
which `keras_resolution.ResolutionModel` adds to the training loss (and logs
as `complexity_penalty`). This module validates the user-facing choices
(transform, p*, lambda) with errors that name the option.
"""

import math

import keras

from keras_resolution import QuadraticTarget

TRANSFORMS = ("dct", "dft")
FIXED = "fixed"


def check_transform(transform, allow_fixed=True):
    """Returns `transform` if known, else raises a `ValueError` naming it.

    Args:
        transform: `"dct"`, `"dft"` or (if `allow_fixed`) `"fixed"`.
        allow_fixed: Whether the fixed baseline is a valid choice.

    Returns:
        The transform name.
    """
    known = TRANSFORMS + ((FIXED,) if allow_fixed else ())
    if transform not in known:
        raise ValueError(
            f"Unknown transform {transform!r}: expected one of {', '.join(known)}."
        )
    return transform


def check_target_budget(target_budget):
    """Returns p* as a float if it lies in (0, 1], else raises a `ValueError`.

    Example:

    >>> check_target_budget("0.25")
    0.25
    """
    try:
        value = float(target_budget)
    except (TypeError, ValueError):
        raise ValueError(
            f"The target budget p* must be a number in (0, 1], got {target_budget!r}."
        ) from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(
            f"The target budget p* must lie in (0, 1] (a fraction of C_full), "
            f"got {target_budget!r}."
        )
    return value


def quadratic_target(target_budget, weight=100.0):
    """The budget penalty `weight * (C / C_full - p*)^2` after validation.

    Args:
        target_budget: p* in (0, 1].
        weight: lambda >= 0 (paper: 100).

    Returns:
        A `keras_resolution.QuadraticTarget`.
    """
    weight = float(weight)
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"The penalty weight lambda must be finite and >= 0, got {weight!r}.")
    return QuadraticTarget(check_target_budget(target_budget), weight=weight)


def classification_loss():
    """Cross-entropy on softmax outputs with integer labels."""
    return keras.losses.SparseCategoricalCrossentropy()
