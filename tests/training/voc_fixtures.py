"""A small VOCdevkit with the defects real VOC-format data has, for tests.

`write_defective_voc` writes it and returns a `DefectiveVOC` saying what
the loader is expected to do with each defect; tests of
`training.detection.data.sources.load_detection_data` and command-line
tests (`python -m training train --data <directory>`) both use it.
"""

import dataclasses
import pathlib

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 64, 48
TRAIN_SPLIT = "trainval"
EVAL_SPLIT = "test"
GOOD_CLASSES = ("dog", "cat", "person")

# id -> (problem kind or None, outcome, what is written), for the defects,
# in the order they are listed in the training split (after the good ones).
DEFECTS = {
    "tag_says_png": (
        "filename_mismatch", "kept",
        "tag_says_png.jpg (JPEG); its <filename> tag says tag_says_png.png",
    ),
    "tag_other_name": (
        "filename_mismatch", "kept",
        "tag_other_name.jpg (JPEG); its <filename> tag says IMG_0001.jpg",
    ),
    "png_image": (
        None, "kept",
        "png_image.png (a real PNG, tag png_image.png): no problem",
    ),
    "unknown_class": (
        "unknown_class", "object skipped",
        "a dog box and a 'unicorn' box: the image is kept with the dog only",
    ),
    "no_annotation": (
        "image_without_annotation", "image skipped",
        "no_annotation.jpg without Annotations/no_annotation.xml",
    ),
    "malformed_xml": (
        "malformed_xml", "image skipped",
        "Annotations/malformed_xml.xml cut off in the middle of an <object>",
    ),
}  # fmt: skip
KEPT_DEFECTS = tuple(i for i, (_, outcome, _) in DEFECTS.items() if outcome != "image skipped")
SKIPPED_DEFECTS = tuple(i for i in DEFECTS if i not in KEPT_DEFECTS)


@dataclasses.dataclass(frozen=True)
class DefectiveVOC:
    """What `write_defective_voc` wrote and what loading it should give.

    Attributes:
        directory: The VOCdevkit directory (holding `VOC2007/`): pass it as
            `--data` / `load_detection_data(data=...)`.
        voc_directory: `directory / "VOC2007"` (also accepted as data).
        batch_size: The batch size the data was written for.
        train_split: `"trainval"`, the default training split of VOC.
        eval_split: `"test"`, the default evaluation split.
        train_ids: Ids of the training images a non-strict load keeps, in
            order (with the default 20 VOC classes).
        eval_ids: Ids of the evaluation images (all clean).
        problem_counts: `{kind: count}` of the training split's problems.
        strict_error: The message `strict=True` raises (the first problem),
            or `None` when the split has no problem before the batch check.
        error: The message a non-strict load raises, or `None` when it
            succeeds.
    """

    directory: pathlib.Path
    voc_directory: pathlib.Path
    batch_size: int
    train_split: str
    eval_split: str
    train_ids: tuple
    eval_ids: tuple
    problem_counts: dict
    strict_error: str | None
    error: str | None


def write_defective_voc(directory, batch_size=4, fewer_than_batch=False):
    """Writes `<directory>/VOC2007/` (VOCdevkit layout) with typical defects.

    Every image is 64 x 48 and every good image has one box of `dog`, `cat`
    or `person`, so the default 20 VOC classes apply. With the defaults of
    `load_detection_data` (`trainval` / `test`, VOC classes, not strict):

    | id               | written                        | outcome          |
    |------------------|--------------------------------|------------------|
    | `good_00`, ...   | JPEG + XML, one box            | kept             |
    | `tag_says_png`   | `.jpg` whose `<filename>` says | kept, warning    |
    |                  | `.png`                         | filename_mismatch|
    | `tag_other_name` | `.jpg` whose `<filename>` says | kept, warning    |
    |                  | `IMG_0001.jpg`                 | filename_mismatch|
    | `png_image`      | a real PNG (tag `.png`)        | kept, no problem |
    | `unknown_class`  | a dog box and a `unicorn` box  | kept with the dog|
    |                  |                                | only; warning    |
    |                  |                                | unknown_class    |
    | `no_annotation`  | image, no XML                  | skipped, warning |
    |                  |                                | image_without_   |
    |                  |                                | annotation       |
    | `malformed_xml`  | XML cut off mid-`<object>`     | skipped, warning |
    |                  |                                | malformed_xml    |
    | `test_00`, `01`  | clean, the `test` split        | kept             |

    The training split lists `batch_size` good images, then the six
    defects: `batch_size + 4` usable images, so loading succeeds and the
    problems are printed as ONE warning for `trainval` (`test` is clean).
    With `strict=True` loading stops at the first defect,
    `tag_says_png` (`DataProblemError`, message in `strict_error`).

    With `fewer_than_batch=True` the training split lists `batch_size - 1`
    good images and the two defects that skip an image (`no_annotation`,
    `malformed_xml`): `batch_size - 1` usable images, one short of a batch,
    and loading raises `DataError` with the message in `error`.

    Args:
        directory: Where to write (created if needed); it becomes a
            VOCdevkit directory holding `VOC2007/`.
        batch_size: The training batch size the data is for (>= 2 with
            `fewer_than_batch`).
        fewer_than_batch: Write the variant with one image short of a
            batch.

    Returns:
        A `DefectiveVOC` with the paths and the expected outcome.

    Example:

    >>> voc = write_defective_voc(tmp_path, batch_size=4)  # doctest: +SKIP
    >>> data = load_detection_data(str(voc.directory), batch_size=4)  # doctest: +SKIP
    >>> [r.image_id for r in data.train] == list(voc.train_ids)  # doctest: +SKIP
    True
    """
    if batch_size < 1 or (fewer_than_batch and batch_size < 2):
        raise ValueError(f"batch_size must be >= 1 (>= 2 when fewer), got {batch_size}.")
    directory = pathlib.Path(directory)
    voc = directory / "VOC2007"
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (voc / folder).mkdir(parents=True, exist_ok=True)

    num_good = batch_size - 1 if fewer_than_batch else batch_size
    good = [f"good_{index:02d}" for index in range(num_good)]
    for index, image_id in enumerate(good):
        _write_image(voc, image_id, "JPEG", seed=index)
        _write_xml(voc, image_id, f"{image_id}.jpg", [GOOD_CLASSES[index % 3]])
    evaluation = ["test_00", "test_01"]
    for index, image_id in enumerate(evaluation):
        _write_image(voc, image_id, "JPEG", seed=100 + index)
        _write_xml(voc, image_id, f"{image_id}.jpg", [GOOD_CLASSES[index % 3]])

    _write_image(voc, "tag_says_png", "JPEG", seed=200)
    _write_xml(voc, "tag_says_png", "tag_says_png.png", ["dog"])
    _write_image(voc, "tag_other_name", "JPEG", seed=201)
    _write_xml(voc, "tag_other_name", "IMG_0001.jpg", ["cat"])
    _write_image(voc, "png_image", "PNG", seed=202)
    _write_xml(voc, "png_image", "png_image.png", ["person"])
    _write_image(voc, "unknown_class", "JPEG", seed=203)
    _write_xml(voc, "unknown_class", "unknown_class.jpg", ["dog", "unicorn"])
    _write_image(voc, "no_annotation", "JPEG", seed=204)
    _write_image(voc, "malformed_xml", "JPEG", seed=205)
    (voc / "Annotations" / "malformed_xml.xml").write_text(
        "<annotation><filename>malformed_xml.jpg</filename><object><name>dog"
    )

    defects = SKIPPED_DEFECTS if fewer_than_batch else tuple(DEFECTS)
    train_listed = good + list(defects)
    _write_split(voc, TRAIN_SPLIT, train_listed)
    _write_split(voc, EVAL_SPLIT, evaluation)

    train_ids = tuple(i for i in train_listed if i not in SKIPPED_DEFECTS)
    counts = {}
    for image_id in defects:
        kind = DEFECTS[image_id][0]
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    split_file = voc / "ImageSets" / "Main" / f"{TRAIN_SPLIT}.txt"
    if fewer_than_batch:
        strict_error = (
            f"{voc}/JPEGImages/no_annotation.jpg: image has no annotation "
            "no_annotation.xml [image_without_annotation]"
        )
        error = (
            f"--train-split {TRAIN_SPLIT}: {split_file} has {batch_size - 1} "
            f"usable images, fewer than one batch (--batch-size {batch_size}); "
            "2 skipped (image_without_annotation: 1, malformed_xml: 1), see the "
            "warning above."
        )
    else:
        strict_error = (
            f"{voc}/Annotations/tag_says_png.xml: <filename> is "
            "'tag_says_png.png' but the image file is 'tag_says_png.jpg' "
            "[filename_mismatch]"
        )
        error = None
    return DefectiveVOC(
        directory=directory,
        voc_directory=voc,
        batch_size=batch_size,
        train_split=TRAIN_SPLIT,
        eval_split=EVAL_SPLIT,
        train_ids=train_ids,
        eval_ids=tuple(evaluation),
        problem_counts=counts,
        strict_error=strict_error,
        error=error,
    )


def _write_image(voc, image_id, image_format, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8)
    suffix = {"JPEG": "jpg", "PNG": "png"}[image_format]
    Image.fromarray(pixels).save(voc / "JPEGImages" / f"{image_id}.{suffix}", format=image_format)


def _write_xml(voc, image_id, filename, names):
    objects = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox>"
        f"<xmin>{5 + 10 * n}</xmin><ymin>4</ymin><xmax>{24 + 10 * n}</xmax>"
        "<ymax>40</ymax></bndbox></object>"
        for n, name in enumerate(names)
    )
    (voc / "Annotations" / f"{image_id}.xml").write_text(
        f"<annotation><folder>VOC2007</folder><filename>{filename}</filename>"
        f"<size><width>{WIDTH}</width><height>{HEIGHT}</height><depth>3</depth>"
        f"</size>{objects}</annotation>"
    )


def _write_split(voc, split, ids):
    (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
