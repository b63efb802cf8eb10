"""The tf.data detection pipeline: shapes, padding, box geometry, resumable order."""

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf
from PIL import Image

from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset
from training.detection.data.pipeline import make_detection_dataset
from training.detection.data.voc_reader import VOCRecord
from training.detection.data.voc_reader import load_voc_directory


def _records(tmp_path):
    config = EmbeddedConfig(seed=5, num_train=24, num_val=1, num_test=1)
    directory = ensure_embedded_dataset(config, tmp_path)
    return load_voc_directory(directory, "train", EMBEDDED_CLASSES)[0]


def test_evaluation_batches_are_the_records_resized(tmp_path):
    records = _records(tmp_path)
    dataset = make_detection_dataset(records, 320, 5, "xyxy", include_difficult=True)
    batches = list(dataset)
    assert [b[0].shape[0] for b in batches] == [5, 5, 5, 5, 4]
    images, targets = batches[0]
    assert images.shape == (5, 320, 320, 3) and images.dtype.name == "float32"
    for i in range(5):
        record = records[i]
        n = len(record.boxes)
        expected = record.boxes * (320.0 / record.width)  # 160 px -> 320 px.
        np.testing.assert_allclose(targets["boxes"][i][:n], expected, atol=1e-3)
        np.testing.assert_array_equal(targets["classes"][i][:n], record.classes)
        assert np.all(targets["boxes"][i][n:] == -1) and np.all(targets["classes"][i][n:] == -1)


def test_training_drops_difficult_and_keeps_boxes_inside(tmp_path):
    records = _records(tmp_path)
    dataset = make_detection_dataset(records, 160, 4, "xyxy", training=True, seed=1)
    total_difficult = sum(int(r.difficult.sum()) for r in records)
    total_easy = sum(int((~r.difficult).sum()) for r in records)
    kept = 0
    for images, targets in dataset:
        boxes = targets["boxes"].numpy()[targets["classes"].numpy() >= 0]
        assert np.all(boxes >= 0) and np.all(boxes <= 160)
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        kept += len(boxes)
    assert total_difficult > 0
    assert kept <= total_easy


def test_order_depends_only_on_seed_and_epoch_and_resumes(tmp_path):
    records = _records(tmp_path)

    def first_images(**kwargs):
        dataset = make_detection_dataset(records, 64, 4, training=True, **kwargs)
        return np.stack([b[0].numpy() for b in dataset])

    epoch0 = first_images(seed=2, epoch=0)
    np.testing.assert_array_equal(epoch0, first_images(seed=2, epoch=0))
    assert not np.array_equal(epoch0, first_images(seed=2, epoch=1))
    np.testing.assert_array_equal(epoch0[3:], first_images(seed=2, epoch=0, skip_batches=3))


def test_pipelines_run_without_the_autotuning_thread(tmp_path):
    # Its timed waits held up the end of evaluation passes (BENCHMARKS.md,
    # "Detection pipeline: tf.data autotuning off"); the option survives the
    # map that `predict_detections` appends.
    records = _records(tmp_path)
    for training in (False, True):
        dataset = make_detection_dataset(records, 64, 4, training=training)
        assert dataset.options().autotune.enabled is False
        assert dataset.map(lambda images, targets: images).options().autotune.enabled is False
        assert len(list(dataset)) == 6  # 24 records in batches of 4


# An image with a two-tone rectangle: columns [30, 60), rows [20, 50) of a
# 100 x 80 black image; the left half 255, the right half 128, so that a
# horizontal flip shows (the bright half moves to the right).
WIDTH, HEIGHT = 100, 80
BOX = (30.0, 20.0, 60.0, 50.0)


def _rectangle_record(directory, image_format="PNG"):
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    x1, y1, x2, y2 = (int(v) for v in BOX)
    pixels[y1:y2, x1:45] = 255
    pixels[y1:y2, 45:x2] = 128
    suffix = {"PNG": "png", "JPEG": "jpg"}[image_format]
    path = pathlib.Path(directory) / f"rectangle.{suffix}"
    Image.fromarray(pixels).save(path, format=image_format)
    return VOCRecord(
        image_id="rectangle", image_path=str(path), annotation_path="",
        width=WIDTH, height=HEIGHT, boxes=np.array([BOX], np.float32),
        classes=np.array([3], np.int32), difficult=np.array([False]),
    )  # fmt: skip


def _lit_extent(image, threshold=64):
    """(x1, y1, x2, y2) pixel edges of the pixels brighter than threshold."""
    rows, cols = np.nonzero(image[..., 0] > threshold)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


def test_evaluation_resize_scales_boxes_exactly(tmp_path):
    record = _rectangle_record(tmp_path)
    [(images, targets)] = list(make_detection_dataset([record], 64, 1, "xyxy"))
    box = targets["boxes"][0, 0].numpy()
    # x scaled by 64 / 100, y by 64 / 80.
    np.testing.assert_allclose(box, [19.2, 16.0, 38.4, 40.0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(_lit_extent(images[0].numpy()), box, atol=1.0)
    assert targets["classes"][0, 0] == 3


def test_training_augmentation_moves_boxes_with_their_image(tmp_path):
    # Eight draws of flip, scale and crop/pad offset of the same image.
    record = _rectangle_record(tmp_path)
    dataset = make_detection_dataset([record] * 8, 64, 1, "xyxy", training=True, seed=3)
    flips = []
    for images, targets in dataset:
        image = images[0].numpy()
        assert targets["classes"][0, 0] == 3
        box = targets["boxes"][0, 0].numpy()
        np.testing.assert_allclose(_lit_extent(image), box, atol=1.5)
        # Which half of the box is bright (255) and which dim (128)?
        x1, y1, x2, y2 = np.round(box).astype(int)
        middle = (x1 + x2) // 2
        left = image[y1 + 2 : y2 - 2, x1 + 2 : middle - 2, 0].mean()
        right = image[y1 + 2 : y2 - 2, middle + 2 : x2 - 2, 0].mean()
        flips.append(bool(right > left))
        # Both axes are scaled to the same square: width / height is
        # (30 / 100) / (30 / 80) = 0.8 at every scale (the box is never cut).
        np.testing.assert_allclose(
            (box[2] - box[0]) / (box[3] - box[1]), (30 / 100) / (30 / 80), rtol=0.05
        )
    assert True in flips and False in flips


def test_png_and_jpeg_images_are_decoded_to_three_channels(tmp_path):
    png = _rectangle_record(tmp_path, "PNG")
    jpeg = _rectangle_record(tmp_path, "JPEG")
    grey_path = tmp_path / "grey.png"
    Image.fromarray(np.full((HEIGHT, WIDTH), 200, np.uint8), mode="L").save(grey_path)
    rgba_path = tmp_path / "rgba.png"
    Image.fromarray(np.full((HEIGHT, WIDTH, 4), 90, np.uint8), mode="RGBA").save(rgba_path)
    records = [
        png,
        jpeg,
        dataclasses.replace(png, image_path=str(grey_path)),
        dataclasses.replace(png, image_path=str(rgba_path)),
    ]
    # Same size as the image: the resize is the identity.
    [(images, _)] = list(make_detection_dataset(records, WIDTH, 4, "xyxy"))
    assert images.shape == (4, WIDTH, WIDTH, 3)
    png_pixels = np.asarray(Image.open(png.image_path))
    expected = tf.image.resize(png_pixels.astype(np.float32), (WIDTH, WIDTH)).numpy()
    np.testing.assert_array_equal(images[0].numpy(), expected)
    assert np.abs(images[1].numpy() - expected).max() < 40  # JPEG is lossy.
    np.testing.assert_allclose(images[2].numpy(), 200.0)
    np.testing.assert_allclose(images[3].numpy(), 90.0)
