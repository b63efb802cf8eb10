"""Class lists: checked sequences, and the forms a user writes them in.

A class list is an ordered sequence of distinct, non-empty names; a name's
position is its class index. `parse_class_names` accepts what a user has at
hand: a list, a comma-separated string, a text file with one name per line,
or the command-line form `--classes a,b,c` / `--classes names.txt`.
"""

import collections
import os
import pathlib

from training.detection.data.errors import DataError
from training.detection.data.errors import DataNotFoundError

OPTION = "--classes"
# A `--classes` value that looks like a file name, not a list of names.
_FILE_SUFFIXES = (".txt", ".names", ".csv", ".lst")


def check_class_names(class_names, where="`class_names`"):
    """Checks a sequence of names; returns `{name: index}`.

    Args:
        class_names: Sequence of names (not a single string).
        where: How to name the list in an error (an option or a file).

    Returns:
        A dict from each name to its position.

    Raises:
        DataError: for a string, an empty list, an empty name or
            duplicates.
    """
    if isinstance(class_names, str):
        raise DataError(
            f"{where} must be a sequence of names, not a string. "
            f"Received: {class_names!r}"
        )
    names = [str(name).strip() for name in class_names]
    if not names:
        raise DataError(f"{where} must not be empty.")
    if not all(names):
        position = names.index("") + 1
        raise DataError(f"{where} has an empty name at position {position}.")
    duplicates = sorted(
        name for name, number in collections.Counter(names).items() if number > 1
    )
    if duplicates:
        raise DataError(f"{where} has duplicates: {duplicates}. Received: {names}")
    return {name: index for index, name in enumerate(names)}


def parse_class_names(value, default):
    """The class list a user means by `value`.

    Args:
        value: `None` (use `default`), a sequence of names, a
            comma-separated string (`"dog,cat"`), the path of a text file
            with one name per line (blank lines and lines starting with `#`
            are ignored), or either string form after `--classes`
            (`"--classes dog,cat"`, `"--classes=names.txt"`). A string that
            names an existing file, or ends in `.txt`, `.names`, `.csv` or
            `.lst`, or contains a path separator, is read as a file.
        default: The data's own class list, used when `value` is `None`.

    Returns:
        A tuple of names.

    Raises:
        DataNotFoundError: if a class file does not exist.
        DataError: for an empty list, an empty name or duplicates, naming
            `--classes` or the file.

    Example:

    >>> parse_class_names("--classes dog, cat", default=())
    ('dog', 'cat')
    >>> parse_class_names(None, default=("circle", "square"))
    ('circle', 'square')
    """
    if value is None:
        names = tuple(default)
        check_class_names(names, OPTION)
        return names
    if not isinstance(value, (str, os.PathLike)):
        names = tuple(str(name).strip() for name in value)
        check_class_names(names, OPTION)
        return names
    text = os.fspath(value).strip()
    for prefix in (OPTION + "=", OPTION + " "):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    if text == OPTION or not text:
        raise DataError(f"{OPTION} is empty: give names (a,b,c) or a file.")
    if isinstance(value, os.PathLike) or _looks_like_file(text):
        return _read_class_file(text)
    names = tuple(name.strip() for name in text.split(","))
    check_class_names(names, f"{OPTION} {text!r}")
    return names


def _looks_like_file(text):
    path = pathlib.Path(text).expanduser()
    return (
        path.is_file()
        or text.lower().endswith(_FILE_SUFFIXES)
        or ("," not in text and ("/" in text or os.sep in text))
    )


def _read_class_file(text):
    path = pathlib.Path(text).expanduser()
    if not path.is_file():
        raise DataNotFoundError(
            f"{OPTION} {text}: no such file (expected one class name per line)."
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{OPTION} {text}: cannot read ({error}).") from None
    names = tuple(
        line.strip()
        for line in lines
        if line.strip() and not line.strip().startswith("#")
    )
    check_class_names(names, f"{OPTION} file {path}")
    return names
