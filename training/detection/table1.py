"""The paper's Table 1 sweep: baseline and resolution models under a PANet
complexity cap with several hinge weights, and optionally DiffStride PANets
(the paper's "unable to upsample" row) under the same cap, and optionally the
PANet's top-down x2 as a fixed bilinear or DCT upsampling or SRF-GAN's learned
generator (issue 13), over seeds, as one table.

Every (model, seed) is a detection run of its own, `SWEEP_DIR/<model>_seed<N>/`.
The table reports, per model, the mean, sample std and 95% Student-t
interval over seeds of mAP@0.5 and of PANet complexity, and for each
Resolution or DiffStride model the paired difference of mAP@0.5 from the
baseline over the seeds both ran, with its 95% interval
(`training.common.statistics`).

DiffStride and upsampler rows can be added to a sweep directory later: the
same command with `diffstride_hinge_weights` or `upsamplers` continues it,
reusing every finished run, and its sweep.json then records them
(`upgrade_settings`). SRF-GAN's stage 1 of a seed is a run of the sweep,
`srf_stage1_seed<N>/`, on that seed's baseline run; its stage 3 is the
`srf` row. The directory:

    SWEEP_DIR/
        sweep.json      the sweep's settings
        table1.txt      the table (as printed), then how to read it
        table1.json     the table's rows (every statistic) and every run's results
        table1.png      mAP@0.5 against complexity and the paired differences,
                        error bars = 95% confidence intervals
"""

import dataclasses
import functools
import json
import pathlib

from training.common.run_directory import RunDirectory
from training.common.run_directory import RunInUseError
from training.common.statistics import estimate_columns
from training.common.statistics import estimate_from_columns
from training.common.statistics import format_estimate
from training.common.statistics import format_interval
from training.common.statistics import paired_difference
from training.common.statistics import summarize
from training.common.tables import format_table
from training.common.tables import seed_cells
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import claim_sweep
from training.common.run_directory import read_json
from training.detection.config import DetectionConfig
from training.detection.config import config_of_run


# Rows of the top-down upsamplers (`--upsamplers`): the label of each. The
# nearest x2 is the baseline's own graph, so it is the baseline row.
# "fine-tuned" is SRF-GAN's control: the seed's baseline run fine-tuned with
# the recipe stage 3 uses, its nearest x2 kept (no generators), so that the
# SRF row's gain over it is the generators', not the extra epochs'.
UPSAMPLER_LABELS = {"bilinear": "bilinear", "dct": "dct upsample",
                    "fine-tuned": "baseline fine-tuned", "srf": "srf"}
# SRF-GAN's stage 1 trains generators, not a detector: a run of the sweep
# (on the same seed's baseline), not a row of the table.
SRF_STAGE1 = "srf stage1"


def table1_runs(base_config, seeds, hinge_weights, diffstride_hinge_weights=(), upsamplers=(),
                sweep_dir=None):
    """(label, config) of every run of the sweep: per seed the baseline, the
    Resolution models, the DiffStride models, then the upsamplers (SRF-GAN:
    its stage 1 on the seed's baseline run, then its stage 3; its control
    `"fine-tuned"`: the seed's baseline run fine-tuned).

    Args:
        sweep_dir: The sweep directory, where SRF-GAN's stages and the
            control find the runs they start from (needed with `"srf"` or
            `"fine-tuned"` in `upsamplers`).

    Raises:
        ValueError: naming `--upsamplers` for an unknown upsampler.
    """
    for upsampler in upsamplers:
        if upsampler not in UPSAMPLER_LABELS:
            raise ValueError(f"--upsamplers must be among {', '.join(UPSAMPLER_LABELS)}, got "
                             f"{upsampler!r}.")
    runs = []
    for seed in seeds:
        runs.append(("baseline", dataclasses.replace(base_config, model="baseline", seed=seed)))
        for model, weights in (("resolution", hinge_weights),
                               ("diffstride", diffstride_hinge_weights)):
            for weight in weights:
                runs.append((f"{model} lambda={weight:g}", dataclasses.replace(
                    base_config, model=model, hinge_weight=weight, seed=seed)))
        for upsampler in upsamplers:
            label = UPSAMPLER_LABELS[upsampler]
            directory = pathlib.Path(sweep_dir) if sweep_dir is not None else None
            if upsampler == "fine-tuned":
                runs.append((label, dataclasses.replace(
                    base_config, model="upsampler", upsampler="nearest", seed=seed,
                    srf_target=str(directory / run_name("baseline", seed)))))
                continue
            if upsampler != "srf":
                runs.append((label, dataclasses.replace(
                    base_config, model="upsampler", upsampler=upsampler, seed=seed)))
                continue
            runs.append((SRF_STAGE1, dataclasses.replace(
                base_config, model="srf", srf_stage=1, seed=seed,
                srf_target=str(directory / run_name("baseline", seed)))))
            runs.append((label, dataclasses.replace(
                base_config, model="srf", srf_stage=3, seed=seed,
                srf_generators=str(directory / run_name(SRF_STAGE1, seed)))))
    return runs


def is_table_row(label):
    """Whether the runs of `label` are a row of the table (not SRF-GAN's stage 1)."""
    return label != SRF_STAGE1


DIFFSTRIDE_ROWS = "diffstride_hinge_weights"  # the sweep.json key of the DiffStride rows
UPSAMPLER_ROWS = "upsamplers"  # the sweep.json key of the upsampler rows
# Rows a sweep directory can gain later: its finished runs stay its runs.
EXTENSION_ROWS = (DIFFSTRIDE_ROWS, UPSAMPLER_ROWS)


def table1_settings(base_config, seeds, hinge_weights, diffstride_hinge_weights=(),
                    upsamplers=()):
    """The sweep.json of a sweep; without DiffStride or upsampler rows
    exactly as before they existed, so that the same command continues an
    older sweep."""
    settings = {"sweep": "table1", "config": dataclasses.asdict(base_config),
                "seeds": list(seeds), "hinge_weights": list(hinge_weights)}
    if diffstride_hinge_weights:
        settings[DIFFSTRIDE_ROWS] = list(diffstride_hinge_weights)
    if upsamplers:
        settings[UPSAMPLER_ROWS] = list(upsamplers)
    return json.loads(json.dumps(settings, default=str))


def run_name(label, seed):
    """Directory name of one run of the sweep.

    Example:

    >>> run_name("resolution lambda=0.001", 2)
    'resolution_lambda0.001_seed2'
    """
    return label.replace(" ", "_").replace("=", "") + f"_seed{seed}"


BAND_KEYS = ("ap50_small", "ap50_medium", "ap50_large")
BASELINE = "baseline"


def statistics_note(reference=BASELINE):
    """How the report's statistics are computed; `reference` is the row
    the paired differences are taken from."""
    return ("mean +- sample std (n-1) over seeds; 95% CI: two-sided Student-t interval of "
            f"the mean (none for one run); mAP@0.5 - {reference}: mean paired difference in "
            "points over the seeds both models ran ('pairs'), with its 95% t interval.")


STATISTICS_NOTE = statistics_note()


def _by_seed(label, results):
    """`{seed: result}` of one model's runs; {} if the results carry no seeds."""
    seeds = [result.get("seed") for result in results]
    if None in seeds:
        return {}
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{label}: two runs with the same seed ({seeds}).")
    return dict(zip(seeds, results))


def summarise(results_by_label, baseline=BASELINE):
    """Each model's statistics over its seeds, and its paired difference
    from the baseline.

    Args:
        results_by_label: dict of model label -> list of run results (dicts
            with `map50`, `panet_complexity`, `trainable_params`, `seed`
            and, on the embedded data, `ap50_small/medium/large`).
        baseline: Label of the model the others are compared with.

    Returns:
        One row (dict) per label, in order: `runs`; mean, sample std
        (n-1; 0 for one run) and 95% Student-t interval of mAP@0.5
        (`map50_mean`, `map50_std`, `map50_ci_low`, `map50_ci_high`; the
        interval is None for one run) and of PANet complexity
        (`panet_complexity_*`); `trainable_params`; where every run has
        `panet_flops`, the mean multiply-adds per image of the PANet and
        its upsampler (`flops_mean`: `panet_flops + generator_flops`);
        where every run has `train_seconds`, the mean minutes of training
        (`train_minutes_mean`; a run that starts from others counts theirs
        too: SRF-GAN's baseline, stage 1 and stage 3); the
        mean AP of each size band where every run has it
        (`ap50_small_mean`, ...). Rows of
        models other than the baseline add the paired difference of
        mAP@0.5 from the baseline over the seeds both ran:
        `map50_diff_mean`, `_std`, `_ci_low`, `_ci_high`, the `pairs`
        count, `paired_seeds` and the per-seed `map50_diffs`.
    """
    reference = _by_seed(baseline, results_by_label.get(baseline, []))
    rows = []
    for label, results in results_by_label.items():
        row = {
            "model": label,
            "runs": len(results),
            **estimate_columns("map50", summarize([r["map50"] for r in results])),
            **estimate_columns("panet_complexity",
                               summarize([r["panet_complexity"] for r in results])),
            "trainable_params": int(results[0]["trainable_params"]),
        }
        if all(r.get("panet_flops") is not None for r in results):
            row["flops_mean"] = summarize([neck_flops(r) for r in results])["mean"]
        if all(_train_seconds(r) is not None for r in results):
            row["train_minutes_mean"] = summarize([_train_seconds(r) for r in results])["mean"] / 60
        for key in BAND_KEYS:
            if all(r.get(key) is not None for r in results):
                row[key + "_mean"] = summarize([r[key] for r in results])["mean"]
        runs = _by_seed(label, results)
        shared = sorted(set(runs) & set(reference))
        if label != baseline and shared:
            difference = paired_difference([runs[seed]["map50"] for seed in shared],
                                           [reference[seed]["map50"] for seed in shared])
            row.update(estimate_columns("map50_diff", difference), pairs=len(shared),
                       paired_seeds=shared, map50_diffs=difference["differences"])
        rows.append(row)
    return rows


def row_results(results, config, plan):
    """A run's results as a row of the table counts them: with its `seed`
    (which pairs it with the baseline's run of the same seed) and, for a run
    that starts from others (SRF-GAN's stage 3, the fine-tuned baseline),
    `source_train_seconds`: the training time of every run it starts from,
    and of the runs those start from (read from their results.json; None if
    one has none).

    Args:
        plan: `{run directory: config}` of the sweep's runs (`table1_runs`
            as a dict), where the runs a source starts from are looked up:
            the sweep's own paths, not the ones the runs recorded, which
            are absolute and wrong once the sweep directory has moved.
    """
    results = {**results, "seed": config.seed}
    if config.srf_target is not None or config.srf_generators is not None:
        results["source_train_seconds"] = _source_seconds(config, plan)
    return results


def _source_seconds(config, plan):
    """Seconds of training of the runs `config` starts from, recursively."""
    total = 0.0
    for source in (config.srf_target, config.srf_generators):
        if source is None:
            continue
        seconds = read_json(RunDirectory(source).results_json).get("train_seconds")
        deeper = _source_seconds(plan[source], plan)
        if seconds is None or deeper is None:
            return None
        total += seconds + deeper
    return total


def run_plan(runs, sweep_dir):
    """`{run directory: config}` of `table1_runs(...)` in `sweep_dir`."""
    return {str(pathlib.Path(sweep_dir) / run_name(label, config.seed)): config
            for label, config in runs}


def _train_seconds(result):
    """Seconds of training a row's model took, the runs it starts from
    included; None when one of them is not recorded."""
    stages = [result.get("train_seconds")]
    if "source_train_seconds" in result:
        stages.append(result["source_train_seconds"])
    return None if None in stages else sum(stages)


def neck_flops(result):
    """Multiply-adds per image of a run's PANet, its upsampler's included
    (an SRF-GAN's generators; 0 for a fixed x2)."""
    return result["panet_flops"] + result.get("generator_flops", 0.0)


def without_extensions(settings):
    """Settings without the rows a sweep can gain later (`EXTENSION_ROWS`)."""
    return {key: value for key, value in settings.items() if key not in EXTENSION_ROWS}


def upgrade_settings(stored, requested=None):
    """A stored sweep.json with the config fields added since it was
    written, at the values its runs used (`config_of_run`).

    Args:
        stored: The sweep.json dict.
        requested: The settings of the sweep now asked for
            (`table1_settings`), or None. When they equal the stored sweep's
            but add DiffStride or upsampler rows to it (keeping the ones it
            has), they are returned: the sweep grows by those rows, and
            every run it holds stays one of its runs.

    Returns:
        The settings the stored sweep is equivalent to.
    """
    upgraded = {**stored, "config": dataclasses.asdict(config_of_run(stored["config"]))}
    upgraded = json.loads(json.dumps(upgraded, default=str))
    if requested is None:
        return upgraded
    requested = json.loads(json.dumps(requested, default=str))
    kept = all(set(upgraded.get(key, [])) <= set(requested.get(key, []))
               for key in EXTENSION_ROWS)
    if kept and without_extensions(upgraded) == without_extensions(requested):
        return requested
    return upgraded


def report_table1(settings, sweep_dir, plot=None, reference=BASELINE):
    """Prints the table of the finished runs of the sweep in `sweep_dir`
    (whose sweep.json must hold `settings`), and draws them to the PNG path
    `plot` unless it is None; trains and writes nothing else.

    Args:
        reference: Label of the row the paired differences are taken from
            (the baseline by default; SRF-GAN's is its control,
            `"baseline fine-tuned"`).

    Returns:
        The rows of `summarise` over the finished runs.

    Raises:
        ValueError: naming `--reference` for a label that is not a row of
            the sweep.
    """
    path = sweep_dir / "sweep.json"
    if not path.exists():
        raise FileNotFoundError(f"{sweep_dir}: no sweep there ({path} is missing).")
    settings = json.loads(json.dumps(settings, default=str))
    stored = upgrade_settings(read_json(path))
    # Reading only: the rows asked for, even if the sweep has grown by more
    # (so a command written before the sweep grew prints what it printed).
    if without_extensions(stored) != without_extensions(settings):
        raise ValueError(f"{path} holds a sweep with other settings than these options.")
    more = {key: [row for row in stored.get(key, []) if row not in settings.get(key, [])]
            for key in EXTENSION_ROWS}
    base = DetectionConfig(**settings["config"])
    runs = table1_runs(base, settings["seeds"], settings["hinge_weights"],
                       settings.get(DIFFSTRIDE_ROWS, ()), settings.get(UPSAMPLER_ROWS, ()),
                       sweep_dir)
    labels = list(dict.fromkeys(label for label, _ in runs if is_table_row(label)))
    if reference not in labels:
        raise ValueError(f"--reference must be a row of the sweep ({', '.join(labels)}), got "
                         f"{reference!r}.")
    plan = run_plan(runs, sweep_dir)
    results_by_label, missing = {}, []
    for label, config in runs:
        run = RunDirectory(sweep_dir / run_name(label, config.seed))
        if not (run.results_json.exists() and run.read_state().finished):
            missing.append(run.path.name)
        elif is_table_row(label):
            results = row_results(read_json(run.results_json), config, plan)
            results_by_label.setdefault(label, []).append(results)
    if not results_by_label:
        raise ValueError(f"{sweep_dir}: no run of the sweep has finished yet.")
    rows = summarise(results_by_label, baseline=reference)
    done = len(runs) - len(missing)
    print(f"{sweep_dir}: {done} of {done + len(missing)} runs finished"
          + (f"; not yet: {', '.join(missing)}" if missing else "") + "\n")
    print(table1_text(rows, results_by_label, reference))
    for key, values in more.items():
        if values:
            option = "--" + key.replace("_", "-")
            shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
            print(f"\n(The sweep also holds {option} {shown}: add them to report their rows.)")
    if plot is not None:
        from training.detection.plots import plot_table1

        plot_table1(results_by_label, rows, plot, reference)
    return rows


def _spread(row, key, spec, scale=1):
    """` +- std` of a row's statistic; nothing for one run, which has no spread."""
    return f" +- {scale * row[key + '_std']:{spec}}" if row["runs"] > 1 else ""


def table1_text(rows, results_by_label, reference=BASELINE):
    """The report of a sweep, as printed and saved: the table of `rows`
    (`summarise` with `baseline=reference`), the per-seed table, the
    statistics note, and a warning when the runs did not all start from one
    backbone (`backbone_warning`)."""
    parts = [format_table1(rows, reference), format_per_seed(results_by_label, reference),
             statistics_note(reference)]
    warning = backbone_warning(results_by_label)
    return "\n\n".join(parts + ([warning] if warning else []))


def backbone_warning(results_by_label):
    """A warning when the runs' backbones differ or are partly unrecorded
    (`backbone_fingerprint` in results.json, which older runs lack);
    None when every run records the same one or none does.

    Example:

    >>> print(backbone_warning({
    ...     "baseline": [{"backbone_fingerprint": "aa"}, {}],
    ...     "srf": [{"backbone_fingerprint": "bb"}]}))
    Backbones differ: aa (1 run: baseline), bb (1 run: srf), not recorded (1 run: baseline). Differences between runs on different backbones include the backbones' difference.
    """
    runs = {}
    for label, results in results_by_label.items():
        for result in results:
            key = result.get("backbone_fingerprint") or "not recorded"
            runs.setdefault(key, []).append(label)
    if len(runs) < 2:
        return None
    order = sorted(runs, key=lambda key: (key == "not recorded", key))
    shown = ", ".join(
        f"{key} ({len(runs[key])} run{'s' * (len(runs[key]) > 1)}: "
        f"{', '.join(dict.fromkeys(runs[key]))})" for key in order)
    return (f"Backbones differ: {shown}. Differences between runs on different backbones "
            "include the backbones' difference.")


def format_per_seed(results_by_label, baseline=BASELINE):
    """mAP@0.5 of every run, one row per model and one column per seed, with
    the difference from the baseline's run of the same seed in brackets
    (the pairs behind the paired interval of `format_table1`).

    Example:

    >>> print(format_per_seed({
    ...     "baseline": [{"map50": 0.59, "seed": 0}, {"map50": 0.58, "seed": 1}],
    ...     "resolution": [{"map50": 0.537, "seed": 0}]}))
    mAP@0.5 per seed (points from the baseline's run of the same seed)
    Model       seed 0       seed 1
    ----------  -----------  ------
    baseline    59.0         58.0
    resolution  53.7 (-5.3)  -
    """
    runs = {label: _by_seed(label, results) for label, results in results_by_label.items()}
    seeds = sorted({seed for by_seed in runs.values() for seed in by_seed})
    reference = runs.get(baseline, {})
    reference = {seed: run["map50"] for seed, run in reference.items()}
    cells = [{"Model": label,
              **seed_cells({seed: run["map50"] for seed, run in sorted(by_seed.items())},
                           None if label == baseline else reference)}
             for label, by_seed in runs.items()]
    columns = ["Model"] + [f"seed {seed}" for seed in seeds]
    return (f"mAP@0.5 per seed (points from the {baseline}'s run of the same seed)\n"
            + format_table(cells, columns))


def format_table1(rows, reference=BASELINE):
    """Rows in the paper's Table 1 layout, with the statistics over seeds:
    model, runs, mAP@0.5 (mean +- std, then its 95% interval), PANet
    complexity (likewise), trainable parameters, the PANet's multiply-adds
    per image with its upsampler's (where some run reports them; "-" for a
    model whose runs do not), the mean minutes of training (with those of
    the runs a model starts from, as SRF-GAN's baseline and stage 1;
    likewise), then, where some model has
    one, the paired difference of mAP@0.5 from the row `reference` (the
    one `summarise` took them from) in points with its 95% interval and the
    number of pairs, then the mean AP@0.5 of the small, medium and large
    objects where known. See `statistics_note`.

    Example:

    >>> print(format_table1(summarise({
    ...     "baseline": [{"map50": 0.4, "panet_complexity": 2875.0,
    ...                   "trainable_params": 3422175, "seed": 0},
    ...                  {"map50": 0.6, "panet_complexity": 2875.0,
    ...                   "trainable_params": 3422175, "seed": 1}]})))
    Model     runs  mAP@0.5        mAP@0.5 95% CI  PANet complexity  complexity 95% CI  Trainable params
    --------  ----  -------------  --------------  ----------------  -----------------  ----------------
    baseline  2     50.0% +- 14.1  [-77.1, 177.1]  2,875 +- 0        [2,875, 2,875]     3,422,175
    """
    bands = [key for key in BAND_KEYS if all(key + "_mean" in row for row in rows)]
    paired = any("map50_diff_mean" in row for row in rows)
    cells = []
    for row in rows:
        cell = {
            "Model": row["model"],
            "runs": row["runs"],
            "mAP@0.5": f"{100 * row['map50_mean']:.1f}%" + _spread(row, "map50", ".1f", 100),
            "mAP@0.5 95% CI": format_interval(estimate_from_columns(row, "map50"), 100),
            "PANet complexity": f"{row['panet_complexity_mean']:,.0f}"
                                + _spread(row, "panet_complexity", ",.0f"),
            "complexity 95% CI": format_interval(estimate_from_columns(row, "panet_complexity"),
                                                 spec=",.0f"),
            "Trainable params": f"{row['trainable_params']:,}",
            "PANet MFLOPs": "-" if "flops_mean" not in row else f"{row['flops_mean'] / 1e6:,.1f}",
            "Train min": ("-" if "train_minutes_mean" not in row
                          else f"{row['train_minutes_mean']:,.1f}"),
            f"mAP@0.5 - {reference} [95% CI]": format_estimate(
                estimate_from_columns(row, "map50_diff"), scale=100, spec="+.1f"),
            "pairs": row.get("pairs"),
        }
        for key in bands:
            cell[key.replace("ap50_", "AP ")] = f"{100 * row[key + '_mean']:.1f}%"
        cells.append(cell)
    columns = ["Model", "runs", "mAP@0.5", "mAP@0.5 95% CI", "PANet complexity",
               "complexity 95% CI", "Trainable params"]
    if any("flops_mean" in row for row in rows):
        columns.append("PANet MFLOPs")
    if any("train_minutes_mean" in row for row in rows):
        columns.append("Train min")
    if paired:
        columns += [f"mAP@0.5 - {reference} [95% CI]", "pairs"]
    return format_table(cells, columns + [key.replace("ap50_", "AP ") for key in bands])


def run_table1(base_config, seeds, hinge_weights, sweep_dir, verbose=1, report_only=False,
               diffstride_hinge_weights=(), upsamplers=(), plot=None, reference=BASELINE):
    """Trains every run of the sweep (reusing finished runs and resuming an
    interrupted one), then prints and saves the table and its plot.

    Args:
        base_config: `DetectionConfig` shared by every run (model,
            hinge weight and seed are set per run).
        seeds: Seeds; every model runs once per seed.
        hinge_weights: lambda of each Resolution model.
        sweep_dir: Directory of the sweep (see the module docstring).
        verbose: Progress of each run (1) or silence (0).
        report_only: Train nothing and write nothing: print the table of
            the runs of this sweep that have finished so far.
        diffstride_hinge_weights: lambda of each DiffStride PANet row
            (none by default). Adding rows to an existing sweep keeps its
            finished runs and records the rows in its sweep.json.
        upsamplers: Rows of the PANet's top-down x2 (none by default):
            `"bilinear"`, `"dct"` (fixed) and `"srf"` (SRF-GAN: stage 1 on
            the same seed's baseline run, then stage 3), added to a sweep
            directory as the DiffStride rows are.
        plot: With `report_only`, a PNG path where the plot of the finished
            runs is written (a full sweep writes `table1.png` in its
            directory); None writes none.
        reference: With `report_only`, the row the paired differences are
            taken from (`report_table1`); a sweep that trains reports them
            from the baseline.

    Returns:
        The rows of `summarise` (also in `table1.json` unless `report_only`).

    Raises:
        ValueError: for `plot` or another `reference` without `report_only`.
    """
    from training.detection.job import train_detection
    from training.detection.plots import plot_table1
    from training.detection.srf_stages import restore_sources

    sweep_dir = pathlib.Path(sweep_dir)
    settings = table1_settings(base_config, seeds, hinge_weights, diffstride_hinge_weights,
                               upsamplers)
    runs = table1_runs(base_config, seeds, hinge_weights, diffstride_hinge_weights, upsamplers,
                       sweep_dir)  # (checks the upsamplers before anything is written)
    if plot is not None and not report_only:
        raise ValueError("--plot applies to --report-only (a sweep that trains writes "
                         "table1.png in its directory).")
    if reference != BASELINE and not report_only:
        raise ValueError("--reference applies to --report-only (a sweep that trains reports "
                         "its differences from the baseline).")
    if report_only:
        return report_table1(settings, sweep_dir, plot, reference)
    path = sweep_dir / "sweep.json"
    stored = read_json(path) if path.exists() else None
    claim_sweep(sweep_dir, settings, upgrade=functools.partial(upgrade_settings,
                                                               requested=settings))
    if stored is not None and upgrade_settings(stored) != settings:
        atomic_write_json(path, settings)  # The sweep grew by DiffStride or upsampler rows.
    plan = run_plan(runs, sweep_dir)
    results_by_label = {}
    in_use = []  # Runs another process is training (the same command started twice).
    for label, config in runs:
        run_dir = sweep_dir / run_name(label, config.seed)
        sources = {config.srf_target, config.srf_generators} - {None}
        if sources & {str(path) for path in in_use}:
            in_use.append(run_dir)  # It starts from a run that is not finished.
            continue
        try:
            if sources and not RunDirectory(run_dir).read_state().finished:
                restore_sources(config, verbose)  # Checkpoints not kept with the records.
            results = train_detection(config, run_dir, resume=RunDirectory(run_dir).holds_run(),
                                      verbose=verbose)
        except RunInUseError as error:
            in_use.append(run_dir)
            print(f"Skipped: {error}")
            continue
        if not is_table_row(label):
            continue
        results = row_results(results, config, plan)
        results_by_label.setdefault(label, []).append(results)
    if in_use:
        print(f"{len(in_use)} run(s) skipped, being trained by another process or starting "
              "from one that is: " + ", ".join(str(path) for path in in_use)
              + ". Run the command again once they finish: the table below lacks them.")
    rows = summarise(results_by_label)
    text = table1_text(rows, results_by_label)
    print("\n" + text)
    atomic_write_text(sweep_dir / "table1.txt", text + "\n")
    atomic_write_json(sweep_dir / "table1.json", {
        "rows": rows, "runs": results_by_label, "statistics": STATISTICS_NOTE})
    plot_table1(results_by_label, rows, sweep_dir / "table1.png")
    return rows
