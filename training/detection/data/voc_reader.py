"""The VOCdevkit directory reader: one `VOCRecord` per usable image.

`load_voc_directory` reads any directory in the VOCdevkit layout:

    <directory>/
        Annotations/<id>.xml
        JPEGImages/<id>.jpg            (or .jpeg, .png, any letter case)
        ImageSets/Main/<split>.txt     (one id per line)

and returns one `VOCRecord` per usable image plus a `VOCLoadSummary` that
lists every problem found, with the file it was found in. As in the VOC
devkit, an image is found by its id, `JPEGImages/<id>.<ext>`; the
`<filename>` tag is only checked against it. Boxes follow the convention of
`voc_annotation` (0-based pixel edges, `(0, 0, width, height)` is the whole
image), clipped to the image.

Problems and what happens to the data (default, `strict=False`):

| kind                       | outcome        | when                         |
|----------------------------|----------------|------------------------------|
| `image_without_annotation` | image skipped  | no `Annotations/<id>.xml`    |
|                            |                | (an XML with no objects is a |
|                            |                | valid image without objects) |
| `annotation_without_image` | image skipped  | no `JPEGImages/<id>.<ext>`   |
| `missing_files`            | image skipped  | a split id with neither      |
| `duplicate_id`             | repeat skipped | an id listed again in the    |
|                            |                | split file (read once)       |
| `malformed_xml`            | image skipped  | unparsable XML, an object    |
|                            |                | without name or box, a       |
|                            |                | non-numeric value            |
| `unreadable_image`         | image skipped  | not a decodable image file   |
| `size_mismatch`            | image skipped  | `<size>` disagrees with the  |
|                            |                | image file                   |
| `filename_mismatch`        | kept, warning  | `<filename>` names another   |
|                            |                | file or extension (e.g.      |
|                            |                | `.png` for a `.jpg`); the    |
|                            |                | image is found by its id     |
| `unknown_class`            | object skipped | name not in `class_names`    |
| `zero_area_box`            | object skipped | no area after clipping       |
| `clipped_box`              | kept, warning  | box partly outside the image |
|                            |                | (clipped to it)              |

With `strict=True` the first problem of any kind raises `DataProblemError`
(a `ValueError`) naming the file: `"<file>: <what is wrong> [<kind>]"`.
Otherwise every problem is recorded in the summary, and ONE warning per
call, with the counts and the first problems, is logged through `logging`
(printed to stderr when logging is not configured). Nothing is dropped
silently. Missing directories or split files raise `DataNotFoundError` (a
`FileNotFoundError`).
"""

import dataclasses
import logging
import pathlib

import numpy as np

from training.detection.data import voc_problems as problems
from training.detection.data.class_names import check_class_names
from training.detection.data.errors import DataNotFoundError
from training.detection.data.voc_annotation import VOC_CLASSES
from training.detection.data.voc_annotation import MalformedAnnotation
from training.detection.data.voc_annotation import clip_box
from training.detection.data.voc_annotation import format_voc_box
from training.detection.data.voc_annotation import read_annotation
from training.detection.data.voc_annotation import voc_box_to_edges

logger = logging.getLogger(__name__)

# In the order an id's image is looked for.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


@dataclasses.dataclass(frozen=True, eq=False)
class VOCRecord:
    """One annotated image.

    Attributes:
        image_id: The VOC id (file stem), e.g. `"000005"`.
        image_path: Path of the image file (JPEG or PNG).
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


def load_voc_directory(
    directory,
    split="trainval",
    class_names=VOC_CLASSES,
    strict=False,
):
    """Reads a VOCdevkit-format directory.

    See the module docstring for what each problem does to the data.

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
        DataNotFoundError: (a `FileNotFoundError`) if the directory, its
            `Annotations/` or `JPEGImages/` folder, or the split file does
            not exist; the message lists the splits that exist.
        DataProblemError: (a `ValueError`) with `strict=True`, on the first
            problem, naming the file.
        DataError: (a `ValueError`) if `class_names` is empty or has
            duplicates.

    Example:

    >>> records, summary = load_voc_directory(
    ...     "VOCdevkit/VOC2007", split="test")  # doctest: +SKIP
    >>> records[0].boxes  # doctest: +SKIP
    array([[ 47., 239., 195., 371.], [  7.,  11., 352., 498.]], dtype=float32)
    >>> summary.count("unknown_class")  # doctest: +SKIP
    0
    """
    class_index = check_class_names(class_names)
    directory = pathlib.Path(directory)
    annotation_dir = directory / "Annotations"
    image_dir = directory / "JPEGImages"
    _check_layout(directory, annotation_dir, image_dir)
    reporter = problems.ProblemReporter(strict)

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

    summary = problems.VOCLoadSummary(
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


def split_path(directory, split):
    """`<directory>/ImageSets/Main/<split>.txt`."""
    return pathlib.Path(directory) / "ImageSets" / "Main" / f"{split}.txt"


def available_splits(directory):
    """Sorted names of the split files in `ImageSets/Main`, without VOC's
    per-class files (`dog_trainval.txt` when `trainval.txt` exists)."""
    main = pathlib.Path(directory) / "ImageSets" / "Main"
    stems = {path.stem for path in main.glob("*.txt")}
    return sorted(
        stem
        for stem in stems
        if "_" not in stem or stem.rsplit("_", 1)[1] not in stems
    )


def find_image(image_dir, image_id, filename=None):
    """The image of an id, `<image_dir>/<image_id>.<ext>`, or `None`.

    Args:
        image_dir: The `JPEGImages` folder.
        image_id: The id.
        filename: The annotation's `<filename>` tag, if any: when several
            files have the id as stem (`a.jpg` and `a.png`), the one it
            names is taken; otherwise the first in `IMAGE_EXTENSIONS` order.

    Returns:
        A `pathlib.Path`, or `None`.
    """
    image_dir = pathlib.Path(image_dir)
    if filename is not None and pathlib.Path(filename).stem == image_id:
        named = image_dir / pathlib.Path(filename).name
        if named.suffix in IMAGE_EXTENSIONS and named.is_file():
            return named
    for extension in IMAGE_EXTENSIONS:
        path = image_dir / f"{image_id}{extension}"
        if path.is_file():
            return path
    return None


def _load_image(image_id, annotation_dir, image_dir, class_index, reporter):
    """Reads one id; returns a `VOCRecord` or `None` after reporting."""
    annotation_path = annotation_dir / f"{image_id}.xml"
    has_annotation = annotation_path.is_file()
    image_path = find_image(image_dir, image_id)
    if image_path is None and not has_annotation:
        reporter.report(
            problems.MISSING_FILES,
            annotation_path,
            f"id {image_id!r} has neither an annotation nor an image "
            f"({image_id}.jpg in {image_dir})",
        )
        return None
    if not has_annotation:
        reporter.report(
            problems.IMAGE_WITHOUT_ANNOTATION,
            image_path,
            f"image has no annotation {annotation_path.name}",
        )
        return None
    if image_path is None:
        reporter.report(
            problems.ANNOTATION_WITHOUT_IMAGE,
            annotation_path,
            f"annotation has no image {image_id}.jpg in {image_dir}",
        )
        return None

    try:
        annotation = read_annotation(annotation_path)
    except MalformedAnnotation as error:
        reporter.report(problems.MALFORMED_XML, annotation_path, str(error))
        return None

    image_path = find_image(image_dir, image_id, annotation.filename)
    if annotation.filename is not None and annotation.filename not in (
        image_path.name,
        image_id,
    ):
        reporter.report(
            problems.FILENAME_MISMATCH,
            annotation_path,
            f"<filename> is {annotation.filename!r} but the image file is "
            f"{image_path.name!r}",
        )

    try:
        width, height = _read_image_size(image_path)
    except OSError as error:
        reporter.report(
            problems.UNREADABLE_IMAGE, image_path, f"cannot read image ({error})"
        )
        return None
    if annotation.size is not None and annotation.size != (width, height):
        reporter.report(
            problems.SIZE_MISMATCH,
            annotation_path,
            f"<size> is {annotation.size[0]}x{annotation.size[1]} but "
            f"{image_path.name} is {width}x{height}",
        )
        return None

    boxes, classes, difficult = [], [], []
    for number, raw in enumerate(annotation.objects, start=1):
        if raw.name not in class_index:
            reporter.unknown_class_names[raw.name] += 1
            reporter.report(
                problems.UNKNOWN_CLASS,
                annotation_path,
                f"unknown class {raw.name!r} (object {number})",
            )
            continue
        box = voc_box_to_edges(raw.xmin, raw.ymin, raw.xmax, raw.ymax)
        clipped = clip_box(box, width, height)
        described = f"object {number} ({raw.name!r}): {format_voc_box(raw)}"
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            reporter.report(
                problems.ZERO_AREA_BOX,
                annotation_path,
                f"{described} has zero area"
                + (" after clipping" if clipped != box else "")
                + f" in the {width}x{height} image",
            )
            continue
        if clipped != box:
            reporter.report(
                problems.CLIPPED_BOX,
                annotation_path,
                f"{described} extends outside the {width}x{height} image",
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
            if image.format not in ("JPEG", "PNG"):
                raise OSError(f"{image.format} image; expected JPEG or PNG")
            return image.size
    except OSError:
        raise
    except Exception as error:  # PIL raises several types for bad files.
        raise OSError(str(error)) from error


def _scan_ids(annotation_dir, image_dir):
    stems = {path.stem for path in annotation_dir.glob("*.xml")}
    stems.update(
        path.stem for path in image_dir.iterdir() if path.suffix in IMAGE_EXTENSIONS
    )
    return sorted(stems)


def _read_split(directory, split, reporter):
    path = split_path(directory, split)
    if not path.is_file():
        available = available_splits(directory)
        raise DataNotFoundError(
            f"Split file {path} not found. Available splits: "
            f"{available or 'none'}. Pass split=None to read every "
            "annotation in the directory."
        )
    image_ids = []
    seen = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for line_number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        image_id = fields[0]
        if image_id in seen:
            reporter.report(
                problems.DUPLICATE_ID,
                path,
                f"line {line_number}: id {image_id!r} listed again",
            )
            continue
        seen.add(image_id)
        image_ids.append(image_id)
    return image_ids


def _check_layout(directory, annotation_dir, image_dir):
    if not directory.is_dir():
        raise DataNotFoundError(f"VOC directory {directory} does not exist.")
    missing = [path.name for path in (annotation_dir, image_dir) if not path.is_dir()]
    if missing:
        nested = sorted(
            str(path.parent)
            for path in directory.glob("*/Annotations")
            if path.is_dir()
        )
        hint = f" Did you mean {' or '.join(nested)}?" if nested else ""
        raise DataNotFoundError(
            f"{directory} is not a VOCdevkit-format directory: no "
            f"{' and no '.join(missing)} folder.{hint}"
        )
