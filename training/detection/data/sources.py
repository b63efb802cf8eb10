"""The one entry point of the detection job to its data: `load_detection_data`.

`data` is one of:

* `"embedded"`: the generated shapes data (`embedded.py`), written once to
  the cache; splits `train` / `test`, its 5 classes and size bands.
* `"voc2007"`: Pascal VOC 2007 from the two original tarballs in the
  tensorflow-datasets manual directory (`voc2007.py`), unpacked once,
  images untouched; splits `trainval` / `test`, the 20 VOC classes.
* a path: a VOCdevkit directory (its `VOC2007/` is taken, or its only
  `VOC*/` folder), a VOC2007-style folder holding `Annotations/`,
  `JPEGImages/` and `ImageSets/Main/`, or a directory holding the two VOC
  2007 tarballs; splits `trainval` / `test`, the 20 VOC classes.

Every split is read by the same reader (`voc_reader.load_voc_directory`):
its problems are skipped or kept as that module's table says, and printed
once per split as one warning. Before any model is built, a split with no
usable image, or a training split with fewer usable images than one batch,
raises a `DataError`. All errors are one line naming the option (`--data`,
`--classes`, `--train-split`, `--eval-split`, `--batch-size`, ...) or the
file.
"""

import dataclasses
import pathlib

from training.detection.data import voc2007
from training.detection.data.class_names import parse_class_names
from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import SCALE_BANDS
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.embedded import ensure_embedded_dataset
from training.detection.data.errors import DataError
from training.detection.data.errors import DataNotFoundError
from training.detection.data.voc_annotation import VOC_CLASSES
from training.detection.data.voc_problems import IMAGE_SKIPPING_KINDS
from training.detection.data.voc_reader import available_splits
from training.detection.data.voc_reader import load_voc_directory
from training.detection.data.voc_reader import split_path

EMBEDDED = "embedded"
VOC2007 = "voc2007"
DEFAULT_SPLITS = {EMBEDDED: ("train", "test"), "voc": ("trainval", "test")}
# The embedded data of every detection run (tests may patch a smaller one).
EMBEDDED_CONFIG = EmbeddedConfig(seed=0)


@dataclasses.dataclass(frozen=True, eq=False)
class DetectionData:
    """The records a detection run trains and evaluates on.

    Attributes:
        train: List of `VOCRecord` of the training split (empty when not
            requested).
        evaluation: List of `VOCRecord` of the evaluation split.
        class_names: Tuple of class names; a name's position is the class
            index in the records.
        size_bands: `{band: (low, high)}` of sqrt(box area) for per-band AP
            (the embedded data's `SCALE_BANDS`), or `None`.
        description: One line saying what was loaded, for logs.
        directory: The VOCdevkit-layout directory read.
        train_split: The training split's name (`None` when not requested).
        eval_split: The evaluation split's name.
        train_summary: The training split's `VOCLoadSummary` (or `None`).
        eval_summary: The evaluation split's `VOCLoadSummary`.
    """

    train: list
    evaluation: list
    class_names: tuple
    size_bands: dict | None
    description: str
    directory: str
    train_split: str | None
    eval_split: str
    train_summary: object
    eval_summary: object


def load_detection_data(
    data,
    class_names=None,
    train_split=None,
    eval_split=None,
    strict=False,
    batch_size=1,
    max_train_images=None,
    max_eval_images=None,
    include_train=True,
    cache_dir=None,
):
    """Loads the training and evaluation records of `data`.

    Args:
        data: `"embedded"`, `"voc2007"`, or the path of a VOCdevkit
            directory, a VOC2007-style folder or a directory holding the
            two VOC 2007 tarballs (see the module docstring).
        class_names: `None` for the data's own classes (VOC's 20, or the
            embedded 5), a sequence of names, a comma-separated string, the
            path of a text file with one name per line, or either string
            form after `--classes` (`"--classes a,b"`). Objects of other
            classes are skipped and reported.
        train_split: Training split name (`ImageSets/Main/<name>.txt`);
            `None` for the data's default (`train` embedded, `trainval`
            VOC).
        eval_split: Evaluation split name; `None` for `test`.
        strict: Raise on the first data problem instead of skipping.
        batch_size: Images per training batch: fewer usable training
            images than this is an error.
        max_train_images: Keep only the first N training images.
        max_eval_images: Keep only the first N evaluation images.
        include_train: `False` reads the evaluation split only (to evaluate
            a trained model on data without a training split).
        cache_dir: Where the embedded data and the unpacked VOC 2007 are
            kept (default `$KERAS_RESOLUTION_CACHE` or
            `~/.cache/keras_resolution`).

    Returns:
        A `DetectionData`.

    Raises:
        DataNotFoundError: (`FileNotFoundError` and `ValueError`) for a
            missing directory, split file, class file or tarball; the
            message names the option and, for a split, the splits that
            exist.
        DataError: (`ValueError`) for a bad class list or number, or a
            split left without usable images (or with fewer training images
            than one batch) by its problems.
        DataProblemError: (a `DataError`) with `strict=True`, on the first
            problem, naming the file.

    Example:

    >>> data = load_detection_data("embedded", batch_size=16)  # doctest: +SKIP
    >>> data.description  # doctest: +SKIP
    'embedded shapes, seed 0 (5 classes): 800 training images (train), 200 evaluation images (test)'
    >>> data = load_detection_data(
    ...     "~/VOCdevkit", class_names="dog,cat")  # doctest: +SKIP
    """
    batch_size = _positive_int("--batch-size", batch_size)
    max_train_images = _positive_int("--max-train-images", max_train_images)
    max_eval_images = _positive_int("--max-eval-images", max_eval_images)
    directory, kind, label = resolve_data_directory(data, cache_dir)
    default_train, default_eval = DEFAULT_SPLITS[EMBEDDED if kind == EMBEDDED else "voc"]
    train_split = _split_name("--train-split", train_split, default_train)
    eval_split = _split_name("--eval-split", eval_split, default_eval)
    names = parse_class_names(
        class_names, EMBEDDED_CLASSES if kind == EMBEDDED else VOC_CLASSES
    )
    splits = ([("--train-split", train_split)] if include_train else []) + [
        ("--eval-split", eval_split)
    ]
    for option, split in splits:
        _check_split_file(option, split, directory)

    loaded = {}
    for option, split in splits:
        if split not in loaded:  # A split read twice would warn twice.
            loaded[split] = load_voc_directory(directory, split, names, strict)

    train, train_summary = [], None
    if include_train:
        train, train_summary = loaded[train_split]
        train = train[:max_train_images]
        _check_enough("--train-split", train_split, directory, train,
                      train_summary, batch_size, max_train_images)  # fmt: skip
    evaluation, eval_summary = loaded[eval_split]
    evaluation = evaluation[:max_eval_images]
    _check_enough("--eval-split", eval_split, directory, evaluation,
                  eval_summary, 1, max_eval_images)  # fmt: skip

    parts = []
    if include_train:
        parts.append(f"{_images(len(train), 'training')} ({train_split})")
    parts.append(f"{_images(len(evaluation), 'evaluation')} ({eval_split})")
    summaries = {id(s): s for s in (train_summary, eval_summary) if s is not None}
    num_problems = sum(len(s.problems) for s in summaries.values())
    description = f"{label} ({len(names)} classes): {', '.join(parts)}"
    if num_problems:
        description += f"; {num_problems} data problems (see the warnings)"
    return DetectionData(
        train=train,
        evaluation=evaluation,
        class_names=names,
        size_bands=dict(SCALE_BANDS) if kind == EMBEDDED else None,
        description=description,
        directory=str(directory),
        train_split=train_split if include_train else None,
        eval_split=eval_split,
        train_summary=train_summary,
        eval_summary=eval_summary,
    )


def resolve_data_directory(data, cache_dir=None):
    """The VOCdevkit-layout directory that `data` names.

    Writes the embedded data, or unpacks VOC 2007, on first use.

    Args:
        data: As in `load_detection_data`.
        cache_dir: As in `load_detection_data`.

    Returns:
        `(directory, kind, label)`: a `pathlib.Path` holding
        `Annotations/`, `JPEGImages/` and `ImageSets/Main/`, the kind
        (`"embedded"`, `"voc2007"` or `"directory"`) and a short label for
        descriptions.

    Raises:
        DataNotFoundError: if `data` names nothing usable (one line naming
            `--data`).
    """
    if data is None or not str(data).strip():
        raise DataError("--data is empty: give 'embedded', 'voc2007' or a directory.")
    text = str(data).strip()
    if text == EMBEDDED:
        directory = ensure_embedded_dataset(EMBEDDED_CONFIG, cache_dir)
        return directory, EMBEDDED, f"embedded shapes, seed {EMBEDDED_CONFIG.seed}"
    if text == VOC2007:
        directory = voc2007.ensure_voc2007_directory(cache_dir=cache_dir)
        return directory, VOC2007, "Pascal VOC 2007 from the original tarballs"

    option = f"--data {text}"
    path = pathlib.Path(text).expanduser()
    if path.is_file() and path.name in voc2007.VOC2007_TARBALLS:
        path = path.parent
    if not path.exists():
        raise DataNotFoundError(
            f"{option}: no such directory; expected 'embedded', 'voc2007' or a "
            "VOCdevkit directory (with Annotations/, JPEGImages/ and "
            "ImageSets/Main/)."
        )
    if not path.is_dir():
        raise DataNotFoundError(
            f"{option}: is a file; expected 'embedded', 'voc2007' or a "
            "VOCdevkit directory."
        )
    if not (path / "Annotations").is_dir() and voc2007.holds_voc2007_tarballs(path):
        directory = voc2007.ensure_voc2007_directory(path, cache_dir, option)
        return directory, VOC2007, f"Pascal VOC 2007 from the original tarballs in {path}"
    directory = _voc_folder(path, option)
    if not (directory / "JPEGImages").is_dir():
        raise DataNotFoundError(
            f"{option}: {directory} has Annotations/ but no JPEGImages/ folder."
        )
    return directory, "directory", f"VOC data {directory}"


def _voc_folder(path, option):
    """`path` itself, its `VOC2007/`, or its only `*/` with `Annotations/`."""
    if (path / "Annotations").is_dir():
        return path
    nested = sorted(sub.parent for sub in path.glob("*/Annotations") if sub.is_dir())
    if path / "VOC2007" in nested:
        return path / "VOC2007"
    if len(nested) == 1:
        return nested[0]
    if nested:
        names = ", ".join(sub.name for sub in nested)
        raise DataError(
            f"{option}: holds several VOC folders ({names}); pass one of them "
            f"as --data, e.g. --data {nested[0]}."
        )
    raise DataNotFoundError(
        f"{option}: not a VOCdevkit directory: no Annotations/ folder in it or "
        "in a VOC*/ folder below it (expected Annotations/, JPEGImages/ and "
        "ImageSets/Main/), and no VOC 2007 tarballs."
    )


def _split_name(option, split, default):
    if split is None:
        return default
    split = str(split).strip()
    if not split or "/" in split or split.endswith(".txt"):
        raise DataError(
            f"{option} {split!r}: give a split name such as 'trainval' (the "
            "file ImageSets/Main/<name>.txt)."
        )
    return split


def _check_split_file(option, split, directory):
    path = split_path(directory, split)
    if path.is_file():
        return
    available = available_splits(directory)
    if available:
        hint = f"splits there: {', '.join(available)}"
    else:
        hint = "no split files there (one image id per line in <split>.txt)"
    raise DataNotFoundError(f"{option} {split}: no split file {path}; {hint}.")


def _check_enough(option, split, directory, records, summary, needed, limit):
    if len(records) >= needed:
        return
    where = f"{option} {split}: {split_path(directory, split)}"
    skipped = summary.num_skipped_images
    reason = ""
    if skipped:
        counts = summary.counts_text(IMAGE_SKIPPING_KINDS)
        reason = f"; {skipped} skipped ({counts}), see the warning above"
    if limit is not None and summary.num_records >= needed:
        limit_option = "--max-train-images" if option == "--train-split" else "--max-eval-images"
        raise DataError(
            f"{limit_option} {limit} leaves fewer training images than one "
            f"batch (--batch-size {needed})."
        )
    if not records:
        listed = summary.num_candidates
        raise DataError(f"{where} has no usable image ({listed} listed{reason}).")
    raise DataError(
        f"{where} has {len(records)} usable images, fewer than one batch "
        f"(--batch-size {needed}){reason}."
    )


def _positive_int(option, value):
    if value is None:
        return None
    try:
        number = int(value)
        valid = not isinstance(value, bool) and number == value and number >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise DataError(f"{option} must be an integer >= 1, got {value!r}.")
    return number


def _images(number, what):
    return f"{number} {what} image{'' if number == 1 else 's'}"
