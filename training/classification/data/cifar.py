"""CIFAR-100 through tensorflow-datasets, never downloaded at run time.

`load_cifar100` reads the prepared tfds dataset `cifar100` from `data_dir`
(default: tfds's own, `$TFDS_DATA_DIR` or `~/tensorflow_datasets`). It never
downloads. If the dataset is not prepared there, two routes:

1. Online, once: `python -c "import tensorflow_datasets as tfds;
   tfds.builder('cifar100', data_dir=DIR).download_and_prepare()"`.
2. Offline: copy the original archive `cifar-100-binary.tar.gz`
   (https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz, 168,513,733
   bytes) to `DIR/downloads/manual/`; the next run prepares the dataset from
   it (tfds checks its checksum; nothing is fetched).

The 50,000 training images are split into 45,000 for training and 5,000 for
validation (seeded); the 10,000 test images are the test split.
"""

import pathlib

import numpy as np

from training.classification.data.base import ClassificationData
from training.classification.data.base import Split
from training.classification.data.base import split_indices

ARCHIVE_NAME = "cifar-100-binary.tar.gz"
VALIDATION_FRACTION = 0.1


def _builder(data_dir):
    import tensorflow_datasets as tfds

    return tfds.builder("cifar100", data_dir=data_dir)


def prepare_offline(data_dir=None):
    """Returns a prepared tfds builder of `cifar100`, without downloading.

    Args:
        data_dir: tfds data directory, or None for tfds's default.

    Returns:
        A `tfds` builder whose `as_dataset` works.

    Raises:
        FileNotFoundError: Neither a prepared dataset nor the manual archive.
    """
    builder = _builder(data_dir)
    if builder.is_prepared():
        return builder
    root = pathlib.Path(builder.data_dir_root)
    manual = root / "downloads" / "manual" / ARCHIVE_NAME
    if not manual.exists():
        raise FileNotFoundError(
            f"CIFAR-100 is not prepared in the tfds data directory {root} and "
            f"nothing is downloaded at run time. Either prepare it once online "
            f"(tfds.builder('cifar100', data_dir='{root}').download_and_prepare()) "
            f"or copy the original {ARCHIVE_NAME} to {manual.parent}/ "
            "(see training/classification/data/cifar.py)."
        )
    import tensorflow_datasets as tfds

    config = tfds.download.DownloadConfig(manual_dir=str(manual.parent))
    builder.download_and_prepare(download_config=config)
    return builder


def _to_numpy(builder, split):
    import tensorflow_datasets as tfds

    dataset = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
    images, labels = tfds.as_numpy(dataset)
    return images, labels.astype("int32")


def _normalise(images):
    return images.astype("float32") / 127.5 - 1.0


def load_cifar100(data_dir=None, seed=0):
    """CIFAR-100 as `ClassificationData` (uint8 in memory, [-1, 1] per batch).

    Args:
        data_dir: tfds data directory, or None for tfds's default.
        seed: Seed of the train/validation split.

    Returns:
        `ClassificationData` with 45,000/5,000/10,000 examples, 100 classes,
        ResNet-18, random crop and flip augmentation.
    """
    builder = prepare_offline(data_dir)
    train_images, train_labels = _to_numpy(builder, "train")
    test_images, test_labels = _to_numpy(builder, "test")
    val_index, train_index = split_indices(len(train_labels), [VALIDATION_FRACTION], seed)
    names = tuple(builder.info.features["label"].names)
    return ClassificationData(
        name="cifar100",
        train=Split(train_images, train_labels[train_index], train_index, transform=_normalise),
        val=Split(train_images, train_labels[val_index], val_index, transform=_normalise),
        test=Split(test_images, test_labels, transform=_normalise),
        class_names=names,
        input_shape=tuple(train_images.shape[1:]),
        architecture="resnet18",
        augment=True,
        description=f"CIFAR-100 from tfds ({builder.data_dir})",
    )


def random_crop_and_flip(images, rng, padding=4):
    """Standard CIFAR augmentation: pad-and-crop shifts and horizontal flips.

    Args:
        images: Float array `(N, H, W, C)`.
        rng: `numpy.random.Generator`.
        padding: Largest shift in pixels.

    Returns:
        Augmented copy (zero padding at the borders).
    """
    n, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out = np.empty_like(images)
    dy = rng.integers(0, 2 * padding + 1, n)
    dx = rng.integers(0, 2 * padding + 1, n)
    flip = rng.random(n) < 0.5
    for i in range(n):
        crop = padded[i, dy[i] : dy[i] + height, dx[i] : dx[i] + width]
        out[i] = crop[:, ::-1] if flip[i] else crop
    return out
