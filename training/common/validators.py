"""The one set of option validators: each raises a one-line `ValueError`
naming the command-line option.

Example:

>>> check_positive_int("--epochs", 0)
Traceback (most recent call last):
...
ValueError: --epochs must be an integer >= 1, got 0.
"""

import math


def field_name(flag):
    """The config field of a command-line flag: `--batch-size` -> `batch_size`."""
    return flag.lstrip("-").replace("-", "_")


def check_choice(flag, value, choices):
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{flag} must be one of {', '.join(map(str, choices))}, got {value!r}.")
    return value


def _number(flag, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{flag} must be finite, got {value!r}.")
    return number


def check_positive(flag, value):
    """`value` as a float if it is finite and > 0."""
    if not _number(flag, value) > 0:
        raise ValueError(f"{flag} must be > 0, got {value!r}.")
    return float(value)


def check_non_negative(flag, value):
    """`value` as a float if it is finite and >= 0."""
    if not _number(flag, value) >= 0:
        raise ValueError(f"{flag} must be >= 0, got {value!r}.")
    return float(value)


def check_positive_int(flag, value):
    """`value` if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{flag} must be an integer >= 1, got {value!r}.")
    return value


def check_non_negative_int(flag, value):
    """`value` if it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{flag} must be an integer >= 0, got {value!r}.")
    return value
