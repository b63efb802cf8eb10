"""The learned PANet layout read from a run's results.csv, by hand-made runs."""

import pytest

from training.common.run_directory import atomic_write_csv
from training.detection.layout import format_conv_table
from training.detection.layout import format_level_table
from training.detection.layout import level_table
from training.detection.layout import pyramid_levels
from training.detection.layout import run_layout


def _write_run(path, areas, sizes=None):
    """A run directory whose results.csv has an early epoch and a last one
    (the layout is the last's)."""
    path.mkdir()
    last = {"epoch": 2, "map50": 0.5}
    for conv, area in areas.items():
        last[f"panet/{conv}/complexity_area"] = area
        if sizes:
            last[f"panet/{conv}/h"], last[f"panet/{conv}/w"] = sizes[conv]
    first = {key: (1 if key == "epoch" else 0.0) for key in last}
    atomic_write_csv(path / "results.csv", [first, last])
    return path


BASELINE = {"p3_conv": 1024.0, "p3_out_conv": 1024.0, "p4_conv": 256.0, "p5_conv": 64.0}
LEARNED = {"p3_conv": 1156.0, "p3_out_conv": 1190.0, "p4_conv": 196.0, "p5_conv": 49.0}
SIZES = {"p3_conv": (34, 34), "p3_out_conv": (34, 35), "p4_conv": (14, 14), "p5_conv": (7, 7)}


def test_run_layout_reads_the_last_epoch(tmp_path):
    layout = run_layout(_write_run(tmp_path / "run", LEARNED, SIZES))
    assert list(layout) == list(LEARNED)
    assert layout["p3_out_conv"] == {"complexity": 1190.0, "h": 34, "w": 35}
    baseline = run_layout(_write_run(tmp_path / "base", BASELINE))
    assert baseline["p4_conv"] == {"complexity": 256.0, "h": None, "w": None}


def test_levels_and_shares_by_hand(tmp_path):
    baseline = run_layout(_write_run(tmp_path / "base", BASELINE))
    learned = run_layout(_write_run(tmp_path / "run", LEARNED, SIZES))
    assert pyramid_levels(baseline) == {
        "p3_conv": "P3", "p3_out_conv": "P3", "p4_conv": "P4", "p5_conv": "P5"}
    rows = {row["level"]: row for row in level_table([learned, baseline], baseline)}
    # Baseline: 2048 / 256 / 64 of 2368; learned: 2346 / 196 / 49 of 2591.
    assert rows["P3"]["baseline_share"] == pytest.approx(2048 / 2368)
    assert rows["P3"]["run0"] == 2346.0
    assert rows["P3"]["run0_share"] == pytest.approx(2346 / 2591)
    assert rows["P3"]["mean_share"] == pytest.approx((2346 / 2591 + 2048 / 2368) / 2)
    assert rows["P5"]["share_change"] == pytest.approx((49 / 2591 + 64 / 2368) / 2 - 64 / 2368)
    assert rows["total"]["run0"] == 2591.0 and rows["total"]["share_change"] == pytest.approx(0)
    assert sum(rows[level]["share_change"] for level in ("P3", "P4", "P5")) == pytest.approx(0)
    text = format_level_table(list(rows.values()), ["seed 0", "seed 1"])
    assert "2,346 (90.5%)" in text and "+2.0 pts" in text.splitlines()[2]  # (90.54 - 86.49) / 2


def test_conv_table_shows_learned_sizes(tmp_path):
    baseline = run_layout(_write_run(tmp_path / "base", BASELINE))
    learned = run_layout(_write_run(tmp_path / "run", LEARNED, SIZES))
    lines = format_conv_table([learned], baseline, ["seed 0"]).splitlines()
    assert lines[3].split() == ["p3_out_conv", "P3", "1,024", "34x35", "(1,190)"]


def test_bad_runs_are_named(tmp_path):
    with pytest.raises(ValueError, match="no finished epoch"):
        run_layout(tmp_path)
    baseline = run_layout(_write_run(tmp_path / "base", BASELINE))
    other = run_layout(_write_run(tmp_path / "other", {"p3_conv": 1024.0}))
    with pytest.raises(ValueError, match="other PANet convolutions"):
        level_table([other], baseline)
    (tmp_path / "classify").mkdir()
    atomic_write_csv(tmp_path / "classify" / "results.csv", [{"epoch": 1, "accuracy": 0.5}])
    with pytest.raises(ValueError, match="not a detection run"):
        run_layout(tmp_path / "classify")


def test_layout_command_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    baseline = _write_run(tmp_path / "baseline_seed0", BASELINE)
    runs = [_write_run(tmp_path / f"resolution_seed{seed}", LEARNED, SIZES) for seed in (0, 1)]
    command = [sys.executable, "-m", "training", "layout", *map(str, runs), "--baseline",
               str(baseline)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    level_rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()
                  if line.split() and line.split()[0] in ("P3", "P4", "P5", "total")}
    # Both runs are LEARNED: P3 goes from 2048/2368 = 86.5% to 2346/2591 = 90.5%.
    assert level_rows["P3"] == ["P3", "2,048", "(86.5%)", "2,346", "(90.5%)", "2,346",
                                "(90.5%)", "+4.1", "pts"]
    assert "34x35 (1,190)" in done.stdout


def test_layout_command_names_a_missing_run(tmp_path, capsys):
    from training.cli import main

    baseline = _write_run(tmp_path / "baseline_seed0", BASELINE)
    assert main(["layout", str(tmp_path / "nowhere"), "--baseline", str(baseline)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nowhere'}: no finished epoch")
