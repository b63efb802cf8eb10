"""The embedded default dataset: seeded, procedurally drawn, written as VOC.

Nothing is downloaded: the images are drawn with Pillow from a seed and
written once, in the VOCdevkit layout (JPEG + XML + ImageSets/Main), to a
cache directory, so they go through the same reader as real Pascal VOC
(`training.detection.data.voc_reader.load_voc_directory`).

What makes it a useful test of learned resolution:

* five shape classes (`EMBEDDED_CLASSES`) drawn in random colours, so the
  class is in the shape, not the colour;
* objects at widely different scales: a third small (9-16 px on a 256 px
  image, one or two cells of the stride-8 map), a third medium (18-36 px),
  a third large (40-80 px), so where a detector spends resolution shows in
  its per-band AP (`SCALE_BANDS`);
* clutter that is not annotated (lines, blobs, speckle on a textured
  background), overlapping objects, about 8% images without objects;
* difficult objects, flagged `<difficult>1</difficult>` as in VOC: objects
  more than half covered by later objects.

Example:

>>> directory = ensure_embedded_dataset()        # written on first use
>>> records, summary = load_voc_directory(directory, "train", EMBEDDED_CLASSES)
"""

import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree

import numpy as np

EMBEDDED_CLASSES = ("circle", "square", "triangle", "ring", "cross")
# Bands of sqrt(box area) in pixels of the stored image (256 px by default).
SCALE_BANDS = {"small": (0.0, 17.0), "medium": (17.0, 38.0), "large": (38.0, float("inf"))}
_OBJECT_SIZE_RANGES = ((9, 16), (18, 36), (40, 80))
FORMAT_VERSION = 2


@dataclasses.dataclass(frozen=True)
class EmbeddedConfig:
    """Parameters of the generated dataset; part of its cache key.

    Args:
        seed: Random seed; the same seed gives the same files.
        image_size: Side of the square images, pixels.
        num_train: Images in the `train` split.
        num_val: Images in the `val` split.
        num_test: Images in the `test` split.
        max_objects: Most objects in one image.
        empty_fraction: Fraction of images without objects.
    """

    seed: int = 0
    image_size: int = 256
    num_train: int = 800
    num_val: int = 100
    num_test: int = 200
    max_objects: int = 10
    empty_fraction: float = 0.08

    def cache_name(self):
        return (
            f"embedded-v{FORMAT_VERSION}-seed{self.seed}-{self.image_size}px-"
            f"{self.num_train}-{self.num_val}-{self.num_test}-"
            f"{self.max_objects}obj-{self.empty_fraction:g}empty"
        )


def default_cache_dir():
    """`$KERAS_RESOLUTION_CACHE` or `~/.cache/keras_resolution`."""
    root = os.environ.get("KERAS_RESOLUTION_CACHE")
    if root:
        return pathlib.Path(root)
    return pathlib.Path.home() / ".cache" / "keras_resolution"


def ensure_embedded_dataset(config=None, cache_dir=None):
    """Returns the dataset directory, generating it on first use.

    Generation writes to a temporary directory next to the target and
    renames it into place, so an interrupted run never leaves a half-written
    dataset behind.

    Args:
        config: `EmbeddedConfig` (default parameters when None).
        cache_dir: Where datasets are kept (default `default_cache_dir()`).

    Returns:
        `pathlib.Path` of a VOCdevkit-layout directory.
    """
    config = config or EmbeddedConfig()
    cache_dir = pathlib.Path(cache_dir or default_cache_dir())
    target = cache_dir / config.cache_name()
    if (target / "dataset.json").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_dir))
    try:
        write_embedded_dataset(staging, config)
        try:
            os.replace(staging, target)
        except OSError:  # Another process finished first.
            if not (target / "dataset.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def write_embedded_dataset(directory, config):
    """Draws every image of `config` and writes it in the VOCdevkit layout."""
    from PIL import Image  # Pillow comes with matplotlib.

    directory = pathlib.Path(directory)
    for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    splits = {"train": config.num_train, "val": config.num_val, "test": config.num_test}
    ids = {}
    for split, count in splits.items():
        ids[split] = []
        for index in range(count):
            image_id = f"{split}_{index:05d}"
            pixels, objects = draw_scene(rng, config)
            Image.fromarray(pixels).save(
                directory / "JPEGImages" / f"{image_id}.jpg", quality=92
            )
            _write_annotation(directory, image_id, config.image_size, objects)
            ids[split].append(image_id)
    ids["trainval"] = ids["train"] + ids["val"]
    for split, split_ids in ids.items():
        (directory / "ImageSets" / "Main" / f"{split}.txt").write_text(
            "\n".join(split_ids) + "\n"
        )
    (directory / "dataset.json").write_text(
        json.dumps(
            {"classes": EMBEDDED_CLASSES, "config": dataclasses.asdict(config)},
            indent=2,
        )
    )


def draw_scene(rng, config):
    """Draws one image; returns (uint8 pixels HxWx3, list of object dicts).

    Object dicts hold `name`, `box` (x1, y1, x2, y2 in 0-based pixel edges)
    and `difficult`.
    """
    from PIL import Image, ImageDraw

    size = config.image_size
    image = Image.fromarray(_background(rng, size))
    draw = ImageDraw.Draw(image)
    _draw_clutter(rng, draw, size)
    count = 0 if rng.random() < config.empty_fraction else rng.integers(1, config.max_objects + 1)
    coverage = np.zeros((size, size), dtype=np.int32)  # Topmost object index + 1.
    objects = []
    for index in range(count):
        name = EMBEDDED_CLASSES[rng.integers(len(EMBEDDED_CLASSES))]
        low, high = _OBJECT_SIZE_RANGES[rng.integers(len(_OBJECT_SIZE_RANGES))]
        extent = float(rng.uniform(low, high))
        center = rng.uniform(extent * 0.3, size - extent * 0.3, size=2)
        colour = tuple(int(c) for c in rng.integers(30, 256, size=3))
        box = _draw_shape(draw, name, center, extent, colour, rng)
        mask = _box_mask(box, size)
        coverage[mask] = index + 1
        objects.append({"name": name, "box": box})
    for index, obj in enumerate(objects):
        mask = _box_mask(obj["box"], size)
        visible = np.mean(coverage[mask] == index + 1) if mask.any() else 0.0
        obj["difficult"] = bool(visible < 0.5)
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0.0, 6.0, size=pixels.shape)  # Sensor noise.
    return np.clip(pixels, 0, 255).astype(np.uint8), objects


def _background(rng, size):
    """Smooth colour gradient plus low-frequency texture."""
    ramp = np.linspace(0.0, 1.0, size)
    start, end = rng.uniform(20, 200, size=(2, 3))
    if rng.random() < 0.5:
        base = start + (end - start) * ramp[:, None, None]
        base = np.broadcast_to(base, (size, size, 3))
    else:
        base = start + (end - start) * ramp[None, :, None]
        base = np.broadcast_to(base, (size, size, 3))
    coarse = rng.normal(0.0, 12.0, size=(size // 16 + 1, size // 16 + 1, 3))
    texture = np.kron(coarse, np.ones((16, 16, 1)))[:size, :size]
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def _draw_clutter(rng, draw, size):
    """Unannotated distractors: lines, blobs and speckles."""
    for _ in range(rng.integers(1, 5)):
        points = [tuple(float(v) for v in rng.uniform(0, size, 2)) for _ in range(2)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line(points, fill=colour, width=int(rng.integers(1, 3)))
    for _ in range(rng.integers(0, 3)):
        x, y = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(3, 14, 2) * (1.0, rng.uniform(0.2, 0.5))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour)
    for _ in range(rng.integers(10, 40)):
        x, y = rng.uniform(0, size, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.rectangle((x, y, x + 1, y + 1), fill=colour)


def _draw_shape(draw, name, center, extent, colour, rng):
    """Draws one object; returns its box clipped to the image."""
    cx, cy = (float(v) for v in center)
    half = extent / 2.0
    if name == "circle":
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), fill=colour)
    elif name == "ring":
        width = max(2, int(round(extent * 0.18)))
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), outline=colour, width=width)
    elif name == "square":
        draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=colour)
    elif name == "triangle":
        draw.polygon([(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)], fill=colour)
    else:  # cross
        arm = max(1.0, extent * 0.16)
        draw.rectangle((cx - half, cy - arm, cx + half, cy + arm), fill=colour)
        draw.rectangle((cx - arm, cy - half, cx + arm, cy + half), fill=colour)
    size = draw.im.size[0]
    return tuple(
        float(np.clip(v, 0, size))
        for v in (cx - half, cy - half, cx + half + 1, cy + half + 1)
    )


def _box_mask(box, size):
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    mask = np.zeros((size, size), dtype=bool)
    mask[max(y1, 0) : min(y2, size), max(x1, 0) : min(x2, size)] = True
    return mask


def _write_annotation(directory, image_id, size, objects):
    """VOC XML: 1-based inclusive pixel indices, as in Pascal VOC."""
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "folder").text = "embedded"
    ElementTree.SubElement(root, "filename").text = f"{image_id}.jpg"
    size_element = ElementTree.SubElement(root, "size")
    for tag, value in (("width", size), ("height", size), ("depth", 3)):
        ElementTree.SubElement(size_element, tag).text = str(value)
    for obj in objects:
        element = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(element, "name").text = obj["name"]
        ElementTree.SubElement(element, "difficult").text = str(int(obj["difficult"]))
        box = ElementTree.SubElement(element, "bndbox")
        x1, y1, x2, y2 = obj["box"]
        values = (round(x1) + 1, round(y1) + 1, round(x2), round(y2))
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), values):
            ElementTree.SubElement(box, tag).text = str(int(value))
    ElementTree.ElementTree(root).write(directory / "Annotations" / f"{image_id}.xml")
