"""Stage 1 of SRF-GAN on our detector: generators learn to super-resolve
PANet features, against feature patch discriminators (Lee & Bae, sec. 3.2).

The paper trains its generator G on the features of a trained, frozen
multi-scale network F (a Detectron2 FPN): for an image I and its bilinear
x0.5, G(F_i(x0.5 I)) should match F_i(I) at the same level i, under an L1
loss and an adversarial term against a discriminator D. Here F is a trained
baseline YOLOv8 detector and its "levels" are the two maps the PANet's
top-down path upsamples (the maps an `SRFYOLOV8Detector`'s generators
receive): P5 (`"pa_fpn_p4p5_upsample"`) and the P4 path
(`"pa_fpn_p3p4p5_upsample"`). `top_down_feature_extractor` reads them off the
baseline, with its weights.

`SRFGANTrainer` alternates, at every training step,

* a discriminator step: minimise, over D's weights,
  `sum_i [BCE(D_i(F_i(I)), 1) + BCE(D_i(G_i(F_i(x0.5 I))), 0)]`
  (Eq. 1, maximised in the paper, as binary cross-entropies from logits,
  each the mean over batch and positions);
* a generator step: minimise, over G's weights,
  `sum_i mean |F_i(I) - G_i(F_i(x0.5 I))| + lambda sum_i BCE(D_i(G_i(...)), 1)`
  (Eq. 2, lambda = 0.001),

each with its own optimizer. In each step the other network runs in
inference mode, so a step changes its own network's variables only (its
batch-normalization statistics included); the discriminator's BN in the
generator step therefore uses its moving statistics. The custom
`train_step` uses `tf.GradientTape`: TensorFlow backend only.
"""

import copy

import keras
from keras import ops

from detection.feature_discriminator import FeaturePatchDiscriminator
from detection.panet import PANetHooks
from detection.srf_generator import SRFGenerator
from detection.yolov8 import PANetYOLOV8Detector

# The tensors the PANet's top-down path upsamples, coarsest first.
TOP_DOWN_LEVELS = ("pa_fpn_p4p5_upsample", "pa_fpn_p3p4p5_upsample")


def top_down_feature_extractor(detector):
    """The maps a baseline detector's PANet upsamples, as a frozen model.

    The detector is rebuilt from its config with an input of any size and
    an `upsample` hook that records its input (and upsamples it as KerasCV
    does), and its weights are copied, so the extractor computes the
    trained baseline's features for full- and half-resolution images.

    Args:
        detector: a trained baseline `PANetYOLOV8Detector` (nearest
            upsampling, no other hooks), e.g. from `baseline_yolov8`.

    Returns:
        A frozen `keras.Model`: images `(batch, H, W, 3)` -> a list of the
        two maps in `TOP_DOWN_LEVELS` order, at H/32 and H/16.

    Raises:
        ValueError: naming `detector` if it is not a plain
            `PANetYOLOV8Detector`.

    Example:

    ```python
    baseline = keras.saving.load_model("baseline.keras")
    extractor = top_down_feature_extractor(baseline)
    p5, p4_path = extractor(images)
    ```
    """
    if type(detector) is not PANetYOLOV8Detector:
        raise ValueError(
            "`detector` must be a trained baseline PANetYOLOV8Detector (nearest upsampling, "
            f"no other PANet hooks), got {type(detector).__name__}.")
    recorded = {}

    def record(x, name):
        recorded[name] = x
        return keras.layers.UpSampling2D(2, interpolation="nearest", name=name)(x)

    config = copy.deepcopy(detector.get_config())
    config["backbone"]["config"]["input_shape"] = [None, None, 3]
    rebuilt = PANetYOLOV8Detector.from_config(
        {**config, "panet_hooks": PANetHooks(upsample=record)})
    rebuilt.set_weights(detector.get_weights())
    extractor = keras.Model(rebuilt.input, [recorded[name] for name in TOP_DOWN_LEVELS],
                            name=f"{detector.name}_top_down_features")
    extractor.trainable = False
    return extractor


def half_resolution(images):
    """The paper's degradation: bilinear x0.5 (half-pixel centres, no
    antialiasing, which at x0.5 is the mean of each 2x2 block).

    Raises:
        ValueError: naming `images` for an odd (static) height or width.
    """
    height, width = images.shape[1:3]
    if any(d is not None and d % 2 for d in (height, width)):
        raise ValueError(f"`images`: SRF-GAN halves the image, so its height and width must be "
                         f"even, got {height}x{width}.")
    shape = ops.shape(images)
    return ops.image.resize(images, (shape[1] // 2, shape[2] // 2), interpolation="bilinear",
                            antialias=False)


def _bce_with_logits(logits, label):
    targets = ops.full_like(logits, label)
    return ops.mean(keras.losses.binary_crossentropy(targets, logits, from_logits=True))


@keras.saving.register_keras_serializable(package="detection")
class SRFGANTrainer(keras.Model):
    """SRF-GAN stage 1: alternating discriminator and generator steps.

    Args:
        feature_extractor: frozen `keras.Model`, images -> list of feature
            maps, one per level (`top_down_feature_extractor`).
        generators: list of `SRFGenerator`, one per level, with that
            level's channels (the same instance twice to share one).
        discriminators: list of `FeaturePatchDiscriminator`, one per level.
        adversarial_weight: lambda of Eq. 2 (the paper's 0.001).
        **kwargs: `keras.Model` arguments (e.g. `name`).

    Call:
        `trainer(images)` returns the generators' super-resolved features
        of the half-resolution images (at the full-resolution sizes).

    Saving: `trainer.save("x.keras")` keeps the feature extractor (as a
    functional model), the generators, the discriminators and both
    optimizers with their state; `keras.saving.load_model` (with
    `detection` imported) gives a trainer that continues where it stopped.

    Example:

    ```python
    trainer = srf_gan_trainer(baseline, generator_variant="rrdb",
                              discriminator_width_multiplier=0.125)
    trainer.compile(
        generator_optimizer=keras.optimizers.SGD(1e-3, momentum=0.9),
        discriminator_optimizer=keras.optimizers.SGD(1e-3, momentum=0.9))
    trainer.fit(images, epochs=10)  # logs d_loss, g_loss, l1, adversarial
    ```
    """

    def __init__(self, feature_extractor, generators, discriminators, adversarial_weight=1e-3,
                 **kwargs):
        super().__init__(**kwargs)
        generators, discriminators = list(generators), list(discriminators)
        levels = len(feature_extractor.outputs)
        for name, layers, kind in (("generators", generators, SRFGenerator),
                                   ("discriminators", discriminators, FeaturePatchDiscriminator)):
            if len(layers) != levels or not all(isinstance(layer, kind) for layer in layers):
                raise ValueError(f"`{name}` must be {levels} {kind.__name__} layers (one per "
                                 f"feature level), got {layers!r}.")
        for generator, feature in zip(generators, feature_extractor.outputs):
            if generator.channels != feature.shape[-1]:
                raise ValueError(f"`generators`: {generator.name} has {generator.channels} "
                                 f"channels, its level has {feature.shape[-1]}.")
        weight = float(adversarial_weight)
        if not weight >= 0 or weight == float("inf"):
            raise ValueError(f"`adversarial_weight` must be a finite number >= 0, got "
                             f"{adversarial_weight!r}.")
        for layer, feature in zip(generators + discriminators, feature_extractor.outputs * 2):
            if not layer.built:  # (a shared instance is built once)
                layer.build((None, None, None, feature.shape[-1]))
        feature_extractor.trainable = False
        self.feature_extractor = feature_extractor
        self.generators = generators
        self.discriminators = discriminators
        self.adversarial_weight = weight
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "l1", "adversarial")}
        self.built = True  # every network is built above

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Two optimizers, one per network, built here on their networks'
        weights; `kwargs` go to `keras.Model` (e.g. `run_eagerly`).

        The generator's optimizer is also the model's `optimizer` (whose
        learning rate and moving averages callers such as the run loop
        read), so `fit` builds no third optimizer over both networks."""
        generator_optimizer = keras.optimizers.get(generator_optimizer)
        discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        if generator_optimizer is discriminator_optimizer:
            raise ValueError("`discriminator_optimizer` must be another optimizer instance than "
                             "`generator_optimizer` (each keeps its own network's state).")
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self._compile_kwargs = dict(kwargs)
        generator_optimizer.build(self.generator_weights())
        discriminator_optimizer.build(self.discriminator_weights())

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "generator_optimizer": keras.saving.serialize_keras_object(self.generator_optimizer),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                self.discriminator_optimizer),
            **self._compile_kwargs,
        }

    def compile_from_config(self, config):
        config = dict(config)
        self.compile(
            generator_optimizer=keras.saving.deserialize_keras_object(
                config.pop("generator_optimizer")),
            discriminator_optimizer=keras.saving.deserialize_keras_object(
                config.pop("discriminator_optimizer")),
            **config)

    def get_config(self):
        config = super().get_config()
        config.update({
            "feature_extractor": keras.saving.serialize_keras_object(self.feature_extractor),
            "generators": [keras.saving.serialize_keras_object(g) for g in self.generators],
            "discriminators": [keras.saving.serialize_keras_object(d)
                               for d in self.discriminators],
            "adversarial_weight": self.adversarial_weight,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        feature_extractor = keras.saving.deserialize_keras_object(
            config.pop("feature_extractor"))
        # One instance used by two levels is serialized twice: rebuild it once.
        generators, by_name = [], {}
        for serialized in config.pop("generators"):
            name = serialized["config"]["name"]
            if name not in by_name:
                by_name[name] = keras.saving.deserialize_keras_object(serialized)
            generators.append(by_name[name])
        discriminators = [keras.saving.deserialize_keras_object(d)
                          for d in config.pop("discriminators")]
        return cls(feature_extractor, generators, discriminators, **config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ------------------------------------------------------------- pieces
    def _unique_weights(self, layers, trainable=True):
        seen, weights = set(), []
        for layer in layers:
            for weight in layer.trainable_weights if trainable else layer.weights:
                if id(weight) not in seen:
                    seen.add(id(weight))
                    weights.append(weight)
        return weights

    def generator_weights(self, trainable=True):
        """The generators' (trainable) variables, each once."""
        return self._unique_weights(self.generators, trainable)

    def discriminator_weights(self, trainable=True):
        """The discriminators' (trainable) variables, each once."""
        return self._unique_weights(self.discriminators, trainable)

    def features(self, images):
        """(targets, inputs): the frozen features of the images and of
        their half-resolution versions, per level.

        Raises:
            ValueError: naming `images` if their (static) height or width
                is not divisible by 64: the half image must still suit the
                detector's stride 32, and every half-resolution map must be
                exactly half its full-resolution one.
        """
        sizes = tuple(images.shape[1:3])
        if any(d is not None and d % 64 for d in sizes):
            raise ValueError(f"`images`: SRF-GAN training needs heights and widths divisible "
                             f"by 64 (the detector's stride 32, at half resolution), got "
                             f"{sizes[0]}x{sizes[1]}.")
        targets = self.feature_extractor(images, training=False)
        inputs = self.feature_extractor(half_resolution(images), training=False)
        return list(targets), list(inputs)

    def call(self, images, training=False):
        _, inputs = self.features(images)
        return [g(x, training=training) for g, x in zip(self.generators, inputs)]

    def reconstruction_l1(self, images):
        """Eq. 2's L1 term, summed over levels, of the generators and of
        their bilinear skip alone (the fixed x2 a generator must beat).

        Args:
            images: a batch `(batch, H, W, 3)`, H and W divisible by 64.

        Returns:
            `(generators' L1, bilinear L1)`, two float32 scalars.

        Example:

        ```python
        learned, bilinear = trainer.reconstruction_l1(images)
        # after stage 1 on this data, learned < bilinear
        ```
        """
        targets, inputs = self.features(images)
        learned = sum(ops.mean(ops.abs(t - g(x, training=False)))
                      for g, t, x in zip(self.generators, targets, inputs))
        bilinear = sum(ops.mean(ops.abs(t - g.skip(x)))
                       for g, t, x in zip(self.generators, targets, inputs))
        return learned, bilinear

    def discriminator_loss(self, targets, fakes, training=False):
        """Eq. 1 as a loss: sum over levels of BCE(D(real), 1) + BCE(D(fake), 0)."""
        total = 0.0
        for d, real, fake in zip(self.discriminators, targets, fakes):
            total = total + _bce_with_logits(d(real, training=training), 1.0) + _bce_with_logits(
                d(fake, training=training), 0.0)
        return total

    def generator_losses(self, targets, fakes, training=False):
        """Per level: (L1, adversarial) of Eq. 2, the adversarial term
        BCE(D(G(x)), 1) = mean -log D (ln 2 where D says 0.5)."""
        l1, adversarial = [], []
        for d, real, fake in zip(self.discriminators, targets, fakes):
            l1.append(ops.mean(ops.abs(real - fake)))
            adversarial.append(_bce_with_logits(d(fake, training=training), 1.0))
        return l1, adversarial

    # -------------------------------------------------------------- steps
    def _apply(self, optimizer, loss_fn, weights):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, extras = loss_fn()
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss, extras

    def train_discriminator_step(self, targets, inputs):
        """One discriminator update (generators in inference mode)."""
        fakes = [ops.stop_gradient(g(x, training=False)) for g, x in zip(self.generators, inputs)]
        loss, _ = self._apply(
            self.discriminator_optimizer,
            lambda: (self.discriminator_loss(targets, fakes, training=True), None),
            self.discriminator_weights())
        return loss

    def train_generator_step(self, targets, inputs):
        """One generator update (discriminators in inference mode);
        returns (total, L1 sum, adversarial sum)."""
        def loss_fn():
            fakes = [g(x, training=True) for g, x in zip(self.generators, inputs)]
            l1, adversarial = self.generator_losses(targets, fakes, training=False)
            l1, adversarial = sum(l1), sum(adversarial)
            return l1 + self.adversarial_weight * adversarial, (l1, adversarial)

        loss, (l1, adversarial) = self._apply(self.generator_optimizer, loss_fn,
                                              self.generator_weights())
        return loss, l1, adversarial

    def train_step(self, data):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("SRFGANTrainer's train_step uses tf.GradientTape: run it on the "
                               "TensorFlow backend.")
        images = data[0] if isinstance(data, (tuple, list)) else data
        targets, inputs = self.features(images)
        d_loss = self.train_discriminator_step(targets, inputs)
        g_loss, l1, adversarial = self.train_generator_step(targets, inputs)
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss), ("l1", l1),
                            ("adversarial", adversarial)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def srf_gan_trainer(
    detector,
    generator_variant="paper",
    generator_options=None,
    discriminator_widths=(512, 1024, 1024),
    discriminator_width_multiplier=1.0,
    adversarial_weight=1e-3,
):
    """An `SRFGANTrainer` on a trained baseline detector's top-down maps,
    with one generator and one discriminator per level.

    The generators are named as in an `SRFYOLOV8Detector`'s PANet
    (`TOP_DOWN_LEVELS`), so stage 3 can take their weights by name.

    Args:
        detector: the trained baseline (`top_down_feature_extractor`).
        generator_variant: `"paper"` or `"rrdb"`.
        generator_options: dict of further `SRFGenerator` arguments.
        discriminator_widths: `FeaturePatchDiscriminator` widths.
        discriminator_width_multiplier: their `width_multiplier`.
        adversarial_weight: lambda of Eq. 2 (0.001).

    Returns:
        An `SRFGANTrainer`, not compiled.

    Raises:
        ValueError: naming the argument (`detector`, a bad generator or
            discriminator setting, `adversarial_weight`).
    """
    extractor = top_down_feature_extractor(detector)
    generators = [SRFGenerator(feature.shape[-1], generator_variant, name=name,
                               **(generator_options or {}))
                  for name, feature in zip(TOP_DOWN_LEVELS, extractor.outputs)]
    discriminators = [FeaturePatchDiscriminator(discriminator_widths,
                                                discriminator_width_multiplier,
                                                name=f"{name}_discriminator")
                      for name in TOP_DOWN_LEVELS]
    return SRFGANTrainer(extractor, generators, discriminators, adversarial_weight,
                         name=f"{detector.name}_srf_gan")
