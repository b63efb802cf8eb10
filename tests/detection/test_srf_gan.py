"""Tests for the SRF-GAN comparator (issue 13, items 1-3): the generator,
the feature patch discriminator, the PANet `upsample` hook and
`srf_yolov8`.

The references are independent numpy code: PyTorch's
`ConvTranspose2d(k=6, s=2, p=2)` (out[s i + a - p] += x[i] w[a]) and
`F.interpolate(scale_factor=2, mode="bilinear", align_corners=False)`
(source coordinate (o + 0.5) / 2 - 0.5, clamped at the borders), and the
parameter counts are written out conv by conv.
"""

import keras
import numpy as np
import pytest

from detection import FeaturePatchDiscriminator
from detection import PANetYOLOV8Detector
from detection import PANetHooks
from detection import SRFGenerator
from detection import SRFYOLOV8Detector
from detection import apply_path_aggregation_fpn
from detection import panet_complexity
from detection import panet_conv_layers
from detection import srf_yolov8
from detection.srf import TopDownUpsampler
from detection.srf_gan_training import SRFGANTrainer
from detection.srf_gan_training import half_resolution
from detection.srf_gan_training import srf_gan_trainer

IMAGE_SIZE = 64  # P3 8x8, P4 4x4, P5 2x2 with the XS backbone (64, 128, 256 channels)
SMALL = {"num_blocks": 1}


def _random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------- numpy references
def _torch_conv_transpose(x, kernel, bias, stride=2, padding=2):
    """PyTorch ConvTranspose2d on NHWC `x`, with a Keras kernel
    (kh, kw, out, in): out[s i + a - p, s j + b - p] += x[i, j] K[a, b]."""
    batch, height, width, _ = x.shape
    kh, kw, channels_out, _ = kernel.shape
    full = np.zeros((batch, (height - 1) * stride + kh, (width - 1) * stride + kw, channels_out))
    for a in range(kh):
        for b in range(kw):
            contribution = np.einsum("nijc,oc->nijo", x, kernel[a, b])
            full[:, a:a + stride * height:stride, b:b + stride * width:stride] += contribution
    out_h = (height - 1) * stride - 2 * padding + kh
    out_w = (width - 1) * stride - 2 * padding + kw
    return full[:, padding:padding + out_h, padding:padding + out_w] + bias


def _bilinear_x2(x):
    """Half-pixel bilinear x2 (PyTorch align_corners=False), per axis."""
    for axis in (1, 2):
        length = x.shape[axis]
        source = np.maximum((np.arange(2 * length) + 0.5) / 2 - 0.5, 0.0)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, length - 1)
        weight = (source - low).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        x = (np.take(x, low, axis=axis) * (1 - weight) + np.take(x, high, axis=axis) * weight)
    return x


# -------------------------------------------------------------- generator
@pytest.mark.parametrize("height, width", [(5, 6), (4, 7)])
def test_deconv_is_pytorch_k6_s2_p2(height, width):
    generator = SRFGenerator(3, "rrdb", num_blocks=1, growth=2)
    x = _random((2, height, width, 3))
    generator.deconv.build(x.shape)
    bias = _random((3,), seed=1)
    generator.deconv.bias.assign(bias)
    expected = _torch_conv_transpose(x, _numpy(generator.deconv.kernel), bias)
    assert expected.shape == (2, 2 * height, 2 * width, 3)
    np.testing.assert_allclose(_numpy(generator.deconv(x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("height, width", [(5, 6), (4, 7), (1, 1)])
def test_bilinear_skip_is_the_half_pixel_reference(height, width):
    x = _random((2, height, width, 3))
    skip = SRFGenerator(3).skip
    np.testing.assert_allclose(_numpy(skip(x)), _bilinear_x2(x.astype("float64")),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", ["paper", "rrdb"])
@pytest.mark.parametrize("height, width", [(5, 5), (6, 3)])
def test_output_is_exactly_twice_the_input(variant, height, width):
    generator = SRFGenerator(4, variant, num_blocks=2, growth=3)
    x = _random((2, height, width, 4))
    out = generator(x, training=False)
    assert tuple(out.shape) == (2, 2 * height, 2 * width, 4)
    assert generator.compute_output_shape((None, height, width, 4)) == (
        None, 2 * height, 2 * width, 4)
    symbolic = generator(keras.Input((None, None, 4)))
    assert tuple(symbolic.shape) == (None, None, None, 4)
    assert np.all(np.isfinite(_numpy(out)))


@pytest.mark.parametrize("variant", ["paper", "rrdb"])
def test_zero_weights_give_exactly_the_bilinear_x2(variant):
    generator = SRFGenerator(4, variant, num_blocks=2, growth=3)
    x = _random((2, 5, 6, 4))
    generator(x)
    # Every weight of the learned path (kernels, biases, BN scales, shifts
    # and statistics) at zero: the output is the skip alone.
    for weight in generator.weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    out = _numpy(generator(x, training=False))
    np.testing.assert_array_equal(out, _numpy(keras.layers.UpSampling2D(
        2, interpolation="bilinear")(x)))
    np.testing.assert_allclose(out, _bilinear_x2(x.astype("float64")), rtol=1e-6, atol=1e-6)
    # ... and not with the default (non-zero) weights.
    fresh = SRFGenerator(4, variant, num_blocks=2, growth=3)
    assert np.abs(_numpy(fresh(x, training=False)) - out).max() > 1e-4


def _conv(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def test_parameter_counts_of_both_variants_at_256_channels():
    c, growth = 256, 32
    # Zero kernels: the counts without the cost of drawing 17M random numbers.
    rrdb = SRFGenerator(c, "rrdb", kernel_initializer="zeros")
    rrdb.build((None, None, None, c))
    dense_block = sum(_conv(3, c + k * growth, growth, bias=False) for k in range(4)) + _conv(
        3, c + 4 * growth, c, bias=False)
    expected = (_conv(3, c, c) + 3 * dense_block + _conv(3, c, c) + _conv(6, c, c)
                + _conv(3, c, c))
    assert rrdb.count_params() == expected == 7_834_624  # comparators.md, released code
    paper = SRFGenerator(c, "paper", kernel_initializer="zeros")
    paper.build((None, None, None, c))
    residual_block = 2 * _conv(3, c, c, bias=False) + 2 * 4 * c  # + 2 BN (gamma, beta, mean, var)
    expected = _conv(3, c, c) + 5 * residual_block + _conv(3, c, c) + _conv(6, c, c) + _conv(
        1, c, c)
    assert paper.count_params() == expected == 9_513_984
    trainable = sum(int(np.prod(w.shape)) for w in paper.trainable_weights)
    assert trainable == expected - 5 * 2 * 2 * c == 9_508_864


def test_generator_config_round_trip_keeps_outputs():
    generator = SRFGenerator(4, "rrdb", num_blocks=2, growth=3, residual_scale=0.5,
                             deconv_kernel=4, name="g")
    x = _random((1, 3, 5, 4))
    expected = _numpy(generator(x))
    config = generator.get_config()
    copy = SRFGenerator.from_config(config)
    assert copy.get_config() == config
    copy.build(x.shape)
    copy.set_weights(generator.get_weights())
    np.testing.assert_array_equal(_numpy(copy(x)), expected)
    assert tuple(copy(x).shape) == (1, 6, 10, 4)  # deconv_kernel 4 also doubles


@pytest.mark.parametrize("kwargs, argument", [
    ({"variant": "esrgan"}, "variant"),
    ({"num_blocks": 0}, "num_blocks"),
    ({"growth": 2.5}, "growth"),
    ({"deconv_kernel": 5}, "deconv_kernel"),
    ({"channels": 0}, "channels"),
])
def test_generator_bad_arguments_raise_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        SRFGenerator(**{"channels": 4, **kwargs})


def test_generator_rejects_other_channels():
    with pytest.raises(ValueError, match="`channels`"):
        SRFGenerator(8)(np.zeros((1, 3, 3, 4), "float32"))


# ---------------------------------------------------------- discriminator
@pytest.mark.parametrize("height, width", [(5, 7), (8, 8), (1, 1)])
def test_discriminator_keeps_the_spatial_size(height, width):
    discriminator = FeaturePatchDiscriminator(widths=(4, 6, 6))
    x = _random((2, height, width, 3))
    logits = discriminator(x, training=False)
    assert tuple(logits.shape) == (2, height, width, 1)
    assert discriminator.compute_output_shape(x.shape) == (2, height, width, 1)
    np.testing.assert_allclose(_numpy(discriminator.probability(x, training=False)),
                               1 / (1 + np.exp(-_numpy(logits))), rtol=1e-6)


def test_discriminator_parameters_and_width_multiplier():
    paper = FeaturePatchDiscriminator()
    paper.build((None, None, None, 256))
    # Bias-free convs before BN (4 values per channel), 1x1 classifier.
    expected = (_conv(3, 256, 512, False) + _conv(3, 512, 1024, False)
                + _conv(3, 1024, 1024, False) + 4 * (512 + 1024 + 1024) + _conv(1, 1024, 1))
    assert paper.count_params() == expected == 15_346_689  # "about 15.3M"
    small = FeaturePatchDiscriminator(width_multiplier=1 / 64)
    assert small.scaled_widths == (8, 16, 16)
    copy = FeaturePatchDiscriminator.from_config(small.get_config())
    assert copy.scaled_widths == (8, 16, 16) and copy.get_config() == small.get_config()


@pytest.mark.parametrize("kwargs, argument", [
    ({"widths": ()}, "widths"),
    ({"widths": (4, 0)}, "widths"),
    ({"width_multiplier": 0.0}, "width_multiplier"),
])
def test_discriminator_bad_arguments_raise_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        FeaturePatchDiscriminator(**kwargs)


# ------------------------------------------------------- the PANet hook
# P3, P4, P5 of a tiny PANet.
SHAPES = [(8, 8, 4), (4, 4, 8), (2, 2, 16)]


def _layer_names(model):
    """Class and name of every layer but the auto-numbered inputs and
    feature extractor."""
    return [(type(layer).__name__, layer.name) for layer in model.layers
            if not layer.name.startswith(("input_layer", "functional"))]


def _panet(hooks, shapes=SHAPES, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape) for shape in shapes]
    return keras.Model(inputs, apply_path_aggregation_fpn(inputs, depth=1, hooks=hooks))


@pytest.fixture(scope="module")
def default_panet():
    return _panet(None)


def test_upsample_hook_is_off_by_default_and_sees_both_merges(default_panet):
    assert PANetHooks().upsample is None
    calls = []

    def nearest(x, name):  # KerasCV's upsampling, through the hook
        calls.append((name, tuple(x.shape[1:])))
        return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)

    hooked, default = _panet(PANetHooks(upsample=nearest)), default_panet
    assert calls == [("pa_fpn_p4p5_upsample", (2, 2, 16)), ("pa_fpn_p3p4p5_upsample", (4, 4, 8))]
    assert _layer_names(hooked) == _layer_names(default)
    hooked.set_weights(default.get_weights())
    features = [_random((1, *shape), seed) for seed, shape in enumerate(SHAPES)]
    for a, b in zip(hooked(features), default(features)):
        np.testing.assert_array_equal(_numpy(a), _numpy(b))


def test_shared_generator_where_the_channels_agree():
    shapes = [(8, 8, 4), (4, 4, 8), (2, 2, 8)]  # P4 and P5 both 8 channels
    hook = TopDownUpsampler("srf", "rrdb", share_generator=True,
                            generator_options={"num_blocks": 1, "growth": 2})
    model = _panet(PANetHooks(upsample=hook), shapes)
    generators = [layer for layer in model.layers if isinstance(layer, SRFGenerator)]
    assert [layer.name for layer in generators] == ["pa_fpn_srf_generator"]
    assert list(hook.layers) == ["pa_fpn_p4p5_upsample", "pa_fpn_p3p4p5_upsample"]
    assert all(layer is generators[0] for layer in hook.layers.values())  # both merges
    assert [tuple(o.shape[1:]) for o in model.outputs] == shapes
    # P5 and the P4 path of different channels (16 and 8; 256 and 128 with
    # the XS backbone): not one generator.
    hook = TopDownUpsampler("srf", share_generator=True, generator_options=SMALL)
    with pytest.raises(ValueError, match="`share_generator=True`.*16 and 8 channels"):
        _panet(PANetHooks(upsample=hook))


@pytest.mark.parametrize("upsampler, layer_type", [
    ("bilinear", keras.layers.UpSampling2D), ("dct", "DCTResize")])
def test_fixed_upsamplers_double_the_size_without_weights(upsampler, layer_type,
                                                         default_panet):
    hook = TopDownUpsampler(upsampler)
    model = _panet(PANetHooks(upsample=hook))
    default = default_panet
    assert list(hook.layers) == ["pa_fpn_p4p5_upsample", "pa_fpn_p3p4p5_upsample"]
    for name, size in zip(hook.layers, (4, 8)):
        layer = model.get_layer(name)
        assert (isinstance(layer, layer_type) if isinstance(layer_type, type)
                else type(layer).__name__ == layer_type)
        assert tuple(layer.output.shape[1:3]) == (size, size) and layer.weights == []
    assert panet_complexity(model) == panet_complexity(default)
    assert model.count_params() == default.count_params()
    if upsampler == "bilinear":  # the generator's skip op: the half-pixel reference
        x = _random((1, 4, 4, 8))
        np.testing.assert_allclose(_numpy(layer(x)), _bilinear_x2(x.astype("float64")),
                                   rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------- the detector
# A tiny YOLOv8 backbone keeps the detector tests cheap: P3, P4, P5 of 8, 16
# and 32 channels at 8x8, 4x4 and 2x2. `srf_yolov8` passes its arguments to
# this class through `build_detector` (as `baseline_yolov8` does); its own
# validation is tested below without building.
TINY_CHANNELS = (8, 16, 32)


def _tiny_backbone():
    import keras_cv

    return keras_cv.models.YOLOV8Backbone(
        stackwise_channels=[4, *TINY_CHANNELS], stackwise_depth=[1, 1, 1, 1],
        include_rescaling=True, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))


def _detector(detector_class=SRFYOLOV8Detector, **kwargs):
    keras.utils.set_random_seed(0)
    return detector_class(_tiny_backbone(), num_classes=3, bounding_box_format="xyxy",
                          fpn_depth=1, **kwargs)


@pytest.fixture(scope="module")
def srf_model():
    return _detector(generator_variant="rrdb", generator_options=SMALL)


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


GENERATORS = ("pa_fpn_p4p5_upsample", "pa_fpn_p3p4p5_upsample")


def test_srf_panet_has_the_baseline_complexity_and_generator_cost(srf_model):
    assert isinstance(srf_model, SRFYOLOV8Detector)
    # The baseline's: 4 convs at P4 (4x4), 4 at P3 (8x8), 7 at P4, 7 at P5
    # (2x2), i.e. 11,500 (64 / 320)^2; and H + W for "linear".
    assert panet_complexity(srf_model) == 4 * 16 + 4 * 64 + 7 * 16 + 7 * 4 == 460
    assert panet_complexity(srf_model, "linear") == 4 * 8 + 4 * 16 + 7 * 8 + 7 * 4
    assert len(panet_conv_layers(srf_model)) == 22
    # One rrdb generator per merge, at P5's and P4's channels.
    generators = srf_model.srf_generators()
    assert [(g.name, g.channels, g.variant, g.num_blocks) for g in generators] == [
        (GENERATORS[0], 32, "rrdb", 1), (GENERATORS[1], 16, "rrdb", 1)]
    assert srf_model.generator_parameters() == sum(g.count_params() for g in generators)
    # The merged maps keep the baseline's sizes.
    for name, size in zip(GENERATORS, (4, 8)):
        assert tuple(srf_model.get_layer(name).output.shape[1:3]) == (size, size)


def test_from_config_round_trip_and_nearest_is_the_baseline_graph(srf_model):
    config = srf_model.get_config()
    assert {key: config[key] for key in ("upsampler", "generator_variant", "share_generator",
                                         "generator_options")} == {
        "upsampler": "srf", "generator_variant": "rrdb", "share_generator": False,
        "generator_options": SMALL}
    # Rebuilt from its config with only the upsampler changed: the nearest
    # row, which passes no hook (PANetHooks' default, the KerasCV graph of
    # test_panet.py). The SRF model is that graph plus the two generators.
    model = SRFYOLOV8Detector.from_config({**config, "upsampler": "nearest"})
    assert model.get_config() == {**config, "upsampler": "nearest"}
    assert _layer_names(model) == [
        entry for entry in _layer_names(srf_model) if entry[1] not in GENERATORS]
    assert panet_complexity(model) == panet_complexity(srf_model) == 460
    assert model.srf_generators() == [] and model.generator_parameters() == 0
    assert _trainable(srf_model) == _trainable(model) + srf_model.generator_parameters()


@pytest.mark.slow  # about 14 s on the shared 2 cores (saving and rebuilding a detector)
def test_save_and_load_keep_settings_and_outputs(srf_model, tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (1, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(
        "float32")
    path = str(tmp_path / "srf.keras")
    srf_model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, SRFYOLOV8Detector)
    assert loaded.get_config()["generator_options"] == SMALL
    assert [g.num_blocks for g in loaded.srf_generators()] == [1, 1]
    expected, received = srf_model(images), loaded(images)
    for key in ("boxes", "classes"):
        np.testing.assert_array_equal(np.asarray(received[key]), np.asarray(expected[key]))


@pytest.mark.parametrize("kwargs, argument", [
    ({"upsampler": "bicubic"}, "upsampler"),
    ({"generator_variant": "esrgan"}, "generator_variant"),
    ({"generator_options": {"num_blocks": 0}}, "generator_options"),
    ({"generator_options": {"depth": 2}}, "generator_options"),
    ({"generator_options": {"channels": 8}}, "generator_options"),
    ({"share_generator": "yes"}, "share_generator"),
    ({"share_generator": True, "upsampler": "bilinear"}, "share_generator"),
])
def test_bad_arguments_raise_naming_them_before_building(kwargs, argument, monkeypatch):
    import detection.yolov8

    def no_build(*args, **kwargs):
        raise AssertionError("built before validating")

    monkeypatch.setattr(detection.yolov8, "build_detector", no_build)
    with pytest.raises(ValueError, match=f"`{argument}"):
        srf_yolov8(3, image_size=IMAGE_SIZE, **kwargs)


# ------------------------------------------------- stage 1: SRFGANTrainer
@pytest.fixture(scope="module")
def baseline():
    """A tiny baseline detector, standing in for the trained one."""
    return _detector(PANetYOLOV8Detector)


@pytest.fixture(scope="module")
def trainer(baseline):
    # The paper's generator (with BN) at one block, a narrow discriminator.
    return srf_gan_trainer(baseline, "paper", generator_options=SMALL,
                           discriminator_widths=(4, 8, 8))


def _images(batch=2, size=IMAGE_SIZE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_extractor_gives_the_baselines_top_down_maps(baseline, trainer):
    images = _images()
    probe = keras.Model(baseline.input, baseline.get_layer("pa_fpn_p4p5_output").output)
    p5, p4_path = trainer.feature_extractor(images)
    np.testing.assert_array_equal(_numpy(p4_path), _numpy(probe(images)))
    assert tuple(p5.shape) == (2, 2, 2, 32) and tuple(p4_path.shape) == (2, 4, 4, 16)
    assert trainer.feature_extractor.trainable_weights == []
    # Half-resolution images: maps of half the size, which the generators double.
    targets, inputs = trainer.features(images)
    assert [tuple(x.shape[1:3]) for x in inputs] == [(1, 1), (2, 2)]
    np.testing.assert_allclose(  # bilinear x0.5 is the mean of each 2x2 block
        _numpy(half_resolution(images)),
        images.reshape(2, IMAGE_SIZE // 2, 2, IMAGE_SIZE // 2, 2, 3).mean(axis=(2, 4)),
        rtol=1e-5)
    assert [tuple(f.shape) for f in trainer(images)] == [tuple(t.shape) for t in targets]
    assert [g.name for g in trainer.generators] == [
        "pa_fpn_p4p5_upsample", "pa_fpn_p3p4p5_upsample"]


def test_adversarial_term_is_ln_2_per_level_where_d_says_one_half(trainer):
    targets, inputs = trainer.features(_images())
    fakes = [g(x) for g, x in zip(trainer.generators, inputs)]
    saved = [w.numpy() for w in trainer.discriminator_weights(trainable=False)]
    try:
        for weight in trainer.discriminator_weights(trainable=False):
            weight.assign(np.zeros(weight.shape, "float32"))  # logits 0: D = 0.5 everywhere
        assert np.all(_numpy(trainer.discriminators[0].probability(fakes[0])) == 0.5)
        l1, adversarial = trainer.generator_losses(targets, fakes)
        np.testing.assert_allclose([float(a) for a in adversarial], [np.log(2)] * 2, rtol=1e-6)
        expected_l1 = [np.abs(_numpy(t) - _numpy(f)).mean() for t, f in zip(targets, fakes)]
        np.testing.assert_allclose([float(v) for v in l1], expected_l1, rtol=1e-5)
        assert float(trainer.discriminator_loss(targets, fakes)) == pytest.approx(
            4 * np.log(2), rel=1e-6)
    finally:
        for weight, value in zip(trainer.discriminator_weights(trainable=False), saved):
            weight.assign(value)


def _values(weights):
    return [np.array(_numpy(w)) for w in weights]


def test_each_step_changes_only_its_own_network(trainer):
    trainer.compile(generator_optimizer=keras.optimizers.SGD(0.1),
                    discriminator_optimizer=keras.optimizers.SGD(0.1))
    targets, inputs = trainer.features(_images())
    g_before, d_before = (_values(trainer.generator_weights(trainable=False)),
                          _values(trainer.discriminator_weights(trainable=False)))
    trainer.train_discriminator_step(targets, inputs)
    for before, after in zip(g_before, _values(trainer.generator_weights(trainable=False))):
        np.testing.assert_array_equal(after, before)  # BN statistics included
    d_after = _values(trainer.discriminator_weights(trainable=False))
    assert any(np.any(a != b) for a, b in zip(d_after, d_before))
    trainer.train_generator_step(targets, inputs)
    for before, after in zip(d_after, _values(trainer.discriminator_weights(trainable=False))):
        np.testing.assert_array_equal(after, before)
    # Both generators moved (the projection biases take the L1 gradient
    # directly; with the x0.1 initialisation some deep updates are below
    # float32 resolution after one step).
    for generator in trainer.generators:
        bias = generator.projection.bias
        before = g_before[[id(w) for w in trainer.generator_weights(trainable=False)].index(
            id(bias))]
        assert np.abs(_numpy(bias) - before).max() > 1e-4


@pytest.mark.parametrize("call, argument", [
    (lambda t, srf: t.features(_images(size=96)), "images"),  # half: 48, not a multiple of 32
    (lambda t, srf: half_resolution(np.zeros((1, 5, 6, 3), "float32")), "images"),
    (lambda t, srf: srf_gan_trainer(srf), "detector"),  # not a plain baseline
    (lambda t, srf: SRFGANTrainer(t.feature_extractor, t.generators[::-1], t.discriminators),
     "generators"),
    (lambda t, srf: SRFGANTrainer(t.feature_extractor, t.generators[:1], t.discriminators),
     "generators"),
    (lambda t, srf: SRFGANTrainer(t.feature_extractor, t.generators, t.discriminators, -1.0),
     "adversarial_weight"),
])
def test_trainer_bad_input_raises_naming_it(call, argument, trainer, srf_model):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        call(trainer, srf_model)


@pytest.mark.slow  # tracing the two-optimizer step: about 30 s on the shared 2 cores
def test_fit_logs_both_steps(baseline):
    keras.utils.set_random_seed(1)
    trainer = srf_gan_trainer(baseline, "rrdb", generator_options=SMALL,
                              discriminator_widths=(4, 8, 8))
    trainer.compile(generator_optimizer=keras.optimizers.Adam(1e-3),
                    discriminator_optimizer=keras.optimizers.Adam(1e-3))
    g_before = _values(trainer.generator_weights())
    d_before = _values(trainer.discriminator_weights())
    history = trainer.fit(_images(batch=4), batch_size=2, epochs=2, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "l1", "adversarial"}
    assert all(len(values) == 2 and np.all(np.isfinite(values)) for values in history.values())
    # g_loss = L1 + 0.001 adversarial (epoch means of a linear combination).
    np.testing.assert_allclose(
        history["g_loss"], np.add(history["l1"], 1e-3 * np.asarray(history["adversarial"])),
        rtol=1e-5)
    # The adversarial and discriminator losses start near ln 2 per level
    # (D near 0.5 at initialisation).
    assert history["adversarial"][0] == pytest.approx(2 * np.log(2), rel=0.2)
    assert history["d_loss"][0] == pytest.approx(4 * np.log(2), rel=0.2)
    for before, after in ((g_before, trainer.generator_weights()),
                          (d_before, trainer.discriminator_weights())):
        assert any(np.any(a != b) for a, b in zip(_values(after), before))
