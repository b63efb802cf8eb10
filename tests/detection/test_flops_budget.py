"""FLOPs budgets for the detectors (issue 14, item 3, detector and CLI side).

What is shown, on 64 px detectors with `fpn_depth=1` (P3 8x8, P4 4x4, P5
2x2, small enough to build in seconds):

* the Resolution PANet's multiply-adds equal a count by hand from the conv
  and Resolution-layer shapes of the built graph, at s = 1 and with one
  scale moved (a stride-2 conv shrinking below its lateral, whose merge
  then keeps the lateral's size, and growing above it, whose merge then
  grows the next conv);
* their derivative in that scale equals a central finite difference;
* the hinge on FLOPs is zero below the cap and `lambda (F - cap)` above;
* the default cap is the baseline's PANet multiply-adds, the same number
  for the DiffStride detector, whose own count at initialisation (its
  stride-1 convs, 8x8 maps kept by DiffStride at 64 px, its spectral
  products) also equals a hand count;
* `PANetComplexityLogger` logs cells and FLOPs;
* `--complexity-cap 0.8GFLOPs` reaches the config as 8e8 FLOPs; bad text is
  a one-line error naming `--complexity-cap`; a recorded config.json
  without the new field still loads as a cells budget;
* (slow) a detection run writes both numbers to results.json and
  results.csv.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from detection import PANetComplexityLogger
from detection import diffstride_yolov8
from detection import panet_complexity
from detection import panet_conv_layers
from detection import resolution_yolov8
from detection.complexity import panet_layer_flops
from training import cli
from training.detection.config import DetectionConfig
from training.detection.config import config_of_run
from training.detection.config import resolve_config

REPO = Path(__file__).resolve().parents[2]
BASELINE_CONVS = 12_451_840  # The 22 PANet convs at the baseline's sizes.
S_1 = BASELINE_CONVS + 409_600  # The Resolution PANet at s = 1: its resizes too.
CAP = 12.5e6  # Between the two.
LAMBDA = 1e-6
MOVED = "pa_fpn_p3p4p5_downsample1"  # the first bottom-up stride-2 conv block


@pytest.fixture(scope="module")
def model():
    return resolution_yolov8(
        3, image_size=64, complexity_definition="flops", complexity_cap=CAP,
        hinge_weight=LAMBDA,
    )


def conv_count(conv, size=None):
    """Multiply-adds of a Conv2D at its built output size (or `size`)."""
    height, width = size or conv.output.shape[1:3]
    k_h, k_w, c_in, c_out = conv.kernel.shape
    return height * width * k_h * k_w * c_in * c_out


def resize_count(layer, q):
    """A Resolution layer's two axis products for its built input: height
    first (q_h d_h d_w C), then width on the resized map (q_w d_w q_h C)."""
    (d_h, d_w), channels = layer.input.shape[1:3], layer.input.shape[-1]
    q_h, q_w = q
    return q_h * d_h * d_w * channels + q_w * d_w * q_h * channels


def flops_of(model):
    return float(panet_complexity(model, "flops"))


def test_panet_flops_equal_a_hand_count_at_s_1(model):
    convs = sum(conv_count(conv) for conv in panet_conv_layers(model))
    layers = kr.resolution_layers(model)
    resizes = sum(resize_count(layer, layer.input.shape[1:3]) for layer in layers)
    assert (len(panet_conv_layers(model)), len(layers)) == (22, 22)
    assert convs + resizes == S_1 and convs == BASELINE_CONVS
    assert flops_of(model) == float(model.model_complexity()) == convs + resizes
    per_layer = panet_layer_flops(model)
    assert len(per_layer) == 44 and sum(float(v) for v in per_layer.values()) == convs + resizes
    # The default cap and C_full: the baseline's PANet, its convs alone.
    assert model.complexity_full == convs


def _with_scale(model, scale, function):
    variable = model.get_layer(f"{MOVED}_resolution").scale
    original = variable.numpy().copy()
    variable.assign(scale)
    try:
        return function()
    finally:
        variable.assign(original)


def _moved_hand_count(model, q):
    """The s = 1 count with the `MOVED` block's scale giving lengths q:
    its resize and stride-2 conv follow q; the merge aligns the conv's
    output (q / 2) with the 4x4 lateral to max(q / 2, 4), the size the
    block's first 1x1 conv (its resize comes after it) works at."""
    resolution = model.get_layer(f"{MOVED}_resolution")
    conv = model.get_layer(f"{MOVED}_conv")
    pre = model.get_layer(f"{MOVED}_block_pre_conv")
    merged = [max(length / 2, 4.0) for length in q]
    return (
        S_1
        - resize_count(resolution, (8, 8)) + resize_count(resolution, q)
        - conv_count(conv) + conv_count(conv, [length / 2 for length in q])
        - conv_count(pre) + conv_count(pre, merged)
    )


@pytest.mark.parametrize("scale", [(0.5, 0.5), (1.5, 1.25)])
def test_moved_scale_hand_count(model, scale):
    q = [8 * s for s in scale]
    assert _with_scale(model, scale, lambda: flops_of(model)) == pytest.approx(
        _moved_hand_count(model, q), rel=1e-6
    )


def test_derivative_in_one_scale_matches_a_central_difference(model):
    variable = model.get_layer(f"{MOVED}_resolution").scale
    scale = np.array([1.5, 1.25], "float32")

    def gradient():
        with tf.GradientTape() as tape:
            value = model.model_complexity()
        return tape.gradient(value, variable).numpy()

    analytic = _with_scale(model, scale, gradient)
    step = 0.05  # Quadratic in each scale: the difference has no truncation error.
    for axis in range(2):
        values = []
        for sign in (1.0, -1.0):
            moved = scale.copy()
            moved[axis] += sign * step
            values.append(_with_scale(model, moved, lambda: flops_of(model)))
        difference = (values[0] - values[1]) / (2 * step)
        assert analytic[axis] == pytest.approx(difference, rel=1e-3)
        assert analytic[axis] > 1e5


def test_hinge_is_zero_below_the_cap_and_linear_above(model):
    assert model.complexity_cap == CAP and model.complexity_definition == "flops"
    flops, penalty = (float(v) for v in model.complexity_penalty_loss())
    assert flops == S_1 > CAP
    assert penalty == pytest.approx(LAMBDA * (flops - CAP), rel=1e-6)
    flops, penalty = _with_scale(
        model, (0.5, 0.5), lambda: [float(v) for v in model.complexity_penalty_loss()]
    )
    assert flops < CAP and penalty == 0.0


def test_logger_logs_cells_and_flops(model):
    logger = PANetComplexityLogger(per_layer=True)
    logger.set_model(model)
    logs = logger.complexity_logs()
    assert logs["panet_flops"] == S_1
    assert logs["panet_complexity_area"] == float(panet_complexity(model)) == 460.0
    assert logs["panet_flops_of_cap"] == pytest.approx(S_1 / CAP)
    assert "panet_complexity_area_of_cap" not in logs  # the cap is in FLOPs
    assert logs[f"panet/{MOVED}_conv/flops"] == conv_count(model.get_layer(f"{MOVED}_conv"))
    assert logs[f"panet/{MOVED}_conv/complexity_area"] == 16.0


def test_diffstride_flops_at_initialisation_and_the_baseline_cap():
    model = diffstride_yolov8(3, image_size=64, complexity_definition="flops")
    # At 64 px both DiffStride layers keep their 8x8 input, so every conv
    # after them works at 8x8 (the baseline's: 4x4 and 2x2).
    convs = sum(conv_count(conv) for conv in panet_conv_layers(model))
    spectral = 0
    for _, layer, _ in model.panet_blocks():
        (height, width), channels = layer.input.shape[1:3], layer.input.shape[-1]
        assert tuple(layer.output.shape[1:3]) == (8, 8) == (height, width)
        spectral += (2 * 8 * width * height + 2 * 8 * height * 8) * channels
    assert float(model.model_complexity()) == convs + spectral == 82_444_288
    assert model.complexity_cap == model.complexity_full == BASELINE_CONVS


def _config_from_cli(*argv):
    args = cli.build_parser().parse_args(["train", *argv])
    return resolve_config(cli._detection_config(args))


def test_flops_cap_from_the_command_line():
    config = _config_from_cli("--complexity-cap", "0.8GFLOPs", "--train-backbone")
    assert (config.complexity_cap, config.complexity_definition) == (8e8, "flops")
    cells = _config_from_cli("--complexity-cap", "9200", "--train-backbone")
    assert (cells.complexity_cap, cells.complexity_definition) == (9200.0, "area")
    # Resolved once more (as on resume, from config.json): unchanged.
    assert resolve_config(config) == config


@pytest.mark.parametrize("text", ["0.8GB", "GFLOPs", "-1", "abc"])
def test_bad_cap_is_one_line_naming_the_option(text, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = cli.main(["train", "--complexity-cap", text, "--train-backbone",
                     "--run-dir", str(run_dir)])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert error.startswith("error: `--complexity-cap` must be a number > 0") and text in error
    assert not run_dir.exists()


def test_a_recorded_config_without_the_field_loads_as_a_cells_budget():
    path = REPO / "docs/runs/table1-embedded/resolution_lambda0.001_seed0/config.json"
    recorded = json.loads(path.read_text())["config"]
    assert "complexity_definition" not in recorded
    config = resolve_config(config_of_run(recorded))
    assert (config.complexity_cap, config.complexity_definition) == (None, "area")
    capped = resolve_config(config_of_run({**recorded, "complexity_cap": 9200.0}))
    assert (capped.complexity_cap, capped.complexity_definition) == (9200.0, "area")
    assert DetectionConfig().complexity_definition == "area"


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["baseline", "resolution"])
def test_a_run_reports_cells_and_flops(model_name, tmp_path):
    from training.common.run_directory import RunDirectory
    from training.common.run_directory import read_csv
    from training.detection.data.embedded import EMBEDDED_CLASSES
    from training.detection.data.embedded import EmbeddedConfig
    from training.detection.data.embedded import ensure_embedded_dataset
    from training.detection.job import train_detection

    data = ensure_embedded_dataset(
        EmbeddedConfig(seed=7, num_train=8, num_val=2, num_test=4), tmp_path / "data")
    config = DetectionConfig(
        data=str(data), model=model_name, hinge_weight=1e-6, complexity_cap="30MFLOPs",
        epochs=1, image_size=64, batch_size=4, learning_rate=1e-3, final_learning_rate=1e-4,
        optimizer="adam", freeze_backbone=False, eval_every=1, train_split="train",
        eval_split="test", classes=list(EMBEDDED_CLASSES),
    )
    results = train_detection(config, tmp_path / "run", verbose=0)
    run = RunDirectory(tmp_path / "run")
    written = json.loads(run.results_json.read_text())
    for record in (results, written):
        assert record["panet_complexity"] > 0 and record["panet_flops"] > 0
    row = read_csv(run.results_csv)[-1]
    assert float(row["panet_flops"]) > 0 and float(row["panet_complexity_area"]) > 0
    if model_name == "baseline":
        assert results["panet_flops"] == BASELINE_CONVS and results["panet_complexity"] == 460
    assert math.isfinite(results["map50"])
