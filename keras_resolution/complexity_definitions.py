"""The one registry of complexity definitions: how the sizes of one feature
map become one number.

* `"linear"`: the sum of the lengths over the axes (the paper's section 5
  text, `q_h s_h + q_w s_w` in its notation);
* `"area"`: their product, the output area (the definition behind the
  paper's detection budget, 11,500 for YOLOv8's PANet at 320 px).

The lengths may be Python numbers (integer sizes) or tensors (the
continuous q, differentiable in the scales).

A third definition, `"flops"`, is not a function of one map's lengths: it
needs the convolutions a layer feeds, so it is computed on the whole model
by `keras_resolution.complexity(model, "flops")` and is not in this
registry. `parse_complexity_cap` reads caps such as `"0.8GFLOPs"`.
"""


def _linear(lengths):
    total = lengths[0]
    for length in lengths[1:]:
        total = total + length
    return total


def _area(lengths):
    total = lengths[0]
    for length in lengths[1:]:
        total = total * length
    return total


COMPLEXITY_DEFINITIONS = {"linear": _linear, "area": _area}


# The definition of the whole model (see the module docstring).
FLOPS = "flops"


def check_definition(definition, argument="definition", allow_flops=False):
    """`definition` if it is registered (or is `"flops"` and `allow_flops`,
    for code that measures whole models), else a `ValueError` naming the
    `argument` it was passed as."""
    known = (*COMPLEXITY_DEFINITIONS, FLOPS) if allow_flops else tuple(COMPLEXITY_DEFINITIONS)
    if definition not in known:
        raise ValueError(
            f"Unknown complexity `{argument}`: {definition!r}. Expected one of {known}."
        )
    return definition


def measure(lengths, definition="linear"):
    """The complexity of one feature map of output lengths `lengths`.

    Args:
        lengths: One length per resized axis (numbers or scalar tensors).
        definition: A key of `COMPLEXITY_DEFINITIONS`.

    Returns:
        A number or a scalar tensor, as the lengths are.

    Example:

    >>> measure([16, 8], "linear"), measure([16, 8], "area")
    (24, 128)
    """
    return COMPLEXITY_DEFINITIONS[check_definition(definition)](list(lengths))


# Unit prefixes of a FLOPs cap ("0.8GFLOPs"): multiply-adds per example.
_FLOPS_PREFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_complexity_cap(text, argument="complexity_cap"):
    """A complexity cap from its text: a plain number, or multiply-adds
    with a unit (`"0.8GFLOPs"`, `"750MFLOPs"`, `"2.5e8FLOPs"`).

    Args:
        text: The cap, a string or a number.
        argument: The name to give in the error message.

    Returns:
        `(value, definition)`: the cap as a float > 0, and `"flops"` when a
        FLOPs unit was given, else None (the cap is in the budget's own
        definition).

    Example:

    >>> parse_complexity_cap("0.8GFLOPs")
    (800000000.0, 'flops')
    >>> parse_complexity_cap("11500")
    (11500.0, None)
    """
    raw = str(text).strip()
    definition = None
    if raw.upper().endswith("FLOPS"):
        number, prefix = raw[:-5], ""
        if number[-1:].upper() in _FLOPS_PREFIXES and number[-1:].isalpha():
            number, prefix = number[:-1], number[-1:].upper()
        raw, definition = number, "flops"
        scale = _FLOPS_PREFIXES[prefix]
    else:
        scale = 1.0
    try:
        value = float(raw) * scale
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(
            f"`{argument}` must be a number > 0 or FLOPs such as '0.8GFLOPs', got {text!r}."
        )
    return value, definition
