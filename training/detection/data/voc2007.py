"""Pascal VOC 2007 from its two original tarballs, images untouched.

Nothing is downloaded. Put the two original tarballs, under their original
names, in one directory:

    VOCtrainval_06-Nov-2007.tar   (460,032,000 bytes)
    VOCtest_06-Nov-2007.tar       (451,020,800 bytes)

By default that directory is the tensorflow-datasets manual directory,
`<tfds data_dir>/downloads/manual/` (`$TFDS_DATA_DIR/downloads/manual/`, or
`~/tensorflow_datasets/downloads/manual/`), so tarballs already placed there
for tfds are found. Another directory can be passed (`tarball_dir`, or
`--data <that directory>` on the command line).

On first use, `ensure_voc2007_directory` unpacks only what the reader needs
(`VOCdevkit/VOC2007/{Annotations, JPEGImages, ImageSets/Main}`) into
`<cache>/voc2007-original/` (the cache is `$KERAS_RESOLUTION_CACHE` or
`~/.cache/keras_resolution`): to a temporary directory next to it, renamed
into place when complete, so an interrupted run leaves nothing half-written.
The files are copied byte for byte (the JPEGs are not re-encoded), and the
result is read by the same directory reader as any VOCdevkit
(`voc_reader.load_voc_directory`). Later calls find the cache and do not
open the tarballs again, unless their sizes changed.
"""

import json
import logging
import os
import pathlib
import shutil
import tarfile
import tempfile

from training.detection.data.embedded import default_cache_dir
from training.detection.data.errors import DataError
from training.detection.data.errors import DataNotFoundError

logger = logging.getLogger(__name__)

VOC2007_TARBALLS = ("VOCtrainval_06-Nov-2007.tar", "VOCtest_06-Nov-2007.tar")
CACHE_NAME = "voc2007-original"
# The members unpacked: everything else (segmentation, layout) is left out.
MEMBER_PREFIX = "VOCdevkit/VOC2007/"
MEMBER_FOLDERS = ("Annotations/", "JPEGImages/", "ImageSets/Main/")
_MARKER = "tarballs.json"


def tfds_manual_dir():
    """`<tfds data_dir>/downloads/manual`, as tensorflow-datasets finds it.

    The tfds data directory is `$TFDS_DATA_DIR` or `~/tensorflow_datasets`
    (tfds is not imported).
    """
    root = os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return pathlib.Path(root).expanduser() / "downloads" / "manual"


def holds_voc2007_tarballs(directory):
    """Whether `directory` holds at least one of the two tarballs."""
    directory = pathlib.Path(directory)
    return any((directory / name).is_file() for name in VOC2007_TARBALLS)


def find_voc2007_tarballs(tarball_dir=None, option="--data voc2007"):
    """The paths of the two tarballs.

    Args:
        tarball_dir: The directory holding them; `None` for
            `tfds_manual_dir()`.
        option: How to name the setting in an error message.

    Returns:
        A tuple of two `pathlib.Path`, in `VOC2007_TARBALLS` order.

    Raises:
        DataNotFoundError: naming the missing tarballs and where to put
            them (one line).
    """
    directory = pathlib.Path(tarball_dir or tfds_manual_dir()).expanduser()
    paths = tuple(directory / name for name in VOC2007_TARBALLS)
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise DataNotFoundError(
            f"{option}: missing {' and '.join(missing)} in {directory}/. Put "
            f"the two original tarballs {VOC2007_TARBALLS[0]} and "
            f"{VOC2007_TARBALLS[1]} there (or set TFDS_DATA_DIR, or pass "
            "--data <the directory holding them>); nothing is downloaded."
        )
    return paths


def ensure_voc2007_directory(tarball_dir=None, cache_dir=None, option="--data voc2007"):
    """The `VOCdevkit/VOC2007` directory unpacked from the original tarballs.

    Unpacks on first use (see the module docstring); afterwards returns the
    cached directory.

    Args:
        tarball_dir: The directory holding the two tarballs; `None` for the
            tfds manual directory (`tfds_manual_dir()`).
        cache_dir: Where the unpacked copy is kept (default
            `$KERAS_RESOLUTION_CACHE` or `~/.cache/keras_resolution`).
        option: How to name the setting in an error message.

    Returns:
        The `pathlib.Path` of `.../VOCdevkit/VOC2007`, with `Annotations/`,
        `JPEGImages/` and `ImageSets/Main/`.

    Raises:
        DataNotFoundError: if a tarball is missing (saying what to put
            where).
        DataError: if a tarball cannot be read or holds no VOC 2007 files.

    Example:

    >>> directory = ensure_voc2007_directory()  # doctest: +SKIP
    >>> records, summary = load_voc_directory(directory, "test")  # doctest: +SKIP
    >>> len(records)  # doctest: +SKIP
    4952
    """
    tarballs = find_voc2007_tarballs(tarball_dir, option)
    cache_dir = pathlib.Path(cache_dir or default_cache_dir()).expanduser()
    target = cache_dir / CACHE_NAME
    identity = _identity(tarballs)
    if _is_complete(target, identity):
        return target / MEMBER_PREFIX
    cache_dir.mkdir(parents=True, exist_ok=True)
    logger.warning(
        "Unpacking VOC 2007 from %s into %s (once).", tarballs[0].parent, target
    )
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}-partial-", dir=cache_dir))
    try:
        for tarball in tarballs:
            unpack_voc2007_tarball(tarball, staging, option)
        (staging / _MARKER).write_text(json.dumps(identity, indent=2))
        _replace(staging, target, identity)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / MEMBER_PREFIX


def unpack_voc2007_tarball(tarball, destination, option="--data voc2007"):
    """Copies the reader's members of one tarball, byte for byte.

    Only regular files under `VOCdevkit/VOC2007/Annotations/`,
    `JPEGImages/` and `ImageSets/Main/` are written, at the same relative
    path under `destination`; other members, and any member whose path
    would leave `destination`, are skipped.

    Args:
        tarball: Path of the `.tar` file.
        destination: Directory to write into (e.g. a staging directory).
        option: How to name the setting in an error message.

    Returns:
        The number of files written.

    Raises:
        DataError: if the tarball cannot be read or holds no such member.
    """
    destination = pathlib.Path(destination)
    written = 0
    try:
        with tarfile.open(tarball, mode="r:*") as archive:
            for member in archive:
                relative = _wanted(member)
                if relative is None:
                    continue
                path = destination / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, open(path, "wb") as sink:
                    shutil.copyfileobj(source, sink, length=1 << 20)
                written += 1
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{option}: cannot read {tarball} ({error}).") from None
    if not written:
        raise DataError(
            f"{option}: {tarball} holds no {MEMBER_PREFIX}Annotations, "
            "JPEGImages or ImageSets/Main files; is it the original VOC 2007 "
            "tarball?"
        )
    return written


def _wanted(member):
    """The member's safe relative path if the reader needs it, else None."""
    if not member.isfile():
        return None
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return None
    if not name.startswith(MEMBER_PREFIX):
        return None
    if not name[len(MEMBER_PREFIX) :].startswith(MEMBER_FOLDERS):
        return None
    return pathlib.PurePosixPath(*parts)


def _identity(tarballs):
    """What the cache was made from: each tarball's name and size."""
    return {path.name: path.stat().st_size for path in tarballs}


def _is_complete(target, identity):
    marker = target / _MARKER
    try:
        return json.loads(marker.read_text()) == identity
    except (OSError, ValueError):
        return False


def _replace(staging, target, identity):
    """Renames `staging` to `target`, replacing an outdated `target`."""
    if target.exists():
        if _is_complete(target, identity):  # Another process finished first.
            return
        outdated = target.with_name(f".{target.name}-outdated-{os.getpid()}")
        os.replace(target, outdated)
        shutil.rmtree(outdated, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError:
        if not _is_complete(target, identity):
            raise
