"""Pascal VOC 2007 from tensorflow-datasets, exported once to VOC layout.

The training job reads every dataset through the VOCdevkit reader
(`training.detection.data.voc.load_voc_directory`). For `--data voc2007` the tfds
dataset (`training.detection.data.voc.load_voc2007_tfds`, offline: the original
tarballs in `<data_dir>/downloads/manual/`) is written once, per split, as
JPEG + XML + ImageSets/Main into the cache, atomically.
"""

import os
import pathlib
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree

import numpy as np

from training.detection.data.embedded import default_cache_dir
from training.detection.data.voc import VOC_CLASSES

SPLITS = ("train", "val", "test")


def ensure_voc2007_directory(cache_dir=None, data_dir=None):
    """The cached VOC-layout export of tfds `voc/2007`, made on first use."""
    from training.detection.data.voc import load_voc2007_tfds

    target = pathlib.Path(cache_dir or default_cache_dir()) / "voc2007-from-tfds"
    if (target / "ImageSets" / "Main" / "trainval.txt").exists():
        return target
    datasets = {split: load_voc2007_tfds(split, data_dir=data_dir) for split in SPLITS}
    return export_voc_layout(datasets, target)


def export_voc_layout(datasets, target, class_names=VOC_CLASSES):
    """Writes `{split: dataset of load_voc2007_tfds examples}` to `target`.

    Boxes are converted back to VOC's 1-based inclusive pixel indices
    (`xmin = x1 + 1, xmax = x2`), the inverse of the reader's convention, so
    reading the export gives the boxes the tfds route gave.

    Returns:
        `target` as a `pathlib.Path`.
    """
    import tensorflow as tf

    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
            (staging / sub).mkdir(parents=True, exist_ok=True)
        ids = {}
        for split, dataset in datasets.items():
            ids[split] = []
            for example in dataset:
                image_id = example["image_id"].numpy().decode()
                image_id = pathlib.Path(image_id).stem
                image = example["image"].numpy()
                (staging / "JPEGImages" / f"{image_id}.jpg").write_bytes(
                    tf.io.encode_jpeg(image, quality=95).numpy()
                )
                _write_xml(staging, image_id, image.shape, example, class_names)
                ids[split].append(image_id)
        if "train" in ids and "val" in ids:
            ids["trainval"] = ids["train"] + ids["val"]
        for split, split_ids in ids.items():
            (staging / "ImageSets" / "Main" / f"{split}.txt").write_text(
                "\n".join(split_ids) + "\n"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_xml(directory, image_id, shape, example, class_names):
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "filename").text = f"{image_id}.jpg"
    size = ElementTree.SubElement(root, "size")
    for tag, value in zip(("height", "width", "depth"), shape):
        ElementTree.SubElement(size, tag).text = str(int(value))
    boxes = np.asarray(example["boxes"]).reshape(-1, 4)
    for box, label, difficult in zip(boxes, np.asarray(example["classes"]),
                                     np.asarray(example["difficult"])):
        obj = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(obj, "name").text = class_names[int(label)]
        ElementTree.SubElement(obj, "difficult").text = str(int(difficult))
        element = ElementTree.SubElement(obj, "bndbox")
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2)):
            ElementTree.SubElement(element, tag).text = str(value)
    ElementTree.ElementTree(root).write(directory / "Annotations" / f"{image_id}.xml")
