"""One Pascal VOC XML annotation: parsing and the box convention.

Box convention. VOC stores boxes as inclusive, 1-based pixel indices: a box
with `xmin=1, xmax=500` covers the pixel columns 1..500, the whole width of a
500-pixel image. The readers hold `(x1, y1, x2, y2)` in 0-based pixel-edge
coordinates, `x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax`, so that a
full-image box is `(0, 0, width, height)`, `x2 - x1` is the width in pixels
and a one-pixel box has area 1 (`voc_box_to_edges`).

`<part>` elements (head, hand, foot inside a person) are not objects: only
the `<object>` children of the root are read.
"""

import dataclasses
import math
import xml.etree.ElementTree as ElementTree

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


class MalformedAnnotation(Exception):
    """An annotation that cannot be read as VOC XML; the message says why."""


@dataclasses.dataclass(frozen=True)
class RawObject:
    """One `<object>` as written: class name, VOC box, difficult flag."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool


@dataclasses.dataclass(frozen=True)
class Annotation:
    """The parts of a VOC annotation the readers use.

    Attributes:
        filename: The `<filename>` tag, stripped, or `None` when absent.
        size: `(width, height)` from `<size>`, or `None` when absent or 0
            (some tools write 0 when they do not know the size).
        objects: The `RawObject`s, in file order.
    """

    filename: str | None
    size: tuple | None
    objects: tuple


def read_annotation(path):
    """Parses the VOC XML annotation at `path`.

    Args:
        path: The `.xml` file.

    Returns:
        An `Annotation`.

    Raises:
        MalformedAnnotation: for unparsable XML, a root other than
            `<annotation>`, an object without `<name>` or `<bndbox>`, a
            missing or non-finite coordinate, or a `<difficult>` other than
            0 or 1. One unreadable object makes the whole annotation
            malformed: a half-read annotation would turn real objects into
            background.

    Example:

    >>> annotation = read_annotation(
    ...     "VOC2007/Annotations/000005.xml")  # doctest: +SKIP
    >>> annotation.objects[0].name  # doctest: +SKIP
    'chair'
    """
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise MalformedAnnotation(f"malformed XML ({error})") from None
    try:
        return _parse(root)
    except MalformedAnnotation as error:
        raise MalformedAnnotation(f"malformed XML: {error}") from None


def voc_box_to_edges(xmin, ymin, xmax, ymax):
    """VOC's inclusive 1-based indices -> 0-based pixel edges.

    Example:

    >>> voc_box_to_edges(1, 1, 500, 375)
    (0.0, 0.0, 500.0, 375.0)
    """
    return (float(xmin) - 1.0, float(ymin) - 1.0, float(xmax), float(ymax))


def edges_to_voc_box(x1, y1, x2, y2):
    """0-based pixel edges -> VOC's inclusive 1-based indices (the inverse
    of `voc_box_to_edges`)."""
    return (float(x1) + 1.0, float(y1) + 1.0, float(x2), float(y2))


def clip_box(box, width, height):
    """`box` (pixel edges) clipped to `[0, width] x [0, height]`."""
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def format_voc_box(raw):
    """`"VOC box (1, 2, 30, 40)"`, integers without a decimal point."""
    values = (raw.xmin, raw.ymin, raw.xmax, raw.ymax)
    return "VOC box (" + ", ".join(_number(value) for value in values) + ")"


def _parse(root):
    if root.tag != "annotation":
        raise MalformedAnnotation(
            f"root element is <{root.tag}>, expected <annotation>"
        )
    filename = root.findtext("filename")
    filename = filename.strip() if filename and filename.strip() else None

    declared_size = None
    size = root.find("size")
    if size is not None:
        width = _read_number(size, "width", "<size>")
        height = _read_number(size, "height", "<size>")
        if width > 0 and height > 0:
            declared_size = (int(width), int(height))

    objects = []
    # Only direct children: <part> boxes nested in an object are not objects.
    for number, element in enumerate(root.findall("object"), start=1):
        where = f"object {number}"
        name = (element.findtext("name") or "").strip()
        if not name:
            raise MalformedAnnotation(f"{where} has no <name>")
        box = element.find("bndbox")
        if box is None:
            raise MalformedAnnotation(f"{where} ({name!r}) has no <bndbox>")
        coordinates = [
            _read_number(box, tag, f"{where} ({name!r}) <bndbox>")
            for tag in ("xmin", "ymin", "xmax", "ymax")
        ]
        difficult = (element.findtext("difficult") or "0").strip()
        if difficult not in ("0", "1"):
            raise MalformedAnnotation(
                f"{where} ({name!r}) has <difficult> {difficult!r}, "
                "expected 0 or 1"
            )
        objects.append(RawObject(name, *coordinates, difficult=difficult == "1"))
    return Annotation(filename, declared_size, tuple(objects))


def _read_number(parent, tag, where):
    text = parent.findtext(tag)
    if text is None:
        raise MalformedAnnotation(f"{where} has no <{tag}>")
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise MalformedAnnotation(
            f"{where} <{tag}> is {text.strip()!r}, not a finite number"
        )
    return value


def _number(value):
    return str(int(value)) if float(value).is_integer() else str(value)
