"""The DiffStride, spectral-pooling and hybrid ResNet-18s (issue 11, item 4):
sizes at initialisation, the shared DiffStride instance, the hybrid's
spectral pooling before global average pooling as a pure rescale, and a few
training steps of each."""

import keras
import numpy as np
import pytest

import keras_resolution
from keras_resolution.applications import build_spectral_classifier
from keras_resolution.applications import site_sizes
from keras_resolution.applications import spectral_budget_reference
from training.common.optimizers import make_optimizer

MODELS = {
    "diffstride": dict(method="diffstride"),
    "spectral": dict(method="spectral"),
    "hybrid": dict(method="hybrid", spectral_position="pre_gap"),
    "hybrid-pre-bn": dict(method="hybrid", spectral_position="pre_bn"),
}
RESIDUAL_SITES = ("stem", "stage2", "stage3", "stage4")


def _build(name, size=32, width=2, target_budget=0.5):
    kwargs = dict(MODELS[name])
    return build_spectral_classifier(
        kwargs.pop("method"), (size, size, 3), 10, target_budget, width=width, **kwargs
    )


def _images(count, size, seed=0):
    return np.random.default_rng(seed).normal(size=(count, size, size, 3)).astype("float32")


@pytest.mark.parametrize(
    "name, chain, head",
    [
        # The official code's sizes: the DiffStride ramp lies outside H / S.
        ("diffstride", (32, 24, 20, 18), None),
        ("spectral", (32, 16, 8, 4), None),
        ("hybrid", (32, 24, 20, 18), (8, 9)),  # 18 // 2 = 9, made even: 8
        ("hybrid-pre-bn", (32, 24, 20, 18), (8, 9)),
    ],
)
def test_size_chain_at_initialisation(name, chain, head):
    model = _build(name)
    expected = {site: (size, size) for site, size in zip(RESIDUAL_SITES, chain)}
    if head is not None:
        expected["head"] = head
    assert site_sizes(model) == expected
    # The graph's static shapes agree with the layers' own sizes.
    suffix = "_spectral" if name == "spectral" else "_diffstride"
    for site, size in zip(RESIDUAL_SITES, chain):
        assert model.get_layer(site + suffix).output.shape[1:3] == (size, size)
    # Real inputs give the same sizes as the symbolic graph.
    x = _images(2, 32)
    features = keras.Model(model.inputs, model.get_layer("final_relu").output)(x)
    final = head if name == "hybrid-pre-bn" else (chain[-1], chain[-1])
    assert tuple(features.shape[1:3]) == final


def test_strides_and_complexity_at_initialisation():
    model = _build("diffstride")
    strides = {site: keras.ops.convert_to_numpy(model.get_layer(site + "_diffstride").strides)
               for site in RESIDUAL_SITES}  # fmt: skip
    # The stem's initial stride 1 sits at its lower bound H / (H - R) = 32 / 28.
    np.testing.assert_allclose(strides["stem"], [32 / 28] * 2, rtol=1e-6)
    for site in RESIDUAL_SITES[1:]:
        np.testing.assert_array_equal(strides[site], [2.0, 2.0])
    # C_full: the built input sizes, 32 + 32 + 32 + 32 + 24 + 24 + 20 + 20.
    assert model.complexity_full == 216.0
    assert spectral_budget_reference("diffstride", (32, 32, 3), 10, width=2) == (
        216.0, site_sizes(model))
    # C: the continuous sizes, here integers (T + R is whole at every site).
    assert float(keras_resolution.complexity(model)) == 64 + 48 + 40 + 36
    # The floor: at any stride with H / S < 2 a site keeps 10x10 (the ramp
    # of R = 4 outside T = 1), so C cannot go below 80 = 0.37 C_full.
    for site in RESIDUAL_SITES:
        model.get_layer(site + "_diffstride").strides.assign([40.0, 40.0])
    model(_images(1, 32))
    assert site_sizes(model) == {site: (10, 10) for site in RESIDUAL_SITES}
    assert float(keras_resolution.complexity(model)) == 80.0
    # The hybrid adds its head's fixed sizes: 8 + 9 of a built 18 + 18.
    hybrid = _build("hybrid")
    assert hybrid.complexity_full == 216.0 + 36.0
    assert float(keras_resolution.complexity(hybrid)) == 188.0 + 17.0
    spectral = _build("spectral")
    assert float(keras_resolution.complexity(spectral)) == 64 + 32 + 16 + 8
    assert keras_resolution.full_complexity(spectral) == 64 + 64 + 32 + 16


def test_budget_floor_is_where_the_strides_stop_mattering():
    # 4 sites of 10x10 over C_full 216; the hybrid's head adds 4 + 5 (10 // 2,
    # made even) of its 18 + 18; fixed spectral pooling has nothing to learn.
    assert keras_resolution.complexity_floor(_build("diffstride")) == 80 / 216
    assert keras_resolution.complexity_floor(_build("hybrid")) == 89 / 252
    assert keras_resolution.complexity_floor(_build("spectral")) == 1.0
    # At the floor C no longer depends on the strides, so a lower target
    # cannot move them; just above it, it still does.
    import tensorflow as tf

    for stride, moves in ((40.0, False), (2.0, True)):
        model = _build("diffstride")
        layers = [model.get_layer(site + "_diffstride") for site in RESIDUAL_SITES[1:]]
        for layer in layers:
            layer.strides.assign([stride, stride])
        model(_images(1, 32))
        with tf.GradientTape() as tape:
            c = keras_resolution.complexity(model)
        gradients = tape.gradient(c, [layer.strides for layer in layers])
        magnitude = sum(float(np.abs(g).sum()) for g in gradients if g is not None)
        assert (magnitude > 0) == moves, (stride, magnitude)


def _producer(tensor):
    """The layer whose call produced the symbolic `tensor`."""
    return tensor._keras_history.operation


@pytest.mark.parametrize("name", ["diffstride", "spectral"])
def test_one_pooling_instance_serves_main_path_and_shortcut(name):
    model = _build(name)
    suffix = "_spectral" if name == "spectral" else "_diffstride"
    for stage in (2, 3, 4):
        block = f"stage{stage}_block1"
        pooling = model.get_layer(f"stage{stage}{suffix}")
        # Main path: conv1 -> pooling -> bn2; shortcut: 1x1 conv -> pooling -> add.
        assert _producer(model.get_layer(block + "_bn2").input) is pooling
        assert _producer(pooling.input) is model.get_layer(block + "_conv1")
        add_inputs = [_producer(t) for t in model.get_layer(block + "_add").input]
        assert add_inputs == [model.get_layer(block + "_conv2"), pooling]
        # The shortcut reads the block's input, not its pre-activation.
        projection = model.get_layer(block + "_projection")
        assert projection.input is model.get_layer(block + "_bn1").input
    if name == "diffstride":
        strides = [v for v in model.trainable_variables if v.path.endswith("strides")]
        assert len(strides) == 4  # 7 DiffStride calls, 4 stride variables


def test_shared_stride_moves_both_paths():
    model = _build("diffstride")
    layer = model.get_layer("stage3_diffstride")
    probe = keras.Model(model.inputs, [model.get_layer("stage3_block1_bn2").input,
                                      model.get_layer("stage3_block1_add").input[1]])
    x = _images(1, 32)
    before = [tuple(t.shape[1:3]) for t in probe(x)]
    layer.strides.assign([3.0, 3.0])
    after = [tuple(t.shape[1:3]) for t in probe(x)]
    assert before == [(20, 20), (20, 20)]
    # 24 px at stride 3: T_h = 4, h = 2 ceil(4 + 4) = 16; T_w = 5, w = 2 * 9 - 2 = 16.
    assert after == [(16, 16), (16, 16)]


def _copy_weights(source, target):
    for layer in source.layers:
        target.get_layer(layer.name).set_weights(layer.get_weights())


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_spectral_pooling_before_gap_only_rescales_the_pooled_features():
    diffstride, hybrid = _build("diffstride"), _build("hybrid")
    _copy_weights(diffstride, hybrid)
    x = _images(3, 32)
    features = keras.Model(diffstride.inputs, diffstride.get_layer("pool").output)
    unpooled = keras.ops.convert_to_numpy(features(x))
    pooled = keras.ops.convert_to_numpy(
        keras.Model(hybrid.inputs, hybrid.get_layer("pool").output)(x))
    gain = 18 * 18 / (8 * 9)  # H W / (h w) of the head's 18x18 -> 8x9
    np.testing.assert_allclose(pooled, gain * unpooled, rtol=2e-5, atol=1e-6)
    kernel, bias = hybrid.get_layer("classifier").get_weights()
    expected = _softmax(gain * unpooled.astype("float64") @ kernel + bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hybrid(x)), expected,
                               rtol=1e-4, atol=1e-6)
    # Before the final BN/ReLU it is not a rescale: the ratio to the
    # unpooled features differs across channels and images.
    pre_bn = _build("hybrid-pre-bn")
    _copy_weights(diffstride, pre_bn)
    other = keras.ops.convert_to_numpy(
        keras.Model(pre_bn.inputs, pre_bn.get_layer("pool").output)(x))
    ratio = other / np.maximum(unpooled, 1e-6)
    assert np.ptp(ratio[unpooled > 1e-3]) > 0.1


@pytest.mark.parametrize("name", list(MODELS))
def test_each_method_trains_a_few_steps(name):
    # Eager steps: tracing the DiffStride ResNet's graph with its dynamic
    # sizes costs about a minute; the graph path runs in the harness test
    # (test_comparator_runs.py, `classify --model diffstride`).
    model = _build(name, size=16, width=2, target_budget=0.5)
    model.compile(make_optimizer("adam", 1e-2, scale_learning_rate_factor=4.0),
                  keras.losses.SparseCategoricalCrossentropy(), run_eagerly=True)
    x = _images(32, 16)
    y = np.arange(32) % 10
    strides = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables
               if v.path.endswith("strides")}  # fmt: skip
    kernel = keras.ops.convert_to_numpy(model.get_layer("stage2_block1_conv1").kernel)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # two steps
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.allclose(kernel, keras.ops.convert_to_numpy(
        model.get_layer("stage2_block1_conv1").kernel))
    if name == "spectral":
        assert not strides and not isinstance(model, keras_resolution.ResolutionModel)
        return
    assert len(strides) == 4
    moved = [path for path, value in strides.items()
             if not np.allclose(value, keras.ops.convert_to_numpy(
                 next(v for v in model.trainable_variables if v.path == path)))]
    assert {path.split("/")[0] for path in moved} >= {"stage2_diffstride", "stage3_diffstride",
                                                      "stage4_diffstride"}
    assert np.isfinite(history.history["complexity"]).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="maxpool"), "method"),
        (dict(spectral_position="after_gap"), "spectral_position"),
        (dict(input_shape=(32, 3)), "input_shape"),
        (dict(num_classes=1), "num_classes"),
        (dict(target_budget=None), r"p\* must be a number"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    arguments = dict(method="hybrid", input_shape=(32, 32, 3), num_classes=10,
                     target_budget=0.5, width=2)  # fmt: skip
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_spectral_classifier(**arguments)


@pytest.mark.parametrize("name", ["hybrid-pre-bn", "spectral"])
def test_saved_model_loads_with_its_shared_pooling_and_budget(name, tmp_path):
    model = _build(name)
    if name != "spectral":
        model.get_layer("stage3_diffstride").strides.assign([2.5, 3.0])
    x = _images(2, 32)
    expected = keras.ops.convert_to_numpy(model(x))
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), expected, rtol=1e-5,
                               atol=1e-6)
    assert site_sizes(loaded) == site_sizes(model)
    pooling = [layer for layer in loaded.layers
               if isinstance(layer, (keras_resolution.DiffStride2D,
                                     keras_resolution.FixedSpectralPooling2D))]
    assert len(pooling) == 4 + (name != "spectral")  # one layer per site, shared paths
    if name != "spectral":
        assert loaded.complexity_full == model.complexity_full == 252.0
        assert loaded.complexity_penalty.get_config() == model.complexity_penalty.get_config()
