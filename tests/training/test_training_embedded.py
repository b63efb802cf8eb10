"""The embedded dataset: seeded, VOC-format, multi-scale, with hard cases."""

import numpy as np

from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import SCALE_BANDS
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset
from training.detection.data.voc import load_voc_directory

SMALL = EmbeddedConfig(seed=3, num_train=60, num_val=5, num_test=10)


def test_same_seed_same_files_and_loads_without_problems(tmp_path):
    first = ensure_embedded_dataset(SMALL, tmp_path / "a")
    second = ensure_embedded_dataset(SMALL, tmp_path / "b")
    for name in ("train_00000.xml", "train_00059.xml"):
        assert (first / "Annotations" / name).read_bytes() == (
            second / "Annotations" / name
        ).read_bytes()
    records, summary = load_voc_directory(first, "train", EMBEDDED_CLASSES)
    assert len(records) == 60
    assert len(summary.problems) == 0
    assert len(load_voc_directory(first, "trainval", EMBEDDED_CLASSES)[0]) == 65


def test_second_call_reuses_the_cache(tmp_path):
    directory = ensure_embedded_dataset(SMALL, tmp_path)
    marker = directory / "dataset.json"
    stamp = marker.stat().st_mtime_ns
    assert ensure_embedded_dataset(SMALL, tmp_path) == directory
    assert marker.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # No debris.


def test_scales_difficult_and_empty_images_are_all_present(tmp_path):
    config = EmbeddedConfig(seed=0, num_train=200, num_val=1, num_test=1)
    records, _ = load_voc_directory(
        ensure_embedded_dataset(config, tmp_path), "train", EMBEDDED_CLASSES
    )
    boxes = np.concatenate([r.boxes for r in records if len(r.boxes)])
    sides = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    for low, high in SCALE_BANDS.values():
        assert np.mean((sides >= low) & (sides < high)) > 0.2
    difficult = np.concatenate([r.difficult for r in records])
    assert 0.03 < difficult.mean() < 0.3
    empty = sum(1 for r in records if len(r.boxes) == 0)
    assert 5 <= empty <= 35
    classes = np.concatenate([r.classes for r in records])
    assert set(classes.tolist()) == set(range(len(EMBEDDED_CLASSES)))
