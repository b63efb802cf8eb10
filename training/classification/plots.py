"""PNG figures of classification runs and of the Figure 3 sweep (Agg backend)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.common.run_directory import atomic_write  # noqa: E402

TRANSFORM_STYLES = {
    "dct": dict(color="tab:blue", marker="o", label="DCT"),
    "dft": dict(color="tab:orange", marker="s", label="DFT"),
    "fixed": dict(color="black", marker="*", markersize=14, linestyle="none", label="fixed"),
    # The comparators of issue 11 (`figure3 --methods`).
    "diffstride": dict(color="tab:green", marker="^", label="DiffStride"),
    "hybrid": dict(color="tab:purple", marker="v", label="hybrid (SP before GAP)"),
    "hybrid-pre-bn": dict(color="tab:brown", marker="D", label="hybrid (SP before BN)"),
    "spectral": dict(color="tab:gray", marker="P", markersize=11, linestyle="none",
                     label="spectral pooling"),
    # The N-Jet networks of issue 12.
    "njet-resnet18-safe": dict(color="tab:red", marker="<", label="N-Jet ResNet-18 (safe)"),
    "njet-nin-safe": dict(color="tab:pink", marker=">", label="N-Jet NiN (safe)"),
    "njet-resnet18": dict(color="tab:red", marker="X", markersize=11, linestyle="none",
                          label="N-Jet ResNet-18"),
    "njet-nin": dict(color="tab:pink", marker="X", markersize=11, linestyle="none",
                     label="N-Jet NiN"),
    # MSNet: one trained model per seed, a line over its early-exit thresholds.
    "msnet": dict(color="tab:olive", marker="h", label="MSNet (early exit over tau)"),
}
# Rows drawn as single points (no line over budgets): the fixed-rate models.
SINGLE_POINT = ("fixed", "spectral", "njet-resnet18", "njet-nin")


def _save(figure, path):
    figure.tight_layout()
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=110))
    plt.close(figure)


def plot_training(rows, path, target_budget=None, fraction_key="complexity_linear_fraction",
                  accuracy_key="accuracy"):
    """Loss, accuracy and complexity fraction per epoch.

    Args:
        rows: results.csv rows (dicts with `epoch`, `loss`, `accuracy_key`,
            `val_loss`, `val_accuracy` and `fraction_key`).
        path: PNG path.
        target_budget: p*, drawn as a dashed line (None: no line).
        fraction_key: The column of C / C_full at each epoch's end.
        accuracy_key: The column of the training accuracy (MSNet's is
            its high branch's, `high_accuracy`).
    """
    epochs = [row["epoch"] for row in rows]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key, train_key, ax in (("loss", "loss", axes[0]), ("accuracy", accuracy_key, axes[1])):
        ax.plot(epochs, [row.get(train_key) for row in rows], marker=".", label="train")
        ax.plot(epochs, [row.get("val_" + key) for row in rows], marker=".", label="validation")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.legend()
    fractions = [row.get(fraction_key) for row in rows]
    axes[2].plot(epochs, fractions, marker=".", label="C / C_full")
    if target_budget is not None:
        axes[2].axhline(target_budget, color="gray", linestyle="--", label="target p*")
    axes[2].set_title("complexity fraction")
    axes[2].set_xlabel("epoch")
    axes[2].legend()
    _save(figure, path)


def plot_sizes(rows, baseline_sizes, path):
    """Learned output size of every Resolution layer per epoch.

    Args:
        rows: results.csv rows with `size/<layer>/<axis>` columns.
        baseline_sizes: `{site: (sizes...)}` of the fixed baseline, drawn
            dashed in the same colour.
        path: PNG path.
    """
    keys = [key for key in rows[0] if key.startswith("size/")] if rows else []
    if not keys:
        return
    epochs = [row["epoch"] for row in rows]
    figure, ax = plt.subplots(figsize=(7, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    axis_index = {"length": 0, "h": 0, "w": 1}
    for i, key in enumerate(keys):
        _, layer, axis = key.split("/")
        colour = colours[i % len(colours)]
        values = [row[key] for row in rows]
        ax.plot(epochs, values, marker=".", color=colour, label=f"{layer} {axis}")
        site = layer.rsplit("_", 1)[0]
        if site in baseline_sizes:
            ax.axhline(baseline_sizes[site][axis_index[axis]], color=colour, linestyle=":")
    ax.set_xlabel("epoch")
    ax.set_ylabel("output size (dotted: fixed baseline)")
    ax.legend(fontsize=7, ncol=2)
    _save(figure, path)


def plot_early_exit(curve, path):
    """MSNet's accuracy against its average complexity over the calibrated
    thresholds, test and validation, each point labelled with tau.

    Args:
        curve: `training.classification.job.early_exit_curve(...)`.
        path: PNG path.
    """
    figure, ax = plt.subplots(figsize=(6, 4))
    c_full = curve[0]["complexity"] / curve[0]["complexity_fraction"]
    test_x = [100 * point["complexity_fraction"] for point in curve]
    ax.plot(test_x, [100 * point["test_accuracy"] for point in curve], marker="o", label="test")
    ax.plot([100 * point["val_complexity"] / c_full for point in curve],
            [100 * point["val_accuracy"] for point in curve], marker=".", linestyle=":",
            label="validation (calibration)")
    for x, point in zip(test_x, curve):
        ax.annotate(f"tau={point['threshold']:.3g}", (x, 100 * point["test_accuracy"]),
                    fontsize=7, textcoords="offset points", xytext=(3, -10))
    ax.set_xlabel("average complexity C / C_full (%)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("MSNet calibrated early exit")
    _save(figure, path)


def plot_per_snr(per_snr, path, title=""):
    """Test accuracy against SNR."""
    levels = sorted(per_snr)
    figure, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(levels, [per_snr[level] for level in levels], marker="o")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    _save(figure, path)


def _error_bars(entry, prefix):
    """(lower, upper) lengths, in %, of an entry's 95% interval; None
    without one (one seed)."""
    if entry.get(f"{prefix}_ci_low") is None:
        return None
    mean = entry[f"{prefix}_mean"]
    return [[100 * (mean - entry[f"{prefix}_ci_low"])], [100 * (entry[f"{prefix}_ci_high"] - mean)]]


def plot_figure3(summary, path, rows=()):
    """The paper's Figure 3 with its statistics, error bars = 95% confidence intervals.

    One column per dataset. Top: test accuracy against realised complexity,
    DCT and DFT (and the DiffStride and hybrid comparators) as lines over
    their budgets and the fixed baseline as a star (fixed spectral pooling
    as a grey cross), each point at the means over seeds with error bars spanning the
    95% Student-t intervals of both means (none for one seed); every run
    as a small dot. Bottom (when some model has runs paired with the
    baseline's): the paired difference of test accuracy from the fixed
    baseline of the same seed, mean and 95% interval; zero dashed.

    Args:
        summary: `training.classification.figure3.summarise(rows)`: per
            (data, transform, p*), `test_accuracy_*` and
            `complexity_fraction_*` means and intervals, and
            `accuracy_diff_*` for the Resolution models.
        path: PNG path.
        rows: The sweep's run rows (`data`, `transform`,
            `complexity_fraction`, `test_accuracy`), drawn as dots.
    """
    datasets = list(dict.fromkeys(entry["data"] for entry in summary))
    if not datasets:
        return
    paired = any(entry.get("accuracy_diff_mean") is not None for entry in summary)
    panels = 2 if paired else 1
    figure, axes = plt.subplots(panels, len(datasets), figsize=(5.5 * len(datasets), 4 * panels),
                                squeeze=False)
    for column, data in enumerate(datasets):
        top = axes[0][column]
        for transform, style in TRANSFORM_STYLES.items():
            entries = sorted(
                (e for e in summary if e["data"] == data and e["transform"] == transform),
                key=lambda e: e["complexity_fraction_mean"],
            )
            if not entries:
                continue
            runs = [row for row in rows if row["data"] == data and row["transform"] == transform]
            top.scatter([100 * row["complexity_fraction"] for row in runs],
                        [100 * row["test_accuracy"] for row in runs],
                        s=10, color=style["color"], alpha=0.4)
            for index, entry in enumerate(entries):
                top.errorbar(100 * entry["complexity_fraction_mean"],
                             100 * entry["test_accuracy_mean"],
                             xerr=_error_bars(entry, "complexity_fraction"),
                             yerr=_error_bars(entry, "test_accuracy"), capsize=3,
                             **{**style, "linestyle": "none",
                                "label": style["label"] if index == 0 else None})
            if transform not in SINGLE_POINT:
                top.plot([100 * e["complexity_fraction_mean"] for e in entries],
                         [100 * e["test_accuracy_mean"] for e in entries], color=style["color"])
        seeds = max(entry["runs"] for entry in summary if entry["data"] == data)
        top.set_xlabel("realised complexity (% of C_full)")
        top.set_ylabel("test accuracy (%)")
        top.set_title(f"{data}: mean over {seeds} seeds, 95% CI" if seeds > 1
                      else f"{data}: one seed (no interval)")
        top.grid(alpha=0.3)
        top.legend(title="error bars: 95% CI", title_fontsize=8, fontsize=8)
        if not paired:
            continue
        bottom = axes[1][column]
        for transform, style in TRANSFORM_STYLES.items():
            entries = sorted((e for e in summary if e["data"] == data
                              and e["transform"] == transform
                              and e.get("accuracy_diff_mean") is not None),
                             key=lambda e: e["complexity_fraction_mean"])
            for index, entry in enumerate(entries):
                bottom.errorbar(100 * entry["complexity_fraction_mean"],
                                100 * entry["accuracy_diff_mean"],
                                yerr=_error_bars(entry, "accuracy_diff"), capsize=3,
                                **{**style, "label": style["label"] if index == 0 else None})
            if entries:
                bottom.plot([100 * e["complexity_fraction_mean"] for e in entries],
                            [100 * e["accuracy_diff_mean"] for e in entries], color=style["color"])
        bottom.axhline(0.0, color="black", linestyle="--", linewidth=1)
        bottom.set_xlabel("realised complexity (% of C_full)")
        bottom.set_ylabel("accuracy - fixed, same seed (points)")
        bottom.set_title(f"{data}: paired difference from fixed, 95% CI")
        bottom.grid(alpha=0.3)
        if bottom.get_legend_handles_labels()[0]:  # a dataset whose runs have no pairs yet
            bottom.legend(fontsize=8)
    _save(figure, path)
