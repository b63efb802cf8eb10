"""The one registry of complexity definitions: how the sizes of one feature
map become one number.

* `"linear"`: the sum of the lengths over the axes (the paper's section 5
  text, `q_h s_h + q_w s_w` in its notation);
* `"area"`: their product, the output area (the definition behind the
  paper's detection budget, 11,500 for YOLOv8's PANet at 320 px).

The lengths may be Python numbers (integer sizes) or tensors (the
continuous q, differentiable in the scales).
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


def check_definition(definition, argument="definition"):
    """`definition` if it is registered, else a `ValueError` naming the
    `argument` it was passed as."""
    if definition not in COMPLEXITY_DEFINITIONS:
        raise ValueError(
            f"Unknown complexity `{argument}`: {definition!r}. Expected one of "
            f"{tuple(COMPLEXITY_DEFINITIONS)}."
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
