"""Classification datasets: embedded generated sets, CIFAR-100, RadioML 2018.01A.

`load_dataset(spec)` is the one entry point. `spec` is one of:

* `embedded-images`: 32x32 multi-scale shapes and textures, 10 classes,
  generated in memory (`shapes.py`); ResNet-18.
* `embedded-radio`: synthetic I/Q frames of 8 modulations from -20 to 30 dB
  (`modulations.py`); the 1D CNN; evaluation per SNR.
* `cifar100`: CIFAR-100 from a prepared tensorflow-datasets directory,
  never downloaded (`cifar.py` documents the offline route); ResNet-18.
* `radioml:PATH`: RadioML 2018.01A from the user's HDF5 file
  (`radioml.py`); the 1D CNN; evaluation per SNR.

The embedded sets are generated from fixed data seeds (the same data for
every run, whatever the training seed), so runs of a sweep differ only in
their model.
"""

import dataclasses

from training.classification.data.base import ClassificationData
from training.classification.data.base import Split
from training.classification.data.base import split_indices
from training.classification.data.modulations import MODULATION_CLASSES
from training.classification.data.modulations import generate_modulations
from training.classification.data.radioml import unit_power
from training.classification.data.shapes import SHAPE_CLASSES
from training.classification.data.shapes import generate_shapes

DATA_CHOICES = ("embedded-images", "embedded-radio", "cifar100", "radioml:PATH")
EMBEDDED = ("embedded-images", "embedded-radio")


@dataclasses.dataclass(frozen=True)
class EmbeddedSizes:
    """Numbers of generated examples per split, and the radio frame length."""

    train: int
    val: int
    test: int
    length: int = 128


# The version of each embedded generator. Bump it whenever the generated
# examples change, so that runs and sweeps made from older data are refused
# on resume instead of being silently mixed with new ones. Version 2
# (issue 10): images with a controlled contrast and large texture patches,
# radio at 2-4 samples per symbol and -10..30 dB, larger evaluation splits
# (docs/figure3-embedded.md).
EMBEDDED_VERSIONS = {"embedded-images": 2, "embedded-radio": 2}

EMBEDDED_SIZES = {
    "embedded-images": EmbeddedSizes(train=3200, val=1000, test=4000),
    # 8 classes x 21 SNR levels: 40 / 10 / 40 frames per class and level.
    "embedded-radio": EmbeddedSizes(train=6720, val=1680, test=6720),
}


def data_version(spec):
    """The generator version of an embedded set (None for real data)."""
    return EMBEDDED_VERSIONS.get(spec)


def check_data_version(spec, version):
    """Raises `ValueError` if a run made from embedded data of generator
    `version` would now see other data (the generator changed since)."""
    current = data_version(spec)
    if current is not None and version != current:
        raise ValueError(
            f"This run was made from {spec} generator version {version}, but this code "
            f"generates version {current} (other examples); start a new run or sweep "
            "directory instead of resuming it."
        )


def check_data_spec(spec):
    """Returns `spec` if it names a known dataset, else raises `ValueError`."""
    if spec in EMBEDDED or spec == "cifar100":
        return spec
    if spec.startswith("radioml:") and len(spec) > len("radioml:"):
        return spec
    raise ValueError(
        f"Unknown --data {spec!r}: expected one of {', '.join(DATA_CHOICES)}."
    )


def architecture_of(spec):
    """The model the paper uses on a dataset: `"resnet18"` or `"radio_cnn"`."""
    spec = check_data_spec(spec)
    return "resnet18" if spec in ("embedded-images", "cifar100") else "radio_cnn"


spec_images, spec_radio = EMBEDDED


def _embedded_images(sizes):
    splits = {}
    for data_seed, (name, count) in enumerate(
        (("train", sizes.train), ("val", sizes.val), ("test", sizes.test))
    ):
        x, y = generate_shapes(count, seed=1000 + data_seed)
        splits[name] = Split(x, y)
    return ClassificationData(
        name="embedded-images",
        class_names=SHAPE_CLASSES,
        input_shape=(32, 32, 3),
        architecture="resnet18",
        description=(
            f"embedded multi-scale shapes and textures v{EMBEDDED_VERSIONS[spec_images]}, 32x32, "
            f"{sizes.train}/{sizes.val}/{sizes.test} images"
        ),
        **splits,
    )


def _embedded_radio(sizes):
    splits = {}
    for data_seed, (name, count) in enumerate(
        (("train", sizes.train), ("val", sizes.val), ("test", sizes.test))
    ):
        x, y, snr = generate_modulations(count, length=sizes.length, seed=2000 + data_seed)
        splits[name] = Split(unit_power(x), y, snr=snr)
    return ClassificationData(
        name="embedded-radio",
        class_names=MODULATION_CLASSES,
        input_shape=(sizes.length, 2),
        architecture="radio_cnn",
        description=(
            f"embedded synthetic modulations v{EMBEDDED_VERSIONS[spec_radio]}, "
            f"{sizes.length} samples, -10..30 dB, "
            f"{sizes.train}/{sizes.val}/{sizes.test} frames"
        ),
        **splits,
    )


def embedded_sizes(spec, max_examples=None):
    """The sizes of an embedded set, with at most `max_examples` training
    examples (validation and test shrink in proportion, at least 8 each)."""
    sizes = EMBEDDED_SIZES[spec]
    if max_examples is None or max_examples >= sizes.train:
        return sizes
    ratio = max_examples / sizes.train
    return dataclasses.replace(
        sizes,
        train=int(max_examples),
        val=max(int(sizes.val * ratio), 8),
        test=max(int(sizes.test * ratio), 8),
    )


def load_dataset(spec, seed=0, data_dir=None, max_examples=None, sizes=None):
    """Loads the dataset named by `spec` (see the module docstring).

    Args:
        spec: `embedded-images`, `embedded-radio`, `cifar100` or
            `radioml:PATH`.
        seed: Seed of the train/validation split of the real datasets.
        data_dir: tensorflow-datasets data directory (CIFAR-100).
        max_examples: RadioML: use a seeded subset of this many frames;
            embedded sets: generate this many training examples (see
            `embedded_sizes`). None: everything / the defaults.
        sizes: `EmbeddedSizes` overriding the embedded defaults (tests).

    Returns:
        `ClassificationData`.

    Example:

    >>> data = load_dataset("embedded-radio")
    >>> data.input_shape, data.num_classes
    ((128, 2), 8)
    """
    spec = check_data_spec(spec)
    if spec == "embedded-images":
        return _embedded_images(sizes or embedded_sizes(spec, max_examples))
    if spec == "embedded-radio":
        return _embedded_radio(sizes or embedded_sizes(spec, max_examples))
    if spec == "cifar100":
        from training.classification.data.cifar import load_cifar100

        return load_cifar100(data_dir=data_dir, seed=seed)
    from training.classification.data.radioml import load_radioml

    return load_radioml(spec[len("radioml:") :], seed=seed, max_examples=max_examples)


__all__ = [
    "ClassificationData",
    "DATA_CHOICES",
    "EMBEDDED_SIZES",
    "EMBEDDED_VERSIONS",
    "check_data_version",
    "data_version",
    "EmbeddedSizes",
    "Split",
    "architecture_of",
    "check_data_spec",
    "embedded_sizes",
    "load_dataset",
    "split_indices",
]
