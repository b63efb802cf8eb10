"""The family sweep (issue 14, item 4): caps, run plan, Pareto front,
interleaved latency of exported models, table, plot and reuse of runs."""

import importlib.util
import json
import os
import subprocess
import sys
import time

import keras
import pytest

from training.common import model_export as model_export
from training.cli import main
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.detection import family
from training.detection.config import DetectionConfig

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("tf2onnx", "onnxruntime"))


# ------------------------------------------------------------------ caps and plan


def test_caps_are_cells_or_flops_as_given():
    caps = family.parse_caps(["6000", " 7360 ", "250MFLOPs", "0.8GFLOPs"])
    assert [(cap.text, cap.value, cap.definition) for cap in caps] == [
        ("6000", 6000.0, "area"), ("7360", 7360.0, "area"),
        ("250MFLOPs", 2.5e8, "flops"), ("0.8GFLOPs", 8e8, "flops")]


@pytest.mark.parametrize("caps, message", [
    (["6000"], "--caps: a family needs at least two caps, got 1 (6000)."),
    ([], "--caps: a family needs at least two caps, got 0 (none)."),
    (["6000", "7x"], "`--caps` must be a number > 0 or FLOPs such as '0.8GFLOPs', got '7x'."),
    (["6000", "-1"], "`--caps` must be a number > 0 or FLOPs such as '0.8GFLOPs', got '-1'."),
    (["0.25GFLOPs", "250MFLOPs"], "--caps: '0.25GFLOPs' and '250MFLOPs' are the same cap."),
])
def test_bad_caps_are_one_line_errors_naming_caps(caps, message):
    with pytest.raises(ValueError) as error:
        family.parse_caps(caps)
    assert str(error.value) == message


def test_plan_is_the_baseline_then_one_resolution_model_per_cap_for_every_seed():
    runs = family.family_runs(DetectionConfig(hinge_weight=0.01, taper=2.0),
                              ["6000", "250MFLOPs"], [0, 3])
    names = [family.run_name(label, config.seed) for label, _, config in runs]
    assert names == ["baseline_seed0", "resolution_cap6000_seed0", "resolution_cap250MFLOPs_seed0",
                     "baseline_seed3", "resolution_cap6000_seed3", "resolution_cap250MFLOPs_seed3"]
    baseline, cells, flops = (config for _, _, config in runs[:3])
    assert (baseline.model, baseline.complexity_cap) == ("baseline", None)
    # The baseline reads no Resolution option: its run is the same for any family.
    assert (baseline.hinge_weight, baseline.taper) == (DetectionConfig().hinge_weight,
                                                       DetectionConfig().taper)
    assert (cells.hinge_weight, cells.taper) == (0.01, 2.0)
    assert (cells.model, cells.complexity_cap, cells.complexity_definition) == (
        "resolution", 6000.0, "area")
    assert (flops.complexity_cap, flops.complexity_definition, flops.hinge_weight) == (
        2.5e8, "flops", 0.01)
    with pytest.raises(ValueError, match="^--model: a family is the baseline"):
        family.family_runs(DetectionConfig(model="diffstride"), ["1", "2"], [0])
    with pytest.raises(ValueError, match="^--complexity-cap: a family's caps are given by --caps"):
        family.family_runs(DetectionConfig(complexity_cap="9000"), ["1", "2"], [0])


# -------------------------------------------------------------------- Pareto front


def test_pareto_front_by_hand():
    # (cost, mAP): B is dominated by A (costs more, scores less), D by C
    # (same cost, less), E by C (costs more, scores the same); F and G tie
    # exactly, so neither dominates the other.
    costs = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0]
    maps = [0.50, 0.40, 0.60, 0.55, 0.60, 0.70, 0.70]
    assert family.pareto_front(costs, maps) == [0, 2, 5, 6]
    assert family.pareto_front([2.0], [0.1]) == [0]
    assert family.pareto_front([3.0, 2.0, 1.0], [0.3, 0.2, 0.1]) == [2, 1, 0]


# ------------------------------------------------------------------------ latency


def test_latency_ratios_are_paired_to_the_reference_of_the_same_rounds():
    def sleeper(seconds):
        return lambda inputs: time.sleep(seconds)

    seen = []
    functions = {"base": {"TF": sleeper(0.004), "ORT": lambda x: seen.append(x.shape)},
                 "double": {"TF": sleeper(0.008), "ORT": lambda x: None}}
    result = family.measure_latency(functions, {"base": "base", "double": "base"},
                                    (5, 4, 3), rounds=3, batch_sizes=(1, 2), warmup=1)
    assert sorted(result["batches"]) == [1, 2]
    tf_b2 = result["batches"][2]["TF"]
    assert tf_b2["base"]["ratio"] == 1.0
    assert 1.6 < tf_b2["double"]["ratio"] < 2.4
    assert tf_b2["double"]["ms_per_image"] == pytest.approx(tf_b2["double"]["ms_per_call"] / 2)
    assert 7.9 < tf_b2["double"]["ms_per_call"] < 30
    # warmup + rounds calls per batch size, on float32 pixels of the shape
    assert seen == [(1, 5, 4, 3)] * 4 + [(2, 5, 4, 3)] * 4
    assert len(result["load_average_before"]) == len(result["load_average_after"]) == 3
    with pytest.raises(ValueError, match="--latency-rounds must be at least 2"):
        family.measure_latency(functions, {"base": "base", "double": "base"}, (1, 1, 3), 1)


def _tiny_model(width, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(width, 3, padding="same")(inputs)
    features = keras.layers.BatchNormalization()(features)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    return keras.Model(inputs, outputs)


def _export_tiny(model, directory):
    """What `export_family_run` returns, for a tiny Keras model."""
    exports = {}
    for format in ("saved_model", "onnx") if HAS_ONNX else ("saved_model",):
        path = model_export.export_model(model, directory / model_export.ARTEFACT_NAMES[format], format)
        exports[format] = {"path": str(path), "max_abs_difference": 0.0,
                           "check_inputs": "none", "input_shape": [16, 16, 3]}
    return exports


def test_saved_model_parameters_are_the_models(tmp_path):
    model = _tiny_model(8, 0)
    path = model_export.export_model(model, tmp_path / "saved_model", "saved_model")
    # conv 3*3*3*8 + 8, batch norm 4 * 8, dense 8*2 + 2
    assert family.saved_model_parameters(path) == model.count_params() == 274


# --------------------------------------------------------- the sweep, trained by a fake


def _family_results(config):
    """mAP and complexity of a fake family run, from its cap."""
    cap = config.complexity_cap or 7360.0
    flops = cap if config.complexity_definition == "flops" else cap * 27_000.0
    return {"map50": 0.3 + 0.1 * config.seed + (0.05 if cap == 6000.0 else 0.0),
            "panet_complexity": min(cap, 7360.0), "panet_flops": flops,
            "trainable_params": 100, "seed": config.seed}


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory):
    """`{width: exports}` of two tiny models, exported once for the module."""
    directory = tmp_path_factory.mktemp("tiny")
    return {width: _export_tiny(_tiny_model(width, 0), directory / f"w{width}")
            for width in (8, 16)}


def _fake_exports(exported, tiny_exports):
    """A stand-in for `export_family_run`: the tiny models' exports, twice
    as wide for the baseline."""

    def export_family_run(run_dir, formats, verbose=1):
        exported.append(run_dir.name)
        return tiny_exports[16 if run_dir.name.startswith("baseline") else 8]

    return export_family_run


def test_family_trains_exports_times_and_tables(tmp_path, monkeypatch, capsys, tiny_exports,
                                                fake_detection_training):
    exported = []
    trained = fake_detection_training(
        _family_results, lambda config: (config.model, config.complexity_cap, config.seed))
    monkeypatch.setattr(family, "export_family_run", _fake_exports(exported, tiny_exports))
    # The six runs share two tiny exports: each is loaded once (it would be
    # one file per run in a real family).
    loaded, load, count = {}, model_export.exported_function, family.saved_model_parameters

    def once(function, *key):
        if key not in loaded:
            loaded[key] = function(*key)
        return loaded[key]

    monkeypatch.setattr(model_export, "exported_function", lambda *key: once(load, *key))
    monkeypatch.setattr(family, "saved_model_parameters", lambda path: once(count, path))
    base = DetectionConfig()
    caps = ["6000", "250MFLOPs"]
    rows = family.run_family(base, caps, [0, 1], tmp_path, verbose=0, latency_rounds=2)
    assert trained == [("baseline", None, 0), ("resolution", 6000.0, 0),
                       ("resolution", 2.5e8, 0), ("baseline", None, 1),
                       ("resolution", 6000.0, 1), ("resolution", 2.5e8, 1)]
    assert len(exported) == 6
    assert [row["model"] for row in rows] == [
        "baseline", "resolution cap=6000", "resolution cap=250MFLOPs"]
    assert [row["cap"] for row in rows] == [None, "6000", "250MFLOPs"]
    assert rows[1]["map50_mean"] == pytest.approx(0.40)
    assert rows[1]["map50_diff_mean"] == pytest.approx(0.05)
    assert rows[1]["panet_flops_mean"] == pytest.approx(6000 * 27_000.0)
    assert [row["parameters"] for row in rows] == [546, 274, 274]  # 16 and 8 channels
    # FLOPs front: 162M at 0.40 dominates the baseline (199M) and 250M, both at 0.35.
    assert [row["pareto_flops"] for row in rows] == [False, True, False]
    runtimes = ["tf", "ort"] if HAS_ONNX else ["tf"]
    for runtime in runtimes:
        for batch in (1, 16):
            key = f"latency_{runtime}_b{batch}"
            assert rows[0][key + "_ratio_mean"] == 1.0  # the baseline is its own reference
            assert all(row[key + "_mean"] > 0 and row[key + "_ratio_mean"] > 0 for row in rows)
    assert all(row["pareto_latency"] in (True, False) for row in rows)

    text = (tmp_path / "family.txt").read_text()
    header = text.splitlines()[0].split("  ")
    assert [title.strip() for title in header if title.strip()][:8] == [
        "Model", "cap", "runs", "mAP@0.5", "mAP@0.5 95% CI", "PANet cells", "PANet MFLOPs",
        "params"]
    assert "TF b1 ms" in text and "TF b16 ms" in text and ("ORT b1 ms" in text) == HAS_ONNX
    assert "(1.00x)" in text.splitlines()[2]  # the baseline's row
    assert "40.0% +- 7.1" in text and "162.0" in text and "546" in text
    assert "load average (1, 5, 15 min) before the timing" in text
    assert text in capsys.readouterr().out + "\n"
    saved = json.loads((tmp_path / "family.json").read_text())
    assert saved["settings"]["caps"] == caps and saved["latency"]["rounds"] == 2
    assert set(saved["latency"]["batches"]) == {"1", "16"}
    assert saved["parameters"]["baseline_seed1"] == 546
    assert (tmp_path / "family.png").stat().st_size > 10_000

    # The same command again trains nothing; other settings are refused.
    family.run_family(base, caps, [0, 1], tmp_path, verbose=0, latency_rounds=2)
    assert len(trained) == 6
    with pytest.raises(FileExistsError, match="other settings"):
        family.run_family(base, ["6000", "7000"], [0, 1], tmp_path, verbose=0)
    with pytest.raises(ValueError, match="--caps: a family needs at least two caps"):
        family.run_family(base, ["6000"], [0, 1], tmp_path, verbose=0)

    # --report-only: the table of what finished, latencies from family.json, no writes.
    before = sorted(path.name for path in tmp_path.iterdir())
    (tmp_path / "resolution_cap6000_seed1" / "state.json").unlink()  # as if interrupted
    capsys.readouterr()
    assert main(["sweep", "family", "--caps", *caps, "--seeds", "0", "1",
                 "--sweep-dir", str(tmp_path), "--report-only"]) == 0
    report = capsys.readouterr().out
    assert "5 of 6 runs finished; not yet: resolution_cap6000_seed1" in report
    row = next(line for line in report.splitlines() if line.startswith("resolution cap=6000 "))
    assert row.split()[2:5] == ["6000", "1", "35.0%"]  # cap, runs, seed 0's mAP
    assert row.count("x)") == len(runtimes) * 2  # its latencies, from family.json
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    with pytest.raises(ValueError, match="other settings than these options"):
        family.run_family(base, caps, [0], tmp_path, verbose=0, report_only=True)


@pytest.mark.slow
def test_a_tiny_family_end_to_end(tmp_path, capsys):
    """Real training (1 epoch of 2 steps at 64 px), freezing, export and
    timing of the baseline and two Resolution models (minutes)."""
    base = DetectionConfig(data="embedded", image_size=64, epochs=1, batch_size=4,
                           max_train_images=8, max_eval_images=4, eval_every=1)
    rows = family.run_family(base, ["400", "20MFLOPs"], [0], tmp_path, verbose=0,
                             latency_rounds=2)
    assert [row["model"] for row in rows] == [
        "baseline", "resolution cap=400", "resolution cap=20MFLOPs"]
    baseline = json.loads((tmp_path / "baseline_seed0" / "results.json").read_text())
    assert rows[0]["panet_complexity_mean"] == baseline["panet_complexity"] == 460.0  # 7360/16
    for name in ("baseline_seed0", "resolution_cap400_seed0", "resolution_cap20MFLOPs_seed0"):
        description = json.loads(
            (tmp_path / name / "export-saved_model" / "export.json").read_text())
        assert description["check"]["max_abs_difference"] <= 1e-4 * max(
            output["scale"] for output in description["check"]["outputs"].values())
        assert description["input"]["shape"] == [None, 64, 64, 3]
    assert (tmp_path / "resolution_cap400_seed0" / "export-onnx").exists() == HAS_ONNX
    assert all(row["parameters"] > 100_000 for row in rows)
    assert rows[0]["latency_tf_b1_ratio_mean"] == rows[0]["latency_tf_b16_ratio_mean"] == 1.0
    assert all(row["latency_tf_b16_mean"] > 0 for row in rows)
    assert (tmp_path / "family.png").stat().st_size > 10_000
    text = (tmp_path / "family.txt").read_text()
    assert text in capsys.readouterr().out + "\n"


@pytest.mark.slow
def test_report_only_in_a_fresh_process(tmp_path):
    """The CLI's --report-only in a process of its own (TensorFlow and
    KerasCV imported from scratch: about 10-30 s)."""
    base = DetectionConfig()
    caps = ["6000", "250MFLOPs"]
    (tmp_path / "sweep.json").write_text(json.dumps(family.family_settings(base, [0], caps)))
    for name, map50 in [("baseline_seed0", 0.5), ("resolution_cap250MFLOPs_seed0", 0.625)]:
        run = RunDirectory(tmp_path / name)
        run.claim({"experiment": "detection", "config": {}})
        run.results_json.write_text(json.dumps({
            "map50": map50, "panet_complexity": 7360.0, "panet_flops": 2.5e8,
            "trainable_params": 100}))
        run.write_state(RunState(epochs_done=1, finished=True))
    before = sorted(path.name for path in tmp_path.iterdir())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "training", "sweep", "family", "--caps", *caps,
               "--sweep-dir", str(tmp_path), "--report-only"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ("2 of 3 runs finished; not yet: resolution_cap6000_seed0; no latencies yet "
            "(family.json not written)") in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()
            if line.startswith(("baseline ", "resolution "))]
    assert [row[:5] for row in rows] == [["baseline", "-", "1", "50.0%", "-"],
                                         ["resolution", "cap=250MFLOPs", "250MFLOPs", "1", "62.5%"]]
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    other = subprocess.run(command[:6] + ["7000"] + command[7:], capture_output=True,
                           text=True, env=env, timeout=300)
    assert other.returncode == 2
    assert other.stderr.strip().endswith("holds a sweep with other settings than these options.")


def test_runs_recorded_before_the_flops_count_get_it_from_their_checkpoint(tmp_path):
    import detection

    model = detection.baseline_yolov8(3, image_size=64)
    model.save(tmp_path / "best.keras")
    expected = float(detection.panet_complexity(model, "flops"))
    assert expected > 0
    upgraded = family.with_panet_flops({"map50": 0.5}, tmp_path)
    assert upgraded == {"map50": 0.5, "panet_flops": pytest.approx(expected, rel=1e-6)}
    # A run that recorded it is returned as it is, without loading anything.
    recorded = {"map50": 0.5, "panet_flops": 1.0}
    assert family.with_panet_flops(recorded, tmp_path / "no-such-run") is recorded
