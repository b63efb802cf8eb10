"""The "flops" complexity definition (issue 14, item 3).

What is shown: on a small model with two Resolution layers and three
convolutions, `complexity(model, "flops")` equals a count by hand (the
convolution a Resolution layer does not feed is left out, a stride-2
convolution counts a quarter of the positions) and `full_complexity` the
same count at s = 1; its gradient in the scales equals central finite
differences (exact for this quadratic function up to float32 rounding); the
quadratic and hinge budgets use it; ResNet-18's count equals one from its
architecture, at s = 1 and at moved scales; a DiffStride layer's spectral
products and the conv it feeds equal a hand count from the official sizes;
a convolution behind a fixed DCT resize is not counted; FLOPs caps parse ("0.8GFLOPs") and bad
caps raise naming the argument.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resolution as kr
from keras_resolution import applications
from keras_resolution.complexity import layer_flops
from keras_resolution.complexity_definitions import parse_complexity_cap


def two_conv_model():
    """16x16x3 -> stem conv (3 ch) -> R(0.5) -> conv 3x3 (4 ch) -> R(0.75)
    -> conv 1x1 stride 2 (5 ch) -> pooled logits."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(3, 3, padding="same", name="stem")(inputs)
    x = kr.ResolutionLayer(0.5, name="r1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(x)
    x = kr.ResolutionLayer(0.75, name="r2")(x)
    x = keras.layers.Conv2D(5, 1, strides=2, padding="same", name="conv2")(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    return kr.ResolutionModel(inputs, outputs)


def hand_count(s1, s2, d1=16, d2=None):
    """Multiply-adds per example, for scales s1 and s2 (both axes alike),
    input sizes d1 of r1 and d2 of r2 (default: ceil(d1 s1))."""
    d2 = d2 if d2 is not None else int(np.ceil(d1 * s1))
    q1, q2 = d1 * s1, d2 * s2
    r1 = q1 * d1 * d1 * 3 + q1 * d1 * q1 * 3  # height product, then width
    conv1 = q1 * q1 * (3 * 3 * 3 * 4)
    r2 = q2 * d2 * d2 * 4 + q2 * d2 * q2 * 4
    conv2 = (q2 / 2) * (q2 / 2) * (1 * 1 * 4 * 5)  # stride 2
    return r1 + conv1 + r2 + conv2  # the stem is fed by no Resolution layer


def test_flops_equals_a_hand_count():
    model = two_conv_model()
    # r1: 9216, conv1: 6912, r2: 2688, conv2: 180.
    assert hand_count(0.5, 0.75) == 18996.0
    assert float(kr.complexity(model, "flops")) == 18996.0
    per_layer = {name: float(value) for name, value in layer_flops(model).items()}
    assert per_layer == {"r1": 9216.0 + 6912.0, "r2": 2688.0 + 180.0}
    # C_full: every s = 1 at the built input sizes (16 and 8).
    assert kr.full_complexity(model, "flops") == hand_count(1.0, 1.0, 16, 8) == 56640.0


def test_flops_follows_the_scales_between_integer_sizes():
    model = two_conv_model()
    model.get_layer("r1").scale.assign([0.6, 0.6])
    model.get_layer("r2").scale.assign([0.9, 0.9])
    model(np.zeros((1, 16, 16, 3), "float32"))  # r2 now receives ceil(9.6) = 10.
    expected = hand_count(0.6, 0.9)
    assert float(kr.complexity(model, "flops")) == pytest.approx(expected, rel=1e-6)


def test_flops_gradient_matches_finite_differences():
    model = two_conv_model()
    model.get_layer("r1").scale.assign([0.55, 0.6])
    model.get_layer("r2").scale.assign([0.8, 0.9])
    scales = [model.get_layer(name).scale for name in ("r1", "r2")]
    with tf.GradientTape() as tape:
        value = kr.complexity(model, "flops")
    gradients = [g.numpy() for g in tape.gradient(value, scales)]
    step = 5e-2  # The function is quadratic in each scale: no truncation error.
    for variable, gradient in zip(scales, gradients):
        for axis in range(2):
            original = variable.numpy().copy()
            values = []
            for sign in (1.0, -1.0):
                moved = original.copy()
                moved[axis] += sign * step
                variable.assign(moved)
                values.append(float(kr.complexity(model, "flops")))
            variable.assign(original)
            difference = (values[0] - values[1]) / (2 * step)
            assert gradient[axis] == pytest.approx(difference, rel=1e-4)
            assert abs(gradient[axis]) > 1e3


def test_budgets_use_flops():
    inputs_model = two_conv_model()
    cap = 15_000.0
    model = kr.ResolutionModel(
        inputs_model.input,
        inputs_model.output,
        penalty=kr.HingeCap(cap, weight=1e-3),
        complexity_definition="flops",
    )
    assert model.complexity_full == 56640.0
    c, penalty = model.complexity_penalty_loss()
    assert float(c) == 18996.0
    assert float(penalty) == pytest.approx(1e-3 * (18996.0 - cap))
    target = kr.QuadraticTarget(0.25, weight=10.0)
    assert float(target(c, model.complexity_full)) == pytest.approx(
        10.0 * (18996.0 / 56640.0 - 0.25) ** 2, rel=1e-6
    )
    model.compile(keras.optimizers.SGD(1e-3), keras.losses.MeanSquaredError())
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    history = model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    assert history.history["complexity"][0] == pytest.approx(18996.0, rel=1e-6)
    # The hinge pulled the scales down.
    assert all(float(v) < 0.5 for v in model.get_layer("r1").scale.numpy())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.8GFLOPs", (8e8, "flops")),
        ("750MFLOPs", (7.5e8, "flops")),
        ("2.5e8FLOPs", (2.5e8, "flops")),
        ("11500", (11500.0, None)),
        (0.5, (0.5, None)),
    ],
)
def test_caps_parse(text, expected):
    assert parse_complexity_cap(text) == expected


@pytest.mark.parametrize("text", ["0.8 GB", "GFLOPs", "-1", "0", "nan", "inf", "2XFLOPs"])
def test_bad_caps_raise_naming_the_argument(text):
    with pytest.raises(ValueError, match=r"^`complexity_cap` must be a number > 0"):
        parse_complexity_cap(text)


def resnet18_count(width, sizes, scales):
    """ResNet-18 (CIFAR) multiply-adds of stages 2-4, each fed by its
    Resolution layer of input size `sizes[i]` and scale `scales[i]`: the
    resize products, then two basic blocks at q x q (3x3 convs, a 1x1
    projection in the first); the stem and stage 1 are fed by no
    Resolution layer."""
    total, c_in = 0.0, width
    for d, s, stage in zip(sizes, scales, (2, 3, 4)):
        c, q = width * 2 ** (stage - 1), d * s
        total += q * d * d * c_in + q * d * q * c_in
        total += q * q * (9 * c_in * c + 9 * c * c + c_in * c + 9 * c * c + 9 * c * c)
        c_in = c
    return total


def test_resnet18_flops_equal_a_count_from_its_architecture():
    model = applications.build_classifier("resnet18", (32, 32, 3), 10, "dct", 0.5, width=4)
    assert kr.full_complexity(model, "flops") == resnet18_count(4, (32, 32, 32), (1, 1, 1))
    for layer, s in zip(kr.resolution_layers(model), (0.5, 0.7, 0.6)):
        layer.scale.assign([s, s])
    model(np.zeros((1, 32, 32, 3), "float32"))  # Input sizes 32, 16, ceil(11.2) = 12.
    expected = resnet18_count(4, (32, 16, 12), (0.5, 0.7, 0.6))
    assert float(kr.complexity(model, "flops")) == pytest.approx(expected, rel=1e-6)


def test_a_convolution_behind_a_fixed_resize_is_not_counted():
    inputs = keras.Input((16, 16, 3))
    x = kr.ResolutionLayer(0.5, name="r")(inputs)
    fed = keras.layers.Conv2D(2, 1, name="fed")(x)
    back = kr.DCTResize((16, 16))(fed)  # Fixed size again: a fixed cost.
    outputs = keras.layers.Conv2D(2, 3, padding="same", name="fixed")(back)
    model = keras.Model(inputs, outputs)
    # r: 8*16*16*3 + 8*16*8*3 = 9216; fed: 8*8 positions * 1*1*3*2 = 384.
    assert float(kr.complexity(model, "flops")) == 9216.0 + 384.0


def test_diffstride_flops_equal_a_hand_count():
    inputs = keras.Input((32, 32, 6))
    x = kr.DiffStride2D((2.0, 2.0), name="pool")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(6, 3, padding="same")(x))
    # Official sizes before rounding: T_h = 8, q_h = 2 (8 + 4) = 24;
    # T_w = 8 + 1, q_w = 2 (9 + 4) - 2 = 24. Spectral products per channel:
    # 2 q_w W H + 2 q_h H q_w; the conv: 24 * 24 positions * 3*3*6*6.
    products = (2 * 24 * 32 * 32 + 2 * 24 * 32 * 24) * 6
    assert float(kr.complexity(model, "flops")) == products + 24 * 24 * 324
    assert kr.full_complexity(model, "flops") == (2 * 32 * 32 * 32 * 2) * 6 + 32 * 32 * 324
