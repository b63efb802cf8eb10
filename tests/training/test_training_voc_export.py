"""VOC 2007 from the original tarballs: unpacked once, byte-identical images,
the same boxes as reading the extracted directory, clear errors, no download."""

import io
import json
import pathlib
import tarfile

import numpy as np
import pytest
from PIL import Image

from training.detection.data import voc2007
from training.detection.data.errors import DataError
from training.detection.data.errors import DataNotFoundError
from training.detection.data.sources import load_detection_data
from training.detection.data.voc_reader import load_voc_directory

PREFIX = "VOCdevkit/VOC2007/"
# id -> (split, (width, height), [(name, VOC box, difficult)])
IMAGES = {
    "000001": ("test", (48, 40), [("dog", (2, 3, 30, 40), 0), ("person", (8, 1, 48, 20), 1)]),
    "000002": ("trainval", (40, 48), [("cat", (1, 1, 40, 48), 0)]),
    "000003": ("trainval", (32, 32), [("car", (5, 6, 20, 21), 0)]),
    "000004": ("trainval", (36, 30), []),
}  # fmt: skip


def _jpeg_bytes(size, seed):
    # Noise, saved at quality 75: re-encoding it would change the bytes.
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def _xml(image_id, size, objects):
    text = "".join(
        f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>"
        f"<xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax>"
        f"<ymax>{box[3]}</ymax></bndbox>"
        "<part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>2</xmax><ymax>2</ymax></bndbox></part></object>"
        for name, box, difficult in objects
    )
    return (
        f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>"
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth>"
        f"</size>{text}</annotation>"
    ).encode()


def _add(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_fake_tarballs(directory, extra_members=()):
    """The two tarballs, VOC 2007 layout, a few small images; returns
    `{id: jpeg bytes}`."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jpegs = {}
    for tarball, split in zip(voc2007.VOC2007_TARBALLS, ("trainval", "test")):
        with tarfile.open(directory / tarball, "w") as archive:
            ids = [i for i, (s, _, _) in IMAGES.items() if s == split]
            for image_id in ids:
                _, size, objects = IMAGES[image_id]
                jpegs[image_id] = _jpeg_bytes(size, int(image_id))
                _add(archive, f"{PREFIX}JPEGImages/{image_id}.jpg", jpegs[image_id])
                _add(archive, f"{PREFIX}Annotations/{image_id}.xml", _xml(image_id, size, objects))
            _add(archive, f"{PREFIX}ImageSets/Main/{split}.txt", "".join(f"{i}\n" for i in ids).encode())
            _add(archive, f"{PREFIX}ImageSets/Main/dog_{split}.txt", b"000001 1\n")
            # Not needed by the reader: left out of the cache.
            _add(archive, f"{PREFIX}SegmentationClass/{ids[0]}.png", b"png")
            _add(archive, f"{PREFIX}ImageSets/Layout/{split}.txt", b"")
            for name, data in extra_members:
                _add(archive, name, data)
    return jpegs


def test_tarballs_are_unpacked_byte_identical_with_the_same_boxes(tmp_path):
    jpegs = write_fake_tarballs(tmp_path / "tarballs")
    directory = voc2007.ensure_voc2007_directory(tmp_path / "tarballs", tmp_path / "cache")

    assert directory == tmp_path / "cache" / "voc2007-original" / "VOCdevkit" / "VOC2007"
    for image_id, data in jpegs.items():
        assert (directory / "JPEGImages" / f"{image_id}.jpg").read_bytes() == data
    assert sorted(p.name for p in directory.iterdir()) == ["Annotations", "ImageSets", "JPEGImages"]
    assert sorted(p.name for p in (directory / "ImageSets").iterdir()) == ["Main"]
    # Nothing half-written is left next to the cache.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["voc2007-original"]

    trainval, summary = load_voc_directory(directory, "trainval", strict=True)
    assert [r.image_id for r in trainval] == ["000002", "000003", "000004"]
    assert summary.problems == ()
    test, _ = load_voc_directory(directory, "test", strict=True)
    [record] = test
    # VOC (2, 3, 30, 40) and (8, 1, 48, 20) -> 0-based pixel edges.
    np.testing.assert_array_equal(record.boxes, [[1, 2, 30, 40], [7, 0, 48, 20]])
    np.testing.assert_array_equal(record.classes, [11, 14])
    np.testing.assert_array_equal(record.difficult, [False, True])
    assert (record.width, record.height) == (48, 40)
    np.testing.assert_array_equal(trainval[1].boxes, [[4, 5, 20, 21]])
    assert trainval[2].boxes.shape == (0, 4)


def test_second_call_uses_the_cache_and_changed_tarballs_refresh_it(tmp_path):
    tarballs = tmp_path / "tarballs"
    write_fake_tarballs(tarballs)
    first = voc2007.ensure_voc2007_directory(tarballs, tmp_path / "cache")
    marker = tmp_path / "cache" / "voc2007-original" / "tarballs.json"
    sizes = json.loads(marker.read_text())
    assert sizes == {name: (tarballs / name).stat().st_size for name in voc2007.VOC2007_TARBALLS}
    # A file removed from the cache is not restored: the tarballs are not read again.
    (first / "JPEGImages" / "000002.jpg").unlink()
    assert voc2007.ensure_voc2007_directory(tarballs, tmp_path / "cache") == first
    assert not (first / "JPEGImages" / "000002.jpg").exists()
    # Different tarballs (another size): unpacked again.
    write_fake_tarballs(tarballs, extra_members=[(f"{PREFIX}Annotations/README", b"x" * 5000)])
    again = voc2007.ensure_voc2007_directory(tarballs, tmp_path / "cache")
    assert (again / "JPEGImages" / "000002.jpg").is_file()


def test_missing_tarballs_say_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    manual = tmp_path / "tfds" / "downloads" / "manual"
    assert voc2007.tfds_manual_dir() == manual
    with pytest.raises(DataNotFoundError) as error:
        voc2007.ensure_voc2007_directory(cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "--data voc2007: missing VOCtrainval_06-Nov-2007.tar and "
        f"VOCtest_06-Nov-2007.tar in {manual}/."
    )
    assert "nothing is downloaded" in message
    manual.mkdir(parents=True)
    (manual / voc2007.VOC2007_TARBALLS[0]).write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"missing VOCtest_06-Nov-2007\.tar in"):
        voc2007.ensure_voc2007_directory(cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_unreadable_or_foreign_tarballs_are_one_line_errors(tmp_path):
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    for name in voc2007.VOC2007_TARBALLS:
        (tarballs / name).write_bytes(b"not a tar file")
    with pytest.raises(DataError, match=r"^--data voc2007: cannot read .*VOCtrainval"):
        voc2007.ensure_voc2007_directory(tarballs, tmp_path / "cache")
    for name in voc2007.VOC2007_TARBALLS:
        with tarfile.open(tarballs / name, "w") as archive:
            _add(archive, "VOCdevkit/VOC2012/Annotations/a.xml", b"<annotation/>")
            _add(archive, f"{PREFIX}../../escape.txt", b"x")
    with pytest.raises(DataError, match="holds no VOCdevkit/VOC2007/Annotations"):
        voc2007.ensure_voc2007_directory(tarballs, tmp_path / "cache")
    assert not (tmp_path / "escape.txt").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


def test_load_detection_data_voc2007_reads_the_tfds_manual_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    jpegs = write_fake_tarballs(tmp_path / "tfds" / "downloads" / "manual")
    data = load_detection_data("voc2007", batch_size=2, cache_dir=tmp_path / "cache")
    assert [r.image_id for r in data.train] == ["000002", "000003", "000004"]
    assert [r.image_id for r in data.evaluation] == ["000001"]
    assert len(data.class_names) == 20 and data.size_bands is None
    assert data.description == (
        "Pascal VOC 2007 from the original tarballs (20 classes): 3 training images "
        "(trainval), 1 evaluation image (test)"
    )
    assert pathlib.Path(data.evaluation[0].image_path).read_bytes() == jpegs["000001"]
    # A directory holding the tarballs works as --data too.
    other = load_detection_data(str(tmp_path / "tfds" / "downloads" / "manual"),
                                batch_size=2, cache_dir=tmp_path / "cache")  # fmt: skip
    assert [r.image_id for r in other.train] == ["000002", "000003", "000004"]
