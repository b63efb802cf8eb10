"""The paper's Table 1 sweep: baseline and resolution models under a PANet
complexity cap with several hinge weights, over seeds, as one table."""

import dataclasses
import pathlib

import numpy as np

from training.runs import atomic_write_json


def table1_runs(base_config, seeds, hinge_weights):
    """(label, config) of every run of the sweep, baseline first."""
    runs = []
    for seed in seeds:
        runs.append(("baseline", dataclasses.replace(base_config, model="baseline", seed=seed)))
        for weight in hinge_weights:
            runs.append((f"resolution lambda={weight:g}", dataclasses.replace(
                base_config, model="resolution", hinge_weight=weight, seed=seed)))
    return runs


def summarise(results_by_label):
    """Mean and spread (sample std, n-1) of each label's mAP and complexity."""
    rows = []
    for label, results in results_by_label.items():
        maps = np.array([r["map50"] for r in results], float)
        complexities = np.array([r["panet_complexity"] for r in results], float)
        rows.append({
            "model": label,
            "runs": len(results),
            "map50_mean": float(maps.mean()),
            "map50_std": float(maps.std(ddof=1)) if len(maps) > 1 else 0.0,
            "panet_complexity_mean": float(complexities.mean()),
            "panet_complexity_std": float(complexities.std(ddof=1)) if len(maps) > 1 else 0.0,
            "trainable_params": int(results[0]["trainable_params"]),
        })
    return rows


def format_table1(rows):
    """Rows in the paper's Table 1 layout: model, mAP@0.5, PANet complexity,
    trainable parameters (mean +- std over seeds)."""
    header = f"{'Model':<28} {'mAP@0.5':>16} {'PANet complexity':>22} {'Trainable params':>17}"
    lines = [header, "-" * len(header)]
    for row in rows:
        mean_map = f"{100 * row['map50_mean']:.1f}% +- {100 * row['map50_std']:.1f}"
        complexity = f"{row['panet_complexity_mean']:,.0f} +- {row['panet_complexity_std']:,.0f}"
        lines.append(f"{row['model']:<28} {mean_map:>16} {complexity:>22} "
                     f"{row['trainable_params']:>17,}")
    return "\n".join(lines)


def run_table1(base_config, seeds, hinge_weights, sweep_dir, progress=True):
    """Trains every run of the sweep (resuming finished or interrupted ones
    from their run directories), then prints and saves the table."""
    from training.detection_job import train_detection
    from training.runs import RunDirectory

    sweep_dir = pathlib.Path(sweep_dir)
    results_by_label = {}
    for label, config in table1_runs(base_config, seeds, hinge_weights):
        name = label.replace(" ", "_").replace("=", "") + f"_seed{config.seed}"
        config = dataclasses.replace(config, run_dir=str(sweep_dir / name))
        run = RunDirectory(config.run_dir)
        state = run.read_state()
        if state.finished and (run.path / "results.json").exists():
            import json

            results = json.loads((run.path / "results.json").read_text())
        else:
            results = train_detection(config, resume=run.last_checkpoint.exists(),
                                      progress=progress)
        results_by_label.setdefault(label, []).append(results)
    rows = summarise(results_by_label)
    table = format_table1(rows)
    print("\n" + table)
    (sweep_dir / "table1.txt").write_text(table + "\n")
    atomic_write_json(sweep_dir / "table1.json", {"rows": rows, "runs": results_by_label})
    return rows
