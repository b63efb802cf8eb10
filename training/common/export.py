"""`python -m training export RUN_DIR`: a run's model, frozen, as a
SavedModel, a TFLite file or an ONNX file, checked against Keras.

`export_run(run_dir, format)` loads the run's checkpoint (a detector or a
classifier, as its config.json says), with the weights the run evaluates
(`training.common.run_loop.evaluated_weights`), freezes its learned
resolutions (`keras_resolution.freeze`), writes it with
`training.common.model_export.export_model`, runs the written file on up to
`check_images` images of the run's evaluation data (detection: its
evaluation split, resized as for evaluation; classification: its
validation split), and compares the outputs with the frozen Keras model's
(`training.common.model_export.check_export`). Where the run's data cannot be
read (a dataset not on this machine), the check runs on a deterministic
random batch instead, and export.json says so and why.

The output directory (default `RUN_DIR/export-FORMAT`, or
`RUN_DIR/export-FORMAT-last` for `--checkpoint last`) holds:

    saved_model/ | model.tflite | model.onnx    the exported model
    export.json                                 what it is (see below)

It is written under a temporary name beside the output and renamed at the
end: the output is either absent or complete, and an existing output is
never written into (`FileExistsError`).

export.json holds the format, the artefact's name, the input (name, shape,
dtype, what the values are) and output shapes (batch `null`), the class
names (when the run's data has them), the source run directory and
checkpoint, the check (inputs used, tolerance, per output the largest
absolute difference to Keras and the output's scale) and the versions of
the packages that wrote it. A detector's outputs are its raw head outputs,
before decoding and NMS (see docs/deploy.md, "Export").
"""

import os
import pathlib
import shutil
import tempfile

import numpy as np

from training.common.model_export import ARTEFACT_NAMES
from training.common.model_export import DEFAULT_TOLERANCE
from training.common.model_export import INPUT_NAME
from training.common.model_export import check_export
from training.common.model_export import check_format
from training.common.model_export import export_model
from training.common import validators
from training.common.run_directory import RunDirectory
from training.common.run_directory import atomic_write_json
from training.common.run_loop import evaluated_weights

DEFAULT_CHECK_IMAGES = 8

DETECTOR_OUTPUTS = (
    "raw YOLOv8 head outputs, before decoding and NMS: boxes (batch, anchors, 64), each "
    "anchor's box regression as 4 sides x 16 distance bins; classes (batch, anchors, "
    "classes), sigmoid scores. Anchors: the cells of the stride 8, 16 and 32 grids in "
    "KerasCV's order; decoding (keras_cv's get_anchors, decode_regression_to_boxes, "
    "dist2bbox) and NMS stay in Python"
)


def default_output(run_dir, format, checkpoint="best"):
    """`RUN_DIR/export-FORMAT`, or `RUN_DIR/export-FORMAT-last`."""
    suffix = "" if checkpoint == "best" else f"-{checkpoint}"
    return pathlib.Path(run_dir) / f"export-{format}{suffix}"


def export_run(run_dir, format, output=None, checkpoint="best",
               check_images=DEFAULT_CHECK_IMAGES, tolerance=DEFAULT_TOLERANCE, verbose=1):
    """Exports the frozen model of a run and checks it against Keras.

    Args:
        run_dir: A detection or classification run directory.
        format: `"saved_model"`, `"tflite"` or `"onnx"`.
        output: The directory to write (must not exist); default
            `default_output(run_dir, format, checkpoint)`.
        checkpoint: `"best"` (best.keras, else last.keras) or `"last"`.
        check_images: Images of the run's evaluation data to compare on.
        tolerance: Largest difference allowed per output, relative to the
            output's scale (its largest absolute value).
        verbose: Print what is done (1) or nothing (0).

    Returns:
        The export.json dict.

    Raises:
        FileNotFoundError: for a directory without a run or a checkpoint.
        FileExistsError: naming `output`, if it exists.
        ValueError: naming the option, for an unknown format, a bad number,
            or an export whose outputs differ from Keras by more than
            `tolerance`.
        ImportError: for `"onnx"` without tf2onnx and onnxruntime.

    Example:

    >>> export_run("runs/detection", "onnx")["check"]["max_abs_difference"]  # doctest: +SKIP
    """
    try:
        check_format(format)
    except ValueError:
        raise ValueError(f"--format must be one of {', '.join(ARTEFACT_NAMES)}, got "
                         f"{format!r}.") from None
    validators.check_positive_int("--check-images", check_images)
    validators.check_positive("--tolerance", tolerance)
    run = RunDirectory(run_dir)
    experiment, config = run.read_config()
    path = run.checkpoint(checkpoint)
    output = pathlib.Path(output or default_output(run.path, format, checkpoint))
    if os.path.lexists(output):
        raise FileExistsError(f"{output} exists: choose another --output.")
    _say(verbose, f"Loading {path}")
    model = _load_model(experiment, path)
    with evaluated_weights(model, path):
        import keras_resolution

        frozen = keras_resolution.freeze(model)
    size = tuple(frozen.inputs[0].shape[1:])
    inputs, check_source, class_names = _check_inputs(experiment, config, size, check_images)

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        _say(verbose, f"Writing {format} to {output}")
        artefact = export_model(frozen, staging / ARTEFACT_NAMES[format], format)
        _say(verbose, f"Checking it on {check_source}")
        try:
            differences = check_export(frozen, artefact, format, inputs, tolerance)
        except ValueError as error:
            raise ValueError(f"{error} Nothing written to {output}.") from None
        _check_class_names(class_names, differences, experiment, run.path)
        description = _description(
            format, experiment, config, run, path, size, class_names, differences,
            check_source, len(inputs), tolerance,
        )  # fmt: skip
        atomic_write_json(staging / "export.json", description)
        if os.path.lexists(output):
            raise FileExistsError(f"{output} appeared while exporting; it is left as it is.")
        os.rename(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _say(verbose, f"Wrote {output / ARTEFACT_NAMES[format]}: largest difference to Keras "
                  f"{description['check']['max_abs_difference']:.3g} on {check_source}")
    return description


def _load_model(experiment, path):
    """The run's model saved at `path`, its classes registered for Keras."""
    if experiment == "detection":
        from training.detection.job import load_detector

        return load_detector(path)  # Also registers the detector freezer.
    if experiment != "classification":
        raise ValueError(f"{path}: export handles detection and classification runs, not "
                         f"{experiment!r}.")
    import keras

    import keras_resolution.applications  # noqa: F401 (registers the layers)
    import training.common.optimizers  # noqa: F401 (registers the schedules)

    return keras.saving.load_model(path)


def _check_inputs(experiment, config, size, count):
    """`(inputs, description, class names)`: up to `count` evaluation
    inputs of the run's data at the model's input `size`, or, if the data
    cannot be read here, a deterministic random batch (class names: the
    run's `--classes` if it gave them, else None)."""
    try:
        if experiment == "detection":
            return _detection_images(config, size, count)
        return _classification_inputs(config, count)
    except (FileNotFoundError, ImportError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    rng = np.random.default_rng(0)
    if experiment == "detection":
        inputs = rng.uniform(0.0, 255.0, (count, *size))
        classes = config.get("classes")
        names = list(classes) if isinstance(classes, (list, tuple)) else None
    else:
        inputs, names = rng.standard_normal((count, *size)), None
    description = (f"{count} random inputs (seed 0; the run's data could not be read: "
                   f"{reason})")
    return inputs.astype("float32"), description, names


def _detection_images(config, size, count):
    from training.detection.config import config_of_run
    from training.detection.data.pipeline import make_detection_dataset
    from training.detection.data.sources import load_detection_data

    config = config_of_run(config)
    data = load_detection_data(
        config.data, class_names=config.classes, eval_split=config.eval_split,
        max_eval_images=count, include_train=False,
    )  # fmt: skip
    records = data.evaluation[:count]
    batch = make_detection_dataset(records, size[0], len(records)).take(1)
    images = next(iter(batch))[0].numpy()
    description = f"the first {len(records)} evaluation images of {data.description}"
    return images, description, list(data.class_names)


def _classification_inputs(config, count):
    from training.classification.data import load_dataset

    data = load_dataset(config["data"], seed=config.get("seed", 0),
                        data_dir=config.get("data_dir"), max_examples=config.get("max_examples"))
    inputs, _ = data.val.read(np.arange(min(count, len(data.val))))
    description = f"the first {len(inputs)} validation inputs of {data.description}"
    return inputs, description, list(data.class_names)


def _check_class_names(class_names, differences, experiment, run_dir):
    """Raises `ValueError` if the run's data names another number of
    classes than its model scores."""
    scores = differences["classes" if experiment == "detection" else "output_0"]["shape"][-1]
    if class_names is not None and len(class_names) != scores:
        raise ValueError(
            f"{run_dir}: the run's data has {len(class_names)} classes but its model scores "
            f"{scores}: is --classes or the data's class list not the one it was trained on?"
        )


def _description(format, experiment, config, run, checkpoint, size, class_names, differences,
                 check_source, count, tolerance):
    """The export.json dict."""
    import keras
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    if format == "onnx":
        import onnxruntime
        import tf2onnx

        versions.update(tf2onnx=tf2onnx.__version__, onnxruntime=onnxruntime.__version__)
    if experiment == "detection":
        values = (f"RGB pixels in [0, 255], {size[0]}x{size[1]} (the image resized; the "
                  "model rescales them itself)")
        outputs = DETECTOR_OUTPUTS
    else:
        values = f"as the run's data gives them ({config['data']})"
        outputs = "class probabilities (softmax)"
    return {
        "format": format,
        "artefact": ARTEFACT_NAMES[format],
        "experiment": experiment,
        "model": config.get("model"),
        "input": {"name": INPUT_NAME, "shape": [None, *size], "dtype": "float32",
                  "values": values},
        "outputs": outputs,
        "class_names": class_names,
        "run_dir": str(run.path.resolve()),
        "checkpoint": str(pathlib.Path(checkpoint).resolve()),
        "check": {
            "inputs": check_source,
            "count": count,
            "tolerance": tolerance,
            "max_abs_difference": max(d["max_abs_difference"] for d in differences.values()),
            "outputs": differences,
        },
        "versions": versions,
    }


def _say(verbose, message):
    if verbose:
        print(message, flush=True)
