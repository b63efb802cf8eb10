"""PNG figures of classification runs and of the Figure 3 sweep (Agg backend)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.common.run_directory import atomic_write  # noqa: E402

TRANSFORM_STYLES = {
    "dct": dict(color="tab:blue", marker="o", label="DCT"),
    "dft": dict(color="tab:orange", marker="s", label="DFT"),
    "fixed": dict(color="black", marker="*", markersize=14, linestyle="none", label="fixed"),
}


def _save(figure, path):
    figure.tight_layout()
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=110))
    plt.close(figure)


def plot_training(rows, path, target_budget=None, fraction_key="complexity_linear_fraction"):
    """Loss, accuracy and complexity fraction per epoch.

    Args:
        rows: results.csv rows (dicts with `epoch`, `loss`, `accuracy`,
            `val_loss`, `val_accuracy` and `fraction_key`).
        path: PNG path.
        target_budget: p*, drawn as a dashed line (None: no line).
        fraction_key: The column of C / C_full at each epoch's end.
    """
    epochs = [row["epoch"] for row in rows]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key, ax, title in (("loss", axes[0], "loss"), ("accuracy", axes[1], "accuracy")):
        ax.plot(epochs, [row.get(key) for row in rows], marker=".", label="train")
        ax.plot(epochs, [row.get("val_" + key) for row in rows], marker=".", label="validation")
        ax.set_title(title)
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


def plot_figure3(rows, path):
    """The paper's Figure 3: accuracy against realised complexity, per transform.

    One panel per dataset; DCT and DFT as lines over their targets, the
    fixed baseline as a star at its own complexity.

    Args:
        rows: Sweep rows with `data`, `transform`, `complexity_fraction`,
            `test_accuracy`.
        path: PNG path.
    """
    datasets = list(dict.fromkeys(row["data"] for row in rows))
    if not datasets:
        return
    figure, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, data in zip(axes[0], datasets):
        for transform, style in TRANSFORM_STYLES.items():
            points = sorted(
                (row["complexity_fraction"] * 100, row["test_accuracy"] * 100)
                for row in rows
                if row["data"] == data and row["transform"] == transform
            )
            if points:
                ax.plot(*zip(*points), **style)
        ax.set_xlabel("realised complexity (% of C_full)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(data)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(figure, path)
