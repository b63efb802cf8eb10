"""The paper's Figure 3 sweep: fixed, DCT and DFT models across budgets.

For every dataset, `run_figure3(...)` trains the fixed baseline once, then
DCT and DFT Resolution models at each target p* of `targets` plus
p* = C_base / C_full (the baseline's own budget; 1.0 for the 1D CNN, whose
baseline does not resize). Every model is a classification run of its own
under the sweep directory:

    SWEEP_DIR/
        sweep.json             the sweep's settings
        results.csv            one row per finished run (the table below)
        plots/figure3.png      accuracy against realised complexity
        <data>/fixed/          one run directory per model
        <data>/dct-p0.1000/ ...

`results.csv` and the plot are rewritten after every run, so an
interrupted sweep keeps what it finished; the same command again reuses
the finished runs and resumes the interrupted one from its last checkpoint
(`training.common.run_directory.claim_sweep`).
"""

import pathlib
import time

from training.classification.config import resolve_config
from training.classification.data import check_data_spec
from training.classification.data import load_dataset
from keras_resolution.applications.classifiers import budget_reference
from training.classification.plots import plot_figure3
from training.common.tables import format_table
from training.classification.job import run_classification
from training.common.run_directory import RunDirectory
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import claim_sweep

FIGURE3_TARGETS = (0.1, 0.25, 0.5, 1.0)
FIGURE3_TRANSFORMS = ("dct", "dft")
TABLE_COLUMNS = (
    "data", "transform", "target_budget", "complexity_fraction",
    "size_complexity_fraction", "relative_error", "test_accuracy",
    "train_seconds",
)  # fmt: skip


def data_slug(spec):
    """Directory name of a dataset inside a sweep."""
    return "radioml" if spec.startswith("radioml:") else spec


def sweep_plan(c_base, c_full, targets=FIGURE3_TARGETS, transforms=FIGURE3_TRANSFORMS):
    """The (transform, p*) pairs of one dataset: the baseline, then each transform.

    Example:

    >>> sweep_plan(56.0, 192.0, (0.1, 1.0), ("dct",))
    [('fixed', None), ('dct', 0.1), ('dct', 0.2917), ('dct', 1.0)]
    """
    budgets = sorted({round(float(p), 4) for p in targets} | {round(c_base / c_full, 4)})
    return [("fixed", None)] + [(t, p) for t in transforms for p in budgets]


def run_name(transform, target):
    return "fixed" if target is None else f"{transform}-p{target:.4f}"


def _row(results, run_dir, is_base_budget):
    row = {key: results.get(key) for key in TABLE_COLUMNS}
    row.update(
        complexity=results["complexity"],
        complexity_full=results["complexity_full"],
        complexity_base=results["complexity_base"],
        test_loss=results["test_loss"],
        best_val_accuracy=results["best_val_accuracy"],
        base_budget=is_base_budget,
        run_dir=str(run_dir),
    )
    return row


def run_figure3(
    data_specs,
    sweep_dir,
    targets=FIGURE3_TARGETS,
    transforms=FIGURE3_TRANSFORMS,
    verbose=1,
    **options,
):
    """Runs the Figure 3 sweep and writes its table and plot.

    Args:
        data_specs: Dataset specs (one plot panel each).
        sweep_dir: Directory of the sweep.
        targets: Target budgets p* (C_base / C_full is always added).
        transforms: Resolution transforms to compare.
        verbose: Keras verbosity of each run.
        **options: `ClassifyConfig` options shared by every run (`epochs`,
            `batch_size`, `seed`, ...); None keeps the dataset's default.

    Returns:
        List of result rows (also in `results.csv`).
    """
    sweep = RunDirectory(sweep_dir)
    settings = {
        "data": list(data_specs),
        "targets": list(targets),
        "transforms": list(transforms),
        "options": {k: v for k, v in options.items() if v is not None},
    }
    claim_sweep(sweep.path, {"sweep": "figure3", **settings})
    rows = []
    started = time.time()
    for spec in settings["data"]:
        check_data_spec(spec)
        config = resolve_config(spec, transform="fixed", **settings["options"])
        data = load_dataset(
            spec, seed=config.seed, data_dir=config.data_dir, max_examples=config.max_examples
        )
        width = {"width": config.width} if config.width else {}
        c_base, c_full, _ = budget_reference(
            config.architecture, data.input_shape, data.num_classes,
            config.complexity_definition, **width,
        )  # fmt: skip
        base_budget = round(c_base / c_full, 4)
        plan = sweep_plan(c_base, c_full, settings["targets"], settings["transforms"])
        for transform, target in plan:
            run_dir = pathlib.Path(sweep.path) / data_slug(spec) / run_name(transform, target)
            config = resolve_config(
                spec, transform=transform, target_budget=target, **settings["options"]
            )
            if verbose:
                print(f"\n=== {spec}: {run_name(transform, target)} ({run_dir})")
            results = run_classification(
                config,
                run_dir,
                resume=RunDirectory(run_dir).holds_run(),
                data=data,
                verbose=verbose,
            )
            rows.append(_row(results, run_dir, target == base_budget))
            atomic_write_csv(sweep.results_csv, rows)
            plot_figure3(rows, sweep.plots_dir / "figure3.png")
    if verbose:
        figure = sweep.plots_dir / "figure3.png"
        print(f"\nFigure 3 sweep done in {time.time() - started:.0f} s: {figure}")
        print(format_table(rows, TABLE_COLUMNS))
    return rows
