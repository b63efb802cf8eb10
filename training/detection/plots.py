"""PNG figures of a run: losses, mAP and complexity, learned sizes, detections.

All functions take plain data (rows of results.csv, dicts, arrays) and write
one PNG, atomically, with matplotlib's Agg backend (no display needed).
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.common.run_directory import atomic_write  # noqa: E402


def _save(figure, path):
    figure.tight_layout()
    atomic_write(path, lambda temporary: figure.savefig(temporary, dpi=110, format="png"))
    plt.close(figure)


def _column(rows, key):
    return np.array([float(row[key]) if row.get(key) not in (None, "") else np.nan
                     for row in rows])


def plot_losses(rows, path, keys=("loss", "box_loss", "class_loss", "hinge_penalty")):
    """Training losses per epoch, one line per key found in `rows`."""
    figure, axis = plt.subplots(figsize=(6, 4))
    epochs = _column(rows, "epoch")
    for key in keys:
        if rows and key in rows[0]:
            axis.plot(epochs, _column(rows, key), marker="o", label=key)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title("Training losses")
    axis.legend()
    axis.grid(alpha=0.3)
    _save(figure, path)


def plot_map_and_complexity(rows, path, complexity_cap=None):
    """mAP@0.5 (left axis) and PANet complexity at each epoch's end (right
    axis, the `panet_complexity_area` column)."""
    figure, left = plt.subplots(figsize=(6, 4))
    epochs = _column(rows, "epoch")
    values = _column(rows, "map50")
    seen = ~np.isnan(values)
    left.plot(epochs[seen], values[seen], "o-", color="tab:blue", label="mAP@0.5")
    left.set_xlabel("epoch")
    left.set_ylabel("mAP@0.5", color="tab:blue")
    left.set_ylim(0, 1)
    right = left.twinx()
    right.plot(epochs, _column(rows, "panet_complexity_area"), "s--", color="tab:red",
               label="PANet complexity")
    if complexity_cap:
        right.axhline(complexity_cap, color="tab:red", alpha=0.4, linestyle=":",
                      label="cap")
    right.set_ylabel("PANet complexity", color="tab:red")
    left.set_title("mAP@0.5 and PANet complexity")
    left.grid(alpha=0.3)
    _save(figure, path)


def _half_widths(row, prefix, scale=1.0):
    """(lower, upper) error-bar lengths of a row's 95% interval; None
    without one (a single run)."""
    if row.get(f"{prefix}_ci_low") is None:
        return None
    mean = row[f"{prefix}_mean"]
    return [[scale * (mean - row[f"{prefix}_ci_low"])], [scale * (row[f"{prefix}_ci_high"] - mean)]]


def plot_table1(results_by_label, rows, path, reference="baseline"):
    """The Table 1 sweep as a picture, error bars = 95% confidence intervals.

    First panel: mAP@0.5 against PANet complexity, one small dot per run
    and a large marker per model at its means, with error bars spanning the
    95% Student-t interval of each mean over seeds (none for a single run);
    the baseline's mean complexity, which is the hinge cap, as a dotted
    line. Then, when every model reports its multiply-adds (`flops_mean`),
    mAP@0.5 against the PANet's MFLOPs per image, its upsampler's included
    (log scale: the rows whose maps have the baseline's sizes differ only
    there). Last (when some model has paired runs): each model's paired
    difference of mAP@0.5 from the row `reference`, one small dot per seed
    and the mean with its 95% interval; zero as a dashed line.

    Args:
        results_by_label: dict of model label -> list of run results
            (dicts with `map50` and `panet_complexity`).
        rows: `training.detection.table1.summarise(results_by_label)`: each
            model's means, intervals and paired differences.
        path: PNG path.
        reference: Label of the row `rows` took the differences from.
    """
    paired = [row for row in rows if row.get("map50_diff_mean") is not None]
    with_flops = all("flops_mean" in row for row in rows)
    count = 1 + with_flops + bool(paired)
    figure, axes = plt.subplots(1, count, figsize=(1 + 5.25 * count, 4.5), squeeze=False)
    axes = list(axes[0])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour_of = {row["model"]: colours[i % len(colours)] for i, row in enumerate(rows)}
    axis = axes.pop(0)
    _plot_map_against(axis, rows, results_by_label, colour_of,
                      lambda result: result["panet_complexity"])
    axis.set_xlabel("PANet complexity (baseline = cap, dotted)")
    axis.set_title("Table 1 sweep: mean and 95% CI over seeds")
    axis.legend(fontsize=8, title="error bars: 95% CI", title_fontsize=8)
    if with_flops:
        from training.detection.table1 import neck_flops

        axis = axes.pop(0)
        _plot_map_against(axis, rows, results_by_label, colour_of,
                          lambda result: neck_flops(result) / 1e6, complexity=False)
        axis.set_xscale("log")
        axis.set_xlabel("PANet + upsampler MFLOPs per image (log)")
        axis.set_title("mAP@0.5 against multiply-adds")
    if paired:
        axis = axes.pop(0)
        for position, row in enumerate(paired):
            colour = colour_of[row["model"]]
            axis.scatter([position] * len(row["map50_diffs"]),
                         [100 * d for d in row["map50_diffs"]], s=14, color=colour, alpha=0.5)
            axis.errorbar(position, 100 * row["map50_diff_mean"],
                          yerr=_half_widths(row, "map50_diff", 100), fmt="o", markersize=8,
                          capsize=4, color=colour)
        axis.axhline(0.0, color="black", linestyle="--", linewidth=1)
        axis.set_xticks(range(len(paired)))
        # "resolution lambda=0.001" over two lines: four or more labels fit.
        labels = [row["model"].replace(" ", "\n", 1) + f"\n({row['pairs']} seed"
                  f"{'' if row['pairs'] == 1 else 's'})" for row in paired]
        axis.set_xticklabels(labels, fontsize=8)
        axis.set_xlim(-0.6, len(paired) - 0.4)
        axis.set_ylabel(f"mAP@0.5 - {reference}, same seed (points)")
        axis.set_title(f"Paired difference from the {reference}, 95% CI")
        axis.grid(alpha=0.3, axis="y")
    _save(figure, path)


def _plot_map_against(axis, rows, results_by_label, colour_of, cost, complexity=True):
    """mAP@0.5 of every run (small dots) and of every model's mean (large
    markers, 95% intervals) against `cost(result)`; the horizontal error
    bars and the baseline's dotted line only for the PANet complexity (the
    rows' own statistics), the markers at the mean cost otherwise."""
    for row in rows:
        colour = colour_of[row["model"]]
        results = results_by_label[row["model"]]
        costs = [cost(result) for result in results]
        axis.scatter(costs, [100 * r["map50"] for r in results], s=14, color=colour, alpha=0.5)
        x = row["panet_complexity_mean"] if complexity else float(np.mean(costs))
        axis.errorbar(x, 100 * row["map50_mean"],
                      xerr=_half_widths(row, "panet_complexity") if complexity else None,
                      yerr=_half_widths(row, "map50", 100),
                      fmt="o", markersize=8, capsize=3, color=colour,
                      label=f"{row['model']} (n={row['runs']})")
        if complexity and row["model"] == "baseline":
            axis.axvline(x, color=colour, linestyle=":", alpha=0.6)
    axis.set_ylabel("mAP@0.5 (%)")
    axis.grid(alpha=0.3)


def plot_learned_sizes(layer_sizes, path):
    """Learned PANet sizes against the baseline's, one pair of bars per layer.

    Args:
        layer_sizes: list of dicts with `name`, `baseline` (h, w) and
            `learned` (h, w).
        path: PNG path.
    """
    names = [entry["name"] for entry in layer_sizes]
    baseline = np.array([np.prod(entry["baseline"]) for entry in layer_sizes], float)
    learned = np.array([np.prod(entry["learned"]) for entry in layer_sizes], float)
    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(max(6, 0.45 * len(names)), 4.5))
    axis.bar(positions - 0.2, baseline, 0.4, label="baseline H x W")
    axis.bar(positions + 0.2, learned, 0.4, label="learned H x W")
    for position, entry in zip(positions, layer_sizes):
        axis.text(position + 0.2, np.prod(entry["learned"]),
                  "{}x{}".format(*entry["learned"]), rotation=90, ha="center",
                  va="bottom", fontsize=7)
    axis.set_xticks(positions)
    axis.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    axis.set_ylabel("feature-map area (cells)")
    axis.set_title("PANet resolution: learned vs baseline")
    axis.legend()
    _save(figure, path)


def plot_detections(images, truths, predictions, class_names, path,
                    score_threshold=0.3, columns=4):
    """A grid of images with true boxes (green) and predicted boxes (red).

    Args:
        images: list of HxWx3 arrays in [0, 255].
        truths: list of dicts with `boxes` (xyxy, image pixels) and `classes`.
        predictions: list of dicts with `boxes`, `classes`, `scores`.
        class_names: names for the labels.
        path: PNG path.
        score_threshold: predicted boxes below it are not drawn.
        columns: images per row.
    """
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows))
    axes = np.atleast_1d(axes).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, image, truth, prediction in zip(axes, images, truths, predictions):
        axis.imshow(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
        for box, label in zip(truth["boxes"], truth["classes"]):
            _draw_box(axis, box, "lime", class_names[int(label)])
        for box, label, score in zip(prediction["boxes"], prediction["classes"],
                                     prediction["scores"]):
            if score >= score_threshold:
                _draw_box(axis, box, "red", f"{class_names[int(label)]} {score:.2f}")
    figure.suptitle("validation: true (green) and predicted (red) boxes")
    _save(figure, path)


def _draw_box(axis, box, colour, text):
    x1, y1, x2, y2 = (float(v) for v in box)
    axis.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                 edgecolor=colour, linewidth=1.2))
    axis.text(x1, y1 - 1, text, color=colour, fontsize=6, va="bottom")


def plot_family(rows, path):
    """A family of models from one sweep (`training.detection.family`):
    mAP@0.5 against PANet FLOPs (left) and against the TensorFlow latency
    per image at batch 1 as a ratio to the baseline's, measured in the same
    rounds (right, when measured), one marker per model at
    its means, error bars spanning the 95% Student-t intervals over seeds
    (none for a single run), and each panel's Pareto front (the rows'
    `pareto_flops`, `pareto_latency`) ringed and joined by a dashed step line.

    Args:
        rows: `training.detection.family.summarise_family` rows.
        path: PNG path.
    """
    latency = "latency_tf_b1_ratio"
    panels = [("panet_flops", 1e-6, "PANet multiply-adds per image (M)", "pareto_flops")]
    if all(f"{latency}_mean" in row for row in rows):
        panels.append((latency, 1.0, "latency per image, batch 1, TF SavedModel / baseline",
                       "pareto_latency"))
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, (key, scale, label, pareto) in zip(axes[0], panels):
        for index, row in enumerate(rows):
            axis.errorbar(scale * row[f"{key}_mean"], 100 * row["map50_mean"],
                          xerr=_half_widths(row, key, scale),
                          yerr=_half_widths(row, "map50", 100),
                          fmt="o", markersize=8, capsize=3, color=colours[index % len(colours)],
                          label=f"{row['model']} (n={row['runs']})")
        front = sorted((row for row in rows if row[pareto]), key=lambda row: row[f"{key}_mean"])
        axis.plot([scale * row[f"{key}_mean"] for row in front],
                  [100 * row["map50_mean"] for row in front], drawstyle="steps-post",
                  color="black", linestyle="--", linewidth=1, marker="o", markersize=14,
                  markerfacecolor="none", label="Pareto front (ringed)")
        axis.set_xlabel(label)
        axis.set_ylabel("mAP@0.5 (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, title="error bars: 95% CI", title_fontsize=8)
    axes[0][0].set_title("mAP@0.5 against PANet FLOPs")
    if len(panels) > 1:
        axes[0][1].set_title("mAP@0.5 against latency")
    _save(figure, path)
