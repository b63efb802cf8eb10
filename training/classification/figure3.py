"""The paper's Figure 3 sweep: fixed, DCT and DFT models across budgets,
and optionally the comparators of issue 11.

For every dataset and every seed, `run_figure3(...)` trains the fixed
baseline, then DCT and DFT Resolution models at each target p* of
`targets` plus p* = C_base / C_full (the baseline's own budget; 1.0 for the
1D CNN, whose baseline does not resize). With `methods` (`--methods`), the
image datasets (ResNet-18) also get the rows of the comparators: the
DiffStride ResNet-18 (`diffstride`) and the hybrids (`hybrid`,
`hybrid-pre-bn`) at the same p* values, their DiffStride strides under the
quadratic target with C_full their own (of the p* below the floor their
strides can reach, `keras_resolution.complexity_floor`, only the largest:
every such target ends at the floor), and the fixed spectral-pooling
ResNet-18 (`spectral`) once per seed, as a baseline without a rate to
learn. The 1D CNN has no comparator rows (DiffStride is 2-D). In the
tables the column `transform` holds the method's name for these rows, and
their C / C_full is relative to their own C_full (the input sizes of their
DiffStride and spectral-pooling layers at initialisation), not to the
Resolution ResNet-18's. The N-Jet networks of issue 12 are methods too:
with safe subsampling (`njet-resnet18-safe`, `njet-nin-safe`) at the same
p* values (down to their floor, as DiffStride's), sigma under the target
through the surrogate of the safe-subsampled sizes; without
(`njet-resnet18`, `njet-nin`) once per seed, their sizes being fixed.
MSNet (`msnet`) trains once per seed and gives one row per calibrated early-exit threshold (`early_exit_rows`): its `p*` is the
target average complexity the threshold was calibrated for, over the
ResNet-18's C_full, from the low branch alone to both branches on every
image. Every (model, seed) is a classification run of its
own under the sweep directory:

    SWEEP_DIR/
        sweep.json               the sweep's settings
        results.csv              one row per finished run (model and seed)
        summary.csv              one row per (data, transform, p*): statistics over seeds
        summary.txt              the same as a table (as printed), every run's
                                 accuracy per seed, then how to read them
        plots/figure3.png        accuracy against realised complexity, and the
                                 paired differences from the fixed baseline;
                                 error bars = 95% confidence intervals
        <data>/fixed/            seed 0: one run directory per model
        <data>/dct-p0.1000/ ...
        <data>/diffstride-p0.1000/, <data>/spectral/ ...   with --methods
        <data>/fixed-seed1/      other seeds: the same names, suffixed -seed<N>
        <data>/dct-p0.1000-seed1/ ...

Seed 0 keeps the directory names of the one-seed sweep, and a sweep of seed
0 alone keeps its `sweep.json` too, so one-seed sweeps from before
`--seeds` continue.

The summary gives, for each (data, transform, p*), the mean, sample std
(n-1) and two-sided 95% Student-t interval over seeds of the test accuracy
and of the realised complexity C / C_full, and for each Resolution model the
paired difference of test accuracy from the fixed baseline of the same
seed, with its 95% interval (`training.common.statistics`). One seed gives
means without intervals.

Runs go seed by seed (every dataset and model of seed 0, then of seed 1,
...), so an interrupted sweep holds complete seeds of every dataset.
`results.csv`, the summary and the plot are rewritten when the sweep
starts and after every run, from every finished run of the sweep (whichever
command trained it), so an interrupted sweep keeps what it finished; the
same command again reuses the finished runs and resumes the interrupted one from its last checkpoint
(`training.common.run_directory.claim_sweep`).

Comparator rows are an explicit extension: a sweep directory claimed
without `--methods` (or with fewer) accepts the same command with
`--methods ...` added; its sweep.json then records the methods, its
finished runs are reused, and only the new rows are trained. From then on
the sweep is continued with those methods (a command without them would
drop their rows from the tables, so it is refused as other settings).
"""

import json
import pathlib
import time

from training.classification.comparators import COMPARATOR_MODELS
from training.classification.comparators import FIXED_RATE_MODELS
from training.classification.comparators import MSNET
from training.classification.config import resolve_config
from training.classification.data import check_data_spec
from training.classification.data import data_version
from training.classification.data import load_dataset
from keras_resolution import complexity_floor
from keras_resolution.applications.classifiers import budget_reference
from training.classification.plots import plot_figure3
from training.common.tables import format_table
from training.common.tables import seed_cells
from training.classification.job import build_model
from training.classification.job import run_classification
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunInUseError
from training.common.run_directory import atomic_write_csv
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import claim_sweep
from training.common.run_directory import read_csv
from training.common.run_directory import read_json
from training.common.statistics import estimate_columns
from training.common.statistics import estimate_from_columns
from training.common.statistics import format_estimate
from training.common.statistics import format_interval
from training.common.statistics import paired_difference
from training.common.statistics import summarize

FIGURE3_TARGETS = (0.1, 0.25, 0.5, 1.0)
FIGURE3_TRANSFORMS = ("dct", "dft")
TABLE_COLUMNS = (
    "data", "transform", "target_budget", "seed", "complexity_fraction",
    "size_complexity_fraction", "relative_error", "test_accuracy",
    "train_seconds",
)  # fmt: skip


def data_slug(spec):
    """Directory name of a dataset inside a sweep."""
    return "radioml" if spec.startswith("radioml:") else spec


FIGURE3_METHODS = COMPARATOR_MODELS  # the choices of --methods (default: none)


def check_methods(methods):
    """The comparator rows of a sweep as a list, each known and given once.

    Example:

    >>> check_methods(["diffstride", "spectral"])
    ['diffstride', 'spectral']
    """
    methods = list(methods)
    unknown = [m for m in methods if m not in FIGURE3_METHODS]
    if unknown or len(set(methods)) != len(methods):
        raise ValueError(f"--methods: give each of {', '.join(FIGURE3_METHODS)} at most once, "
                         f"got {methods}.")
    return methods


def sweep_plan(c_base, c_full, targets=FIGURE3_TARGETS, transforms=FIGURE3_TRANSFORMS,
               methods=(), floors=None):
    """The (label, p*) pairs of one dataset: the baseline, each transform,
    then each comparator method (those without a learned rate, `spectral`,
    `njet-resnet18` and `njet-nin`, once without a target; the others at
    every p* at or above their floor, and at the largest p* below it).

    Args:
        floors: `{method: smallest reachable C / C_full}` of methods whose
            rates cannot go below a floor (DiffStride's strides, N-Jet's
            sigma under safe subsampling). Every target below
            a floor ends at that floor (the penalty pushes the rates until
            their gradient vanishes), so of those only the largest runs.

    Example:

    >>> sweep_plan(56.0, 192.0, (0.1, 1.0), ("dct",))
    [('fixed', None), ('dct', 0.1), ('dct', 0.2917), ('dct', 1.0)]
    >>> sweep_plan(56.0, 192.0, (1.0,), (), ("spectral", "diffstride"))
    [('fixed', None), ('spectral', None), ('diffstride', 0.2917), ('diffstride', 1.0)]
    >>> sweep_plan(56.0, 192.0, (0.1, 0.25, 0.5), (), ("diffstride",), {"diffstride": 0.37})
    [('fixed', None), ('diffstride', 0.2917), ('diffstride', 0.5)]
    """
    budgets = sorted({round(float(p), 4) for p in targets} | {round(c_base / c_full, 4)})
    plan = [("fixed", None)] + [(t, p) for t in transforms for p in budgets]
    for method in methods:
        if method in FIXED_RATE_MODELS:
            plan.append((method, None))
            continue
        floor = (floors or {}).get(method, 0.0)
        largest_below = max((p for p in budgets if p < floor), default=None)
        plan.extend((method, p) for p in budgets if p >= floor or p == largest_below)
    return plan


def budget_floors(spec, methods, seed, options, data):
    """`{method: smallest reachable C / C_full}` of the comparators among
    `methods` that learn a rate (`keras_resolution.complexity_floor` of the
    model each would train), for `sweep_plan`."""
    floors = {}
    for method in methods:
        if method not in FIXED_RATE_MODELS:
            config = _run_config(spec, method, 1.0, seed, options)
            model = build_model(config, data)
            floors[method] = complexity_floor(model, config.complexity_definition)
    return floors


def run_name(label, target, seed=0):
    """Directory name of one run inside its dataset's directory.

    Example:

    >>> run_name("fixed", None), run_name("dct", 0.25), run_name("dft", 0.1, seed=2)
    ('fixed', 'dct-p0.2500', 'dft-p0.1000-seed2')
    >>> run_name("spectral", None), run_name("diffstride", 0.5, seed=1)
    ('spectral', 'diffstride-p0.5000-seed1')
    """
    name = label if target is None else f"{label}-p{target:.4f}"
    return name if seed == 0 else f"{name}-seed{seed}"


def _run_config(spec, label, target, seed, options):
    """The resolved config of one row: a transform or a comparator model."""
    if label in COMPARATOR_MODELS:
        return resolve_config(spec, model=label, target_budget=target, seed=seed, **options)
    return resolve_config(spec, transform=label, target_budget=target, seed=seed, **options)


def extend_sweep_methods(sweep_dir, settings):
    """Accepts more comparator rows in an existing sweep: if `sweep_dir`
    holds a sweep whose settings equal `settings` apart from `methods`, and
    its methods are a subset of these, its sweep.json is rewritten to
    `settings` (returns True). Anything else is left to `claim_sweep`.

    Args:
        sweep_dir: Directory of the sweep.
        settings: The settings of this command (as given to `claim_sweep`).

    Returns:
        Whether sweep.json was extended.
    """
    path = pathlib.Path(sweep_dir) / "sweep.json"
    if not path.exists():
        return False
    stored = read_json(path)
    settings = json.loads(json.dumps(settings, default=str))
    stored_methods, methods = stored.pop("methods", []), settings.get("methods", [])
    others = {key: value for key, value in settings.items() if key != "methods"}
    if stored != others or stored_methods == methods or not set(stored_methods) < set(methods):
        return False
    atomic_write_json(path, settings)
    return True


def check_seeds(seeds):
    """The seeds of a sweep as a list: at least one, each once.

    Example:

    >>> check_seeds((0, 1, 2))
    [0, 1, 2]
    """
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: give each seed once, at least one; got {seeds}.")
    if min(seeds) < 0:
        raise ValueError(f"--seeds must be integers >= 0, got {seeds}.")
    return seeds


STATISTICS_NOTE = (
    "mean +- sample std (n-1) over seeds; 95% CI: two-sided Student-t interval of the mean "
    "(none for one run); accuracy - fixed: mean paired difference in points from the fixed "
    "baseline of the same seed ('pairs' seeds), with its 95% t interval."
)
SUMMARY_COLUMNS = (
    "data", "transform", "p*", "runs", "accuracy % (mean +- std)", "accuracy 95% CI",
    "C/C_full %", "C/C_full 95% CI", "accuracy - fixed [95% CI]", "pairs",
)  # fmt: skip


def summarise(rows):
    """Statistics over seeds of each (data, transform, p*) of the sweep.

    Args:
        rows: Run rows (as in `results.csv`) with `data`, `transform`,
            `target_budget`, `seed`, `test_accuracy`, `complexity_fraction`
            and `base_budget`.

    Returns:
        One dict per (data, transform, p*), in order of first appearance:
        `data`, `transform`, `target_budget`, `base_budget`, `runs`,
        `seeds` (space-separated), then mean, sample std (n-1; 0 for one
        run) and 95% Student-t interval (None for one run) of the test
        accuracy (`test_accuracy_mean`, `_std`, `_ci_low`, `_ci_high`) and of
        the realised complexity C / C_full (`complexity_fraction_*`). A
        Resolution model whose seeds share runs with the fixed baseline of
        its dataset adds the paired difference of test accuracy,
        `accuracy_diff_mean`, `_std`, `_ci_low`, `_ci_high`, and `pairs`.

    Example:

    >>> runs = [dict(data="d", transform=t, target_budget=p, seed=s, test_accuracy=a,
    ...              complexity_fraction=c, base_budget=False)
    ...         for t, p, s, a, c in [("fixed", None, 0, 0.50, 1.0), ("fixed", None, 1, 0.60, 1.0),
    ...                               ("dct", 0.5, 0, 0.55, 0.5), ("dct", 0.5, 1, 0.67, 0.5)]]
    >>> dct = summarise(runs)[1]
    >>> dct["runs"], round(dct["test_accuracy_mean"], 4), round(dct["accuracy_diff_mean"], 4)
    (2, 0.61, 0.06)
    """
    groups = {}
    for row in rows:
        key = (row["data"], row["transform"], row["target_budget"])
        groups.setdefault(key, []).append(row)
    summary = []
    for (data, transform, target), runs in groups.items():
        by_seed = _by_seed(runs)
        entry = {
            "data": data,
            "transform": transform,
            "target_budget": target,
            "base_budget": any(str(run.get("base_budget")) == "True" for run in runs),
            "runs": len(runs),
            "seeds": " ".join(str(seed) for seed in by_seed),
            **estimate_columns("test_accuracy", summarize([r["test_accuracy"] for r in runs])),
            **estimate_columns("complexity_fraction",
                               summarize([r["complexity_fraction"] for r in runs])),
        }
        fixed = _by_seed(groups.get((data, "fixed", None), []))
        shared = sorted(set(by_seed) & set(fixed))
        if transform != "fixed" and shared:
            difference = paired_difference(
                [by_seed[seed]["test_accuracy"] for seed in shared],
                [fixed[seed]["test_accuracy"] for seed in shared],
            )
            entry.update(estimate_columns("accuracy_diff", difference), pairs=len(shared))
        summary.append(entry)
    return summary


def _by_seed(runs):
    by_seed = {}
    for run in runs:
        if run["seed"] in by_seed:
            raise ValueError(f"{run['data']} {run['transform']} p*={run['target_budget']}: "
                             f"two runs with seed {run['seed']}.")
        by_seed[run["seed"]] = run
    return by_seed


def format_summary(summary):
    """The rows of `summarise` as a text table (accuracy and complexity in %).

    Example:

    >>> print(format_summary([{"data": "embedded-radio", "transform": "fixed",
    ...     "target_budget": None, "runs": 1, "test_accuracy_mean": 0.4, "test_accuracy_std": 0.0,
    ...     "complexity_fraction_mean": 1.0, "complexity_fraction_std": 0.0}]))
    data            transform  p*  runs  accuracy % (mean +- std)  accuracy 95% CI  C/C_full %  C/C_full 95% CI  accuracy - fixed [95% CI]  pairs
    --------------  ---------  --  ----  ------------------------  ---------------  ----------  ---------------  -------------------------  -----
    embedded-radio  fixed      -   1     40.0                      -                100.0       -                -                          -
    """
    cells = []
    for entry in summary:
        accuracy = estimate_from_columns(entry, "test_accuracy")
        complexity = estimate_from_columns(entry, "complexity_fraction")
        cells.append({
            "data": entry["data"],
            "transform": entry["transform"],
            "p*": entry["target_budget"],
            "runs": entry["runs"],
            # One run has no spread: its accuracy alone, as Table 1 shows it.
            "accuracy % (mean +- std)": f"{100 * accuracy['mean']:.1f}" + (
                f" +- {100 * accuracy['std']:.1f}" if entry["runs"] > 1 else ""),
            "accuracy 95% CI": format_interval(accuracy, 100),
            "C/C_full %": f"{100 * complexity['mean']:.1f}",
            "C/C_full 95% CI": format_interval(complexity, 100),
            "accuracy - fixed [95% CI]": format_estimate(
                estimate_from_columns(entry, "accuracy_diff"), 100, "+.1f"),
            "pairs": entry.get("pairs"),
        })
    return format_table(cells, SUMMARY_COLUMNS)


def format_per_seed(rows):
    """Test accuracy of every run: one row per (data, transform, p*), one
    column per seed, with the difference from the fixed baseline's run of
    the same data and seed in brackets (the pairs behind `summarise`'s
    paired interval).

    Example:

    >>> print(format_per_seed([
    ...     dict(data="d", transform="fixed", target_budget=None, seed=0, test_accuracy=0.84),
    ...     dict(data="d", transform="dct", target_budget=0.5, seed=0, test_accuracy=0.886),
    ...     dict(data="d", transform="dct", target_budget=0.5, seed=1, test_accuracy=0.938)]))
    test accuracy % per seed (points from the fixed baseline's run of the same seed)
    data  transform  p*   seed 0       seed 1
    ----  ---------  ---  -----------  ------
    d     fixed      -    84.0         -
    d     dct        0.5  88.6 (+4.6)  93.8
    """
    groups = {}
    for row in rows:
        key = (row["data"], row["transform"], row["target_budget"])
        groups.setdefault(key, {})[row["seed"]] = row["test_accuracy"]
    seeds = sorted({seed for by_seed in groups.values() for seed in by_seed})
    cells = [{"data": data, "transform": transform, "p*": target,
              **seed_cells(dict(sorted(by_seed.items())),
                           None if transform == "fixed" else groups.get((data, "fixed", None)))}
             for (data, transform, target), by_seed in groups.items()]
    return ("test accuracy % per seed (points from the fixed baseline's run of the same seed)\n"
            + format_table(cells, ["data", "transform", "p*"] + [f"seed {s}" for s in seeds]))


def figure3_text(summary, rows):
    """The report of the runs `rows` (as in `results.csv`) and their
    `summary` (`summarise(rows)`), as printed and saved in summary.txt: the
    statistics, the accuracy per seed, the note."""
    return "\n\n".join([format_summary(summary), format_per_seed(rows),
                        STATISTICS_NOTE]) + "\n"


def report_figure3(sweep_dir, plot=None):
    """The report of a sweep's finished runs, from its `results.csv`, writing
    nothing (but the plot, if asked): what `sweep figure3 --report-only`
    prints.

    Args:
        sweep_dir: A Figure 3 sweep directory.
        plot: A PNG path to draw the finished runs to, or None.

    Returns:
        The text of `figure3_text`, under a line naming the sweep and its
        number of finished runs.

    Raises:
        ValueError: naming the directory, if it holds no Figure 3 sweep or
            no finished run.
    """
    sweep = RunDirectory(sweep_dir)
    path = sweep.path / "sweep.json"
    if not path.exists() or read_json(path).get("sweep") != "figure3":
        raise ValueError(f"{sweep.path}: not a Figure 3 sweep directory (no figure3 sweep.json).")
    rows = read_csv(sweep.results_csv)
    if not rows:
        raise ValueError(f"{sweep.results_csv}: no finished run yet.")
    summary = summarise(rows)
    if plot is not None:
        plot_figure3(summary, plot, rows)
    runs = len({row["run_dir"] for row in rows})  # MSNet gives a row per threshold
    return f"{sweep.path}: {runs} runs finished\n\n" + figure3_text(summary, rows)


def _write_outputs(sweep, rows):
    """results.csv, summary.csv, summary.txt and the plot, from the rows so far."""
    summary = summarise(rows)
    text = figure3_text(summary, rows)
    atomic_write_csv(sweep.results_csv, rows)
    atomic_write_csv(sweep.path / "summary.csv", summary)
    atomic_write_text(sweep.path / "summary.txt", text)
    plot_figure3(summary, sweep.plots_dir / "figure3.png", rows)
    return text


def _row(results, run_dir, is_base_budget, seed):
    row = {key: results.get(key) for key in TABLE_COLUMNS}
    row["seed"] = seed
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


def early_exit_rows(results, run_dir, seed):
    """The rows of an MSNet run: one per point of its calibrated early
    exit (`results["early_exit"]`), with `p*` (`target_budget`) the point's
    target complexity over C_full and its test accuracy and realised
    complexity in the usual columns."""
    rows = []
    for point in results["early_exit"]:
        target = round(point["target_complexity"] / results["complexity_full"], 4)
        row = _row({**results, **point, "target_budget": target,
                    "size_complexity_fraction": point["complexity_fraction"],
                    "relative_error": abs(point["complexity_fraction"] - target) / target},
                   run_dir, False, seed)
        row["threshold"] = point["threshold"]
        rows.append(row)
    return rows


def _load(spec, seed, options):
    """`(config, data)`: the fixed baseline's config of `spec` for one seed,
    and the dataset as the seed's runs load it."""
    config = resolve_config(spec, transform="fixed", seed=seed, **options)
    return config, load_dataset(spec, seed=seed, data_dir=config.data_dir,
                                max_examples=config.max_examples)


def _dataset_plan(spec, config, data, settings, methods):
    """`(plan, base_budget)` of one dataset (`config`: its fixed baseline's):
    its `sweep_plan`, with the comparators only on the ResNet-18 data and
    their floors measured."""
    width = {"width": config.width} if config.width else {}
    c_base, c_full, _ = budget_reference(
        config.architecture, data.input_shape, data.num_classes,
        config.complexity_definition, **width,
    )  # fmt: skip
    row_methods = methods if config.architecture == "resnet18" else ()
    floors = budget_floors(spec, row_methods, config.seed, settings["options"], data)
    plan = sweep_plan(c_base, c_full, settings["targets"], settings["transforms"],
                      row_methods, floors)
    return plan, round(c_base / c_full, 4)


def finished_rows(sweep_dir, seeds, plans):
    """The result rows of every finished run of a sweep, in the order the
    sweep runs them (seed, dataset, plan): one per run, one per calibrated
    point for MSNet.

    Args:
        sweep_dir: The sweep directory.
        seeds: The sweep's seeds.
        plans: `{data spec: (plan, base_budget)}` (`_dataset_plan`).
    """
    rows = []
    for seed in seeds:
        for spec, (plan, base_budget) in plans.items():
            for label, target in plan:
                run = RunDirectory(pathlib.Path(sweep_dir) / data_slug(spec)
                                   / run_name(label, target, seed))
                if not (run.results_json.exists() and run.read_state().finished):
                    continue
                results = read_json(run.results_json)
                if label == MSNET:
                    rows.extend(early_exit_rows(results, run.path, seed))
                else:
                    rows.append(_row(results, run.path, target == base_budget, seed))
    return rows


def run_figure3(
    data_specs,
    sweep_dir,
    targets=FIGURE3_TARGETS,
    transforms=FIGURE3_TRANSFORMS,
    seeds=(0,),
    verbose=1,
    methods=(),
    **options,
):
    """Runs the Figure 3 sweep and writes its tables and plot.

    Args:
        data_specs: Dataset specs (one plot column each).
        sweep_dir: Directory of the sweep (see the module docstring).
        targets: Target budgets p* (C_base / C_full is always added).
        transforms: Resolution transforms to compare.
        seeds: Seeds; every model runs once per seed (weights, data order
            and, for the real datasets, the validation split).
        verbose: Keras verbosity of each run.
        methods: Comparator rows for the image datasets, from
            `FIGURE3_METHODS` (`diffstride`, `spectral`, `hybrid`,
            `hybrid-pre-bn`, and the N-Jet `njet-resnet18`,
            `njet-resnet18-safe`, `njet-nin`, `njet-nin-safe`, and `msnet`); none by
            default. Adding methods to a sweep
            claimed with fewer is accepted (module docstring).
        **options: `ClassifyConfig` options shared by every run (`epochs`,
            `batch_size`, ...; not `seed`); None keeps the dataset's default.

    Returns:
        List of result rows, one per run (also in `results.csv`).

    Example:

    ```python
    rows = run_figure3(["embedded-radio"], "runs/figure3-radio", seeds=[0, 1, 2])
    print(format_summary(summarise(rows)))
    ```
    """
    if options.pop("seed", None) is not None:
        raise ValueError("run_figure3 takes seeds=[...], not seed.")
    seeds = check_seeds(seeds)
    methods = check_methods(methods)
    sweep = RunDirectory(sweep_dir)
    settings = {
        "data": list(data_specs),
        "targets": list(targets),
        "transforms": list(transforms),
        "options": {k: v for k, v in options.items() if v is not None},
    }
    if seeds != [0]:  # seed 0 alone: the settings of sweeps before --seeds
        settings["seeds"] = seeds
    if methods:  # none: the settings of sweeps before --methods
        settings["methods"] = methods
    versions = {spec: data_version(spec) for spec in data_specs if data_version(spec)}
    if versions:  # a sweep made from other generated data is not continued
        settings["data_versions"] = versions
    if extend_sweep_methods(sweep.path, {"sweep": "figure3", **settings}) and verbose:
        print(f"{sweep.path}: adding the rows of {', '.join(methods)} to the sweep")
    claim_sweep(sweep.path, {"sweep": "figure3", **settings})
    started = time.time()
    for spec in settings["data"]:
        check_data_spec(spec)
    # Each dataset's plan (the same for every seed), so that the tables
    # always hold every finished run of the sweep, whichever command trained it.
    plans, loaded = {}, {}
    for spec in settings["data"]:
        config, loaded[spec] = _load(spec, seeds[0], settings["options"])
        plans[spec] = _dataset_plan(spec, config, loaded[spec], settings, methods)
    rows = finished_rows(sweep.path, seeds, plans)
    text = _write_outputs(sweep, rows) if rows else ""
    # Seed-major: an interrupted sweep holds whole seeds of every dataset.
    # Runs another process is training are skipped (so that the same command
    # started twice shares the work), and named at the end.
    in_use = []
    for seed in seeds:
        for spec in settings["data"]:
            data = loaded.pop(spec) if spec in loaded else _load(
                spec, seed, settings["options"])[1]
            plan, _ = plans[spec]
            for label, target in plan:
                name = run_name(label, target, seed)
                run_dir = pathlib.Path(sweep.path) / data_slug(spec) / name
                config = _run_config(spec, label, target, seed, settings["options"])
                if verbose:
                    print(f"\n=== {spec}: {name} ({run_dir})")
                try:
                    run_classification(
                        config,
                        run_dir,
                        resume=RunDirectory(run_dir).holds_run(),
                        data=data,
                        verbose=verbose,
                    )
                except RunInUseError as error:  # Another command of the sweep has it.
                    in_use.append(run_dir)
                    print(f"Skipped: {error}")
                    continue
                rows = finished_rows(sweep.path, seeds, plans)
                text = _write_outputs(sweep, rows)
    if in_use:
        print(f"{len(in_use)} run(s) were being trained by another process: "
              + ", ".join(str(path) for path in in_use)
              + ". The tables hold them once they finish (run the command again then).")
    if verbose:
        figure = sweep.plots_dir / "figure3.png"
        print(f"\nFigure 3 sweep done in {time.time() - started:.0f} s: {figure}")
        print(format_table(rows, TABLE_COLUMNS))
        print("\n" + text)
    return rows
