"""MSNet for ResNet-18 (keras_resolution.applications.msnet): the two
branches' sizes and complexities, the high-frequency residual, the
calibrated early exit and its threshold, and joint training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resolution.applications import msnet
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.sites import site_sizes
from keras_resolution.applications.sites import size_complexity

NUM_CLASSES = 3
LOSSES = {"low": "sparse_categorical_crossentropy", "high": "sparse_categorical_crossentropy"}


@pytest.fixture(scope="module")
def model():
    """32x32, width 2, random weights (shared: tests must not change them)."""
    keras.utils.set_random_seed(0)
    return msnet.msnet_resnet18((32, 32, 3), NUM_CLASSES, width=2)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(64, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def outputs(model, images):
    result = model(images, training=False)
    return {name: keras.ops.convert_to_numpy(value) for name, value in result.items()}


def test_low_maps_are_half_the_high_maps_at_every_stage(model):
    for stage, size in zip(range(1, 5), (32, 16, 8, 4)):
        low = model.get_layer(f"low_stage{stage}").output.shape
        high = model.get_layer(f"high_stage{stage}").output.shape
        assert tuple(high[1:3]) == (size, size)
        assert tuple(low[1:3]) == (size // 2, size // 2)
        assert low[3] == high[3] == 2 * 2 ** (stage - 1)
    assert site_sizes(model) == {
        "low_stage2": (8, 8), "high_stage2": (16, 16),
        "low_stage3": (4, 4), "high_stage3": (8, 8),
        "low_stage4": (2, 2), "high_stage4": (4, 4),
    }  # fmt: skip


def test_branch_complexities_in_the_units_of_the_fixed_baseline(model):
    baseline = build_classifier("resnet18", (32, 32, 3), NUM_CLASSES, "fixed", width=2)
    assert msnet.branch_complexities(model) == (28.0, 56.0)
    assert msnet.branch_complexities(model)[1] == size_complexity(baseline, "linear")
    assert msnet.branch_complexities(model, "area") == (84.0, 336.0)
    assert msnet.branch_complexities(model, "area")[1] == size_complexity(baseline, "area")
    # Both branches together: the sites of both, as size_complexity sums them.
    assert size_complexity(model) == 28.0 + 56.0


def test_zero_high_weights_give_the_upsampled_low_features():
    """With every kernel, bias, BN gamma, beta and moving mean of the high
    branch at 0 (moving variances at 1), each H^i outputs exactly 0, so the
    map after stage i is x_H^{i+1} = u(x_L^{i+1}), the nearest-neighbour
    upsampling of the low stage output, and p_H is uniform."""
    keras.utils.set_random_seed(1)
    model = msnet.msnet_resnet18((16, 16, 3), NUM_CLASSES, width=2)
    high_layers = [model.get_layer(f"high_stage{s}") for s in range(1, 5)]
    high_layers.append(model.get_layer("high_classifier"))
    for layer in high_layers:
        for variable in layer.weights:
            value = 1.0 if "moving_variance" in variable.path else 0.0
            variable.assign(np.full(variable.shape, value, "float32"))
    probe = keras.Model(
        model.input,
        [model.get_layer(f"stage{s}_merge").output for s in range(1, 5)]
        + [model.get_layer(f"stage{s}_upsample").input for s in range(1, 5)]
        + [model.get_layer("high_classifier").output],
    )
    x = np.random.default_rng(1).normal(size=(4, 16, 16, 3)).astype("float32")
    result = [keras.ops.convert_to_numpy(t) for t in probe(x, training=False)]
    merged, low, p_high = result[:4], result[4:8], result[8]
    for stage in range(4):
        upsampled = np.repeat(np.repeat(low[stage], 2, axis=1), 2, axis=2)
        assert merged[stage].shape == upsampled.shape
        assert np.abs(upsampled).max() > 0
        np.testing.assert_array_equal(merged[stage], upsampled)
    np.testing.assert_allclose(p_high, np.full((4, NUM_CLASSES), 1 / NUM_CLASSES), atol=1e-7)


def test_threshold_zero_routes_every_image_low_and_one_every_image_high(
    model, images, outputs
):
    probabilities, ran_high = msnet.CalibratedEarlyExit(model, 0.0).predict(images)
    assert not ran_high.any()
    np.testing.assert_allclose(probabilities, outputs["low"], atol=1e-6)
    probabilities, ran_high = msnet.CalibratedEarlyExit(model, 1.0).predict(images)
    assert ran_high.all()
    # The high branch fed with the low model's features: the joint model's p_H.
    np.testing.assert_allclose(probabilities, outputs["high"], atol=1e-6)


def test_exit_is_strictly_above_the_threshold():
    p_low = np.array([[0.6, 0.4], [0.5, 0.5], [1.0, 0.0]], "float32")
    assert msnet.exits(p_low, 0.0).tolist() == [True, True, True]
    assert msnet.exits(p_low, float(np.float32(0.6))).tolist() == [False, False, True]
    assert msnet.exits(p_low, 0.55).tolist() == [True, False, True]
    assert msnet.exits(p_low, 1.0).tolist() == [False, False, False]


def test_expected_cost_grows_with_threshold_on_a_fixed_model(model, images, outputs):
    early_exit = msnet.CalibratedEarlyExit(model, 0.0)
    confidences = np.sort(outputs["low"].max(axis=-1).astype(np.float64))
    # Every 8th confidence, exactly and just below it (the steps), and the ends.
    steps = confidences[::8]
    thresholds = np.unique(np.concatenate([[0.0, 1.0], steps, steps - 1e-4]))
    costs = []
    for threshold in thresholds:
        early_exit.threshold = threshold
        costs.append(early_exit.expected_complexity(images))
        # NumPy reference: C_L + fraction with max p_L <= tau, times C_H.
        assert costs[-1] == pytest.approx(28.0 + np.mean(confidences <= threshold) * 56.0)
    assert np.all(np.diff(costs) >= 0)
    assert costs[0] == 28.0 and costs[-1] == 84.0
    assert len(set(costs)) == 2 * len(steps) + 1


def test_accuracy_grows_with_threshold_when_the_high_branch_is_right(model, images):
    """Routing controlled through the labels: y = argmax p_H, so an image
    moved to the high branch by a larger tau can only become correct. The
    low classifier's kernel is negated for the test (restored after) so
    that the two heads disagree on some images."""
    classifier = model.get_layer("low_classifier")
    kernel = classifier.kernel.numpy()
    classifier.kernel.assign(-kernel)
    try:
        result = model(images, training=False)
        p_low, p_high = (keras.ops.convert_to_numpy(result[b]) for b in ("low", "high"))
        labels = p_high.argmax(axis=-1)
        agreement = np.mean(p_low.argmax(axis=-1) == labels)
        assert agreement < 1
        confidences = np.sort(p_low.max(axis=-1).astype(np.float64))
        thresholds = np.concatenate([[0.0], (confidences[7:63:8] + confidences[8::8]) / 2, [1.0]])
        early_exit = msnet.CalibratedEarlyExit(model, 0.0)
        accuracies = []
        for threshold in thresholds:
            early_exit.threshold = threshold
            probabilities, _ = early_exit.predict(images)
            accuracies.append(np.mean(probabilities.argmax(axis=-1) == labels))
    finally:
        classifier.kernel.assign(kernel)
    assert np.all(np.diff(accuracies) >= 0)
    assert accuracies[0] == agreement and accuracies[-1] == 1.0
    assert len(set(accuracies)) > 2


def test_one_image_at_a_time_counts_the_branch_that_ran(model, images, outputs):
    threshold = float(np.median(outputs["low"].max(axis=-1)))
    early_exit = msnet.CalibratedEarlyExit(model, threshold)
    x = images[:8]
    run = early_exit.run_one_at_a_time(x)
    probabilities, ran_high = early_exit.predict(x)
    np.testing.assert_array_equal(run.ran_high, ran_high)
    assert 0 < ran_high.sum() < 8
    np.testing.assert_array_equal(run.complexity, np.where(ran_high, 84.0, 28.0))
    assert run.complexity.mean() == early_exit.expected_complexity(x)
    np.testing.assert_allclose(run.probabilities, probabilities, atol=1e-6)
    assert run.seconds.shape == (8,) and np.all(run.seconds > 0)


def test_calibrate_threshold_spends_the_target_cost(model, images, outputs):
    labels = outputs["high"].argmax(axis=-1)
    confidences = np.sort(outputs["low"].max(axis=-1))
    assert len(np.unique(confidences)) == 64
    # Half the images may take the high branch: C_L + 0.5 * C_H = 56.
    calibration = msnet.calibrate_threshold(model, images, labels, 56.0)
    assert confidences[31] < calibration.threshold < confidences[32]
    assert calibration.expected_complexity == 56.0
    assert calibration.exit_fraction == 0.5
    probabilities, ran_high = msnet.CalibratedEarlyExit(model, calibration.threshold).predict(
        images
    )
    assert ran_high.sum() == 32
    assert calibration.accuracy == np.mean(probabilities.argmax(-1) == labels)
    # Just below the next step: still 32 images, never over the target.
    assert msnet.calibrate_threshold(model, images, labels, 56.0 + 0.8).expected_complexity == 56.0
    assert msnet.calibrate_threshold(model, images, labels, 28.0).threshold == 0.0
    assert msnet.calibrate_threshold(model, images, labels, 84.0).threshold == 1.0
    assert msnet.calibrate_threshold(model, images, labels, 1e6).threshold == 1.0


def test_bad_input_names_the_argument(model, images):
    labels = np.zeros(len(images), "int64")
    for threshold in (-0.1, 1.5, float("nan"), "high"):
        with pytest.raises(ValueError, match="`threshold`"):
            msnet.CalibratedEarlyExit(model, threshold)
        with pytest.raises(ValueError, match="`threshold`"):
            msnet.CalibratedEarlyExit(model, 0.5).threshold = threshold
    with pytest.raises(ValueError, match="`x_val`"):
        msnet.calibrate_threshold(model, images[:49], labels[:49], 56.0)
    with pytest.raises(ValueError, match="`y_val`"):
        msnet.calibrate_threshold(model, images, labels[:60], 56.0)
    for target in (27.9, float("nan"), None):
        with pytest.raises(ValueError, match="`target_cost`"):
            msnet.calibrate_threshold(model, images, labels, target)
    with pytest.raises(ValueError, match="`input_shape`"):
        msnet.msnet_resnet18((24, 24, 3), NUM_CLASSES)
    with pytest.raises(ValueError, match="`upsampling`"):
        msnet.msnet_resnet18((16, 16, 3), NUM_CLASSES, upsampling="cubic")
    with pytest.raises(ValueError, match="`num_classes`"):
        msnet.msnet_resnet18((16, 16, 3), 1)
    with pytest.raises(ValueError, match="`definition`"):
        msnet.branch_complexities(model, "volume")


def test_high_cross_entropy_reaches_the_low_branch_and_not_the_reverse():
    keras.utils.set_random_seed(2)
    model = msnet.msnet_resnet18((16, 16, 3), NUM_CLASSES, width=2)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 16, 16, 3)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, 16)

    # CE_H reaches the low branch through u; CE_L never reaches the high one.
    with tf.GradientTape(persistent=True) as tape:
        result = model(x, training=True)
        ce = {
            name: keras.losses.sparse_categorical_crossentropy(y, result[name])
            for name in ("low", "high")
        }
    low_weights = model.get_layer("low_stage2").trainable_weights
    high_weights = model.get_layer("high_stage2").trainable_weights
    assert all(float(tf.norm(g)) > 0 for g in tape.gradient(ce["high"], low_weights))
    assert all(g is None for g in tape.gradient(ce["low"], high_weights))


def test_joint_training_sums_the_cross_entropies_and_trains_both_branches():
    keras.utils.set_random_seed(3)
    model = msnet.msnet_resnet18((16, 16, 3), NUM_CLASSES, width=2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 16, 16, 3)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, 16)
    # Eager steps: tracing the two-branch train step costs ~25 s here.
    model.compile(keras.optimizers.SGD(0.05), loss=LOSSES, run_eagerly=True)
    before = {b: model.get_layer(f"{b}_stage1").get_weights()[0].copy() for b in ("low", "high")}
    history = model.fit(x, {"low": y, "high": y}, batch_size=8, epochs=1, verbose=0).history
    for loss, low, high in zip(history["loss"], history["low_loss"], history["high_loss"]):
        assert np.isfinite(loss) and loss == pytest.approx(low + high, rel=1e-5)
    for branch, weights in before.items():
        assert np.abs(model.get_layer(f"{branch}_stage1").get_weights()[0] - weights).max() > 0


@pytest.mark.slow  # ~10 s on the shared 2-core machine (saving ~100 layers)
def test_saved_model_loads_and_routes_the_same(tmp_path):
    keras.utils.set_random_seed(4)
    model = msnet.msnet_resnet18((16, 16, 3), NUM_CLASSES, width=2)
    path = str(tmp_path / "msnet.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # built-in layers only: no custom objects
    x = np.random.default_rng(4).normal(size=(8, 16, 16, 3)).astype("float32")
    threshold = float(np.median(keras.ops.convert_to_numpy(model(x)["low"]).max(axis=-1)))
    expected = msnet.CalibratedEarlyExit(model, threshold).predict(x)
    probabilities, ran_high = msnet.CalibratedEarlyExit(loaded, threshold).predict(x)
    np.testing.assert_array_equal(ran_high, expected[1])
    assert 0 < ran_high.sum() < 8
    np.testing.assert_allclose(probabilities, expected[0], atol=1e-7)
    assert msnet.branch_complexities(loaded) == (14.0, 28.0)
