"""Plain-text tables of run and sweep results: the one formatter."""

import math


def format_value(value):
    """Compact text for a table cell: floats to 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows, columns, headers=None, align_right=()):
    """A fixed-width text table.

    Args:
        rows: List of dicts.
        columns: Keys to show, in order.
        headers: Column titles (default: the keys).
        align_right: Columns to right-align (numbers); the others are
            left-aligned.

    Returns:
        The table as one string (header, rule, rows).

    Example:

    >>> print(format_table([{"a": 1, "b": 0.12345}], ["a", "b"]))
    a  b
    -  ------
    1  0.1235
    """
    headers = list(headers or columns)
    cells = [[format_value(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(header)] + [len(line[i]) for line in cells]) for i, header in enumerate(headers)
    ]
    right = [column in align_right for column in columns]

    def line(texts):
        aligned = (t.rjust(w) if r else t.ljust(w) for t, w, r in zip(texts, widths, right))
        return "  ".join(aligned).rstrip()

    lines = [line(headers), "  ".join("-" * w for w in widths)]
    lines.extend(line(texts) for texts in cells)
    return "\n".join(lines)


def format_mapping(mapping, title="Results"):
    """A two-column `key  value` table of a results dict, under a title.

    Example:

    >>> print(format_mapping({"map50": 0.45678, "epochs": 16}))
    Results
    -------
    map50   0.4568
    epochs  16
    """
    rows = [{"key": key, "value": value} for key, value in mapping.items()
            if not isinstance(value, (dict, list))]
    table = format_table(rows, ["key", "value"]).splitlines()[2:]
    return "\n".join([title, "-" * len(title), *table])


def seed_cells(by_seed, reference=None, scale=100.0):
    """The cells of one row of a per-seed table: `"seed <s>"` -> the value
    (times `scale`, one decimal), followed in brackets by its difference
    from `reference`'s value of the same seed where there is one: the
    pairs behind a paired interval.

    Args:
        by_seed: `{seed: value}`.
        reference: `{seed: value}` of the reference model, or None.
        scale: Factor for the text (100: fractions shown in points).

    Returns:
        Dict of cells, for `format_table`.

    Example:

    >>> seed_cells({0: 0.537, 2: 0.56}, {0: 0.59, 1: 0.58})
    {'seed 0': '53.7 (-5.3)', 'seed 2': '56.0'}
    """
    cells = {}
    for seed, value in by_seed.items():
        text = f"{scale * value:.1f}"
        if reference is not None and seed in reference:
            text += f" ({scale * (value - reference[seed]):+.1f})"
        cells[f"seed {seed}"] = text
    return cells
