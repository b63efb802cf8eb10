"""SRF-GAN and the fixed upsamplers in the harness (issue 13, items 4-5):
stage-1 and stage-3 runs on tiny embedded data, resume of stage 1, the
runs a stage starts from, the options, and the Table 1 rows."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from training.cli import _detection_config
from training.cli import build_parser
from training.common.run_directory import RunDirectory
from training.common.run_directory import RunState
from training.common.run_directory import read_csv
from training.detection import table1 as sweeps
from training.detection.config import DetectionConfig
from training.detection.config import resolve_config
from training.detection.data.embedded import EMBEDDED_CLASSES


def _config(data, **overrides):
    values = dict(
        data=data, model="baseline", epochs=1, image_size=64, batch_size=4,
        learning_rate=1e-3, final_learning_rate=1e-4, optimizer="adam",
        freeze_backbone=False, eval_every=1, train_split="train", eval_split="test",
        classes=list(EMBEDDED_CLASSES), checkpoint_every=0, warmup_epochs=0.0,
        ema_momentum=0.0,
    )
    values.update(overrides)
    return DetectionConfig(**values)


# Stage 1 at test size: one generator block, discriminators 1/64 of the
# paper's widths (8, 16, 16).
STAGE1 = dict(model="srf", srf_stage=1, generator_blocks=1,
              discriminator_width_multiplier=1 / 64, epochs=2, checkpoint_every=1)


def _parse(*argv):
    return resolve_config(_detection_config(build_parser().parse_args(["train", *argv])))


# ------------------------------------------------------------- options
def test_options_name_what_is_missing_or_misplaced(tmp_path):
    config = _parse("--model", "upsampler", "--upsampler", "dct")
    assert (config.model, config.upsampler, config.srf_stage) == ("upsampler", "dct", None)
    stage1 = _parse("--model", "srf", "--srf-stage", "1", "--srf-target", str(tmp_path / "b"))
    # The stage-1 recipe replaces the detector's on the embedded data.
    assert (stage1.epochs, stage1.optimizer, stage1.learning_rate, stage1.ema_momentum,
            stage1.discriminator_width_multiplier) == (8, "adam", 1e-3, 0.0, 0.125)
    assert stage1.srf_target == str(tmp_path / "b")  # absolute: resumable from anywhere
    stage3 = _parse("--model", "srf", "--srf-stage", "3", "--srf-generators", "g")
    assert (stage3.epochs, stage3.learning_rate, stage3.ema_momentum) == (12, 4e-3, 0.99)
    sweep = build_parser().parse_args(["sweep", "table1", "--upsamplers", "bilinear", "srf"])
    assert sweep.upsamplers == ["bilinear", "srf"]
    assert build_parser().parse_args(["sweep", "table1"]).upsamplers == []
    for argv, message in [
        (["--model", "upsampler"], "--model upsampler needs --upsampler"),
        (["--model", "srf"], "--model srf needs --srf-stage"),
        (["--model", "srf", "--srf-stage", "1"], "--srf-stage 1 needs --srf-target"),
        (["--model", "srf", "--srf-stage", "3"], "--srf-stage 3 needs --srf-generators"),
        (["--model", "srf", "--srf-stage", "3", "--srf-generators", "g", "--srf-target", "b"],
         "--srf-target does not apply to --srf-stage 3"),
        (["--model", "baseline", "--upsampler", "dct"], "--upsampler does not apply"),
        (["--model", "resolution", "--srf-target", "b"], "--srf-target does not apply"),
        (["--model", "baseline", "--srf-target", "b"], "--srf-target does not apply"),
        (["--model", "srf", "--srf-stage", "1", "--srf-target", "b", "--generator-blocks", "0"],
         "--generator-blocks must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            _parse(*argv)


def test_stage1_refuses_a_missing_unfinished_or_other_target(tiny_data, tmp_path):
    from training.detection.srf_stages import SRFStage1Experiment

    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=f"--srf-target {missing}: no run there"):
        SRFStage1Experiment(_config(tiny_data, **STAGE1, srf_target=str(missing)), verbose=0)
    unfinished = RunDirectory(tmp_path / "unfinished")
    unfinished.claim({"experiment": "detection",
                      "config": dataclasses.asdict(_config(tiny_data))})
    with pytest.raises(ValueError, match="--srf-target .*unfinished: the run has not finished"):
        SRFStage1Experiment(_config(tiny_data, **STAGE1, srf_target=str(unfinished.path)),
                            verbose=0)
    other = RunDirectory(tmp_path / "resolution")
    other.claim({"experiment": "detection",
                 "config": dataclasses.asdict(_config(tiny_data, model="resolution"))})
    with pytest.raises(ValueError, match="--srf-target .*resolution: not a baseline run"):
        SRFStage1Experiment(_config(tiny_data, **STAGE1, srf_target=str(other.path)),
                            verbose=0)
    # A finished baseline at another image size: not this stage's maps.
    finished = RunDirectory(tmp_path / "baseline_128")
    finished.claim({"experiment": "detection",
                    "config": dataclasses.asdict(_config(tiny_data, image_size=128))})
    finished.best_checkpoint.write_bytes(b"")
    finished.write_state(RunState(epochs_done=1, finished=True))
    with pytest.raises(ValueError, match="--srf-target: .*image_size=128"):
        SRFStage1Experiment(_config(tiny_data, **STAGE1, srf_target=str(finished.path)),
                            verbose=0)
    from training.detection.job import DetectionExperiment

    with pytest.raises(ValueError, match="--srf-generators .*: no run there"):
        DetectionExperiment(_config(tiny_data, model="srf", srf_stage=3,
                                    srf_generators=str(missing)), verbose=0)
    # The fine-tuned control checks its baseline run as stage 1 does.
    control = dict(model="upsampler", upsampler="nearest")
    with pytest.raises(ValueError, match=f"--srf-target {missing}: no run there"):
        DetectionExperiment(_config(tiny_data, **control, srf_target=str(missing)), verbose=0)
    with pytest.raises(ValueError, match="--srf-target .*resolution: not a baseline run"):
        DetectionExperiment(_config(tiny_data, **control, srf_target=str(other.path)),
                            verbose=0)


# ------------------------------------------------------ generator FLOPs
def test_generator_flops_are_the_hand_count():
    """Per generator on an H x W map: head, block convs, body conv at H W;
    the transposed conv k k C C per input position; the 1x1 projection at
    2H 2W (tiny backbone: P5 2x2 x 32 channels, P4 path 4x4 x 16)."""
    import keras_cv

    import detection

    keras.utils.set_random_seed(0)
    backbone = keras_cv.models.YOLOV8Backbone(
        stackwise_channels=[4, 8, 16, 32], stackwise_depth=[1, 1, 1, 1],
        include_rescaling=True, input_shape=(64, 64, 3))
    model = detection.SRFYOLOV8Detector(backbone, num_classes=3, bounding_box_format="xyxy",
                                        generator_options={"num_blocks": 1})

    def count(c, positions):
        convs = (9 * c * c) * 4 + 36 * c * c  # head, 2 block convs, body conv; deconv
        return positions * convs + 4 * positions * c * c  # projection 1x1 at 2H x 2W

    assert model.generator_flops() == count(32, 2 * 2) + count(16, 4 * 4)
    fixed = detection.SRFYOLOV8Detector(backbone, num_classes=3, bounding_box_format="xyxy",
                                        upsampler="bilinear")
    assert fixed.generator_flops() == 0.0


# -------------------------------------------------------- Table 1 rows
def _row_results(config):
    """What a fake run of the Table 1 rows finishes with."""
    if config.srf_stage == 1:
        return {"model": "srf", "srf_stage": 1, "val_l1": 0.5, "train_seconds": 600.0}
    gain = {"baseline": 0.0, "resolution": 0.05, "upsampler": 0.01, "srf": 0.02}
    result = {"map50": 0.4 + gain[config.model] + 0.1 * config.seed,
              "panet_complexity": 460.0, "panet_flops": 2e6,
              "trainable_params": 100 + 50 * (config.model == "srf"),
              "train_seconds": 120.0 + 180.0 * (config.model == "srf")}
    if config.model == "srf":
        result["generator_flops"] = 3e6
    return result


def test_upsampler_rows_extend_a_sweep_and_srf_trains_on_its_seeds_baseline(
        tmp_path, fake_detection_training):
    trained = fake_detection_training(_row_results, lambda config: (
        config.model, config.upsampler, config.srf_stage, config.srf_target,
        config.srf_generators, config.seed))
    base = DetectionConfig()
    # Without upsamplers: the plan and sweep.json of before.
    assert sweeps.table1_runs(base, [0], [1e-3]) == sweeps.table1_runs(
        base, [0], [1e-3], upsamplers=(), sweep_dir=tmp_path)
    assert set(sweeps.table1_settings(base, [0], [1e-3])) == {
        "sweep", "config", "seeds", "hinge_weights"}
    sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    assert len(trained) == 4
    before = json.loads((tmp_path / "sweep.json").read_text())
    # As a sweep started before these rows existed wrote it: without the
    # config fields they added. The same command still continues it.
    older = json.loads(json.dumps(before))
    new_fields = ("upsampler", "srf_stage", "srf_target", "srf_generators", "generator_variant",
                  "generator_blocks", "discriminator_width_multiplier", "adversarial_weight")
    for field in new_fields:
        del older["config"][field]
    (tmp_path / "sweep.json").write_text(json.dumps(older))
    assert sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)[0]["runs"] == 2
    assert len(trained) == 4

    rows = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0,
                             upsamplers=["bilinear", "dct", "srf"])
    new = trained[4:]
    assert [run[:3] for run in new] == 2 * [
        ("upsampler", "bilinear", None), ("upsampler", "dct", None), ("srf", None, 1),
        ("srf", None, 3)]
    # Stage 1 on the same seed's baseline run; stage 3 from that stage 1.
    assert new[2][3] == str(tmp_path / "baseline_seed0")
    assert new[3][4] == str(tmp_path / "srf_stage1_seed0")
    assert new[6][3] == str(tmp_path / "baseline_seed1")
    assert (tmp_path / "srf_stage1_seed1" / "results.json").exists()
    assert [row["model"] for row in rows] == [
        "baseline", "resolution lambda=0.001", "bilinear", "dct upsample", "srf"]
    assert rows[4]["map50_diffs"] == pytest.approx([0.02, 0.02])
    assert rows[4]["flops_mean"] == 5e6 and rows[2]["flops_mean"] == 2e6
    text = (tmp_path / "table1.txt").read_text()
    srf_line = next(line for line in text.splitlines() if line.startswith("srf "))
    assert "150" in srf_line and "5.0" in srf_line  # its parameters, PANet + generator MFLOPs
    # Training minutes: 2 for every fixed row, 2 + 10 + 5 for SRF-GAN's
    # baseline, stage 1 and stage 3.
    assert [row["train_minutes_mean"] for row in rows] == [2.0, 2.0, 2.0, 2.0, 17.0]
    assert "Train min" in text and " 17.0 " in srf_line
    # Three panels (complexity, MFLOPs, paired differences) at 5.25 in each + 1 in, 110 dpi.
    png = (tmp_path / "table1.png").read_bytes()
    assert int.from_bytes(png[16:20], "big") == round((1 + 3 * 5.25) * 110)
    assert "stage1" not in text
    stored = json.loads((tmp_path / "sweep.json").read_text())
    assert stored == {**before, "upsamplers": ["bilinear", "dct", "srf"]}
    # Again: nothing trained; dropping the rows is another sweep.
    assert sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0,
                             upsamplers=["bilinear", "dct", "srf"]) == rows
    assert len(trained) == 12
    with pytest.raises(FileExistsError, match="other settings"):
        sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0)
    report = sweeps.run_table1(base, [0, 1], [1e-3], tmp_path, verbose=0, report_only=True,
                               upsamplers=["bilinear", "dct", "srf"])
    assert report == rows
    with pytest.raises(ValueError, match="--upsamplers must be among"):
        sweeps.run_table1(base, [0], [1e-3], tmp_path / "other", verbose=0,
                          upsamplers=["nearest"])
    assert not (tmp_path / "other").exists()


def test_fine_tuned_control_starts_from_its_seeds_baseline_and_counts_its_time(
        tmp_path, fake_detection_training):
    trained = fake_detection_training(_row_results, lambda config: (
        config.model, config.upsampler, config.srf_target, config.seed))
    rows = sweeps.run_table1(DetectionConfig(), [0, 1], [], tmp_path, verbose=0,
                             upsamplers=["fine-tuned", "srf"])
    assert trained[:2] == [
        ("baseline", None, None, 0),
        ("upsampler", "nearest", str(tmp_path / "baseline_seed0"), 0)]
    assert trained[5] == ("upsampler", "nearest", str(tmp_path / "baseline_seed1"), 1)
    control, srf = rows[1], rows[2]
    assert (control["model"], srf["model"]) == ("baseline fine-tuned", "srf")
    assert control["map50_diffs"] == pytest.approx([0.01, 0.01])
    # Its own 2 minutes and its baseline's 2; SRF-GAN: 2 + 10 + 5.
    assert (control["train_minutes_mean"], srf["train_minutes_mean"]) == (4.0, 17.0)
    # The runs recorded their sources' absolute paths; a moved sweep (a
    # clone elsewhere) is still reported, its sources found in the sweep.
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    tmp_path.rename(moved)
    report = sweeps.run_table1(DetectionConfig(), [0, 1], [], moved, verbose=0,
                               report_only=True, upsamplers=["fine-tuned", "srf"])
    assert [row["train_minutes_mean"] for row in report] == [2.0, 4.0, 17.0]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "table1", "--upsamplers", "nearest"])


def test_report_takes_the_paired_differences_from_the_reference_row(
        tmp_path, capsys, fake_detection_training):
    fake_detection_training(_row_results, lambda config: config.seed)
    base, options = DetectionConfig(), dict(verbose=0, upsamplers=["fine-tuned", "srf"])
    sweeps.run_table1(base, [0, 1], [], tmp_path, **options)
    capsys.readouterr()
    before = sorted(path.name for path in tmp_path.iterdir())
    plot = tmp_path.parent / f"{tmp_path.name}-control.png"
    args = build_parser().parse_args(["sweep", "table1", "--reference", "baseline fine-tuned"])
    rows = sweeps.run_table1(base, [0, 1], [], tmp_path, report_only=True, plot=plot,
                             reference=args.reference, **options)
    baseline, control, srf = rows
    # mAP per seed: baseline 0.40 / 0.50, control 0.41 / 0.51, SRF 0.42 / 0.52.
    assert srf["map50_diffs"] == pytest.approx([0.01, 0.01])
    assert baseline["map50_diffs"] == pytest.approx([-0.01, -0.01])
    assert "map50_diffs" not in control
    out = capsys.readouterr().out
    assert "mAP@0.5 - baseline fine-tuned [95% CI]" in out and "mAP@0.5 - baseline [" not in out
    assert "points from the baseline fine-tuned's run of the same seed" in out
    srf_line = next(line for line in out.splitlines() if line.startswith("srf "))
    assert "+1.0 [+1.0, +1.0]" in srf_line  # equal differences: no spread
    assert plot.stat().st_size > 10_000
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # nothing written
    with pytest.raises(ValueError, match="^--reference must be a row of the sweep "
                                         r"\(baseline, baseline fine-tuned, srf\), got 'bilinear'"):
        sweeps.run_table1(base, [0, 1], [], tmp_path, report_only=True, reference="bilinear",
                          **options)
    with pytest.raises(ValueError, match="^--reference applies to --report-only"):
        sweeps.run_table1(base, [0, 1], [], tmp_path, reference="srf", **options)
    assert sorted(path.name for path in tmp_path.iterdir()) == before


# --------------------------------------------------- runs (slow: tracing)
@pytest.fixture(scope="module")
def baseline_run(tiny_data, tmp_path_factory):
    from training.detection.job import train_detection

    run_dir = tmp_path_factory.mktemp("runs") / "baseline"
    train_detection(_config(tiny_data), run_dir, verbose=0)
    return run_dir


def _weights(model):
    return [np.asarray(w) for w in model.weights]


@pytest.mark.slow
def test_stage1_run_logs_both_steps_and_a_killed_run_resumes_to_the_same_end(
        tiny_data, baseline_run, tmp_path, interrupt_after_batch):
    from training.detection.job import load_detector
    from training.detection.job import train_detection

    config = _config(tiny_data, **STAGE1, srf_target=str(baseline_run))
    straight = train_detection(config, tmp_path / "straight", verbose=0)
    run = RunDirectory(tmp_path / "straight")
    rows = read_csv(run.results_csv)
    assert [row["epoch"] for row in rows] == [1, 2]
    for key in ("d_loss", "g_loss", "l1", "adversarial", "val_l1", "val_l1_bilinear"):
        assert all(np.isfinite(row[key]) for row in rows), key
    for row in rows:  # g_loss = L1 + 0.001 adversarial
        assert row["g_loss"] == pytest.approx(row["l1"] + 1e-3 * row["adversarial"], rel=1e-5)
    assert (run.plots_dir / "losses.png").exists()
    assert (run.plots_dir / "validation_l1.png").exists()
    assert straight["generator_params"] > 0 and straight["discriminator_params"] > 0
    assert straight["val_l1"] == pytest.approx(
        straight["val_l1_bilinear"] - straight["val_l1_improvement"])

    crashed = tmp_path / "crashed"
    interrupt_after_batch(lambda: train_detection(config, crashed, verbose=0))
    state = RunDirectory(crashed).read_state()
    assert (state.epochs_done, state.batches_done, state.finished) == (1, 2, False)
    resumed = train_detection(None, crashed, resume=True, verbose=0)
    for key in ("val_l1", "val_l1_bilinear", "generator_params"):
        assert resumed[key] == pytest.approx(straight[key], rel=1e-5), key
    # Epoch 1 ran whole in both; the resumed epoch 2 logs the means of its
    # last batches only (as every resumed run), its evaluation is the same.
    (first_a, second_a), (first_b, second_b) = (
        read_csv(path / "results.csv") for path in (run.path, crashed))
    for key in ("d_loss", "g_loss", "l1", "adversarial", "val_l1", "val_l1_bilinear"):
        assert first_b[key] == pytest.approx(first_a[key], rel=1e-5), key
    assert second_b["val_l1"] == pytest.approx(second_a["val_l1"], rel=1e-5)
    # The checkpoints hold the generators, discriminators and both optimizers.
    first, second = (load_detector(path / "last.keras") for path in (run.path, crashed))
    for a, b in zip(_weights(first), _weights(second)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for name in ("generator_optimizer", "discriminator_optimizer"):
        a, b = getattr(first, name), getattr(second, name)
        assert int(a.iterations) == int(b.iterations) == 2 * 4  # 2 epochs of 4 steps
        for x, y in zip(a.variables, b.variables):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="stage-1 run"):
        from training.detection.job import evaluate_run

        evaluate_run(run.path, verbose=0)


@pytest.mark.slow
def test_stage3_starts_from_the_baseline_and_the_stage1_generators(
        tiny_data, baseline_run, tmp_path):
    from training.detection.job import DetectionExperiment
    from training.detection.job import load_detector
    from training.detection.job import train_detection

    stage1 = tmp_path / "stage1"
    train_detection(_config(tiny_data, **{**STAGE1, "epochs": 1},
                            srf_target=str(baseline_run)), stage1, verbose=0)
    config = _config(tiny_data, model="srf", srf_stage=3, srf_generators=str(stage1),
                     generator_blocks=1)
    detector = DetectionExperiment(config, verbose=0).build_model()
    baseline = load_detector(baseline_run / "best.keras")
    trainer = load_detector(stage1 / "best.keras")
    for a, b in zip(_weights(baseline.backbone), _weights(detector.backbone)):
        np.testing.assert_array_equal(a, b)
    heads = [layer for layer in baseline.layers
             if layer.weights and not isinstance(layer, keras.Model)]
    assert len(heads) > 20  # the PANet's and the head's layers
    for layer in heads:
        assert len(layer.weights) == len(detector.get_layer(layer.name).weights)
        for a, b in zip(_weights(layer), _weights(detector.get_layer(layer.name))):
            np.testing.assert_array_equal(a, b)
    for generator in trainer.generators:
        for a, b in zip(_weights(generator), _weights(detector.get_layer(generator.name))):
            np.testing.assert_array_equal(a, b)
    results = train_detection(config, tmp_path / "stage3", verbose=0)
    assert results["upsampler"] == "srf" and 0.0 <= results["map50"] <= 1.0
    assert results["panet_complexity"] == 460.0  # the baseline's at 64 px
    assert results["generator_params"] == sum(
        g.count_params() for g in trainer.generators)
    assert results["generator_flops"] > 0
    assert results["trainable_params"] > results["generator_params"]
    # Other generator settings than the stage-1 run's: refused.
    with pytest.raises(ValueError, match="--srf-generators: .*generator_blocks"):
        DetectionExperiment(dataclasses.replace(config, generator_blocks=2), verbose=0)


@pytest.mark.slow
def test_fine_tuned_control_starts_from_every_weight_of_the_baseline(
        tiny_data, baseline_run, tmp_path):
    from training.detection.job import DetectionExperiment
    from training.detection.job import load_detector

    config = _config(tiny_data, model="upsampler", upsampler="nearest",
                     srf_target=str(baseline_run))
    detector = DetectionExperiment(config, verbose=0).build_model()
    baseline = load_detector(baseline_run / "best.keras")
    assert len(detector.weights) == len(baseline.weights) > 50
    for a, b in zip(_weights(baseline), _weights(detector)):
        np.testing.assert_array_equal(a, b)
    # A fresh detector of the same kind starts elsewhere.
    fresh = DetectionExperiment(dataclasses.replace(config, srf_target=None),
                                verbose=0).build_model()
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(baseline), _weights(fresh)))


@pytest.mark.slow
def test_fixed_upsampler_run(tiny_data, tmp_path):
    from training.detection.job import load_detector
    from training.detection.job import train_detection

    results = train_detection(_config(tiny_data, model="upsampler", upsampler="dct"),
                              tmp_path / "dct", verbose=0)
    assert results["upsampler"] == "dct" and results["generator_params"] == 0
    assert results["generator_flops"] == 0.0 and results["panet_complexity"] == 460.0
    model = load_detector(tmp_path / "dct" / "best.keras")
    assert type(model.get_layer("pa_fpn_p4p5_upsample")).__name__ == "DCTResize"
