"""What can be wrong in VOC-format data, what happens then, and the report.

Each problem the directory reader (`voc_reader.load_voc_directory`) finds
is a `VOCProblem` of one kind. The kind decides the outcome, `OUTCOMES`:

* `IMAGE_SKIPPED`: the image is left out (its boxes cannot be trusted, or
  there is no image or annotation to pair);
* `OBJECT_SKIPPED`: one object is left out, the image is kept;
* `REPEAT_SKIPPED`: a repeated id in a split file is read once;
* `KEPT`: nothing is left out; the problem is a warning (a `<filename>` tag
  that disagrees with the file, a box clipped to the image).

`ProblemReporter` collects the problems of one split (or raises
`DataProblemError` on the first one with `strict=True`), and
`VOCLoadSummary` reports them: counts per kind and the first problems, with
the file each was found in.
"""

import collections
import dataclasses

from training.detection.data.errors import DataError
from training.detection.data.errors import DataProblemError

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

IMAGE_SKIPPED = "image skipped"
OBJECT_SKIPPED = "object skipped"
REPEAT_SKIPPED = "repeat skipped"
KEPT = "kept"

# kind -> (outcome, the action appended to the problem's message).
_KINDS = {
    IMAGE_WITHOUT_ANNOTATION: (IMAGE_SKIPPED, "skipped"),
    ANNOTATION_WITHOUT_IMAGE: (IMAGE_SKIPPED, "skipped"),
    MISSING_FILES: (IMAGE_SKIPPED, "skipped"),
    DUPLICATE_ID: (REPEAT_SKIPPED, "repeat skipped"),
    MALFORMED_XML: (IMAGE_SKIPPED, "skipped"),
    FILENAME_MISMATCH: (KEPT, "image kept (found by its id)"),
    UNREADABLE_IMAGE: (IMAGE_SKIPPED, "skipped"),
    SIZE_MISMATCH: (IMAGE_SKIPPED, "skipped"),
    UNKNOWN_CLASS: (OBJECT_SKIPPED, "object skipped"),
    ZERO_AREA_BOX: (OBJECT_SKIPPED, "object skipped"),
    CLIPPED_BOX: (KEPT, "clipped"),
}

PROBLEM_KINDS = tuple(_KINDS)
OUTCOMES = {kind: outcome for kind, (outcome, _) in _KINDS.items()}
# Kinds after which the whole image is left out.
IMAGE_SKIPPING_KINDS = tuple(
    kind for kind in PROBLEM_KINDS if OUTCOMES[kind] == IMAGE_SKIPPED
)
# Kinds that leave the data as it is: warnings only.
WARNING_KINDS = tuple(kind for kind in PROBLEM_KINDS if OUTCOMES[kind] == KEPT)


def check_kind(kind):
    """Returns `kind` if it is one of `PROBLEM_KINDS`.

    Raises:
        DataError: for an unknown kind.
    """
    if kind not in _KINDS:
        raise DataError(
            f"Unknown problem kind {kind!r}. Expected one of {PROBLEM_KINDS}."
        )
    return kind


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

    @property
    def outcome(self):
        """`IMAGE_SKIPPED`, `OBJECT_SKIPPED`, `REPEAT_SKIPPED` or `KEPT`."""
        return OUTCOMES[self.kind]

    def __str__(self):
        return f"{self.path}: {self.message}"


class ProblemReporter:
    """Collects the problems of one read, or raises on the first one.

    Args:
        strict: If `True`, `report` raises `DataProblemError` instead of
            recording.

    Example:

    >>> reporter = ProblemReporter(strict=False)
    >>> reporter.report(CLIPPED_BOX, "a.xml", "box outside the image")
    >>> str(reporter.problems[0])
    'a.xml: box outside the image; clipped'
    """

    def __init__(self, strict):
        self.strict = strict
        self.problems = []
        self.unknown_class_names = collections.Counter()

    def report(self, kind, path, detail):
        """Records `detail` and the kind's action, or raises if strict.

        Args:
            kind: One of `PROBLEM_KINDS`.
            path: The file concerned.
            detail: What is wrong, without the action taken.

        Raises:
            DataProblemError: with `strict=True`.
        """
        _, action = _KINDS[check_kind(kind)]
        if self.strict:
            raise DataProblemError(kind, path, detail)
        self.problems.append(
            VOCProblem(kind=kind, path=str(path), message=f"{detail}; {action}")
        )


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
        """Number of problems of one kind.

        Raises:
            DataError: for an unknown kind.
        """
        check_kind(kind)
        return sum(problem.kind == kind for problem in self.problems)

    @property
    def num_skipped_images(self):
        """Ids left out because of an image-level problem."""
        return sum(
            problem.kind in IMAGE_SKIPPING_KINDS for problem in self.problems
        )

    def counts_text(self, kinds=PROBLEM_KINDS):
        """The non-zero counts of `kinds` on one line, e.g.
        `"malformed_xml: 2, unknown_class: 1"`."""
        return ", ".join(
            f"{kind}: {number}"
            for kind, number in self.counts.items()
            if number and kind in kinds
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
        lines.append(f"{len(self.problems)} problems ({self.counts_text()}).")
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
