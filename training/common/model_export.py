"""export: a model's forward pass as a SavedModel, a TFLite file or an ONNX
file, run back from that file and checked against Keras.

`export_model(model, path, format)` writes `model(inputs, training=False)`
through Keras' own `model.export`: a TensorFlow SavedModel
(`format="tf_saved_model"`), a TFLite flatbuffer (`"litert"`: Keras writes a
SavedModel and converts it with `tf.lite.TFLiteConverter.from_saved_model`,
float32, restricted here to TFLite's builtin operators so the file needs no
TensorFlow runtime), or an ONNX graph (`"onnx"`: through tf2onnx, an
optional dependency, `pip install 'keras-resolution[export]'`). The input is
one tensor named `inputs` of shape `(batch, *model.input_shape[1:])`: every
size fixed but the batch. A model with learned resolutions must be frozen
first (`keras_resolution.freeze`), which fixes its sizes.

`exported_function(path, format)` loads the file back (with TensorFlow, the
TFLite interpreter or ONNX Runtime) as a function of a NumPy batch, and
`check_export` compares its outputs with the Keras model's, output by
output, against a tolerance relative to each output's scale.

Outputs are named as Keras names them in a SavedModel signature: a dict
output keeps its keys (a detector's `boxes` and `classes`), a single tensor
is `output_0`, a list `output_0`, `output_1`, ...
"""

import importlib.util
import os
import pathlib
import shutil
import tempfile
import warnings

import keras
import numpy as np

FORMATS = ("saved_model", "tflite", "onnx")
# What `export_model` writes for each format, in a directory of exports.
ARTEFACT_NAMES = {"saved_model": "saved_model", "tflite": "model.tflite", "onnx": "model.onnx"}
INPUT_NAME = "inputs"
DEFAULT_TOLERANCE = 1e-4
_KERAS_FORMATS = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
_ONNX_PACKAGES = ("tf2onnx", "onnxruntime")


def check_format(format):
    """`format` if it is one of `FORMATS` and its packages are installed.

    Raises:
        ValueError: naming `format`, for an unknown format.
        ImportError: one line, for `"onnx"` without tf2onnx or onnxruntime.
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}, got {format!r}.")
    if format == "onnx":
        missing = [name for name in _ONNX_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise ImportError(
                f"ONNX export needs {' and '.join(missing)}: "
                "pip install 'keras-resolution[export]'"
            )
    return format


def input_signature(model):
    """The one input spec of the exported function: `model`'s input shape
    with a free batch size, named `inputs`.

    Raises:
        ValueError: naming `model`, for a model with several inputs or an
            unknown size other than the batch.
    """
    import tensorflow as tf

    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs or len(inputs) != 1:
        raise ValueError(
            f"`model` ({model.name}) must have one input built on a keras.Input, got "
            f"{0 if not inputs else len(inputs)}."
        )
    shape = tuple(inputs[0].shape)
    if None in shape[1:]:
        raise ValueError(
            f"`model` ({model.name}) has inputs of shape {shape}: export needs every size "
            "but the batch (freeze it first, on a keras.Input with fixed sizes)."
        )
    return [tf.TensorSpec((None, *shape[1:]), inputs[0].dtype, name=INPUT_NAME)]


def export_model(model, path, format):
    """Writes `model(inputs, training=False)` to `path` as `format`.

    The file (a directory for a SavedModel) is written under a temporary
    name beside `path` and renamed at the end, so `path` is either absent
    or complete.

    Args:
        model: A built Keras model with one input of static size (but the
            batch): a frozen model (`keras_resolution.freeze`).
        path: Where to write: a directory for `"saved_model"`, a file
            for `"tflite"` (must end in `.tflite`) and `"onnx"`. Must not
            exist.
        format: One of `FORMATS`: `"saved_model"`, `"tflite"` or `"onnx"`.

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        ValueError: naming the argument, for an unknown `format`, a `path`
            of the wrong suffix, or a model `input_signature` refuses.
        ImportError: for `"onnx"` without the optional packages.
        FileExistsError: naming `path`, if it exists.

    Example:

    ```python
    frozen = keras_resolution.freeze(model)
    export_model(frozen, "model.onnx", "onnx")
    ```
    """
    check_format(format)
    path = pathlib.Path(path)
    if format == "tflite" and path.suffix != ".tflite":
        raise ValueError(f"`path` of a TFLite export must end in .tflite, got {path}.")
    if os.path.lexists(path):
        raise FileExistsError(f"{path} exists: export writes a new file, never over one.")
    signature = input_signature(model)
    options = {}
    if format == "tflite":
        import tensorflow as tf

        # Keras also allows TensorFlow ops (Flex), which need the TensorFlow
        # runtime next to the interpreter; builtins only keeps it standalone.
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        staged = staging / path.name
        _with_named_outputs(model).export(
            str(staged), format=_KERAS_FORMATS[format], verbose=False,
            input_signature=signature, **options,
        )  # fmt: skip
        if os.path.lexists(path):
            raise FileExistsError(f"{path} appeared while exporting; it is left as it is.")
        os.rename(staged, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _with_named_outputs(model):
    """`model`, or if it is a functional model whose output is not a dict,
    the same graph (the same layers) with its outputs in a dict named
    `output_0`, `output_1`, ...: the names Keras gives them in a SavedModel
    signature, which tf2onnx would otherwise replace by `Identity:0`."""
    try:
        output = model.output
    except (AttributeError, ValueError):
        return model  # A subclassed model: its call decides.
    if isinstance(output, dict):
        return model
    outputs = keras.tree.flatten(output)
    return keras.Model(
        model.inputs, {f"output_{index}": tensor for index, tensor in enumerate(outputs)},
        name=model.name,
    )


def exported_function(path, format):
    """The model exported at `path` as a function of a NumPy batch.

    Args:
        path: What `export_model` wrote.
        format: Its format, one of `FORMATS`.

    Returns:
        A function `inputs -> {output name: NumPy array}` taking a float
        array of shape `(batch, *input shape)`, run by TensorFlow
        (SavedModel), the TFLite interpreter or ONNX Runtime.

    Example:

    ```python
    run = exported_function("model.tflite", "tflite")
    run(images)["output_0"]
    ```
    """
    check_format(format)
    path = pathlib.Path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file.")
    if format == "saved_model":
        import tensorflow as tf

        serving = tf.saved_model.load(str(path)).signatures["serving_default"]
        return lambda inputs: {
            name: value.numpy() for name, value in serving(**{INPUT_NAME: inputs}).items()
        }
    if format == "tflite":
        import tensorflow as tf

        with warnings.catch_warnings():  # TF 2.21 warns that LiteRT will replace it.
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner()  # Resizes the batch per call.
        return lambda inputs: dict(runner(**{INPUT_NAME: np.asarray(inputs)}))
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    input_name = session.get_inputs()[0].name
    return lambda inputs: dict(zip(names, session.run(names, {input_name: np.asarray(inputs)})))


def model_outputs(model, inputs):
    """`model(inputs, training=False)` as `{output name: NumPy array}`,
    named as in an exported model (see the module docstring)."""
    outputs = model(inputs, training=False)
    if isinstance(outputs, dict):
        return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}
    flat = keras.tree.flatten(outputs)
    return {f"output_{index}": keras.ops.convert_to_numpy(value)
            for index, value in enumerate(flat)}


def check_export(model, path, format, inputs, tolerance=DEFAULT_TOLERANCE):
    """Runs the export at `path` and `model` on `inputs` and compares them.

    Each output's largest absolute difference must be at most `tolerance`
    times its scale, the largest absolute value of the Keras output (or
    `tolerance` itself for an output that is all zeros).

    Args:
        model: The Keras model that was exported.
        path: What `export_model` wrote.
        format: Its format.
        inputs: A NumPy batch of the model's input shape.
        tolerance: Largest difference allowed, relative to the scale.

    Returns:
        `{output name: {"shape": [None, ...], "max_abs_difference": d,
        "scale": s}}`: the output's shape (batch None), its largest
        absolute difference to Keras and its scale.

    Raises:
        ValueError: naming `path`, if the outputs differ in names or shapes,
            or by more than the tolerance.
    """
    inputs = np.asarray(inputs, dtype="float32")
    expected = model_outputs(model, inputs)
    actual = exported_function(path, format)(inputs)
    if sorted(actual) != sorted(expected):
        raise ValueError(
            f"{path}: the {format} export has outputs {sorted(actual)}, Keras {sorted(expected)}."
        )
    differences = {}
    for name, reference in expected.items():
        value = np.asarray(actual[name])
        if value.shape != reference.shape:
            raise ValueError(
                f"{path}: output {name!r} of the {format} export has shape {value.shape}, "
                f"Keras {reference.shape}."
            )
        difference = float(np.max(np.abs(value.astype("float64") - reference), initial=0.0))
        scale = float(np.max(np.abs(reference), initial=0.0))
        if not difference <= tolerance * (scale or 1.0):
            raise ValueError(
                f"{path}: output {name!r} of the {format} export differs from Keras by "
                f"{difference:.3g}, more than {tolerance:g} x its scale {scale:.3g}."
            )
        differences[name] = {
            "shape": [None, *reference.shape[1:]],
            "max_abs_difference": difference,
            "scale": scale,
        }
    return differences
