"""`python -m training export` and `training.common.model_export` (issue 14, item 2).

A classification run directory holds a small classifier with a learned
resolution (a convolution, a `ResolutionLayer` at s = 0.7, pooling and a
softmax) in its last.keras, and the resolved config of an embedded-images
run with 16 training images, so that the check reads the run's 8
validation images in a fraction of a second. Each format is exported from
it and run back (TensorFlow, the TFLite interpreter, ONNX Runtime); its
outputs are compared with the outputs of the trained (unfrozen) model,
loaded from the checkpoint, on the run's validation images loaded here
independently: within 1e-4 of the output scale. What export.json says is
checked against the same numbers. A detector (a Resolution YOLOv8 at
64 px with its PANet scales moved, in a run directory over a tiny embedded
VOC set) goes through the same path in the slow tests: tracing and
converting it takes about a minute per format on two cores.

Bad input: no run, no checkpoint, an unknown format, an existing output, a
missing ONNX extra, a check that fails (nothing is left behind), an export
whose Keras model changed (the check catches it).
"""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_resolution as kr
from training.common import model_export as model_export
from training.cli import EXPORT_FORMATS
from training.cli import build_parser
from training.cli import main
from training.common import export as run_export
from training.common.export import export_run
from training.common.run_directory import RunDirectory
from training.common.run_directory import atomic_save_model

TOLERANCE = 1e-4
ONNX_PACKAGES = ("tf2onnx", "onnxruntime")


def _needs(format):
    if format == "onnx":
        for name in ONNX_PACKAGES:
            pytest.importorskip(name)


def _small_classifier(seed=0):
    """Compiled, as a run saves its models (the export reads the optimizer
    for the weight averages of last.keras)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = kr.ResolutionLayer(0.7)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    """`(run directory, validation inputs, class names)`."""
    from training.classification.config import resolve_config
    from training.classification.data import load_dataset

    config = resolve_config("embedded-images", target_budget=0.5, max_examples=16)
    run = RunDirectory(tmp_path_factory.mktemp("runs") / "classify")
    run.claim({"experiment": "classification", "config": dataclasses.asdict(config)})
    atomic_save_model(_small_classifier(), run.last_checkpoint)
    data = load_dataset("embedded-images", max_examples=16)
    inputs, _ = data.val.read(np.arange(8))
    return run.path, inputs, data.class_names


def _trained_outputs(checkpoint, inputs):
    model = keras.saving.load_model(checkpoint)
    return model_export.model_outputs(model, inputs)


def _assert_close(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name, reference in expected.items():
        assert actual[name].shape == reference.shape, name
        scale = float(np.max(np.abs(reference)))
        assert scale > 0
        assert float(np.max(np.abs(actual[name] - reference))) <= TOLERANCE * scale, name


@pytest.mark.parametrize("format", ["saved_model", "tflite", "onnx"])
def test_each_format_gives_the_trained_outputs_and_says_what_it_holds(
    classifier_run, tmp_path, format
):
    _needs(format)
    run_dir, inputs, class_names = classifier_run
    output = tmp_path / "export"
    description = export_run(run_dir, format, output=output, verbose=0)

    artefact = output / model_export.ARTEFACT_NAMES[format]
    assert sorted(os.listdir(output)) == sorted([artefact.name, "export.json"])
    assert os.listdir(tmp_path) == ["export"]  # No staging directory left.
    exported = model_export.exported_function(artefact, format)(inputs)
    expected = _trained_outputs(run_dir / "last.keras", inputs)
    _assert_close(exported, expected)
    assert exported["output_0"].shape == (8, 10)

    assert json.loads((output / "export.json").read_text()) == json.loads(
        json.dumps(description))
    assert description["format"] == format
    assert description["artefact"] == artefact.name
    assert description["input"]["name"] == "inputs"
    assert description["input"]["shape"] == [None, 32, 32, 3]
    assert description["class_names"] == list(class_names)
    assert description["checkpoint"] == str((run_dir / "last.keras").resolve())
    assert description["run_dir"] == str(run_dir.resolve())
    check = description["check"]
    assert check["count"] == 8
    assert check["inputs"].startswith("the first 8 validation inputs of embedded")
    reported = check["outputs"]["output_0"]
    assert reported["shape"] == [None, 10]
    measured = float(np.max(np.abs(exported["output_0"] - expected["output_0"])))
    # The check compares with the frozen model, which gives the trained
    # model's outputs to float32 rounding: the two differences agree.
    assert abs(reported["max_abs_difference"] - measured) <= 1e-6 * reported["scale"]
    assert check["max_abs_difference"] == reported["max_abs_difference"]
    assert reported["scale"] == pytest.approx(float(np.max(expected["output_0"])), rel=1e-6)


def test_the_last_checkpoint_and_the_best_one_are_told_apart(classifier_run, tmp_path):
    run_dir, inputs, _ = classifier_run
    best = tmp_path / "run"
    best.mkdir()
    for name in ("config.json", "last.keras"):
        (best / name).write_bytes((run_dir / name).read_bytes())
    atomic_save_model(_small_classifier(seed=1), best / "best.keras")

    exported = {}
    for checkpoint in ("best", "last"):
        description = export_run(best, "saved_model", checkpoint=checkpoint, verbose=0)
        assert description["checkpoint"] == str((best / f"{checkpoint}.keras").resolve())
        folder = run_export.default_output(best, "saved_model", checkpoint)
        exported[checkpoint] = model_export.exported_function(
            folder / "saved_model", "saved_model")(inputs)
        _assert_close(exported[checkpoint], _trained_outputs(best / f"{checkpoint}.keras", inputs))
    assert sorted(p.name for p in best.iterdir()) == [
        "best.keras", "config.json", "export-saved_model", "export-saved_model-last", "last.keras"]
    assert np.max(np.abs(exported["best"]["output_0"] - exported["last"]["output_0"])) > 1e-3


def test_bad_input_is_one_clear_error_and_writes_nothing(classifier_run, tmp_path, monkeypatch):
    run_dir, _, _ = classifier_run
    with pytest.raises(FileNotFoundError, match="no config.json"):
        export_run(tmp_path, "tflite", verbose=0)
    empty = RunDirectory(tmp_path / "empty")
    empty.claim(json.loads((run_dir / "config.json").read_text()))
    with pytest.raises(FileNotFoundError, match="has no checkpoint"):
        export_run(empty.path, "tflite", verbose=0)
    with pytest.raises(ValueError, match="--format must be one of"):
        export_run(run_dir, "pb", verbose=0)
    with pytest.raises(ValueError, match="--check-images"):
        export_run(run_dir, "tflite", output=tmp_path / "x", check_images=0, verbose=0)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("kept")
    with pytest.raises(FileExistsError, match=str(existing)):
        export_run(run_dir, "tflite", output=existing, verbose=0)
    assert os.listdir(existing) == ["keep.txt"]

    # Without the ONNX extra: a one-line error saying what to install.
    real_find_spec = model_export.importlib.util.find_spec
    monkeypatch.setattr(model_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'keras-resolution\[export\]'"):
        export_run(run_dir, "onnx", output=tmp_path / "onnx", verbose=0)
    assert main(["export", str(run_dir), "--format", "onnx", "--output",
                 str(tmp_path / "onnx")]) == 2
    assert not (tmp_path / "onnx").exists()
    monkeypatch.undo()

    with pytest.raises(SystemExit):  # argparse's choices
        build_parser().parse_args(["export", str(run_dir), "--format", "pb"])
    assert sorted(os.listdir(tmp_path)) == ["empty", "existing"]


def test_a_failed_check_leaves_no_output_and_no_staging(classifier_run, tmp_path, monkeypatch):
    run_dir, _, _ = classifier_run

    def failing_check(*args, **kwargs):
        raise ValueError("the check failed")

    monkeypatch.setattr(run_export, "check_export", failing_check)
    with pytest.raises(ValueError, match="the check failed"):
        export_run(run_dir, "saved_model", output=tmp_path / "out" / "export", verbose=0)
    assert os.listdir(tmp_path / "out") == []


def test_without_the_run_data_the_check_uses_random_inputs_and_says_so(tmp_path):
    from training.classification.config import resolve_config

    config = resolve_config("cifar100", target_budget=0.5, data_dir=str(tmp_path / "no-tfds"))
    run = RunDirectory(tmp_path / "run")
    run.claim({"experiment": "classification", "config": dataclasses.asdict(config)})
    atomic_save_model(_small_classifier(), run.last_checkpoint)
    description = export_run(run.path, "saved_model", check_images=3, verbose=0)
    check = description["check"]
    assert check["inputs"].startswith(
        "3 random inputs (seed 0; the run's data could not be read: CIFAR-100 is not prepared")
    assert check["count"] == 3
    assert description["class_names"] is None
    inputs = np.random.default_rng(0).standard_normal((3, 32, 32, 3)).astype("float32")
    folder = run_export.default_output(run.path, "saved_model")
    exported = model_export.exported_function(folder / "saved_model", "saved_model")(inputs)
    expected = _trained_outputs(run.last_checkpoint, inputs)
    _assert_close(exported, expected)
    assert check["outputs"]["output_0"]["scale"] == pytest.approx(
        float(np.max(expected["output_0"])), rel=1e-6)


def test_the_check_catches_an_export_that_differs_from_keras(classifier_run, tmp_path):
    _, inputs, _ = classifier_run
    model = kr.freeze(_small_classifier())
    path = model_export.export_model(model, tmp_path / "model.tflite", "tflite")
    differences = model_export.check_export(model, path, "tflite", inputs)
    assert differences["output_0"]["max_abs_difference"] <= TOLERANCE
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, bias + np.linspace(0.0, 0.1, 10, dtype="float32")])
    with pytest.raises(ValueError, match="differs from Keras by"):
        model_export.check_export(model, path, "tflite", inputs)
    with pytest.raises(FileExistsError, match="model.tflite"):
        model_export.export_model(model, path, "tflite")
    with pytest.raises(ValueError, match="must end in .tflite"):
        model_export.export_model(model, tmp_path / "model.bin", "tflite")
    with pytest.raises(ValueError, match="`model`"):
        unsized = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)])
        model_export.export_model(unsized, tmp_path / "unsized.tflite", "tflite")
    assert sorted(os.listdir(tmp_path)) == ["model.tflite"]


def test_the_parser_agrees_with_the_library():
    assert EXPORT_FORMATS == model_export.FORMATS
    args = build_parser().parse_args(["export", "runs/x", "--format", "tflite"])
    assert (args.check_images, args.tolerance, args.checkpoint, args.output) == (
        run_export.DEFAULT_CHECK_IMAGES, model_export.DEFAULT_TOLERANCE, "best", None)


def test_the_command_in_a_new_process(classifier_run, tmp_path, capsys):
    run_dir, _, _ = classifier_run
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "training", "export", str(run_dir), "--format",
               "saved_model", "--output", str(tmp_path / "sm")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Wrote {tmp_path / 'sm' / 'saved_model'}" in done.stdout
    description = json.loads((tmp_path / "sm" / "export.json").read_text())
    assert description["check"]["max_abs_difference"] <= TOLERANCE
    capsys.readouterr()
    assert main(command[3:]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'sm'} exists: choose another --output.\n"


# The detector: slow (each format traces and converts it for about a minute).

DETECTOR_SIZE = 64
SCALES = ([0.7, 1.3], [1.3, 0.7], [0.8, 0.9], [1.2, 1.1])


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory):
    """`(run directory, its evaluation images, the trained detector)`."""
    import detection
    from training.detection.config import DetectionConfig
    from training.detection.config import resolve_config
    from training.detection.data.embedded import EMBEDDED_CLASSES
    from training.detection.data.embedded import EmbeddedConfig
    from training.detection.data.embedded import ensure_embedded_dataset
    from training.detection.data.pipeline import make_detection_dataset
    from training.detection.data.sources import load_detection_data

    data = str(ensure_embedded_dataset(EmbeddedConfig(seed=7, num_train=16, num_val=2, num_test=8),
                                       tmp_path_factory.mktemp("data")))
    config = resolve_config(DetectionConfig(
        data=data, model="resolution", image_size=DETECTOR_SIZE, freeze_backbone=False,
        train_split="train", eval_split="test", classes=list(EMBEDDED_CLASSES)))
    run = RunDirectory(tmp_path_factory.mktemp("runs") / "detection")
    run.claim({"experiment": "detection", "config": dataclasses.asdict(config)})
    keras.utils.set_random_seed(0)
    model = detection.resolution_yolov8(5, image_size=DETECTOR_SIZE, freeze_backbone=False)
    for index, (_, layer, _) in enumerate(model.panet_blocks()):
        layer.scale.assign(SCALES[index % len(SCALES)])
    atomic_save_model(model, run.best_checkpoint)
    records = load_detection_data(data, class_names=EMBEDDED_CLASSES, eval_split="test",
                                  include_train=False).evaluation
    images = next(iter(make_detection_dataset(records, DETECTOR_SIZE, 8)))[0].numpy()
    return run.path, images, model


@pytest.mark.slow
@pytest.mark.parametrize("format", ["saved_model", "tflite", "onnx"])
def test_a_detector_exports_its_raw_head_outputs(detector_run, tmp_path, format):
    _needs(format)
    from training.detection.data.embedded import EMBEDDED_CLASSES

    run_dir, images, model = detector_run
    description = export_run(run_dir, format, output=tmp_path / "export", verbose=0)
    artefact = tmp_path / "export" / model_export.ARTEFACT_NAMES[format]
    exported = model_export.exported_function(artefact, format)(images)
    _assert_close(exported, model_export.model_outputs(model, images))
    anchors = sum((DETECTOR_SIZE // stride) ** 2 for stride in (8, 16, 32))
    assert exported["boxes"].shape == (8, anchors, 64)
    assert exported["classes"].shape == (8, anchors, 5)
    assert description["input"]["shape"] == [None, DETECTOR_SIZE, DETECTOR_SIZE, 3]
    assert description["class_names"] == list(EMBEDDED_CLASSES)
    assert description["check"]["inputs"].startswith("the first 8 evaluation images of")
    assert {name: value["shape"] for name, value in description["check"]["outputs"].items()} == {
        "boxes": [None, anchors, 64], "classes": [None, anchors, 5]}


@pytest.mark.slow
def test_kerascv_decoding_does_not_convert(tmp_path):
    """Why a detector is exported without its decoding: KerasCV's NMS
    (`decode_predictions`) has ops that neither TFLite's builtin operators
    nor tf2onnx convert (seen with TF 2.21, keras-cv 0.9, tf2onnx 1.17)."""
    import tensorflow as tf

    import detection

    keras.utils.set_random_seed(0)
    model = detection.baseline_yolov8(3, image_size=DETECTOR_SIZE, freeze_backbone=False)
    spec = [tf.TensorSpec((None, DETECTOR_SIZE, DETECTOR_SIZE, 3), tf.float32, name="images")]

    @tf.function(input_signature=spec)
    def decoded(images):
        return model.decode_predictions(model(images, training=False), images)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [decoded.get_concrete_function()], model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with pytest.raises(Exception, match="BitwiseAnd"):
        converter.convert()
    for name in ONNX_PACKAGES:
        pytest.importorskip(name)
    import onnxruntime
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(decoded, input_signature=spec)
    unsupported = {node.op_type for node in proto.graph.node} & {"Bitcast", "BitwiseAnd"}
    assert unsupported == {"Bitcast", "BitwiseAnd"}
    with pytest.raises(Exception, match="Bitcast"):
        onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
