"""Converting `xyxy` pixel boxes to the other box formats (KerasCV's names).

Only the top-level `detection` package imports KerasCV; the data pipeline
converts its boxes here. Formats, for a box from `(x1, y1)` to `(x2, y2)`
in an image of `width` x `height` pixels:

| format        | values                                              |
|---------------|-----------------------------------------------------|
| `xyxy`        | `x1, y1, x2, y2`                                    |
| `rel_xyxy`    | `x1 / width, y1 / height, x2 / width, y2 / height`  |
| `xywh`        | `x1, y1, x2 - x1, y2 - y1`                          |
| `center_xywh` | `(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1`    |
| `yxyx`        | `y1, x1, y2, x2`                                    |
"""

import tensorflow as tf

BOX_FORMATS = ("xyxy", "rel_xyxy", "xywh", "center_xywh", "yxyx")


def check_box_format(box_format):
    """Returns `box_format` if it is one of `BOX_FORMATS`.

    Raises:
        ValueError: for another format.
    """
    if box_format not in BOX_FORMATS:
        raise ValueError(
            f"`bounding_box_format` must be one of {BOX_FORMATS}. "
            f"Received: {box_format!r}"
        )
    return box_format


def convert_xyxy(boxes, target, width=None, height=None):
    """Converts `(..., 4)` `xyxy` boxes to the `target` format.

    Args:
        boxes: Tensor or array `(..., 4)` of `x1, y1, x2, y2` in pixels.
        target: One of `BOX_FORMATS`.
        width: Image width in pixels; needed for `rel_xyxy` only.
        height: Image height in pixels; needed for `rel_xyxy` only.

    Returns:
        A float32 tensor of the same shape.

    Example:

    >>> convert_xyxy([[10.0, 20.0, 30.0, 60.0]], "center_xywh").numpy()
    array([[20., 40., 20., 40.]], dtype=float32)
    """
    check_box_format(target)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    x1, y1, x2, y2 = tf.unstack(boxes, 4, axis=-1)
    if target == "xyxy":
        return boxes
    if target == "rel_xyxy":
        if width is None or height is None:
            raise ValueError("`rel_xyxy` needs the image `width` and `height`.")
        width = tf.cast(width, tf.float32)
        height = tf.cast(height, tf.float32)
        values = (x1 / width, y1 / height, x2 / width, y2 / height)
    elif target == "xywh":
        values = (x1, y1, x2 - x1, y2 - y1)
    elif target == "center_xywh":
        values = ((x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1)
    else:  # yxyx
        values = (y1, x1, y2, x2)
    return tf.stack(values, axis=-1)
