"""tf.data pipeline: VOC records -> batches of images and box dicts.

Each element is `(images, {"boxes": (B, N, 4), "classes": (B, N)})` with
images float32 in [0, 255] (the backbones rescale themselves), boxes in the
requested format (`box_format.BOX_FORMATS`, KerasCV's names) in pixels of
the model input, and padding rows set to -1, as KerasCV's YOLOv8 loss
expects. Images are JPEG or PNG (grey, RGB or RGBA), decoded to 3 channels.

Training batches are augmented the usual way for detection: horizontal flip
and a jittered resize (random scale, random crop or pad back to the model
size), boxes transformed with the image and clipped; boxes that lose most of
their area are dropped. Evaluation batches are a plain resize.

The order of examples is a function of `(seed, epoch)` only, so an
interrupted run that resumes at epoch e, batch b sees exactly the batches an
uninterrupted run would have seen (`skip_batches`).
"""

import numpy as np
import tensorflow as tf

from training.common.data_order import epoch_order
from training.detection.data.box_format import check_box_format
from training.detection.data.box_format import convert_xyxy

MIN_VISIBLE_FRACTION = 0.25  # Augmented boxes keeping less area are dropped.


def make_detection_dataset(
    records,
    image_size,
    batch_size,
    bounding_box_format="xywh",
    training=False,
    seed=0,
    epoch=0,
    skip_batches=0,
    include_difficult=None,
    max_boxes=None,
    scale_range=(0.75, 1.25),
):
    """Builds one epoch of batches from VOC records.

    Args:
        records: List of `VOCRecord` (see `voc_reader`).
        image_size: Side of the square model input.
        batch_size: Images per batch (the last batch may be smaller when not
            training; training drops it so every step has the same shape).
        bounding_box_format: Format of the returned boxes, one of
            `box_format.BOX_FORMATS`.
        training: Shuffle (by `seed`, `epoch`) and augment.
        seed: Seed of the order and of the augmentation.
        epoch: Epoch index; selects the order and augmentation draws.
        skip_batches: Batches of this epoch to skip (to resume mid-epoch).
        include_difficult: Keep difficult boxes (default: not when training).
        max_boxes: Padded box count (default: most boxes in one record).
        scale_range: Jittered resize scale range when training.

    Returns:
        A `tf.data.Dataset`.
    """
    if not records:
        raise ValueError("`records` is empty: no images to build a dataset from.")
    check_box_format(bounding_box_format)
    include_difficult = (not training) if include_difficult is None else include_difficult
    order = epoch_order(len(records), seed, epoch) if training else np.arange(len(records))
    max_boxes = max_boxes or max(1, max(len(r.boxes) for r in records))
    paths, boxes, classes = [], [], []
    for index in order:
        record = records[index]
        keep = np.ones(len(record.boxes), bool) if include_difficult else ~record.difficult
        padded_boxes = np.full((max_boxes, 4), -1.0, np.float32)
        padded_classes = np.full((max_boxes,), -1.0, np.float32)
        kept = record.boxes[keep][:max_boxes]
        # Normalise by the image size so boxes follow any resize.
        scale = np.array([record.width, record.height] * 2, np.float32)
        padded_boxes[: len(kept)] = kept / scale
        padded_classes[: len(kept)] = record.classes[keep][:max_boxes]
        paths.append(str(record.image_path))
        boxes.append(padded_boxes)
        classes.append(padded_classes)
    dataset = tf.data.Dataset.from_tensor_slices(
        (paths, np.stack(boxes), np.stack(classes), np.arange(len(paths)))
    )

    def load(path, rel_boxes, box_classes, index):
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=3, expand_animations=False
        )
        image = tf.cast(image, tf.float32)
        if training:
            draw_seed = tf.stack([tf.cast(seed * 100003 + epoch, tf.int64), tf.cast(index, tf.int64)])
            image, rel_boxes, box_classes = _augment(
                image, rel_boxes, box_classes, image_size, scale_range, draw_seed
            )
        else:
            image = tf.image.resize(image, (image_size, image_size))
        pixel_boxes = rel_boxes * image_size
        valid = box_classes >= 0
        pixel_boxes = tf.where(valid[:, None], pixel_boxes, -1.0)
        pixel_boxes = convert_xyxy(
            pixel_boxes, bounding_box_format, image_size, image_size
        )
        pixel_boxes = tf.where(valid[:, None], pixel_boxes, -1.0)
        return image, {"boxes": pixel_boxes, "classes": box_classes}

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    # tf.data's autotuning thread re-tunes the pipeline between timed waits
    # (10 ms, doubling up to a minute), and the end of a pass or an epoch,
    # where the iterator is destroyed, often waits for the current wait to
    # run out (BENCHMARKS.md, "Detection pipeline: tf.data autotuning off").
    # Without it, AUTOTUNE parallelism is the number of cores and the
    # prefetch buffer grows when it runs empty.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _augment(image, rel_boxes, box_classes, image_size, scale_range, seed):
    """Horizontal flip and jittered resize on one image, boxes in [0, 1]."""
    flip_seed, scale_seed, offset_seed = (
        tf.random.experimental.stateless_split(seed, 3)[i] for i in range(3)
    )
    valid = box_classes >= 0
    if_flip = tf.random.stateless_uniform((), flip_seed) < 0.5
    image = tf.cond(if_flip, lambda: tf.image.flip_left_right(image), lambda: image)
    flipped = tf.stack(
        [1.0 - rel_boxes[:, 2], rel_boxes[:, 1], 1.0 - rel_boxes[:, 0], rel_boxes[:, 3]], -1
    )
    rel_boxes = tf.where(if_flip, flipped, rel_boxes)

    scale = tf.random.stateless_uniform((), scale_seed, scale_range[0], scale_range[1])
    scaled = tf.cast(tf.round(image_size * scale), tf.int32)
    image = tf.image.resize(image, (scaled, scaled))
    # Offset of the crop (scaled > size) or of the padding (scaled < size).
    slack = tf.abs(scaled - image_size)
    offsets = tf.random.stateless_uniform(
        (2,), offset_seed, 0, tf.maximum(slack, 0) + 1, dtype=tf.int32
    )
    image = tf.cond(
        scaled >= image_size,
        lambda: tf.image.crop_to_bounding_box(image, offsets[0], offsets[1], image_size, image_size),
        lambda: tf.image.pad_to_bounding_box(image, offsets[0], offsets[1], image_size, image_size),
    )
    sign = tf.where(scaled >= image_size, -1.0, 1.0)
    shift_y = sign * tf.cast(offsets[0], tf.float32)
    shift_x = sign * tf.cast(offsets[1], tf.float32)
    pixels = rel_boxes * tf.cast(scaled, tf.float32)
    moved = pixels + tf.stack([shift_x, shift_y, shift_x, shift_y])
    clipped = tf.clip_by_value(moved, 0.0, float(image_size))
    area_before = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    area_after = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = valid & (area_after > MIN_VISIBLE_FRACTION * tf.maximum(area_before, 1e-6))
    box_classes = tf.where(keep, box_classes, -1.0)
    rel_boxes = tf.where(keep[:, None], clipped / float(image_size), -1.0)
    return image, rel_boxes, box_classes
