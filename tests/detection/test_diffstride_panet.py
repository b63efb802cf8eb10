"""Tests for detection.diffstride: YOLOv8 whose bottom-up downsampling is
DiffStride (issue 11, item 5).

The expected sizes are computed by hand from the official DiffStride size
rule (google-research/diffstride, ../shared/notes/comparators.md): for an
`H x W` map, strides `S` and smoothness `R = 4`,

    T_h = max(H / S_h, 2) / 2,   h = min(H, 2 ceil(T_h + R) - H % 2),
    T_w = max(W / S_w, 2) / 2 + 1,   w = min(2 (W // 2), 2 ceil(T_w + R) - 2),

and the continuous sizes of the complexity are the same with `T + R` not
rounded up. The DiffStride PANet's first DiffStride works on P3 (the image
over 8), its output is aligned with P4 at max shape, and the second works
on that merged map and is aligned with P5.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from detection import DiffStrideYOLOV8Detector
from detection import PANetComplexityLogger
from detection import PANetHooks
from detection import apply_path_aggregation_fpn
from detection import baseline_yolov8
from detection import diffstride_yolov8
from detection import panet_complexity
from detection import panet_conv_layers
from detection import panet_layer_complexities

DOWNSAMPLES = ("pa_fpn_p3p4p5_downsample1", "pa_fpn_p3p4p5_downsample2")
BLOCKS = ("pa_fpn_p3p4p5_downsample1_block", "pa_fpn_p3p4p5_downsample2_block")
TOP_DOWN_CONVS = 8  # 4 per top-down CSP block at fpn_depth 1, at P4 then P3 size
MERGED_CONVS = 7  # the DiffStride conv and the 6 of the CSP block after the merge


def _model(image_size, **kwargs):
    keras.utils.set_random_seed(0)
    return diffstride_yolov8(3, bounding_box_format="xyxy", image_size=image_size,
                             confidence_threshold=0.0, **kwargs)


def _images(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def _labelled_batch(size, batch=2, seed=0):
    """Random images with 1-2 xyxy boxes each, padded with -1."""
    rng = np.random.default_rng(seed)
    boxes = -np.ones((batch, 3, 4), "float32")
    classes = -np.ones((batch, 3), "float32")
    for b in range(batch):
        for k in range(1 + b % 2):
            x, y = rng.uniform(0, size * 0.5, 2)
            w, h = rng.uniform(size * 0.2, size * 0.45, 2)
            boxes[b, k] = [x, y, x + w, y + h]
            classes[b, k] = rng.integers(3)
    return _images(size, batch, seed), {"boxes": boxes, "classes": classes}


def _eager_shapes(model, names, images):
    """Spatial sizes of the named layers' outputs in an eager call, where
    every DiffStride size follows the value of its strides."""
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    outputs = probe(images, training=False)
    return {name: tuple(np.asarray(out).shape[1:3]) for name, out in zip(names, outputs)}


# -------------------------------------------------------------- the hook
def test_downsample_hook_takes_over_the_strided_convs_only():
    calls = []

    def downsample(x, strides, name):
        calls.append((name, strides, tuple(x.shape[1:3])))
        return keras.layers.MaxPooling2D(strides, name=f"{name}_pool")(x)

    inputs = [keras.Input(shape) for shape in [(16, 16, 8), (8, 8, 16), (4, 4, 32)]]
    outputs = apply_path_aggregation_fpn(inputs, depth=1,
                                         hooks=PANetHooks(downsample=downsample))
    model = keras.Model(inputs, outputs)
    # Called with the stride-1 conv's full-size output, before the BN.
    assert calls == [(DOWNSAMPLES[0], 2, (16, 16)), (DOWNSAMPLES[1], 2, (8, 8))]
    convs = panet_conv_layers(model)
    assert len(convs) == 22 and all(conv.strides == (1, 1) for conv in convs)
    for name in DOWNSAMPLES:
        pool = model.get_layer(f"{name}_pool")
        assert pool.input._keras_history.operation is model.get_layer(f"{name}_conv")
        assert pool.output is model.get_layer(f"{name}_bn").input
    assert [tuple(o.shape[1:]) for o in model.outputs] == [(16, 16, 8), (8, 8, 16), (4, 4, 32)]
    # Without the hook the two convs stride themselves (the KerasCV graph).
    baseline = keras.Model(inputs, apply_path_aggregation_fpn(inputs, depth=1, name="base"))
    strided = [conv.name for conv in panet_conv_layers(baseline, "base") if conv.strides != (1, 1)]
    assert strided == ["base_p3p4p5_downsample1_conv", "base_p3p4p5_downsample2_conv"]


# -------------------------------------------------- sizes at initialisation
# image: (P3, P4, P5, DiffStride 1, merge 1, DiffStride 2, merge 2).
# 64: P3 8, S = 2 (also its lower bound 8 / (8 - 4)): T_h = 2, h = min(8, 2 ceil(6)) = 8;
#     T_w = 3, w = min(8, 2 ceil(7) - 2 = 12) = 8; merged with P4 4x4: 8x8; the same again.
# 96: P3 12: T_h = 3, h = min(12, 2 ceil(7) = 14) = 12; T_w = 4, w = min(12, 14) = 12.
# 128: P3 16: T_h = 4, h = min(16, 2 ceil(8) = 16) = 16; T_w = 5, w = min(16, 18 - 2) = 16.
# 160: P3 20: T_h = 5, h = min(20, 2 ceil(9)) = 18; T_w = 6, w = min(20, 20 - 2) = 18;
#      merged with P4 10x10: 18x18; then T_h = 4.5, h = min(18, 2 ceil(8.5)) = 18,
#      T_w = 5.5, w = min(18, 2 ceil(9.5) - 2) = 18; merged with P5 5x5: 18x18.
SIZES_AT_INIT = {
    64: (8, 4, 2, 8, 8, 8, 8),
    96: (12, 6, 3, 12, 12, 12, 12),
    128: (16, 8, 4, 16, 16, 16, 16),
    160: (20, 10, 5, 18, 18, 18, 18),
}


def _complexity_at_init(image_size, lengths_1, lengths_2):
    """Area complexity from the continuous DiffStride sizes (square maps)."""
    p3, p4, p5 = SIZES_AT_INIT[image_size][:3]
    top_down = 4 * p4 * p4 + 4 * p3 * p3
    return (top_down + MERGED_CONVS * max(lengths_1, p4) ** 2
            + MERGED_CONVS * max(lengths_2, p5) ** 2)


@pytest.fixture(scope="module")
def model_160():
    return _model(160)


@pytest.mark.parametrize("image_size", [64, 96, 128])
def test_panet_sizes_at_initialisation_keep_p3_up_to_128_px(image_size):
    p3, p4, p5, down1, merge1, down2, merge2 = SIZES_AT_INIT[image_size]
    model = _model(image_size)
    _check_sizes(model, image_size)
    # Every continuous size is capped by min(H, ...) at its input's, so the
    # complexity is that of the realised maps: the top-down convs at P4 and
    # P3 sizes, the 14 bottom-up ones at P3's instead of P4's and P5's.
    expected = _complexity_at_init(image_size, down1, down2)
    assert float(panet_complexity(model)) == expected
    assert expected == {64: 1_216, 96: 2_736, 128: 4_864}[image_size]
    # The cap is the baseline's: 11,500 (image / 320)^2 = 460, 1,035, 1,840.
    assert model.complexity_cap == model.complexity_full == 11_500 * image_size**2 / 320**2


def _check_sizes(model, image_size):
    p3, p4, p5, down1, merge1, down2, merge2 = SIZES_AT_INIT[image_size]
    assert isinstance(model, DiffStrideYOLOV8Detector)
    names = [f"{name}_diffstride" for name in DOWNSAMPLES] + [f"{name}_align" for name in (
        "pa_fpn_p3p4p5_downsample1_merge", "pa_fpn_p3p4p5_downsample2_merge")]
    layers = [model.get_layer(name) for name in names[:2]]
    for layer in layers:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.strides), [2.0, 2.0])
    assert [layer.output_sizes for layer in layers] == [(down1, down1), (down2, down2)]
    probe = keras.Model(model.input, [layers[0].output, layers[1].output]
                        + [model.get_layer(names[2]).output[1], model.get_layer(names[3]).output[1]]
                        + [model.get_layer(f"{block}_output").output for block in BLOCKS])
    shapes = [tuple(np.asarray(out).shape[1:3]) for out in probe(_images(image_size))]
    assert shapes == [(down1, down1), (down2, down2), (merge1, merge1), (merge2, merge2),
                      (merge1, merge1), (merge2, merge2)]
    # The outputs go back to P3, P4, P5 for the head.
    for level, side in zip((1, 2, 3), (p3, p4, p5)):
        assert model.get_layer(f"pa_fpn_output_{level}_dct").size == (side, side)
    # Every PANet conv's learned size is the size it really produces.
    entries = {entry["name"]: entry for entry in model.panet_layer_sizes()}
    assert len(entries) == 22
    convs = [conv.name for conv in panet_conv_layers(model)]
    real = _eager_shapes(model, [name for name in convs if name[:-5] not in DOWNSAMPLES]
                         + [f"{name}_diffstride" for name in DOWNSAMPLES], _images(image_size))
    for name in convs:
        source = f"{name[:-5]}_diffstride" if name[:-5] in DOWNSAMPLES else name
        assert entries[name]["learned"] == real[source], name


def test_ramp_outside_the_nominal_size_at_160_px(model_160):
    # 18x18 after the first DiffStride where the baseline's stride-2 conv
    # gives 10x10, and the continuous sizes 18 and 17 (2 (T + R) - ...).
    _check_sizes(model_160, 160)
    baseline = baseline_yolov8(3, image_size=160)
    assert panet_complexity(baseline) == 2_875
    assert model_160.complexity_cap == model_160.complexity_full == 2_875
    # Continuous: 2 (5 + 4) = 18 and 2 (4.5 + 4) = 17 (width: 2 (6 + 4) - 2
    # = 18 and 2 (5.5 + 4) - 2 = 17).
    expected = _complexity_at_init(160, 18, 17)
    assert expected == 6_291 and float(panet_complexity(model_160)) == expected
    per_conv = panet_layer_complexities(model_160)
    assert len(per_conv) == 22 and sum(float(v) for v in per_conv.values()) == expected
    assert float(per_conv["pa_fpn_p3p4p5_downsample2_conv"]) == 17 * 17
    assert float(per_conv["pa_fpn_p3p4p5_downsample2_block_output_conv"]) == 17 * 17
    assert float(per_conv["pa_fpn_p3p4p5_pre_conv"]) == 20 * 20
    # "linear": the same plan with H + W.
    linear = diffstride_yolov8(3, image_size=160, complexity_definition="linear")
    assert float(linear.model_complexity()) == 4 * 20 + 4 * 40 + 7 * 36 + 7 * 34
    assert linear.complexity_cap == panet_complexity(baseline, "linear") == (
        4 * 20 + 4 * 40 + 7 * 20 + 7 * 10)
    # Four strides more than the baseline's trainable parameters.
    count = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_weights)  # noqa: E731
    assert count(model_160) == count(baseline) + 4


# ----------------------------------------------------------------- training
STEPS = 3


@pytest.fixture(scope="module")
def trained():
    """A DiffStride PANet (160 px, random frozen backbone) after 3 steps
    under the hinge with lambda = 1 and the baseline's cap."""
    model = _model(160, hinge_weight=1.0)
    model.compile(box_loss="ciou", classification_loss="binary_crossentropy",
                  optimizer=keras.optimizers.Adam(3e-2), jit_compile=False)
    images, labels = _labelled_batch(160)
    before = [keras.ops.convert_to_numpy(layer.strides).copy()
              for _, layer, _ in model.panet_blocks()]
    history = model.fit(images, labels, batch_size=2, epochs=STEPS, verbose=0,
                        callbacks=[PANetComplexityLogger()])
    return model, images, history, before


def test_training_steps_move_the_strides_under_the_hinge(trained):
    model, _, history, before = trained
    logs = history.history
    assert len(logs["loss"]) == STEPS and np.all(np.isfinite(logs["loss"]))
    # The hinge is lambda (C - 2,875) while C is above the cap: 6,291 - 2,875
    # at the first step, then falling as the strides grow.
    hinge = logs["hinge_penalty"]
    assert hinge[0] == pytest.approx(6_291 - 2_875, rel=1e-6)
    assert all(a > b > 0 for a, b in zip(hinge, hinge[1:]))
    assert all(loss >= h for loss, h in zip(logs["loss"], hinge))
    for (name, layer, _), start in zip(model.panet_blocks(), before):
        after = keras.ops.convert_to_numpy(layer.strides)
        assert np.all(np.isfinite(after)) and np.all(after > start + 1e-2), (name, after)
    current = float(panet_complexity(model))
    assert current < 6_291
    assert logs["panet_complexity_area"][-1] == pytest.approx(current, rel=1e-6)
    for name, layer, _ in model.panet_blocks():
        assert (logs[f"panet/{name}_conv/h"][-1], logs[f"panet/{name}_conv/w"][-1]) == (
            layer.output_sizes)


def test_detection_loss_alone_reaches_the_strides():
    import tensorflow as tf

    model = _model(160)  # hinge_weight 0
    model.compile(box_loss="ciou", classification_loss="binary_crossentropy",
                  optimizer="sgd", jit_compile=False)
    images, labels = _labelled_batch(160)
    strides = [layer.strides for _, layer, _ in model.panet_blocks()]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(images, labels, model(images, training=True))
    for gradient in tape.gradient(loss, strides):
        assert gradient is not None and np.all(np.isfinite(gradient))
        assert np.all(np.asarray(gradient) != 0)


def test_save_and_load_keep_strides_cap_and_outputs(trained, tmp_path):
    model, images, _, _ = trained
    path = str(tmp_path / "diffstride.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DiffStrideYOLOV8Detector)
    for key in ("complexity_cap", "hinge_weight", "smoothness", "complexity_definition"):
        assert getattr(loaded, key) == getattr(model, key), key
    for (_, layer, _), (_, other, _) in zip(model.panet_blocks(), loaded.panet_blocks()):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(other.strides),
                                      keras.ops.convert_to_numpy(layer.strides))
        assert other.output_sizes == layer.output_sizes
    expected, received = model(images), loaded(images)
    for key in ("boxes", "classes"):
        np.testing.assert_array_equal(np.asarray(received[key]), np.asarray(expected[key]))


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, argument", [
    ({"smoothness": 0.0}, "smoothness"),
    ({"hinge_weight": -1.0}, "hinge_weight"),
    ({"complexity_cap": 0.0}, "complexity_cap"),
    ({"complexity_definition": "volume"}, "complexity_definition"),
    ({"image_size": 32}, "image_size"),  # P3 4x4 does not exceed R = 4
])
def test_bad_arguments_raise_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        diffstride_yolov8(3, **{"image_size": 64, **kwargs})


# ----------------------------------------------------------- command line
@pytest.mark.slow  # about 5 min of wall time on the shared 2 cores (tracing, evaluation)
def test_train_model_diffstride_on_tiny_embedded_data(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = ["train", "--data", "embedded", "--model", "diffstride", "--hinge-weight", "0.001",
            "--weights", "random", "--train-backbone", "--image-size", "64", "--batch-size",
            "4", "--epochs", "1", "--max-train-images", "8", "--max-eval-images", "4",
            "--quiet", "--run-dir", str(run_dir)]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "training", *argv], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"] == "diffstride" and results["hinge_weight"] == 0.001
    # At 64 px every DiffStride keeps its 8x8 input whatever its strides
    # (min(H, ...) caps the continuous sizes too): C = 1,216.
    assert results["panet_complexity"] == 1_216.0
    assert 0.0 <= results["map50"] <= 1.0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["model"] == "diffstride"
    # The checkpoint loads in a fresh process and evaluates to the same numbers.
    evaluated = subprocess.run([sys.executable, "-m", "training", "evaluate", str(run_dir)],
                               capture_output=True, text=True, env=env, timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    printed = dict(line.split(None, 1) for line in evaluated.stdout.splitlines()
                   if line.startswith(("map50 ", "panet_complexity ")))  # fmt: skip
    assert float(printed["map50"]) == pytest.approx(results["map50"], abs=5e-5)
    assert float(printed["panet_complexity"]) == 1_216.0
