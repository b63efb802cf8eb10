"""Pascal VOC readers: VOCdevkit-format directories and tfds `voc/2007`.

`load_voc_directory` reads any directory in the VOCdevkit layout:

    <directory>/
        Annotations/<id>.xml
        JPEGImages/<id>.jpg
        ImageSets/Main/<split>.txt     (one id per line)

and returns one `VOCRecord` per usable image plus a `VOCLoadSummary` that
lists every problem found, with the file it was found in.

Box convention. VOC stores boxes as inclusive, 1-based pixel indices: a box
with `xmin=1, xmax=500` covers the pixel columns 1..500, the whole width of a
500-pixel image. Records hold `(x1, y1, x2, y2)` in 0-based pixel-edge
coordinates, `x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax`, so that a
full-image box is `(0, 0, width, height)`, `x2 - x1` is the width in pixels
and a one-pixel box has area 1. Boxes are then clipped to
`[0, width] x [0, height]`; boxes with no area left are dropped.

Problems and what happens to the data (default, `strict=False`):

| kind                       | what is skipped                             |
|----------------------------|---------------------------------------------|
| `image_without_annotation` | the image (no XML; an XML with no objects   |
|                            | is a valid image without objects)           |
| `annotation_without_image` | the annotation                              |
| `missing_files`            | a split id with neither XML nor image       |
| `duplicate_id`             | a repeated id in the split file             |
| `malformed_xml`            | the image (unparsable XML, or an object     |
|                            | without name/box, or a non-numeric value)   |
| `filename_mismatch`        | the image (the `<filename>` tag names       |
|                            | another file, so the boxes may be another   |
|                            | image's)                                    |
| `unreadable_image`         | the image (not a decodable image file)      |
| `size_mismatch`            | the image (`<size>` disagrees with the      |
|                            | image file)                                 |
| `unknown_class`            | the object (name not in `class_names`)      |
| `zero_area_box`            | the object (no area after clipping)         |
| `clipped_box`              | nothing: the box is clipped to the image    |

With `strict=True` the first problem raises `ValueError` naming the file.
Otherwise every problem is recorded in the summary, and one warning with the
counts and the first problems is logged through `logging` (printed to
stderr when logging is not configured). Nothing is dropped silently.

`<part>` elements (head, hand, foot inside a person) are not objects: only
the `<object>` children of the root are read.
"""

import collections
import dataclasses
import importlib.util
import logging
import math
import os
import pathlib
import xml.etree.ElementTree as ElementTree

import numpy as np

logger = logging.getLogger(__name__)

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

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")

IMAGE_WITHOUT_ANNOTATION = "image_without_annotation"
ANNOTATION_WITHOUT_IMAGE = "annotation_without_image"
MISSING_FILES = "missing_files"
DUPLICATE_ID = "duplicate_id"
MALFORMED_XML = "malformed_xml"
FILENAME_MISMATCH = "filename_mismatch"
UNREADABLE_IMAGE = "unreadable_image"
SIZE_MISMATCH = "size_mismatch"
UNKNOWN_CLASS = "unknown_class"
ZERO_AREA_BOX = "zero_area_box"
CLIPPED_BOX = "clipped_box"

PROBLEM_KINDS = (
    IMAGE_WITHOUT_ANNOTATION,
    ANNOTATION_WITHOUT_IMAGE,
    MISSING_FILES,
    DUPLICATE_ID,
    MALFORMED_XML,
    FILENAME_MISMATCH,
    UNREADABLE_IMAGE,
    SIZE_MISMATCH,
    UNKNOWN_CLASS,
    ZERO_AREA_BOX,
    CLIPPED_BOX,
)
# Kinds after which the whole image is left out.
IMAGE_SKIPPING_KINDS = (
    IMAGE_WITHOUT_ANNOTATION,
    ANNOTATION_WITHOUT_IMAGE,
    MISSING_FILES,
    MALFORMED_XML,
    FILENAME_MISMATCH,
    UNREADABLE_IMAGE,
    SIZE_MISMATCH,
)

# The two tarballs of VOC 2007 as tfds expects them in the manual directory.
VOC2007_TARBALLS = ("VOCtrainval_06-Nov-2007.tar", "VOCtest_06-Nov-2007.tar")
_TFDS_SPLITS = {
    "train": "train",
    "val": "validation",
    "validation": "validation",
    "trainval": "train+validation",
    "test": "test",
}


@dataclasses.dataclass(frozen=True, eq=False)
class VOCRecord:
    """One annotated image.

    Attributes:
        image_id: The VOC id (file stem), e.g. `"000005"`.
        image_path: Path of the image file.
        annotation_path: Path of the XML annotation.
        width: Image width in pixels (from the image file).
        height: Image height in pixels (from the image file).
        boxes: `(N, 4)` float32 `(x1, y1, x2, y2)` 0-based pixel-edge
            coordinates (see the module docstring), inside the image.
        classes: `(N,)` int32 indices into the loader's `class_names`.
        difficult: `(N,)` bool VOC "difficult" flags.
    """

    image_id: str
    image_path: str
    annotation_path: str
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    difficult: np.ndarray

    @property
    def num_objects(self):
        return len(self.classes)


@dataclasses.dataclass(frozen=True)
class VOCProblem:
    """A problem found while loading, with the file it was found in.

    Attributes:
        kind: One of `PROBLEM_KINDS`.
        path: The file concerned (annotation, image or split file).
        message: What is wrong and what was done about it.
    """

    kind: str
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"


@dataclasses.dataclass(frozen=True, eq=False)
class VOCLoadSummary:
    """What `load_voc_directory` read, kept and skipped.

    Attributes:
        directory: The dataset directory.
        split: The split name, or `None` when every file was scanned.
        num_candidates: Distinct image ids considered (split ids, or the
            union of annotation and image stems); equals `num_records +
            num_skipped_images`.
        num_records: Images returned.
        num_objects: Objects in the returned records.
        num_difficult: Difficult objects in the returned records.
        problems: Every `VOCProblem`, in the order found.
        unknown_class_names: `{name: number of objects}` for the object
            names that are not in the class list.
    """

    directory: str
    split: str | None
    num_candidates: int
    num_records: int
    num_objects: int
    num_difficult: int
    problems: tuple
    unknown_class_names: dict = dataclasses.field(default_factory=dict)

    @property
    def counts(self):
        """`{kind: number of problems}` for every kind, zeros included."""
        found = collections.Counter(problem.kind for problem in self.problems)
        return {kind: found[kind] for kind in PROBLEM_KINDS}

    def count(self, kind):
        """Number of problems of one kind."""
        if kind not in PROBLEM_KINDS:
            raise ValueError(
                f"Unknown problem kind {kind!r}. Expected one of "
                f"{PROBLEM_KINDS}."
            )
        return sum(problem.kind == kind for problem in self.problems)

    @property
    def num_skipped_images(self):
        """Ids left out because of an image-level problem."""
        return sum(
            problem.kind in IMAGE_SKIPPING_KINDS for problem in self.problems
        )

    def format(self, max_problems=10):
        """Human-readable summary: counts, then the first problems.

        Args:
            max_problems: How many individual problems to list.

        Returns:
            A multi-line string.
        """
        split = "all files" if self.split is None else f"split {self.split!r}"
        lines = [
            f"VOC data {self.directory} ({split}): {self.num_records} of "
            f"{self.num_candidates} images loaded, {self.num_objects} "
            f"objects ({self.num_difficult} difficult)."
        ]
        if not self.problems:
            lines.append("No problems found.")
            return "\n".join(lines)
        counted = ", ".join(
            f"{kind}: {number}"
            for kind, number in self.counts.items()
            if number
        )
        lines.append(f"{len(self.problems)} problems ({counted}).")
        if self.unknown_class_names:
            names = ", ".join(
                f"{name!r} x{number}"
                for name, number in sorted(self.unknown_class_names.items())
            )
            lines.append(f"Unknown class names: {names}.")
        for problem in self.problems[:max_problems]:
            lines.append(f"  {problem}")
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems} more")
        return "\n".join(lines)

    def __str__(self):
        return self.format()


def load_voc_directory(
    directory,
    split="trainval",
    class_names=VOC_CLASSES,
    strict=False,
):
    """Reads a VOCdevkit-format directory.

    See the module docstring for the box convention and for what each
    problem does to the data.

    Args:
        directory: The directory holding `Annotations/`, `JPEGImages/` and
            `ImageSets/Main/` (e.g. `.../VOCdevkit/VOC2007`).
        split: Name of the split file `ImageSets/Main/<split>.txt`, e.g.
            `"trainval"` or `"test"`. `None` reads every annotation and image
            in the directory instead (for sets without `ImageSets`).
        class_names: Sequence of class names; a name's position is its class
            index. Defaults to the 20 VOC classes in the standard order.
            Objects of other classes are skipped and reported.
        strict: If `True`, raise on the first problem instead of skipping.

    Returns:
        A tuple `(records, summary)`: a list of `VOCRecord` in split order
        (sorted by id when `split` is `None`) and a `VOCLoadSummary`.

    Raises:
        FileNotFoundError: if the directory, its `Annotations/` or
            `JPEGImages/` folder, or the split file does not exist.
        ValueError: with `strict=True`, on the first problem, naming the
            file; also if `class_names` is empty or has duplicates.

    Example:

    >>> records, summary = load_voc_directory(
    ...     "VOCdevkit/VOC2007", split="test")  # doctest: +SKIP
    >>> records[0].boxes  # doctest: +SKIP
    array([[ 47., 239., 195., 371.], [  7.,  11., 352., 498.]], dtype=float32)
    >>> summary.count("unknown_class")  # doctest: +SKIP
    0
    """
    class_index = _check_class_names(class_names)
    directory = pathlib.Path(directory)
    annotation_dir = directory / "Annotations"
    image_dir = directory / "JPEGImages"
    _check_layout(directory, annotation_dir, image_dir)
    reporter = _ProblemReporter(strict)

    if split is None:
        image_ids = _scan_ids(annotation_dir, image_dir)
    else:
        image_ids = _read_split(directory, split, reporter)

    records = []
    for image_id in image_ids:
        record = _load_image(
            image_id, annotation_dir, image_dir, class_index, reporter
        )
        if record is not None:
            records.append(record)

    summary = VOCLoadSummary(
        directory=str(directory),
        split=split,
        num_candidates=len(image_ids),
        num_records=len(records),
        num_objects=sum(record.num_objects for record in records),
        num_difficult=int(sum(record.difficult.sum() for record in records)),
        problems=tuple(reporter.problems),
        unknown_class_names=dict(reporter.unknown_class_names),
    )
    if summary.problems:
        logger.warning("%s", summary.format(max_problems=20))
    else:
        logger.info("%s", summary.format())
    return records, summary


def load_voc2007_tfds(split, data_dir=None, prepare_from_manual=True):
    """Loads Pascal VOC 2007 through tensorflow-datasets, without network.

    Offline route: put the two original tarballs, under their original
    names, in the tfds manual directory:

        <data_dir>/downloads/manual/VOCtrainval_06-Nov-2007.tar
        <data_dir>/downloads/manual/VOCtest_06-Nov-2007.tar

    (`data_dir` defaults to tfds' own, `~/tensorflow_datasets` or
    `$TFDS_DATA_DIR`.) On first use the dataset is then built from them
    (tfds checks their sizes and SHA-256 checksums: 460,032,000 and
    451,020,800 bytes), which takes several minutes and needs the
    `importlib_resources` package. Later calls read the prepared dataset.
    Nothing is ever downloaded: without a prepared dataset and without the
    tarballs this raises `FileNotFoundError` saying what to put where.

    Boxes follow `load_voc_directory`'s convention. tfds stores
    `(ymin / height, xmin / width, ymax / height, xmax / width)` with VOC's
    1-based values; they are converted back to pixels, rounded (VOC 2007
    coordinates are integers; rounding removes the float32 error of the
    normalisation), shifted to `x1 = xmin - 1, y1 = ymin - 1, x2 = xmax,
    y2 = ymax` and clipped to the image. tfds lower-cases class names and
    orders them as `VOC_CLASSES`, so class indices agree with the directory
    reader.

    Args:
        split: `"train"`, `"val"` (or `"validation"`), `"trainval"`
            (tfds `"train+validation"`), `"test"`, or any tfds split string
            such as `"test[:100]"`.
        data_dir: tfds data directory, or `None` for tfds' default.
        prepare_from_manual: If `True` (default) and the dataset is not
            prepared yet, build it from the manual tarballs. If `False`,
            only read an already prepared dataset.

    Returns:
        A `tf.data.Dataset` of dicts: `"image"` uint8 `(H, W, 3)`,
        `"image_id"` string, `"boxes"` float32 `(N, 4)`, `"classes"` int32
        `(N,)`, `"difficult"` bool `(N,)`.

    Raises:
        FileNotFoundError: if the dataset is not prepared and cannot be
            built from the manual directory.
        ImportError: if building is needed and `importlib_resources` is
            missing.

    Example:

    >>> test_data = load_voc2007_tfds(
    ...     "test", data_dir="~/tfds")  # doctest: +SKIP
    >>> example = next(iter(test_data))  # doctest: +SKIP
    >>> example["boxes"].shape  # doctest: +SKIP
    TensorShape([2, 4])
    """
    import tensorflow_datasets as tfds

    tfds_split = _TFDS_SPLITS.get(split, split)
    if data_dir is not None:
        data_dir = os.path.expanduser(os.fspath(data_dir))
    builder = tfds.builder("voc/2007", data_dir=data_dir)
    if not builder.is_prepared():
        # builder.data_dir is <root>/voc/2007/<version>.
        root = pathlib.Path(os.fspath(builder.data_dir)).parents[2]
        manual_dir = root / "downloads" / "manual"
        missing = [
            name
            for name in VOC2007_TARBALLS
            if not (manual_dir / name).exists()
        ]
        if missing or not prepare_from_manual:
            raise FileNotFoundError(_tfds_missing_message(root, missing))
        if importlib.util.find_spec("importlib_resources") is None:
            raise ImportError(
                "Building tfds 'voc/2007' from the manual tarballs needs the "
                "`importlib_resources` package: pip install importlib_resources"
            )
        logger.warning(
            "Building tfds voc/2007 from %s (several minutes, once).",
            manual_dir,
        )
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=os.fspath(manual_dir), try_download_gcs=False
            )
        )
    dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)
    return dataset.map(_convert_tfds_example)


def _convert_tfds_example(example):
    import tensorflow as tf

    image = example["image"]
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    normalized = example["objects"]["bbox"]  # (N, 4) ymin, xmin, ymax, xmax
    xmin = tf.round(normalized[:, 1] * width)
    ymin = tf.round(normalized[:, 0] * height)
    xmax = tf.round(normalized[:, 3] * width)
    ymax = tf.round(normalized[:, 2] * height)
    boxes = tf.stack(
        [
            tf.clip_by_value(xmin - 1.0, 0.0, width),
            tf.clip_by_value(ymin - 1.0, 0.0, height),
            tf.clip_by_value(xmax, 0.0, width),
            tf.clip_by_value(ymax, 0.0, height),
        ],
        axis=-1,
    )
    filename = example["image/filename"]
    return {
        "image": image,
        "image_id": tf.strings.regex_replace(filename, r"\.[^.]*$", ""),
        "boxes": boxes,
        "classes": tf.cast(example["objects"]["label"], tf.int32),
        "difficult": example["objects"]["is_difficult"],
    }


def _tfds_missing_message(root, missing):
    manual_dir = root / "downloads" / "manual"
    lines = [
        f"tfds dataset 'voc/2007' is not prepared in {root} and nothing is "
        "downloaded at run time.",
        "Offline route: place the original tarballs, under these names, in",
        f"  {manual_dir}/",
    ]
    lines.extend(f"    {name}" for name in VOC2007_TARBALLS)
    if missing:
        lines.append(f"Missing: {', '.join(missing)}.")
    lines.append(
        "and call again (or pass `data_dir`). Alternatively read an extracted "
        "VOCdevkit/VOC2007 directory with load_voc_directory()."
    )
    return "\n".join(lines)


class _ProblemReporter:
    """Collects problems, or raises on the first one in strict mode."""

    def __init__(self, strict):
        self.strict = strict
        self.problems = []
        self.unknown_class_names = collections.Counter()

    def report(self, kind, path, detail, action="skipped"):
        """Records `detail` and the `action` taken, or raises if strict."""
        if self.strict:
            raise ValueError(f"{path}: {detail} [{kind}]")
        self.problems.append(
            VOCProblem(kind=kind, path=str(path), message=f"{detail}; {action}")
        )


class _MalformedAnnotation(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class _RawObject:
    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool


def _load_image(image_id, annotation_dir, image_dir, class_index, reporter):
    """Reads one id; returns a `VOCRecord` or `None` after reporting."""
    annotation_path = annotation_dir / f"{image_id}.xml"
    image_path = _find_image(image_dir, image_id)
    has_annotation = annotation_path.is_file()
    if image_path is None and not has_annotation:
        reporter.report(
            MISSING_FILES,
            annotation_path,
            f"id {image_id!r} has neither an annotation nor an image "
            f"({image_id}.jpg in {image_dir})",
        )
        return None
    if not has_annotation:
        reporter.report(
            IMAGE_WITHOUT_ANNOTATION,
            image_path,
            f"image has no annotation {annotation_path.name}",
        )
        return None
    if image_path is None:
        reporter.report(
            ANNOTATION_WITHOUT_IMAGE,
            annotation_path,
            f"annotation has no image {image_id}.jpg in {image_dir}",
        )
        return None

    try:
        root = ElementTree.parse(annotation_path).getroot()
        filename, declared_size, raw_objects = _parse_annotation(root)
    except ElementTree.ParseError as error:
        reporter.report(
            MALFORMED_XML, annotation_path, f"malformed XML ({error})"
        )
        return None
    except _MalformedAnnotation as error:
        reporter.report(
            MALFORMED_XML, annotation_path, f"malformed XML: {error}"
        )
        return None

    if filename is not None and filename not in (image_path.name, image_id):
        reporter.report(
            FILENAME_MISMATCH,
            annotation_path,
            f"<filename> is {filename!r} but the image file is "
            f"{image_path.name!r}",
        )
        return None

    try:
        width, height = _read_image_size(image_path)
    except OSError as error:
        reporter.report(
            UNREADABLE_IMAGE, image_path, f"cannot read image ({error})"
        )
        return None
    if declared_size is not None and declared_size != (width, height):
        reporter.report(
            SIZE_MISMATCH,
            annotation_path,
            f"<size> is {declared_size[0]}x{declared_size[1]} but "
            f"{image_path.name} is {width}x{height}",
        )
        return None

    boxes, classes, difficult = [], [], []
    for number, raw in enumerate(raw_objects, start=1):
        described = f"object {number} ({raw.name!r})"
        if raw.name not in class_index:
            reporter.unknown_class_names[raw.name] += 1
            reporter.report(
                UNKNOWN_CLASS,
                annotation_path,
                f"unknown class {raw.name!r} (object {number})",
                action="object skipped",
            )
            continue
        # Inclusive 1-based pixel indices -> 0-based pixel edges.
        box = (raw.xmin - 1.0, raw.ymin - 1.0, raw.xmax, raw.ymax)
        clipped = (
            min(max(box[0], 0.0), width),
            min(max(box[1], 0.0), height),
            min(max(box[2], 0.0), width),
            min(max(box[3], 0.0), height),
        )
        voc_text = (
            f"VOC box ({_number(raw.xmin)}, {_number(raw.ymin)}, "
            f"{_number(raw.xmax)}, {_number(raw.ymax)})"
        )
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            reporter.report(
                ZERO_AREA_BOX,
                annotation_path,
                f"{described}: {voc_text} has zero area"
                + (" after clipping" if clipped != box else "")
                + f" in the {width}x{height} image",
                action="object skipped",
            )
            continue
        if clipped != box:
            reporter.report(
                CLIPPED_BOX,
                annotation_path,
                f"{described}: {voc_text} extends outside the "
                f"{width}x{height} image",
                action="clipped",
            )
        boxes.append(clipped)
        classes.append(class_index[raw.name])
        difficult.append(raw.difficult)

    return VOCRecord(
        image_id=image_id,
        image_path=str(image_path),
        annotation_path=str(annotation_path),
        width=width,
        height=height,
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        classes=np.array(classes, dtype=np.int32),
        difficult=np.array(difficult, dtype=bool),
    )


def _parse_annotation(root):
    """Returns `(filename or None, (width, height) or None, raw objects)`."""
    if root.tag != "annotation":
        raise _MalformedAnnotation(
            f"root element is <{root.tag}>, expected <annotation>"
        )
    filename = root.findtext("filename")
    filename = filename.strip() if filename and filename.strip() else None

    declared_size = None
    size = root.find("size")
    if size is not None:
        width = _read_number(size, "width", "<size>")
        height = _read_number(size, "height", "<size>")
        # Some tools write 0 when they do not know the size: not a claim.
        if width > 0 and height > 0:
            declared_size = (int(width), int(height))

    raw_objects = []
    # Only direct children: <part> boxes nested in an object are not objects.
    for number, element in enumerate(root.findall("object"), start=1):
        where = f"object {number}"
        name = (element.findtext("name") or "").strip()
        if not name:
            raise _MalformedAnnotation(f"{where} has no <name>")
        box = element.find("bndbox")
        if box is None:
            raise _MalformedAnnotation(f"{where} ({name!r}) has no <bndbox>")
        where = f"{where} ({name!r}) <bndbox>"
        coordinates = [
            _read_number(box, tag, where)
            for tag in ("xmin", "ymin", "xmax", "ymax")
        ]
        difficult_text = (element.findtext("difficult") or "0").strip()
        if difficult_text not in ("0", "1"):
            raise _MalformedAnnotation(
                f"object {number} ({name!r}) has <difficult> "
                f"{difficult_text!r}, expected 0 or 1"
            )
        raw_objects.append(
            _RawObject(name, *coordinates, difficult=difficult_text == "1")
        )
    return filename, declared_size, raw_objects


def _read_number(parent, tag, where):
    text = parent.findtext(tag)
    if text is None:
        raise _MalformedAnnotation(f"{where} has no <{tag}>")
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _MalformedAnnotation(
            f"{where} <{tag}> is {text.strip()!r}, not a finite number"
        )
    return value


def _number(value):
    return str(int(value)) if float(value).is_integer() else str(value)


def _read_image_size(image_path):
    """`(width, height)` from the image header, without decoding pixels."""
    try:
        from PIL import Image
    except ImportError as error:  # pillow comes with matplotlib.
        raise ImportError(
            "Reading VOC images needs Pillow: pip install pillow"
        ) from error
    try:
        with Image.open(image_path) as image:
            return image.size
    except Exception as error:  # PIL raises several types for bad files.
        raise OSError(str(error)) from error


def _find_image(image_dir, image_id):
    for extension in IMAGE_EXTENSIONS:
        path = image_dir / f"{image_id}{extension}"
        if path.is_file():
            return path
    return None


def _scan_ids(annotation_dir, image_dir):
    stems = {path.stem for path in annotation_dir.glob("*.xml")}
    stems.update(
        path.stem
        for path in image_dir.iterdir()
        if path.suffix in IMAGE_EXTENSIONS
    )
    return sorted(stems)


def _read_split(directory, split, reporter):
    split_path = directory / "ImageSets" / "Main" / f"{split}.txt"
    if not split_path.is_file():
        available = sorted(
            path.stem
            for path in split_path.parent.glob("*.txt")
            if "_" not in path.stem
        )
        raise FileNotFoundError(
            f"Split file {split_path} not found. Available splits: "
            f"{available or 'none'}. Pass split=None to read every "
            "annotation in the directory."
        )
    image_ids = []
    seen = set()
    lines = split_path.read_text(encoding="utf-8").splitlines()
    for line_number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        image_id = fields[0]
        if image_id in seen:
            reporter.report(
                DUPLICATE_ID,
                split_path,
                f"line {line_number}: id {image_id!r} listed again",
                action="repeat skipped",
            )
            continue
        seen.add(image_id)
        image_ids.append(image_id)
    return image_ids


def _check_layout(directory, annotation_dir, image_dir):
    if not directory.is_dir():
        raise FileNotFoundError(f"VOC directory {directory} does not exist.")
    missing = [
        path.name for path in (annotation_dir, image_dir) if not path.is_dir()
    ]
    if missing:
        nested = sorted(
            str(path.parent)
            for path in directory.glob("*/Annotations")
            if path.is_dir()
        )
        hint = f" Did you mean {' or '.join(nested)}?" if nested else ""
        raise FileNotFoundError(
            f"{directory} is not a VOCdevkit-format directory: no "
            f"{' and no '.join(missing)} folder.{hint}"
        )


def _check_class_names(class_names):
    if isinstance(class_names, str):
        raise ValueError(
            "`class_names` must be a sequence of names, not a string. "
            f"Received: {class_names!r}"
        )
    names = [str(name) for name in class_names]
    if not names:
        raise ValueError("`class_names` must not be empty.")
    duplicates = sorted(
        name
        for name, number in collections.Counter(names).items()
        if number > 1
    )
    if duplicates:
        raise ValueError(
            f"`class_names` has duplicates: {duplicates}. Received: {names}"
        )
    return {name: index for index, name in enumerate(names)}
