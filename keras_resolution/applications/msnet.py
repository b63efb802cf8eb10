"""MSNet for ResNet-18: high-frequency residual learning with a calibrated
early exit (Cheng et al., BMVC 2019), the comparator of issue 12.

Two ResNet-18s (the CIFAR variant of `keras_resolution.applications.
resnet18`: 3x3 stem at stride 1, four stages of two basic blocks, stride 2
at the first block of stages 2-4) with separate weights:

* the low network L reads the image downsampled x2 (2x2 average pooling)
  and never sees the high one: `x_L^{i+1} = L^i(x_L^i)`;
* the high network H reads the image, and the output of its stage i is
  `x_H^{i+1} = H^i(x_H^i) + u(x_L^{i+1})`, with `u` the x2 upsampling
  (nearest neighbour by default): the "high-frequency residual", H learns
  what the upsampled low features miss.

Stage 1 is the stem and the first two blocks, so the low maps are exactly
half the high maps at every stage (16, 8, 4, 2 against 32, 16, 8, 4 on
32x32 images). Each network ends in global average pooling and a softmax
classifier: p_L and p_H.

Training: `msnet_resnet18` returns a functional `keras.Model` with the two
outputs `{"low": p_L, "high": p_H}`. Compiling it with one cross-entropy
per output makes Keras minimise their sum (every loss weight is 1), the
paper's joint loss, so `fit`, `evaluate`, saving and loading work as for
any Keras model and each head's loss is logged (`low_loss`, `high_loss`).
No `train_step` of our own is needed.

Inference: `CalibratedEarlyExit(model, threshold)` runs L, returns p_L for
the images with `max p_L > threshold` (the exit), and runs H, reusing the
low features, on the others only. `calibrate_threshold` picks the threshold
on a validation split for a target average complexity.

Complexity, in the units of every other classifier of the project
(`keras_resolution.applications.sites`): each branch has pass-through
sites `low_stage{2,3,4}_fixed` and `high_stage{2,3,4}_fixed` at the places
where the fixed ResNet-18 baseline has its sites `stage{2,3,4}_fixed`, the
maps after the stride-2 stages. A branch's complexity is the sum of the
definition (`"linear"`: height + width, `"area"`: height * width) over its
three sites, exactly as `size_complexity` measures C_base of the baseline:
on 32x32 images C_H = 2 * (16 + 8 + 4) = 56 = C_base and C_L = 28
(linear), C_H = 336 and C_L = 84 (area). Not counted, as they are not for
the baseline and the other methods: stage 1, the input downsampling, the
x2 upsamplings and the heads. An image that exits costs C_L, one that
does not costs C_L + C_H, and the expected complexity is
`C_L + P(no exit) * C_H`. See docs/comparators-msnet.md for every choice
the paper leaves open.
"""

import collections
import time

import keras
import numpy as np
from keras import layers

from keras_resolution.applications.resnet18 import _basic_block
from keras_resolution.applications.resnet18 import _conv_bn
from keras_resolution.applications.sites import FIXED_SUFFIX
from keras_resolution.applications.sites import site_sizes
from keras_resolution.complexity_definitions import check_definition
from keras_resolution.complexity_definitions import measure

LOW = "low"
HIGH = "high"
BRANCHES = (LOW, HIGH)
UPSAMPLINGS = ("nearest", "bilinear")
NUM_STAGES = 4
# Stages whose first block halves the resolution: the baseline's sites.
SITE_STAGES = (2, 3, 4)
# The input must halve once (low branch) and then three more times.
_SIZE_DIVISOR = 2**NUM_STAGES


def _stage(input_shape, branch, stage, filters):
    """One stage of a branch as a functional sub-model `<branch>_stage<i>`,
    so the training graph and the inference graphs share its weights."""
    inputs = keras.Input(input_shape, name=f"{branch}_stage{stage}_input")
    x = inputs
    prefix = f"{branch}_stage{stage}"
    if stage == 1:
        x = _conv_bn(x, filters, 3, 1, f"{branch}_stem")
        x = layers.ReLU(name=f"{branch}_stem_relu")(x)
    x = _basic_block(x, filters, 2 if stage > 1 else 1, prefix + "_block1")
    x = _basic_block(x, filters, 1, prefix + "_block2")
    return keras.Model(inputs, x, name=prefix)


def msnet_resnet18(
    input_shape, num_classes, width=64, upsampling="nearest", name="msnet_resnet18"
):
    """MSNet on ResNet-18 (CIFAR variant): a low-resolution network on the
    image downsampled x2 and a high-resolution residual network.

    Args:
        input_shape: Image shape without the batch axis, `(height, width,
            channels)`; height and width must be multiples of 16 (the low
            branch halves them four times).
        num_classes: Number of classes, an integer >= 2.
        width: Channels of stage 1 in both branches; stages have width, 2,
            4 and 8 times it (64 in ResNet-18).
        upsampling: The x2 upsampling u of the low features,
            `"nearest"` (the paper's example) or `"bilinear"`.
        name: Model name.

    Returns:
        An uncompiled functional `keras.Model` from the image to
        `{"low": p_L, "high": p_H}`, softmax probabilities of shape
        `(batch, num_classes)` each.

    Example:

    >>> model = msnet_resnet18((32, 32, 3), 10, width=4)
    >>> model.compile("adam", loss={"low": "sparse_categorical_crossentropy",
    ...                             "high": "sparse_categorical_crossentropy"})
    >>> branch_complexities(model)
    (28.0, 56.0)
    """
    input_shape = tuple(input_shape)
    if (
        len(input_shape) != 3
        or any(int(size) != size or size <= 0 for size in input_shape)
        or input_shape[0] % _SIZE_DIVISOR
        or input_shape[1] % _SIZE_DIVISOR
    ):
        raise ValueError(
            f"`input_shape` must be (height, width, channels) with height and width "
            f"multiples of {_SIZE_DIVISOR}, got {input_shape}."
        )
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    if int(width) != width or width < 1:
        raise ValueError(f"`width` must be an integer >= 1, got {width!r}.")
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"`upsampling` must be one of {UPSAMPLINGS}, got {upsampling!r}.")
    num_classes, width = int(num_classes), int(width)

    inputs = keras.Input(input_shape, name="image")
    low = layers.AveragePooling2D(2, name="downsample")(inputs)
    high = inputs
    for stage in range(1, NUM_STAGES + 1):
        filters = width * 2 ** (stage - 1)
        low = _stage(tuple(low.shape[1:]), LOW, stage, filters)(low)
        high = _stage(tuple(high.shape[1:]), HIGH, stage, filters)(high)
        upsampled = layers.UpSampling2D(
            2, interpolation=upsampling, name=f"stage{stage}_upsample"
        )(low)
        high = layers.Add(name=f"stage{stage}_merge")([high, upsampled])
        if stage in SITE_STAGES:
            low = layers.Identity(name=f"{LOW}_stage{stage}{FIXED_SUFFIX}")(low)
            high = layers.Identity(name=f"{HIGH}_stage{stage}{FIXED_SUFFIX}")(high)
    outputs = {branch: _head(x, branch, num_classes) for branch, x in ((LOW, low), (HIGH, high))}
    return keras.Model(inputs, outputs, name=name)


def _head(x, branch, num_classes):
    x = layers.GlobalAveragePooling2D(name=f"{branch}_pool")(x)
    return layers.Dense(num_classes, activation="softmax", name=f"{branch}_classifier")(x)


def branch_complexities(model, definition="linear"):
    """`(C_L, C_H)`: the complexity of each branch of an MSNet, the sum of
    the definition over the branch's sites (its maps after stages 2, 3
    and 4), as `size_complexity` measures a fixed baseline.

    Args:
        model: A model from `msnet_resnet18`.
        definition: `"linear"` (height + width per map) or `"area"`.

    Returns:
        Two Python floats.

    Example:

    >>> branch_complexities(msnet_resnet18((32, 32, 3), 10, width=4), "area")
    (84.0, 336.0)
    """
    check_definition(definition)
    sizes = site_sizes(model)
    totals = []
    for branch in BRANCHES:
        branch_sizes = [sizes[f"{branch}_stage{stage}"] for stage in SITE_STAGES]
        totals.append(float(sum(measure(size, definition) for size in branch_sizes)))
    return tuple(totals)


def check_threshold(threshold):
    """`threshold` as a float, or a `ValueError` naming it unless it is a
    number in [0, 1]."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`threshold` must be a number in [0, 1], got {threshold!r}.")
    return value


def exits(low_probabilities, threshold):
    """The exit rule: True for the images whose low-branch confidence
    `max p_L` is strictly above `threshold` (they take the low branch's
    prediction). With threshold 0 every image exits (a softmax maximum is
    > 0); with threshold >= 1 none does.

    Args:
        low_probabilities: Array `(n, num_classes)` of p_L.
        threshold: tau in [0, 1].

    Returns:
        Boolean array of shape `(n,)`.
    """
    # float64: a threshold between two float32 confidences stays strictly
    # between them (NumPy would compare in float32 and could round onto one).
    confidences = np.max(np.asarray(low_probabilities, dtype=np.float64), axis=-1)
    return confidences > check_threshold(threshold)


EarlyExitRun = collections.namedtuple(
    "EarlyExitRun", ["probabilities", "ran_high", "complexity", "seconds"]
)
EarlyExitRun.__doc__ = """One image at a time through `CalibratedEarlyExit`.

Fields:
    probabilities: `(n, num_classes)`, p_L for the images that exited,
        p_H for the others.
    ran_high: `(n,)` bools, whether the high branch ran for the image.
    complexity: `(n,)` floats, C_L plus C_H when the high branch ran.
    seconds: `(n,)` floats, the wall time of the image's forward passes.
"""


class CalibratedEarlyExit:
    """Inference of a trained MSNet with the calibrated early exit.

    Builds, from the model's own layers (shared weights), a low model
    (image -> p_L and the four low stage outputs) and a high model (image
    and low stage outputs -> p_H), so the high branch runs only for the
    images that do not exit and reuses the low features.

    Args:
        model: A model from `msnet_resnet18`, trained.
        threshold: tau in [0, 1]; an image exits when `max p_L > tau`.
        definition: Complexity definition, `"linear"` or `"area"`.

    Example:

    >>> model = msnet_resnet18((16, 16, 3), 3, width=2)
    >>> early_exit = CalibratedEarlyExit(model, threshold=0.5)
    >>> probabilities, ran_high = early_exit.predict(np.zeros((4, 16, 16, 3)))
    >>> probabilities.shape, ran_high.shape
    ((4, 3), (4,))
    """

    def __init__(self, model, threshold, definition="linear"):
        self.model = model
        self.threshold = threshold
        self.definition = check_definition(definition)
        self.low_complexity, self.high_complexity = branch_complexities(model, definition)
        self.low_model, self.high_model = _inference_models(model)

    @property
    def threshold(self):
        """tau in [0, 1]; may be reset (validated) to trace a curve over tau."""
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        self._threshold = check_threshold(value)

    def low_probabilities(self, x, batch_size=256):
        """p_L for every image, from the low branch only.

        Args:
            x: Images, `(n, height, width, channels)`.
            batch_size: Images per forward pass.

        Returns:
            `(n, num_classes)` float32 array.
        """
        x = np.asarray(x)
        return np.concatenate(
            [
                keras.ops.convert_to_numpy(self.low_model(x[i : i + batch_size])[0])
                for i in range(0, len(x), batch_size)
            ]
        )

    def predict(self, x, batch_size=256):
        """Early-exit predictions in batches: the low branch on every image,
        the high branch on the images that do not exit only.

        Args:
            x: Images, `(n, height, width, channels)`.
            batch_size: Images per forward pass.

        Returns:
            `(probabilities, ran_high)`: `(n, num_classes)` floats (p_L or
            p_H per image) and `(n,)` bools.
        """
        x = np.asarray(x)
        pieces, flags = [], []
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            low_outputs = [keras.ops.convert_to_numpy(t) for t in self.low_model(batch)]
            probabilities = low_outputs[0].copy()
            ran_high = ~exits(probabilities, self.threshold)
            if ran_high.any():
                high_inputs = [batch[ran_high]] + [f[ran_high] for f in low_outputs[1:]]
                probabilities[ran_high] = keras.ops.convert_to_numpy(self.high_model(high_inputs))
            pieces.append(probabilities)
            flags.append(ran_high)
        return np.concatenate(pieces), np.concatenate(flags)

    def run_one_at_a_time(self, x):
        """Runs the images one at a time, as a deployed early exit would,
        and records which branch ran for each and what it cost.

        Args:
            x: Images, `(n, height, width, channels)`.

        Returns:
            An `EarlyExitRun`; its mean `complexity` is the realised
            average complexity on `x`.
        """
        x = np.asarray(x)
        probabilities, ran_high, seconds = [], [], []
        for image in x:
            start = time.perf_counter()
            low_outputs = [keras.ops.convert_to_numpy(t) for t in self.low_model(image[None])]
            ran = not bool(exits(low_outputs[0], self.threshold)[0])
            result = low_outputs[0]
            if ran:
                high_inputs = [image[None]] + low_outputs[1:]
                result = keras.ops.convert_to_numpy(self.high_model(high_inputs))
            seconds.append(time.perf_counter() - start)
            probabilities.append(result[0])
            ran_high.append(ran)
        ran_high = np.array(ran_high, dtype=bool)
        complexity = self.low_complexity + ran_high * self.high_complexity
        return EarlyExitRun(
            np.array(probabilities), ran_high, complexity.astype(float), np.array(seconds)
        )

    def expected_complexity(self, x, batch_size=256):
        """`C_L + P(no exit) * C_H`, with P(no exit) the fraction of the
        images of `x` with `max p_L <= threshold`.

        Args:
            x: Images, `(n, height, width, channels)`.
            batch_size: Images per forward pass.

        Returns:
            Python float.
        """
        no_exit = ~exits(self.low_probabilities(np.asarray(x), batch_size), self.threshold)
        return expected_complexity(
            self.low_complexity, self.high_complexity, float(np.mean(no_exit))
        )


def expected_complexity(low_complexity, high_complexity, no_exit_fraction):
    """`C_L + P(no exit) * C_H`, the average complexity of an early exit.

    Args:
        low_complexity: C_L.
        high_complexity: C_H.
        no_exit_fraction: P(no exit), the fraction of images that run the
            high branch.

    Returns:
        Python float.

    Example:

    >>> expected_complexity(28.0, 56.0, 0.25)
    42.0
    """
    return float(low_complexity + no_exit_fraction * high_complexity)


def _inference_models(model):
    """The low and high inference graphs of an MSNet, from its layers."""
    image = keras.Input(model.input.shape[1:], name="image")
    low = model.get_layer("downsample")(image)
    low_features = []
    for stage in range(1, NUM_STAGES + 1):
        low = model.get_layer(f"{LOW}_stage{stage}")(low)
        low_features.append(low)
    low_model = keras.Model(
        image, [_reuse_head(model, LOW, low)] + low_features, name=model.name + "_low"
    )
    high_image = keras.Input(model.input.shape[1:], name="high_image")
    feature_inputs = [
        keras.Input(f.shape[1:], name=f"low_stage{i}_features")
        for i, f in enumerate(low_features, start=1)
    ]
    high = high_image
    for stage, features in enumerate(feature_inputs, start=1):
        high = model.get_layer(f"{HIGH}_stage{stage}")(high)
        upsampled = model.get_layer(f"stage{stage}_upsample")(features)
        high = model.get_layer(f"stage{stage}_merge")([high, upsampled])
    high_model = keras.Model(
        [high_image] + feature_inputs, _reuse_head(model, HIGH, high), name=model.name + "_high"
    )
    return low_model, high_model


def _reuse_head(model, branch, x):
    x = model.get_layer(f"{branch}_pool")(x)
    return model.get_layer(f"{branch}_classifier")(x)


Calibration = collections.namedtuple(
    "Calibration", ["threshold", "expected_complexity", "accuracy", "exit_fraction"]
)
Calibration.__doc__ = """The threshold `calibrate_threshold` chose, and on
the validation split: the expected complexity it realises, the early-exit
accuracy, and the fraction of images that exit."""


def calibrate_threshold(
    model,
    x_val,
    y_val,
    target_cost,
    definition="linear",
    min_examples=50,
    batch_size=256,
):
    """Chooses tau on a validation split for a target average complexity.

    The expected complexity `C_L + P(no exit) * C_H` grows with tau, in
    steps of C_H / n at the validation images' confidences `max p_L`. The
    chosen tau is the largest whose expected complexity on the split is at
    most `target_cost` (the most images sent to the high branch
    within the budget); it lies midway between the confidence of the last
    image kept on the high branch and the next one, so that a confidence
    recomputed with a different batch does not flip at the threshold. It is
    0 when no image can take the high branch, and 1 when every image can.

    Args:
        model: A trained model from `msnet_resnet18`.
        x_val: Validation images, `(n, height, width, channels)`, n at
            least `min_examples`.
        y_val: Their integer labels, `(n,)` (for the reported accuracy).
        target_cost: The target average complexity, in the units of
            `definition`; at least C_L (every image pays the low branch).
        definition: `"linear"` or `"area"`.
        min_examples: The smallest split that calibrates: P(no exit) is
            resolved in steps of 1 / n.
        batch_size: Images per forward pass.

    Returns:
        A `Calibration(threshold, expected_complexity, accuracy,
        exit_fraction)`, measured on the split.

    Example:

    >>> calibration = calibrate_threshold(model, x_val, y_val, 42.0)
    >>> early_exit = CalibratedEarlyExit(model, calibration.threshold)
    """
    x_val = np.asarray(x_val)
    y_val = np.asarray(y_val).reshape(-1)
    if int(min_examples) != min_examples or min_examples < 1:
        raise ValueError(f"`min_examples` must be an integer >= 1, got {min_examples!r}.")
    if len(x_val) < min_examples:
        raise ValueError(
            f"`x_val` has {len(x_val)} images, too few to calibrate (min_examples={min_examples})."
        )
    if len(y_val) != len(x_val):
        raise ValueError(f"`y_val` has {len(y_val)} labels for {len(x_val)} images in `x_val`.")
    early_exit = CalibratedEarlyExit(model, 1.0, definition)
    low_cost, high_cost = early_exit.low_complexity, early_exit.high_complexity
    try:
        target = float(target_cost)
    except (TypeError, ValueError):
        target = float("nan")
    if not (np.isfinite(target) and target >= low_cost):
        raise ValueError(
            f"`target_cost` must be a finite number >= C_L = {low_cost:g}, "
            f"got {target_cost!r}."
        )
    confidences = np.sort(
        np.max(early_exit.low_probabilities(x_val, batch_size).astype(np.float64), axis=-1)
    )
    n = len(confidences)
    # The largest number of images the budget lets take the high branch.
    allowed = min(n, int(np.floor((target - low_cost) / high_cost * n + 1e-9)))
    # Routing the `allowed` least confident images high needs a tau in
    # [c_(allowed), c_(allowed + 1)); ties may force fewer.
    while 0 < allowed < n and confidences[allowed - 1] == confidences[allowed]:
        allowed -= 1
    if allowed == 0:
        threshold = 0.0
    elif allowed == n:
        threshold = 1.0
    else:
        threshold = float((confidences[allowed - 1] + confidences[allowed]) / 2)
    early_exit.threshold = threshold
    probabilities, ran_high = early_exit.predict(x_val, batch_size)
    return Calibration(
        threshold,
        expected_complexity(low_cost, high_cost, float(np.mean(ran_high))),
        float(np.mean(np.argmax(probabilities, axis=-1) == y_val)),
        float(np.mean(~ran_high)),
    )
