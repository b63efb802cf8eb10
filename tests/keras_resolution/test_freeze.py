"""keras_resolution.freeze and the frozen layers (issue 14, item 1).

What is shown:

* `FrozenResolutionLayer` gives a `ResolutionLayer`'s outputs and sizes at
  the same scale (DCT and DFT, both gradient modes, 1D and 2D, down- and
  upsampling), and its matrix is an independent NumPy construction of
  Algorithm 1 at an integer q; `FrozenDiffStride2D` gives `DiffStride2D`'s;
* `freeze` of the classifiers (ResNet-18, the radio CNN) with their scales
  moved away from 1: the same outputs, no scale variable, static shapes
  everywhere, nothing shared with the trained model, and a `.keras` round
  trip with identical outputs;
* identity alignments and output resizes are removed, the others kept;
* a DiffStride model, an N-Jet layer with safe subsampling, a Sequential,
  and a layer shared between two input sizes;
* bad input: one-line errors naming `model`.

The frozen layers compute the trained layers' matrices with the same
functions in the same float32 arithmetic, so outputs agree to float32
rounding (measured: bit-identical on TensorFlow CPU); the tolerance below
allows for a different order of summation, not for a wrong matrix, which
would be off by 1e-2 or more.
"""

import math

import keras
import numpy as np
import pytest

import keras_resolution as kr
from keras_resolution import applications

RTOL = 1e-6


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_same_outputs(actual, expected):
    actual, expected = numpy(actual), numpy(expected)
    assert actual.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    assert float(np.max(np.abs(actual - expected))) <= RTOL * scale


def set_scales(model, values):
    """Assigns the Resolution layers' scales in turn from `values` (cycled)."""
    for index, layer in enumerate(kr.resolution_layers(model)):
        value = values[index % len(values)]
        layer.scale.assign(np.full(layer.scale.shape, value, "float32"))


def static_shapes(model):
    """Every output shape of every layer of `model`, batch axis dropped."""
    shapes = []
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer.output):
            shapes.append(tuple(tensor.shape[1:]))
    return shapes


# ------------------------------------------------------ the frozen layers


@pytest.mark.parametrize("transform", ["dct", "dft"])
@pytest.mark.parametrize("gradient", ["exact", "literal"])
@pytest.mark.parametrize("scale", [0.37, 0.7, 1.0, 1.3, 2.6])
def test_frozen_resolution_layer_is_the_resolution_layer_at_its_scale(transform, gradient, scale):
    x = random((2, 19, 24, 3))
    layer = kr.ResolutionLayer(scale, transform=transform, gradient=gradient)
    expected = layer(x)
    frozen = kr.FrozenResolutionLayer((19, 24), scale, transform=transform, gradient=gradient)
    assert frozen.output_size == layer.output_sizes == tuple(expected.shape[1:3])
    assert_same_outputs(frozen(x), expected)
    assert frozen.weights == []


def test_frozen_resolution_layer_in_1d_with_size_bounds():
    x = random((2, 50, 4))
    layer = kr.ResolutionLayer(0.05, min_size=4, max_size=30, min_scale=0.01)
    expected = layer(x)
    frozen = kr.FrozenResolutionLayer((50,), 0.05, min_size=4, max_size=30)
    # q = 2.5 is clipped to min_size 4.
    assert frozen.output_size == (4,) == tuple(expected.shape[1:2])
    assert_same_outputs(frozen(x), expected)


def _numpy_dct(n):
    """Orthonormal DCT-II matrix, row k = a_k cos(pi k (i + 1/2) / n)."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = math.sqrt(2.0 / n) * np.cos(np.pi * k * (i + 0.5) / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix


def test_frozen_matrix_is_algorithm_1_at_an_integer_q():
    # d_in = 20, s = 0.75: q = 15 exactly. Algorithm 1: keep 15 DCT
    # coefficients, taper w_k = clip((q + 1 - k) / 4, 0, 1), invert at 15,
    # amplitude sqrt(15 / 20).
    frozen = kr.FrozenResolutionLayer((20,), 0.75)
    q, m = 15, 15
    w = np.clip((q + 1 - np.arange(1, m + 1)) / 4.0, 0.0, 1.0)
    reference = math.sqrt(q / 20) * _numpy_dct(q).T @ np.diag(w) @ _numpy_dct(20)[:m]
    assert frozen.output_size == (15,)
    np.testing.assert_allclose(frozen.matrices[0], reference, atol=2e-6)


@pytest.mark.parametrize("cropping", [True, False])
def test_frozen_diffstride_is_diffstride_at_its_strides(cropping):
    x = random((2, 32, 28, 3))
    layer = kr.DiffStride2D((2.3, 3.1), cropping=cropping)
    expected = layer(x)
    strides = [float(numpy(s)) for s in layer.effective_strides(32, 28)]
    frozen = kr.FrozenDiffStride2D((32, 28), strides, cropping=cropping)
    assert frozen.output_size == layer.output_sizes == tuple(expected.shape[1:3])
    assert_same_outputs(frozen(x), expected)


def test_frozen_layers_refuse_other_input_sizes():
    with pytest.raises(ValueError, match="`inputs` must have the spatial sizes"):
        kr.FrozenResolutionLayer((16, 16), 0.5)(keras.ops.ones((1, 16, 17, 2)))
    with pytest.raises(ValueError, match="`input_size`"):
        kr.FrozenResolutionLayer((16, 0), 0.5)
    with pytest.raises(ValueError, match="`scale`"):
        kr.FrozenResolutionLayer((16, 16), [0.5, 0.5, 0.5])


def test_frozen_layers_config_round_trip():
    layer = kr.FrozenResolutionLayer((19, 24), [0.7, 1.3], transform="dft", taper=3.0)
    again = kr.FrozenResolutionLayer.from_config(layer.get_config())
    assert again.output_size == layer.output_size == (14, 32)
    np.testing.assert_array_equal(again.matrices[1], layer.matrices[1])
    pooling = kr.FrozenDiffStride2D((32, 28), [2.3, 3.1])
    assert kr.FrozenDiffStride2D.from_config(pooling.get_config()).output_size == (
        pooling.output_size
    )


# ------------------------------------------------------------ classifiers


@pytest.fixture(scope="module")
def resnet():
    """ResNet-18 (width 4) with its three scales at 0.7, 1.3, 0.7."""
    keras.utils.set_random_seed(1)
    model = applications.build_classifier("resnet18", (32, 32, 3), 10, "dct", 0.5, width=4)
    set_scales(model, [0.7, 1.3])
    return model


def test_freeze_resnet18_keeps_its_outputs(resnet):
    x = random((4, 32, 32, 3))
    expected = resnet(x, training=False)
    frozen = kr.freeze(resnet)
    assert_same_outputs(frozen(x, training=False), expected)
    sizes = [layer.output_size for layer in frozen.layers if isinstance(layer, kr.FrozenResolutionLayer)]
    # 32 -> ceil(22.4) = 23 -> ceil(29.9) = 30 -> ceil(21.0) = 21.
    assert sizes == [(23, 23), (30, 30), (21, 21)]


def test_frozen_resnet18_has_no_scale_and_static_shapes(resnet):
    frozen = kr.freeze(resnet)
    assert kr.resolution_layers(frozen) == []
    assert not any(kr.is_scale_variable(v) for v in frozen.weights)
    assert not any("scale" in v.path for v in frozen.trainable_weights)
    # Each Resolution layer had a scale and an input size, 2 + 2 numbers.
    assert frozen.count_params() == resnet.count_params() - 3 * 4
    assert all(None not in shape for shape in static_shapes(frozen))


def test_frozen_model_shares_nothing_with_the_trained_one(resnet):
    x = random((2, 32, 32, 3), seed=3)
    frozen = kr.freeze(resnet)
    before = numpy(frozen(x, training=False))
    assert not {id(v) for v in frozen.weights} & {id(v) for v in resnet.weights}
    conv = next(layer for layer in resnet.layers if isinstance(layer, keras.layers.Conv2D))
    saved = conv.get_weights()
    conv.set_weights([w + 1.0 for w in saved])
    kr.resolution_layers(resnet)[0].scale.assign([0.5, 0.5])
    try:
        np.testing.assert_array_equal(numpy(frozen(x, training=False)), before)
    finally:
        conv.set_weights(saved)
        set_scales(resnet, [0.7, 1.3])


def test_frozen_model_keras_round_trip(resnet, tmp_path):
    x = random((2, 32, 32, 3), seed=4)
    frozen = kr.freeze(resnet)
    path = tmp_path / "frozen.keras"
    frozen.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), numpy(frozen(x, training=False)))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in frozen.layers
    ]


def test_freeze_radio_cnn_keeps_its_outputs():
    keras.utils.set_random_seed(2)
    model = applications.build_classifier("radio_cnn", (128, 2), 8, "dft", 0.5, filters=8)
    set_scales(model, [0.7, 1.3, 0.9])
    x = random((3, 128, 2))
    frozen = kr.freeze(model)
    assert_same_outputs(frozen(x, training=False), model(x, training=False))
    assert kr.resolution_layers(frozen) == []
    assert all(None not in shape for shape in static_shapes(frozen))


@pytest.mark.slow  # XLA compiles for about 12 s.
def test_frozen_model_compiles_with_xla():
    # The trained model's sizes follow its scales, so XLA needs
    # static_sizes and SizeRefresh; the frozen model's shapes are static.
    keras.utils.set_random_seed(3)
    model = applications.build_classifier("radio_cnn", (64, 2), 4, "dct", 0.5, filters=4)
    set_scales(model, [0.6, 1.2])
    x = random((4, 64, 2), seed=11)
    frozen = kr.freeze(model)
    frozen.compile(jit_compile=True)
    predicted = frozen.predict(x, verbose=0)
    assert_same_outputs(predicted, model(x, training=False))


# ------------------------------------------------- identities and layers


def _branch_model(first_scale, second_scale):
    """Two Resolution branches of one 20x20 map, aligned, concatenated and
    resized back to 20x20."""
    inputs = keras.Input((20, 20, 3))
    a = kr.ResolutionLayer(first_scale, name="a")(inputs)
    b = kr.ResolutionLayer(second_scale, name="b")(inputs)
    a, b = kr.AlignToMaxShape(name="align")([a, b])
    x = keras.layers.Concatenate()([a, b])
    outputs = kr.DCTResize((20, 20), name="dct")(keras.layers.Conv2D(4, 3, padding="same")(x))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "scales, kept",
    [
        ((1.0, 1.0), set()),  # 20 and 20: align and output resize vanish.
        ((0.5, 0.5), {"dct"}),  # 10 and 10: only the output resize is left.
        ((0.5, 0.7), {"align", "dct"}),  # 10 and 14: both are needed.
    ],
)
def test_identity_alignments_and_resizes_are_removed(scales, kept):
    model = _branch_model(*scales)
    x = random((2, 20, 20, 3), seed=5)
    frozen = kr.freeze(model)
    names = {layer.name for layer in frozen.layers}
    assert names & {"align", "dct"} == kept
    assert {"a", "b"} <= names
    assert_same_outputs(frozen(x), model(x))


def test_is_identity_needs_known_equal_sizes():
    # What `freeze` (and the frozen detector) decide from static shapes.
    align = kr.AlignToMaxShape()
    assert align.is_identity([(None, 8, 6, 3), (None, 8, 6, 5)])
    assert not align.is_identity([(None, 8, 6, 3), (None, 8, 7, 3)])
    assert not align.is_identity([(None, None, 6, 3), (None, None, 6, 3)])
    assert kr.AlignToMaxShape(data_format="channels_first").is_identity(
        [(None, 3, 8, 6), (None, 5, 8, 6)]
    )
    resize = kr.DCTResize((8, 6))
    assert resize.is_identity((None, 8, 6, 3))
    assert not resize.is_identity((None, 6, 8, 3))
    assert not resize.is_identity((None, None, 6, 3))


def test_freeze_diffstride_model():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(6, 3, padding="same")(inputs)
    x = kr.DiffStride2D((2.0, 2.0), name="pool")(x)
    x = keras.layers.Conv2D(6, 3, padding="same")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.get_layer("pool").strides.assign([2.7, 1.6])
    x = random((2, 32, 32, 3), seed=6)
    frozen = kr.freeze(model)
    pool = frozen.get_layer("pool")
    assert isinstance(pool, kr.FrozenDiffStride2D)
    assert pool.output_size == model.get_layer("pool").output_sizes
    assert_same_outputs(frozen(x), model(x))
    assert not any(kr.is_scale_variable(v) for v in frozen.weights)


def test_a_layer_shared_by_two_sizes_gives_two_frozen_layers():
    inputs = keras.Input((24, 24, 3))
    shared = kr.ResolutionLayer(0.7, name="shared")
    a = shared(inputs)
    b = shared(keras.layers.AveragePooling2D(2)(inputs))
    outputs = keras.layers.Concatenate()(
        [keras.layers.GlobalAveragePooling2D()(a), keras.layers.GlobalAveragePooling2D()(b)]
    )
    model = keras.Model(inputs, outputs)
    x = random((2, 24, 24, 3), seed=7)
    frozen = kr.freeze(model)
    resizes = {
        layer.name: layer.output_size
        for layer in frozen.layers
        if isinstance(layer, kr.FrozenResolutionLayer)
    }
    # ceil(24 * 0.7) = 17 and ceil(12 * 0.7) = 9, in graph order.
    assert set(resizes) == {"shared", "shared_1"}
    assert sorted(resizes.values()) == [(9, 9), (17, 17)]
    assert_same_outputs(frozen(x), model(x))


def test_a_model_without_learned_resolution_gives_an_equivalent_copy():
    model = applications.build_classifier("radio_cnn", (64, 2), 4, "fixed", filters=4)
    x = random((2, 64, 2), seed=8)
    frozen = kr.freeze(model)
    assert frozen is not model
    np.testing.assert_array_equal(numpy(frozen(x)), numpy(model(x)))


@pytest.mark.parametrize("sigma, subsampled", [(3.0, 16), (3.5, 11)])
def test_freeze_njet_with_safe_subsample(sigma, subsampled):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    njet = kr.NJetConv2D(5, order=2, safe_subsample=kr.SafeSubsample(), use_bias=True, name="njet")
    x = njet(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(x))
    njet.log2_sigma.assign([math.log2(sigma)])
    x = random((2, 32, 32, 3), seed=10)
    expected = model(x)
    frozen = kr.freeze(model)
    subsample, conv = frozen.get_layer("njet_subsample"), frozen.get_layer("njet")
    # Code rule: int(32 / max(1, 2^sigma / 4)): 32 / 2 and 32 / 2.83.
    assert subsample.output_size == (subsampled, subsampled)
    assert isinstance(conv, keras.layers.Conv2D)
    assert conv.kernel_size == (njet.kernel_size,) * 2  # Cropped to 2 f + 1.
    assert not any(kr.is_scale_variable(v) for v in frozen.weights)
    assert all(None not in shape for shape in static_shapes(frozen))
    # The cropped filter drops only zero taps; the sums run in another order.
    actual, expected = numpy(frozen(x)), numpy(expected)
    assert float(np.max(np.abs(actual - expected))) <= 1e-5 * float(np.max(np.abs(expected)))


def test_freeze_sequential():
    model = keras.Sequential(
        [keras.Input((20, 20, 3)), kr.ResolutionLayer(0.6, name="r"), keras.layers.Conv2D(2, 3)]
    )
    x = random((2, 20, 20, 3), seed=9)
    frozen = kr.freeze(model)
    assert frozen.get_layer("r").output_size == (12, 12)
    assert_same_outputs(frozen(x), model(x))


# -------------------------------------------------------------- bad input


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.resize = kr.ResolutionLayer(0.5)

    def call(self, inputs):
        return self.resize(inputs)


class _Holder(keras.layers.Layer):
    """A plain layer holding a Resolution layer: no graph to rebuild."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = kr.ResolutionLayer(0.5)

    def call(self, inputs):
        return self.inner(inputs)


def test_bad_input_raises_one_line_errors_naming_model():
    with pytest.raises(ValueError, match=r"^`model` must be a keras.Model, got str\.$"):
        kr.freeze("model.keras")
    with pytest.raises(ValueError, match="^`model` must be a functional keras.Model"):
        kr.freeze(_Subclassed())
    with pytest.raises(ValueError, match=r"^`model` \(unbuilt\) has no input yet"):
        kr.freeze(keras.Sequential([kr.ResolutionLayer(0.5)], name="unbuilt"))
    inputs = keras.Input((None, None, 3))
    dynamic = keras.Model(inputs, kr.ResolutionLayer(0.5)(inputs))
    with pytest.raises(ValueError, match="^`model`: .* freeze needs static spatial sizes"):
        kr.freeze(dynamic)
    inputs = keras.Input((32, 32, 3))
    with pytest.raises(ValueError, match="^`model`: layer 'holder' .* freeze cannot fix"):
        kr.freeze(keras.Model(inputs, _Holder(name="holder")(inputs)))
