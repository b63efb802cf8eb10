"""The paper's Table 1 sweep: baseline and resolution models under a PANet
complexity cap with several hinge weights, over seeds, as one table."""

import dataclasses
import pathlib

import numpy as np

from training.common.run_directory import RunDirectory
from training.common.tables import format_table
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import claim_sweep


def table1_runs(base_config, seeds, hinge_weights):
    """(label, config) of every run of the sweep, baseline first."""
    runs = []
    for seed in seeds:
        runs.append(("baseline", dataclasses.replace(base_config, model="baseline", seed=seed)))
        for weight in hinge_weights:
            runs.append((f"resolution lambda={weight:g}", dataclasses.replace(
                base_config, model="resolution", hinge_weight=weight, seed=seed)))
    return runs


def run_name(label, seed):
    """Directory name of one run of the sweep.

    Example:

    >>> run_name("resolution lambda=0.001", 2)
    'resolution_lambda0.001_seed2'
    """
    return label.replace(" ", "_").replace("=", "") + f"_seed{seed}"


BAND_KEYS = ("ap50_small", "ap50_medium", "ap50_large")


def _mean_and_spread(values):
    values = np.asarray(values, float)
    spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), spread


def summarise(results_by_label):
    """Mean and spread (sample std, n-1; 0 for one run) of each label's
    mAP@0.5 and PANet complexity, and the mean AP of each size band where
    the results have them (the embedded data does)."""
    rows = []
    for label, results in results_by_label.items():
        map_mean, map_std = _mean_and_spread([r["map50"] for r in results])
        complexity_mean, complexity_std = _mean_and_spread(
            [r["panet_complexity"] for r in results])
        row = {
            "model": label,
            "runs": len(results),
            "map50_mean": map_mean,
            "map50_std": map_std,
            "panet_complexity_mean": complexity_mean,
            "panet_complexity_std": complexity_std,
            "trainable_params": int(results[0]["trainable_params"]),
        }
        for key in BAND_KEYS:
            if all(r.get(key) is not None for r in results):
                row[key + "_mean"] = _mean_and_spread([r[key] for r in results])[0]
        rows.append(row)
    return rows


def format_table1(rows):
    """Rows in the paper's Table 1 layout: model, mAP@0.5, PANet complexity,
    trainable parameters (mean +- std over seeds), then the mean AP@0.5 of
    the small, medium and large objects where known.

    Example:

    >>> print(format_table1([{"model": "baseline", "runs": 1, "map50_mean": 0.5,
    ...     "map50_std": 0.0, "panet_complexity_mean": 2875.0,
    ...     "panet_complexity_std": 0.0, "trainable_params": 3422175}]))
    Model     runs  mAP@0.5       PANet complexity  Trainable params
    --------  ----  ------------  ----------------  ----------------
    baseline  1     50.0% +- 0.0  2,875 +- 0        3,422,175
    """
    bands = [key for key in BAND_KEYS if all(key + "_mean" in row for row in rows)]
    cells = []
    for row in rows:
        cell = {
            "Model": row["model"],
            "runs": row["runs"],
            "mAP@0.5": f"{100 * row['map50_mean']:.1f}% +- {100 * row['map50_std']:.1f}",
            "PANet complexity": f"{row['panet_complexity_mean']:,.0f} +- "
                                f"{row['panet_complexity_std']:,.0f}",
            "Trainable params": f"{row['trainable_params']:,}",
        }
        for key in bands:
            cell[key.replace("ap50_", "AP ")] = f"{100 * row[key + '_mean']:.1f}%"
        cells.append(cell)
    columns = ["Model", "runs", "mAP@0.5", "PANet complexity", "Trainable params"]
    return format_table(cells, columns + [key.replace("ap50_", "AP ") for key in bands])


def run_table1(base_config, seeds, hinge_weights, sweep_dir, verbose=1):
    """Trains every run of the sweep (reusing finished runs and resuming an
    interrupted one), then prints and saves the table and its plot."""
    from training.detection.job import train_detection
    from training.detection.plots import plot_table1

    sweep_dir = pathlib.Path(sweep_dir)
    claim_sweep(sweep_dir, {"sweep": "table1", "config": dataclasses.asdict(base_config),
                            "seeds": list(seeds), "hinge_weights": list(hinge_weights)})
    results_by_label = {}
    for label, config in table1_runs(base_config, seeds, hinge_weights):
        run_dir = sweep_dir / run_name(label, config.seed)
        results = train_detection(config, run_dir, resume=RunDirectory(run_dir).holds_run(),
                                  verbose=verbose)
        results_by_label.setdefault(label, []).append(results)
    rows = summarise(results_by_label)
    table = format_table1(rows)
    print("\n" + table)
    atomic_write_text(sweep_dir / "table1.txt", table + "\n")
    atomic_write_json(sweep_dir / "table1.json", {"rows": rows, "runs": results_by_label})
    plot_table1(results_by_label, rows, sweep_dir / "table1.png")
    return rows
