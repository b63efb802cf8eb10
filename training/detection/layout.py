"""The PANet layout a detection run learned, against the baseline's.

A Resolution PANet decides the output size of every PANet convolution. This
module reads those sizes at the end of a run (the last row of its
`results.csv`, where `detection.PANetComplexityLogger` puts them) and shows
where the PANet's complexity went:

* per convolution: its output size and area in each run and in the baseline;
* per pyramid level (P3, P4, P5): the complexity at that level and its share
  of the PANet's total, so "complexity moved from P5 to P3" is a number.

A convolution's level is the level of its output in the baseline: the
convolutions with the largest baseline area are P3 (stride 8), a quarter of
it P4, a sixteenth P5. The logged sizes are those of the raw weights at the
end of the last epoch (the weight average that is evaluated moves the scales
by less than the last epochs' steps).

Example:

```python
rows = level_table(
    [run_layout("runs/table1/resolution_lambda0.001_seed0")],
    run_layout("runs/table1/baseline_seed0"))
print(format_level_table(rows, ["seed 0"]))
```

From the command line, `python -m training layout RUN_DIR [RUN_DIR ...]
--baseline BASELINE_RUN_DIR` prints `layout_report`.
"""

import math
import pathlib

from training.common.run_directory import RunDirectory
from training.common.run_directory import read_csv
from training.common.tables import format_table

_PREFIX = "panet/"
_COMPLEXITY = "/complexity_area"


def run_layout(run_dir):
    """Per-convolution PANet sizes at the end of a detection run.

    Args:
        run_dir: A detection run directory with at least one finished epoch.

    Returns:
        `{conv name: {"complexity": area, "h": height, "w": width}}` in the
        PANet's build order: the conv's output area, and the input size
        its Resolution layer gives it; `h` and `w` are None where the run
        did not log them (a baseline, whose sizes are fixed).

    Raises:
        ValueError: naming the directory, if it has no epoch or no
            per-convolution complexity in `results.csv`.
    """
    run = RunDirectory(run_dir)
    rows = read_csv(run.results_csv)
    if not rows:
        raise ValueError(f"{run.path}: no finished epoch ({run.results_csv} is missing or empty).")
    last = rows[-1]
    convs = [key[len(_PREFIX):-len(_COMPLEXITY)] for key in last
             if key.startswith(_PREFIX) and key.endswith(_COMPLEXITY)]
    if not convs:
        raise ValueError(f"{run.results_csv}: no per-convolution PANet complexity; "
                         "not a detection run?")
    return {conv: {"complexity": float(last[_PREFIX + conv + _COMPLEXITY]),
                   "h": last.get(f"{_PREFIX}{conv}/h"),
                   "w": last.get(f"{_PREFIX}{conv}/w")}
            for conv in convs}


def pyramid_levels(baseline):
    """`{conv name: "P3" | "P4" | "P5" ...}` from the baseline's areas.

    Example:

    >>> pyramid_levels({"a": {"complexity": 1024.0}, "b": {"complexity": 256.0},
    ...                 "c": {"complexity": 64.0}})
    {'a': 'P3', 'b': 'P4', 'c': 'P5'}
    """
    largest = max(conv["complexity"] for conv in baseline.values())
    return {name: f"P{3 + round(math.log2(math.sqrt(largest / conv['complexity'])))}"
            for name, conv in baseline.items()}


def _check_same_convs(layouts, baseline):
    for index, layout in enumerate(layouts):
        if list(layout) != list(baseline):
            raise ValueError(f"Run {index} has other PANet convolutions than the baseline: "
                             f"{sorted(set(layout) ^ set(baseline))}.")


def level_table(layouts, baseline):
    """Complexity and share of the total per pyramid level.

    Args:
        layouts: `run_layout` of each run to compare (e.g. one per seed).
        baseline: `run_layout` of a baseline run (the reference sizes).

    Returns:
        One row per level and a last "total" row: `level`, `baseline` (the
        baseline's complexity), `baseline_share` (its fraction of the
        baseline's total), and for each run `i`: `run<i>` (complexity) and
        `run<i>_share`; then `mean_share` and `share_change` (mean share
        minus the baseline's share, in fractions).

    Example:

    >>> base = {"a": {"complexity": 1024.0}, "b": {"complexity": 256.0}}
    >>> run = {"a": {"complexity": 1089.0}, "b": {"complexity": 121.0}}
    >>> [round(row["share_change"], 4) for row in level_table([run], base)]
    [0.1, -0.1, 0.0]
    """
    _check_same_convs(layouts, baseline)
    levels = pyramid_levels(baseline)
    names = sorted(set(levels.values()))

    def by_level(layout):
        totals = {level: 0.0 for level in names}
        for conv, entry in layout.items():
            totals[levels[conv]] += entry["complexity"]
        return totals, sum(totals.values())

    base_levels, base_total = by_level(baseline)
    runs = [by_level(layout) for layout in layouts]
    rows = []
    for level in names + ["total"]:
        row = {"level": level}
        row["baseline"] = base_total if level == "total" else base_levels[level]
        row["baseline_share"] = row["baseline"] / base_total
        shares = []
        for index, (totals, total) in enumerate(runs):
            row[f"run{index}"] = total if level == "total" else totals[level]
            row[f"run{index}_share"] = row[f"run{index}"] / total
            shares.append(row[f"run{index}_share"])
        row["mean_share"] = sum(shares) / len(shares)
        row["share_change"] = row["mean_share"] - row["baseline_share"]
        rows.append(row)
    return rows


def format_level_table(rows, run_names):
    """`level_table` as text: complexity (share) per run and the change of
    the mean share from the baseline's, in percentage points."""
    cells = []
    for row in rows:
        cell = {"level": row["level"],
                "baseline": f"{row['baseline']:,.0f} ({100 * row['baseline_share']:.1f}%)"}
        for index, name in enumerate(run_names):
            cell[name] = (f"{row[f'run{index}']:,.0f} "
                          f"({100 * row[f'run{index}_share']:.1f}%)")
        cell["share change"] = f"{100 * row['share_change']:+.1f} pts"
        cells.append(cell)
    columns = ["level", "baseline", *run_names, "share change"]
    return format_table(cells, columns, align_right=columns[1:])


def format_conv_table(layouts, baseline, run_names):
    """Every PANet convolution: its level, the baseline's output area, and
    each run's learned input size `h x w` with its output area in brackets."""
    _check_same_convs(layouts, baseline)
    levels = pyramid_levels(baseline)
    cells = []
    for conv, entry in baseline.items():
        cell = {"convolution": conv, "level": levels[conv],
                "baseline": f"{entry['complexity']:,.0f}"}
        for name, layout in zip(run_names, layouts):
            run = layout[conv]
            size = "" if run["h"] is None else f"{run['h']}x{run['w']} "
            cell[name] = f"{size}({run['complexity']:,.0f})"
        cells.append(cell)
    columns = ["convolution", "level", "baseline", *run_names]
    return format_table(cells, columns, align_right=columns[2:])


def layout_report(run_dirs, baseline_dir):
    """The text `python -m training layout` prints: every convolution's
    learned size, then the complexity and its share per pyramid level.

    Args:
        run_dirs: Detection run directories (e.g. one model over seeds);
            each column is named after its directory.
        baseline_dir: A baseline run directory (the reference sizes).

    Returns:
        The two tables as one string.
    """
    names = [pathlib.Path(path).name for path in run_dirs]
    if len(set(names)) != len(names):
        names = [str(path) for path in run_dirs]
    layouts = [run_layout(path) for path in run_dirs]
    baseline = run_layout(baseline_dir)
    return (f"PANet layout against the baseline {baseline_dir}: learned input size of each "
            "convolution (its output area)\n\n"
            + format_conv_table(layouts, baseline, names)
            + "\n\nComplexity (share of the PANet's total) per pyramid level; share change: "
              "mean share over the runs minus the baseline's\n\n"
            + format_level_table(level_table(layouts, baseline), names))
