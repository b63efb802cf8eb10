"""A detection backbone pretrained offline on crops from our own generator.

The paper freezes an ImageNet-pretrained backbone and trains only PANet and
head. ImageNet weights are not available offline, so the backbone is
pretrained here, once and deterministically, on a classification task drawn
by the embedded generator (`training.detection.data.embedded`): each crop
shows one object of a known class (`EMBEDDED_CLASSES`) at a random size, on
the generator's textured background with its clutter and sensor noise.

The result is cached under the user cache, named by the hash of its recipe:

    <cache>/backbones/<backbone>-<hash>.weights.h5   the backbone's weights
    <cache>/backbones/<backbone>-<hash>.json         recipe, hash, accuracy

The weights file loads with `detection.build_backbone(backbone, image_size,
weights=path)` at any image size. The sidecar is written last, so it marks
a complete entry; an entry whose sidecar is missing, corrupt, or does not
match the recipe or the weights file is rebuilt.

Example:

>>> path = ensure_pretrained_backbone(BackbonePretrainingRecipe())
>>> backbone = detection.build_backbone("yolo_v8_xs", 160, weights=path)

From the shell: `python -m training pretrain-backbone`.
"""

import dataclasses
import hashlib
import json
import pathlib
import shutil
import sys
import time

import numpy as np

from training.common.run_directory import atomic_write
from training.detection.data import embedded

# Entries the project ships, laid out as a cache (`backbones/<name>.weights.h5`
# and its sidecar): a machine without the entry in its cache copies it from
# here instead of pretraining, so that every machine starts from the same
# weights (pretraining is deterministic on one machine only).
SHIPPED_DIR = pathlib.Path(__file__).parent / "shipped" / "backbones"

# Bump when the crops drawn for a recipe change; part of every recipe's hash
# together with the embedded generator's own format version.
CROP_FORMAT_VERSION = 1
GENERATOR_VERSION = f"embedded-v{embedded.FORMAT_VERSION}-crops-v{CROP_FORMAT_VERSION}"


@dataclasses.dataclass(frozen=True)
class BackbonePretrainingRecipe:
    """Everything that determines a pretrained backbone; hashed to name it.

    Args:
        backbone: A backbone of `detection.BACKBONES`.
        crop_size: Side of the square training crops, pixels (a multiple
            of 32).
        crops_per_class: Training crops of each of `EMBEDDED_CLASSES`.
        val_crops_per_class: Validation crops of each class (drawn from the
            same seed after the training crops, never trained on).
        object_size_range: `(low, high)`: the object's extent in pixels,
            drawn uniformly per crop. The default covers the embedded
            detection data's small, medium and large bands (9-80 px) as far
            as the crop allows.
        epochs: Training epochs.
        batch_size: Crops per batch.
        optimizer: "adam" or "sgd" (momentum 0.9).
        learning_rate: Learning rate, constant.
        seed: Seed of the crops, the weights and the data order.
        generator_version: Version of the crop generator
            (`GENERATOR_VERSION`); a new version gives a new hash.
    """

    # The defaults take about 4.5 minutes on 2 CPU cores (measured: 261 s of
    # training, validation accuracy 0.74 over five classes, train 0.88).
    backbone: str = "yolo_v8_xs"
    crop_size: int = 64
    crops_per_class: int = 800
    val_crops_per_class: int = 100
    object_size_range: tuple = (8.0, 60.0)
    epochs: int = 12
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    seed: int = 0
    generator_version: str = GENERATOR_VERSION

    def __post_init__(self):
        # JSON gives lists back; a tuple keeps the recipe hashable and equal.
        object.__setattr__(
            self, "object_size_range", tuple(float(v) for v in self.object_size_range)
        )
        self.validate()

    def validate(self):
        """Raises a `ValueError` naming the first invalid field."""
        from detection.backbones import validate_backbone

        validate_backbone(self.backbone)
        positive = ("crop_size", "crops_per_class", "val_crops_per_class", "epochs",
                    "batch_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {value!r}")
        if self.crop_size % 32:
            raise ValueError(
                f"`crop_size` must be a multiple of 32. Received: {self.crop_size!r}"
            )
        low, high = self.object_size_range
        if not 2.0 <= low <= high <= self.crop_size:
            raise ValueError(
                "`object_size_range` must be (low, high) with 2 <= low <= high <= "
                f"crop_size={self.crop_size}. Received: {self.object_size_range!r}"
            )
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(
                f"`optimizer` must be 'adam' or 'sgd'. Received: {self.optimizer!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: {self.learning_rate!r}"
            )

    def to_json(self):
        """The canonical JSON of the recipe (sorted keys, no spaces)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))

    def hash(self):
        """First 12 hex digits of the sha256 of `to_json()`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


def backbone_cache_paths(recipe, cache_dir=None):
    """`(weights_path, sidecar_path)` of `recipe` under `cache_dir`.

    Args:
        recipe: A `BackbonePretrainingRecipe`.
        cache_dir: Root of the cache (default
            `training.detection.data.embedded.default_cache_dir()`); the
            files go to its `backbones/` folder.
    """
    root = pathlib.Path(cache_dir or embedded.default_cache_dir()) / "backbones"
    stem = f"{recipe.backbone}-{recipe.hash()}"
    return root / f"{stem}.weights.h5", root / f"{stem}.json"


def ensure_pretrained_backbone(recipe=None, cache_dir=None, verbose=1, force=False):
    """Returns the cached pretrained backbone's weights, training it if needed.

    The cached entry is reused when its sidecar holds this recipe, its hash
    and the sha256 of the weights file. Otherwise (missing, corrupt or
    mismatching) the entry the project ships for this recipe, if any
    (`SHIPPED_DIR`, checked the same way), is copied into the cache; failing
    that the backbone is trained with `train_backbone`. Both files are
    written atomically, the sidecar last.

    Args:
        recipe: A `BackbonePretrainingRecipe` (default: the default recipe).
        cache_dir: Root of the cache (see `backbone_cache_paths`).
        verbose: 0 for silence, 1 for messages and progress bars.
        force: Train again even if a matching entry exists (cached or
            shipped).

    Returns:
        `pathlib.Path` of the `.weights.h5` file, loadable with
        `detection.build_backbone(recipe.backbone, image_size, weights=path)`.
    """
    recipe = recipe or BackbonePretrainingRecipe()
    weights_path, sidecar_path = backbone_cache_paths(recipe, cache_dir)
    problem = "--force" if force else cache_problem(recipe, weights_path, sidecar_path)
    if problem is None:
        return weights_path
    if not force and _copy_shipped(recipe, weights_path, sidecar_path):
        if verbose:
            print(f"pretrain-backbone: {weights_path.name} copied from the project's shipped "
                  f"backbones ({SHIPPED_DIR})", file=sys.stderr)
        return weights_path
    if verbose and sidecar_path.exists():
        print(f"pretrain-backbone: rebuilding {weights_path.name}: {problem}", file=sys.stderr)

    start = time.perf_counter()
    backbone, metrics = train_backbone(recipe, verbose=verbose)
    seconds = time.perf_counter() - start
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(weights_path, backbone.save_weights)
    from training.common.run_directory import atomic_write_json

    atomic_write_json(sidecar_path, {
        "recipe": dataclasses.asdict(recipe),
        "hash": recipe.hash(),
        "weights_file": weights_path.name,
        "weights_sha256": _file_sha256(weights_path),
        **metrics,
        "train_seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return weights_path


def _copy_shipped(recipe, weights_path, sidecar_path):
    """Copies `recipe`'s entry from `SHIPPED_DIR` into the cache, if the
    project ships one that passes `cache_problem`; returns whether it did."""
    shipped_weights, shipped_sidecar = backbone_cache_paths(recipe, SHIPPED_DIR.parent)
    if cache_problem(recipe, shipped_weights, shipped_sidecar) is not None:
        return False
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(weights_path, lambda path: shutil.copyfile(shipped_weights, path))
    atomic_write(sidecar_path, lambda path: shutil.copyfile(shipped_sidecar, path))
    return True


def read_sidecar(recipe, cache_dir=None):
    """The sidecar dict of `recipe`'s cached entry (raises if absent)."""
    _, sidecar_path = backbone_cache_paths(recipe, cache_dir)
    return json.loads(sidecar_path.read_text())


def cache_problem(recipe, weights_path, sidecar_path):
    """Why the cached entry cannot be reused, or None if it can.

    Returns:
        None, or a short reason: a missing file, an unreadable sidecar, a
        sidecar whose recipe or hash is not `recipe`'s, or a weights file
        whose sha256 differs from the one recorded.
    """
    if not sidecar_path.exists():
        return "no sidecar"
    try:
        sidecar = json.loads(sidecar_path.read_text())
        stored = BackbonePretrainingRecipe(**sidecar["recipe"])
        stored_hash, stored_sha = sidecar["hash"], sidecar["weights_sha256"]
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        return f"corrupt sidecar ({type(error).__name__})"
    if stored_hash != recipe.hash() or stored != recipe:
        return (f"its sidecar (hash {stored_hash!r}) does not hold this recipe "
                f"(hash {recipe.hash()!r})")
    if not weights_path.exists():
        return "no weights file"
    if _file_sha256(weights_path) != stored_sha:
        return "weights file differs from the sha256 in its sidecar"
    return None


def generate_crops(recipe, split="train"):
    """Draws the labelled crops of a recipe, deterministically, in memory.

    Each crop is the embedded generator's background and clutter with one
    object of a balanced class, at a uniform size from
    `recipe.object_size_range`, centred with a jitter that keeps most of it
    inside, plus the generator's sensor noise.

    Args:
        recipe: A `BackbonePretrainingRecipe`.
        split: "train" or "val"; each has its own seed stream.

    Returns:
        `(images, labels)`: uint8 `(n, crop_size, crop_size, 3)` and int32
        `(n,)` indices into `EMBEDDED_CLASSES`, in a shuffled order.
    """
    from PIL import Image, ImageDraw

    if split not in ("train", "val"):
        raise ValueError(f"`split` must be 'train' or 'val'. Received: {split!r}")
    per_class = recipe.crops_per_class if split == "train" else recipe.val_crops_per_class
    rng = np.random.default_rng([recipe.seed, 0 if split == "train" else 1])
    classes = embedded.EMBEDDED_CLASSES
    labels = np.repeat(np.arange(len(classes), dtype=np.int32), per_class)
    rng.shuffle(labels)
    size = recipe.crop_size
    low, high = recipe.object_size_range
    images = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    for index, label in enumerate(labels):
        # The embedded generator's drawing, at the crop's size (its private
        # helpers are reused so the crops look like the detection images).
        image = Image.fromarray(embedded._background(rng, size))
        draw = ImageDraw.Draw(image)
        embedded._draw_clutter(rng, draw, size)
        extent = float(rng.uniform(low, high))
        slack = max(size - extent, 0.0) / 2.0
        center = size / 2.0 + rng.uniform(-slack, slack, size=2)
        colour = tuple(int(c) for c in rng.integers(30, 256, size=3))
        embedded._draw_shape(draw, classes[label], center, extent, colour, rng)
        pixels = np.asarray(image, dtype=np.float32)
        pixels += rng.normal(0.0, 6.0, size=pixels.shape)
        images[index] = np.clip(pixels, 0, 255).astype(np.uint8)
    return images, labels


def build_classifier(recipe):
    """The backbone + global average pooling + a softmax Dense head.

    Returns:
        `(classifier, backbone)`: a compiled `keras.Model` and the backbone
        it wraps (randomly initialised, from `detection.build_backbone`).
    """
    import keras

    from detection import build_backbone

    backbone = build_backbone(recipe.backbone, recipe.crop_size)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    outputs = keras.layers.Dense(
        len(embedded.EMBEDDED_CLASSES), activation="softmax", name="classes"
    )(features)
    classifier = keras.Model(backbone.input, outputs, name="backbone_pretraining")
    if recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(recipe.learning_rate)
    else:
        optimizer = keras.optimizers.SGD(recipe.learning_rate, momentum=0.9)
    classifier.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return classifier, backbone


def train_backbone(recipe, verbose=1):
    """Trains the classifier of `recipe`; returns the backbone and accuracies.

    Seeds everything from `recipe.seed` (`seed_everything`), so the same
    recipe on the same machine gives bit-identical weights.

    Returns:
        `(backbone, metrics)`: the trained backbone (a `keras.Model`) and a
        dict with `train_accuracy` (last epoch, as trained) and
        `val_accuracy` (on the validation crops, after training).
    """
    from training.common.determinism import seed_everything

    train_images, train_labels = generate_crops(recipe, "train")
    val_images, val_labels = generate_crops(recipe, "val")
    seed_everything(recipe.seed)
    classifier, backbone = build_classifier(recipe)
    history = classifier.fit(
        train_images,
        train_labels,
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        shuffle=True,
        verbose=1 if verbose else 0,
    )
    _, val_accuracy = classifier.evaluate(
        val_images, val_labels, batch_size=recipe.batch_size, verbose=0
    )
    metrics = {
        "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
        "val_accuracy": round(float(val_accuracy), 4),
    }
    return backbone, metrics


def weights_fingerprint(layer):
    """The first 12 hex digits of the sha256 of `layer`'s weights (each as
    float32 bytes, in order): runs whose frozen backbones print the same
    fingerprint started from the same weights.

    Example:

    >>> detector = detection.baseline_yolov8(5, weights=ensure_pretrained_backbone())
    >>> weights_fingerprint(detector.backbone)  # the shipped backbone's
    'face1464ea77'
    """
    digest = hashlib.sha256()
    for weight in layer.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight), "float32").tobytes())
    return digest.hexdigest()[:12]


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
