"""Embedded generated sets, CIFAR-100's offline route, splits and batches."""

import numpy as np
import pytest

from training.classification.batches import SplitBatches
from training.classification.batches import training_batches
from training.classification.data import EmbeddedSizes
from training.classification.data import Split
from training.classification.data import embedded_sizes
from training.classification.data import load_dataset
from training.classification.data.cifar import prepare_offline
from training.classification.data.modulations import MODULATION_CLASSES
from training.classification.data.modulations import SNR_LEVELS
from training.classification.data.modulations import generate_modulations
from training.classification.data.shapes import SHAPE_CLASSES
from training.classification.data.shapes import generate_shapes


def test_shapes_are_seeded_balanced_and_in_range():
    x, y = generate_shapes(50, seed=4)
    again, _ = generate_shapes(50, seed=4)
    np.testing.assert_array_equal(x, again)
    assert x.shape == (50, 32, 32, 3) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1
    assert np.bincount(y, minlength=len(SHAPE_CLASSES)).tolist() == [5] * 10
    assert not np.array_equal(x, generate_shapes(50, seed=5)[0])


def test_modulations_cover_every_class_and_snr_level():
    n = len(MODULATION_CLASSES) * len(SNR_LEVELS)
    x, y, snr = generate_modulations(n, length=64, seed=0)
    assert x.shape == (n, 64, 2) and np.all(np.isfinite(x))
    assert sorted(set(zip(y.tolist(), snr.tolist()))) == sorted(
        (c, s) for c in range(len(MODULATION_CLASSES)) for s in SNR_LEVELS
    )
    np.testing.assert_array_equal(x, generate_modulations(n, length=64, seed=0)[0])
    # High SNR frames are clean: constant-envelope classes keep |iq| ~ 1.
    fm = (y == MODULATION_CLASSES.index("FM")) & (snr == 30)
    envelope = np.abs(x[fm, :, 0] + 1j * x[fm, :, 1])
    assert np.all(np.abs(envelope - 1) < 0.2)


def test_embedded_radio_frames_have_unit_power_and_carry_snr():
    data = load_dataset("embedded-radio", sizes=EmbeddedSizes(52, 16, 26, length=32))
    x, _ = data.train.read(np.arange(len(data.train)))
    np.testing.assert_allclose(np.mean(np.sum(x**2, -1), 1), 1.0, rtol=1e-5)
    assert data.test.snr is not None and data.architecture == "radio_cnn"


def test_max_examples_shrinks_embedded_splits_in_proportion():
    sizes = embedded_sizes("embedded-images", 400)
    assert (sizes.train, sizes.val, sizes.test) == (400, 125, 500)
    assert embedded_sizes("embedded-radio", None) == embedded_sizes("embedded-radio", 10**9)


def test_unknown_data_spec_lists_the_choices():
    with pytest.raises(ValueError, match="embedded-images, embedded-radio, cifar100, radioml:PATH"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="Unknown --data"):
        load_dataset("radioml:")


def test_cifar100_is_never_downloaded_and_the_error_gives_the_manual_route(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        prepare_offline(tmp_path / "tfds")
    message = str(error.value)
    assert "cifar-100-binary.tar.gz" in message and "downloads/manual" in message
    assert not (tmp_path / "tfds" / "downloads").exists() or not any(
        (tmp_path / "tfds" / "downloads").rglob("*.tar.gz")
    )


def test_split_reads_in_any_order_with_duplicates():
    source = np.arange(20, dtype="float32")[:, None] * np.ones((1, 3), "float32")
    split = Split(source, np.arange(10), index=np.arange(10, 20))
    x, y = split.read([3, 0, 3, 9])
    np.testing.assert_array_equal(x[:, 0], [13, 10, 13, 19])
    np.testing.assert_array_equal(y, [3, 0, 3, 9])
    with pytest.raises(ValueError, match="10 examples but 3 labels"):
        Split(source, np.arange(3), index=np.arange(10))


def test_training_batches_are_seeded_per_epoch_and_resume_mid_epoch():
    split = Split(np.arange(10, dtype="float32")[:, None], np.arange(10))
    full = training_batches(split, 3, seed=7, epoch=2)
    assert len(full) == 3  # the partial batch is dropped
    resumed = training_batches(split, 3, seed=7, epoch=2, skip_batches=1)
    assert len(resumed) == 2
    np.testing.assert_array_equal(resumed[0][1], full[1][1])
    other = training_batches(split, 3, seed=7, epoch=3)
    assert not np.array_equal(np.concatenate([full[i][1] for i in range(3)]),
                              np.concatenate([other[i][1] for i in range(3)]))  # fmt: skip
    evaluation = SplitBatches(split, 4, with_labels=False)
    assert len(evaluation) == 3 and evaluation[2].shape == (2, 1)


def test_embedded_radio_symbols_fill_the_band():
    # Version 2 draws 2-4 samples per symbol: the digital classes keep much of
    # their power above an eighth of the sample rate, which a frame shortened
    # to a tenth of its length cannot hold.
    n = len(MODULATION_CLASSES) * len(SNR_LEVELS)
    x, y, snr = generate_modulations(n, length=128, seed=1)
    digital = (y < MODULATION_CLASSES.index("GFSK")) & (snr == 30)
    spectrum = np.abs(np.fft.fft(x[digital, :, 0] + 1j * x[digital, :, 1])) ** 2
    high = np.abs(np.fft.fftfreq(128)) > 0.125
    assert np.mean(spectrum[:, high].sum(1) / spectrum.sum(1)) > 0.2


def test_runs_of_an_older_generator_version_are_refused():
    from training.classification.config import resolve_config
    from training.classification.data import EMBEDDED_VERSIONS
    from training.classification.data import check_data_version

    config = resolve_config("embedded-radio", transform="fixed")
    assert config.data_version == EMBEDDED_VERSIONS["embedded-radio"] >= 2
    assert resolve_config("cifar100", transform="fixed").data_version is None
    check_data_version("embedded-radio", config.data_version)
    check_data_version("cifar100", None)
    with pytest.raises(ValueError, match="generator version None.*start a new run"):
        check_data_version("embedded-images", None)  # a run from before versions
