"""The tfds -> VOC layout export round-trips boxes, classes and difficult flags."""

import numpy as np
import tensorflow as tf

from training.detection.data.voc import VOC_CLASSES
from training.detection.data.voc import load_voc_directory
from training.detection.data.voc_export import export_voc_layout


def _examples(count, seed):
    rng = np.random.default_rng(seed)
    examples = []
    for index in range(count):
        boxes = np.array([[3, 4, 30, 40], [10, 0, 64, 48]], np.float32)
        examples.append({
            "image": rng.integers(0, 255, (48, 64, 3), dtype=np.uint8),
            "image_id": f"{seed:02d}{index:04d}.jpg",
            "boxes": boxes,
            "classes": np.array([index % 20, 14], np.int32),
            "difficult": np.array([False, index % 2 == 1]),
        })
    return examples


def _dataset(examples):
    return [{key: tf.constant(value) for key, value in example.items()} for example in examples]


def test_export_then_read_gives_the_same_annotations(tmp_path):
    splits = {"train": _examples(3, 1), "val": _examples(2, 2), "test": _examples(2, 3)}
    target = export_voc_layout({k: _dataset(v) for k, v in splits.items()}, tmp_path / "voc")
    records, summary = load_voc_directory(target, "trainval", VOC_CLASSES)
    assert len(summary.problems) == 0
    expected = splits["train"] + splits["val"]
    assert [r.image_id for r in records] == [e["image_id"][:-4] for e in expected]
    for record, example in zip(records, expected):
        np.testing.assert_array_equal(record.boxes, example["boxes"])
        np.testing.assert_array_equal(record.classes, example["classes"])
        np.testing.assert_array_equal(record.difficult, example["difficult"])
        assert (record.width, record.height) == (64, 48)
    assert len(load_voc_directory(target, "test", VOC_CLASSES)[0]) == 2
