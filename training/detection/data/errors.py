"""The exceptions of the data readers: one line each, naming what to fix.

Every error raised because of the user's data or data options is a
`DataError` (a `ValueError`) or a `DataNotFoundError` (a `DataError` that
is also a `FileNotFoundError`), so a caller can catch them all with
`except DataError` and print `str(error)` as it is. The message is one
line and names the command-line option (`--data`, `--classes`,
`--train-split`, ...) or the file concerned.

Example:

>>> try:
...     raise DataNotFoundError("--data /nowhere: no such directory.")
... except ValueError as error:
...     print(error)
--data /nowhere: no such directory.
"""


class DataError(ValueError):
    """Unusable data or data option; the message is one line.

    Args:
        message: What is wrong and, when it helps, what to do. Line breaks
            are replaced by spaces so that the message stays one line.
    """

    def __init__(self, message):
        super().__init__(" ".join(str(message).split("\n")))


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file, directory, split or tarball that does not exist.

    Both a `DataError` (so a `ValueError`) and a `FileNotFoundError`.

    Args:
        message: One line naming the option or the missing file.
    """

    def __init__(self, message):
        DataError.__init__(self, message)


class DataProblemError(DataError):
    """A problem in the data met with `strict=True`.

    The message is `"<file>: <what is wrong> [<problem kind>]"`.

    Attributes:
        kind: The problem kind (see `voc_problems.PROBLEM_KINDS`).
        path: The file concerned.
    """

    def __init__(self, kind, path, detail):
        self.kind = kind
        self.path = str(path)
        super().__init__(f"{path}: {detail} [{kind}]")
