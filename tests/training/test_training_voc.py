"""Tests of the VOCdevkit directory reader on small VOC-format directories."""

import logging
import pathlib

import numpy as np
import pytest
from PIL import Image

from training.detection.data import voc

WIDTH, HEIGHT = 64, 48
LOGGER = "training.detection.data.voc_reader"


def object_xml(name, box, difficult=None, parts=""):
    xmin, ymin, xmax, ymax = box
    difficult_tag = (
        "" if difficult is None else f"<difficult>{difficult}</difficult>"
    )
    return (
        f"<object><name>{name}</name><pose>Unspecified</pose>"
        f"<truncated>0</truncated>{difficult_tag}"
        f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>{parts}</object>"
    )


def annotation_xml(filename, objects=(), size=(WIDTH, HEIGHT)):
    size_tag = (
        ""
        if size is None
        else f"<size><width>{size[0]}</width><height>{size[1]}</height>"
        "<depth>3</depth></size>"
    )
    filename_tag = (
        "" if filename is None else f"<filename>{filename}</filename>"
    )
    return (
        f"<annotation><folder>VOC2007</folder>{filename_tag}{size_tag}"
        f"<segmented>0</segmented>{''.join(objects)}</annotation>"
    )


HEAD_PART = (
    "<part><name>head</name><bndbox><xmin>10</xmin><ymin>5</ymin>"
    "<xmax>20</xmax><ymax>15</ymax></bndbox></part>"
)


def write_voc(directory, entries, split_ids, split="trainval"):
    """Writes a VOC directory.

    Args:
        entries: `{image_id: (xml_text or None, image)}` where image is
            `None` (no file), `"garbage"` (undecodable bytes) or a
            `(width, height)` tuple for a JPEG.
        split_ids: Lines of `ImageSets/Main/<split>.txt`, or `None` for no
            split file.
    """
    directory = pathlib.Path(directory)
    for folder in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (directory / folder).mkdir(parents=True, exist_ok=True)
    for image_id, (xml_text, image) in entries.items():
        if xml_text is not None:
            (directory / "Annotations" / f"{image_id}.xml").write_text(xml_text)
        image_path = directory / "JPEGImages" / f"{image_id}.jpg"
        if image == "garbage":
            image_path.write_bytes(b"this is not a JPEG")
        elif image is not None:
            pixels = Image.new("RGB", image, color=(200, 30, 30))
            pixels.save(image_path, format="JPEG")
    if split_ids is not None:
        (directory / "ImageSets" / "Main" / f"{split}.txt").write_text(
            "".join(f"{image_id}\n" for image_id in split_ids)
        )
    return directory


def clean_entry(image_id):
    return (
        annotation_xml(
            f"{image_id}.jpg",
            [
                # Whole image: VOC 1..64 x 1..48 -> (0, 0, 64, 48).
                object_xml("dog", (1, 1, WIDTH, HEIGHT), difficult=0),
                object_xml(
                    "person", (11, 6, 30, 40), difficult=1, parts=HEAD_PART
                ),
            ],
        ),
        (WIDTH, HEIGHT),
    )


def test_clean_directory(tmp_path, caplog):
    entries = {
        "000001": clean_entry("000001"),
        # An annotation without objects is a valid empty image.
        "000002": (annotation_xml("000002.jpg"), (WIDTH, HEIGHT)),
    }
    directory = write_voc(tmp_path, entries, ["000001", "000002"])
    with caplog.at_level(logging.INFO, logger=LOGGER):
        records, summary = voc.load_voc_directory(directory)

    assert [record.image_id for record in records] == ["000001", "000002"]
    first = records[0]
    assert first.image_path == str(directory / "JPEGImages" / "000001.jpg")
    assert first.annotation_path == str(
        directory / "Annotations" / "000001.xml"
    )
    assert (first.width, first.height) == (WIDTH, HEIGHT)
    # person: VOC (11, 6, 30, 40) -> (10, 5, 30, 40); its <part> is ignored.
    np.testing.assert_array_equal(
        first.boxes, [[0, 0, WIDTH, HEIGHT], [10, 5, 30, 40]]
    )
    assert first.boxes.dtype == np.float32
    np.testing.assert_array_equal(
        first.classes,
        [voc.VOC_CLASSES.index("dog"), voc.VOC_CLASSES.index("person")],
    )
    assert first.classes.dtype == np.int32
    np.testing.assert_array_equal(first.difficult, [False, True])
    assert records[1].boxes.shape == (0, 4)
    assert records[1].num_objects == 0

    assert summary.problems == ()
    assert summary.num_candidates == 2
    assert summary.num_records == 2
    assert summary.num_objects == 2
    assert summary.num_difficult == 1
    assert summary.num_skipped_images == 0
    assert set(summary.counts.values()) == {0}
    assert "No problems found." in str(summary)
    assert [record.levelno for record in caplog.records] == [logging.INFO]


def test_voc_classes_are_in_standard_order():
    assert voc.VOC_CLASSES == (
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
        "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
        "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    )  # fmt: skip


# One bad case per id. Each value: (xml, image, problem kind, path folder,
# expected message).
BAD_CASES = {
    "000002": (
        None,
        (WIDTH, HEIGHT),
        voc.IMAGE_WITHOUT_ANNOTATION,
        "JPEGImages/000002.jpg",
        "image has no annotation 000002.xml; skipped",
    ),
    "000003": (
        annotation_xml("000003.jpg"),
        None,
        voc.ANNOTATION_WITHOUT_IMAGE,
        "Annotations/000003.xml",
        "annotation has no image 000003.jpg in {directory}/JPEGImages; skipped",
    ),
    "000004": (
        None,
        None,
        voc.MISSING_FILES,
        "Annotations/000004.xml",
        "id '000004' has neither an annotation nor an image (000004.jpg in "
        "{directory}/JPEGImages); skipped",
    ),
    "000005": (
        "<annotation><filename>000005.jpg</filename><object>",
        (WIDTH, HEIGHT),
        voc.MALFORMED_XML,
        "Annotations/000005.xml",
        "malformed XML (no element found: line 1, column 51); skipped",
    ),
    "000006": (
        annotation_xml("000006.jpg", [object_xml("dog", (1, 1, "abc", 9))]),
        (WIDTH, HEIGHT),
        voc.MALFORMED_XML,
        "Annotations/000006.xml",
        "malformed XML: object 1 ('dog') <bndbox> <xmax> is 'abc', not a "
        "finite number; skipped",
    ),
    "000007": (
        annotation_xml("other.jpg", [object_xml("dog", (1, 1, 9, 9))]),
        (WIDTH, HEIGHT),
        voc.FILENAME_MISMATCH,
        "Annotations/000007.xml",
        # The image is found by its id, as in the VOC devkit: kept.
        "<filename> is 'other.jpg' but the image file is '000007.jpg'; image "
        "kept (found by its id)",
    ),
    "000008": (
        annotation_xml(
            "000008.jpg", [object_xml("dog", (1, 1, 9, 9))], size=(100, 80)
        ),
        (WIDTH, HEIGHT),
        voc.SIZE_MISMATCH,
        "Annotations/000008.xml",
        "<size> is 100x80 but 000008.jpg is 64x48; skipped",
    ),
    "000009": (
        annotation_xml("000009.jpg", [object_xml("dog", (1, 1, 9, 9))]),
        "garbage",
        voc.UNREADABLE_IMAGE,
        "JPEGImages/000009.jpg",
        None,  # PIL's wording; checked by prefix below.
    ),
    "000010": (
        annotation_xml(
            "000010.jpg",
            [
                object_xml("dog", (1, 1, 9, 9)),
                object_xml("unicorn", (5, 5, 20, 20)),
            ],
        ),
        (WIDTH, HEIGHT),
        voc.UNKNOWN_CLASS,
        "Annotations/000010.xml",
        "unknown class 'unicorn' (object 2); object skipped",
    ),
    "000011": (
        annotation_xml(
            "000011.jpg",
            [
                object_xml("bird", (2, 3, 10, 12)),
                # xmax < xmin: no area even before clipping.
                object_xml("dog", (30, 5, 20, 9)),
            ],
        ),
        (WIDTH, HEIGHT),
        voc.ZERO_AREA_BOX,
        "Annotations/000011.xml",
        "object 2 ('dog'): VOC box (30, 5, 20, 9) has zero area in the "
        "64x48 image; object skipped",
    ),
    "000012": (
        annotation_xml(
            "000012.jpg",
            [
                # Entirely right of the 64-pixel-wide image.
                object_xml("cat", (100, 5, 120, 9)),
            ],
        ),
        (WIDTH, HEIGHT),
        voc.ZERO_AREA_BOX,
        "Annotations/000012.xml",
        "object 1 ('cat'): VOC box (100, 5, 120, 9) has zero area after "
        "clipping in the 64x48 image; object skipped",
    ),
    "000013": (
        annotation_xml(
            "000013.jpg",
            # xmin 0 -> -1 and xmax 70 > 64: clipped to (0, 4, 64, 9).
            [object_xml("cat", (0, 5, 70, 9))],
        ),
        (WIDTH, HEIGHT),
        voc.CLIPPED_BOX,
        "Annotations/000013.xml",
        "object 1 ('cat'): VOC box (0, 5, 70, 9) extends outside the 64x48 "
        "image; clipped",
    ),
}


def write_messy_voc(directory):
    entries = {"000001": clean_entry("000001")}
    entries.update({image_id: case[:2] for image_id, case in BAD_CASES.items()})
    split_ids = ["000001", *BAD_CASES, "000001"]  # 000001 listed twice
    return write_voc(directory, entries, split_ids)


def test_every_bad_file_is_reported_and_counted(tmp_path, caplog):
    directory = write_messy_voc(tmp_path)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        records, summary = voc.load_voc_directory(directory)

    # Kept: the clean image, the one whose <filename> tag disagrees, the one
    # with an unknown object, the ones with a zero-area box (other objects
    # kept or none left) and a clipped box.
    assert [record.image_id for record in records] == [
        "000001",
        "000007",
        "000010",
        "000011",
        "000012",
        "000013",
    ]
    by_id = {record.image_id: record for record in records}
    np.testing.assert_array_equal(by_id["000007"].boxes, [[0, 0, 9, 9]])
    np.testing.assert_array_equal(by_id["000010"].boxes, [[0, 0, 9, 9]])
    np.testing.assert_array_equal(by_id["000011"].boxes, [[1, 2, 10, 12]])
    assert by_id["000012"].num_objects == 0
    np.testing.assert_array_equal(by_id["000013"].boxes, [[0, 4, 64, 9]])

    assert summary.counts == {
        voc.IMAGE_WITHOUT_ANNOTATION: 1,
        voc.ANNOTATION_WITHOUT_IMAGE: 1,
        voc.MISSING_FILES: 1,
        voc.DUPLICATE_ID: 1,
        voc.MALFORMED_XML: 2,
        voc.FILENAME_MISMATCH: 1,
        voc.UNREADABLE_IMAGE: 1,
        voc.SIZE_MISMATCH: 1,
        voc.UNKNOWN_CLASS: 1,
        voc.ZERO_AREA_BOX: 2,
        voc.CLIPPED_BOX: 1,
    }
    assert summary.num_candidates == 13
    assert summary.num_records == 6
    assert summary.num_skipped_images == 7
    assert summary.num_objects == 2 + 1 + 1 + 1 + 0 + 1
    assert summary.unknown_class_names == {"unicorn": 1}

    split_file = directory / "ImageSets" / "Main" / "trainval.txt"
    assert str(summary.problems[0]) == (
        f"{split_file}: line 14: id '000001' listed again; repeat skipped"
    )
    messages = {
        problem.path: problem.message for problem in summary.problems[1:]
    }
    assert len(messages) == len(BAD_CASES)
    for image_id, (_, _, kind, relative_path, message) in BAD_CASES.items():
        path = str(directory / relative_path)
        found = [p for p in summary.problems if p.path == path]
        assert [problem.kind for problem in found] == [kind], image_id
        if message is None:
            assert found[0].message.startswith("cannot read image ("), image_id
            assert found[0].message.endswith("); skipped"), image_id
        else:
            assert found[0].message == message.format(directory=directory)

    # Exactly one warning, with the counts and the file names.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "6 of 13 images loaded" in text
    assert "13 problems (" in text
    assert "malformed_xml: 2" in text
    assert "Unknown class names: 'unicorn' x1." in text
    for image_id in BAD_CASES:
        assert image_id in text
    assert text == summary.format(max_problems=20)


@pytest.mark.parametrize("image_id", sorted(BAD_CASES))
def test_strict_mode_raises_naming_the_file(tmp_path, image_id):
    xml_text, image, kind, relative_path, _ = BAD_CASES[image_id]
    entries = {"000001": clean_entry("000001"), image_id: (xml_text, image)}
    directory = write_voc(tmp_path, entries, ["000001", image_id])
    with pytest.raises(ValueError) as error:
        voc.load_voc_directory(directory, strict=True)
    message = str(error.value)
    assert message.startswith(str(directory / relative_path) + ": ")
    assert message.endswith(f"[{kind}]")
    assert "skipped" not in message and "; clipped" not in message


def test_strict_mode_raises_on_duplicate_ids(tmp_path):
    entries = {"000001": clean_entry("000001")}
    directory = write_voc(tmp_path, entries, ["000001", "000001"])
    with pytest.raises(ValueError, match=r"trainval\.txt: line 2"):
        voc.load_voc_directory(directory, strict=True)


def test_strict_mode_accepts_clean_data(tmp_path):
    entries = {"000001": clean_entry("000001")}
    directory = write_voc(tmp_path, entries, ["000001"])
    records, summary = voc.load_voc_directory(directory, strict=True)
    assert len(records) == 1
    assert summary.problems == ()


@pytest.mark.parametrize(
    "object_text, message",
    [
        (
            "<object><bndbox><xmin>1</xmin></bndbox></object>",
            "malformed XML: object 1 has no <name>; skipped",
        ),
        (
            "<object><name>dog</name></object>",
            "malformed XML: object 1 ('dog') has no <bndbox>; skipped",
        ),
        (
            object_xml("dog", (1, 1, 9, 9), difficult="yes"),
            "malformed XML: object 1 ('dog') has <difficult> 'yes', expected "
            "0 or 1; skipped",
        ),
        (
            "<object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
            "<xmax>9</xmax></bndbox></object>",
            "malformed XML: object 1 ('dog') <bndbox> has no <ymax>; skipped",
        ),
        (
            object_xml("dog", (1, 1, "nan", 9)),
            "malformed XML: object 1 ('dog') <bndbox> <xmax> is 'nan', not a "
            "finite number; skipped",
        ),
    ],
)
def test_structurally_malformed_objects_skip_the_image(
    tmp_path, object_text, message
):
    # A half-read annotation would turn real objects into background, so the
    # whole image is skipped.
    entries = {
        "000001": (
            annotation_xml(
                "000001.jpg", [object_xml("cat", (1, 1, 5, 5)), object_text]
            ),
            (WIDTH, HEIGHT),
        )
    }
    directory = write_voc(tmp_path, entries, ["000001"])
    records, summary = voc.load_voc_directory(directory)
    assert records == []
    assert summary.counts[voc.MALFORMED_XML] == 1
    assert summary.problems[0].message == message.replace(
        "object 1", "object 2"
    )


def test_wrong_root_element_is_malformed(tmp_path):
    entries = {"000001": ("<html></html>", (WIDTH, HEIGHT))}
    directory = write_voc(tmp_path, entries, ["000001"])
    _, summary = voc.load_voc_directory(directory)
    assert summary.problems[0].message == (
        "malformed XML: root element is <html>, expected <annotation>; skipped"
    )


def test_tolerated_variants(tmp_path):
    # No <filename>, filename tag equal to the id, no <size>, zero <size>,
    # missing <difficult>, decimal coordinates, surrounding whitespace:
    # all read without problems.
    entries = {
        "a": (
            annotation_xml(None, [object_xml("cat", (1, 1, 5, 5))], (8, 6)),
            (8, 6),
        ),
        "b": (
            annotation_xml("b", [object_xml(" cat ", (1.5, 1, 5, 5))], None),
            (8, 6),
        ),
        "c": (
            annotation_xml(
                " c.jpg ", [object_xml("cat", (1, 1, 5, 5))], (0, 0)
            ),
            (8, 6),
        ),
    }
    directory = write_voc(tmp_path, entries, ["a", "b", "c"])
    records, summary = voc.load_voc_directory(directory, strict=True)
    assert summary.problems == ()
    np.testing.assert_array_equal(records[1].boxes, [[0.5, 0, 5, 5]])
    assert [record.difficult.tolist() for record in records] == [[False]] * 3
    assert (records[2].width, records[2].height) == (8, 6)


def test_custom_class_list(tmp_path):
    entries = {"000001": clean_entry("000001")}
    directory = write_voc(tmp_path, entries, ["000001"])
    records, summary = voc.load_voc_directory(
        directory, class_names=["person", "cat"]
    )
    # dog is not in the list: skipped and reported; person is class 0.
    np.testing.assert_array_equal(records[0].classes, [0])
    np.testing.assert_array_equal(records[0].boxes, [[10, 5, 30, 40]])
    assert summary.unknown_class_names == {"dog": 1}
    assert summary.count(voc.UNKNOWN_CLASS) == 1


@pytest.mark.parametrize(
    "class_names, message",
    [
        ([], "must not be empty"),
        (["a", "b", "a"], "duplicates"),
        ("dog", "string"),
    ],
)
def test_invalid_class_names(tmp_path, class_names, message):
    directory = write_voc(tmp_path, {}, [])
    with pytest.raises(ValueError, match=message):
        voc.load_voc_directory(directory, class_names=class_names)


def test_scan_without_split_file(tmp_path):
    entries = {
        "b": clean_entry("b"),
        "a": clean_entry("a"),
        "orphan_image": (None, (WIDTH, HEIGHT)),
        "orphan_xml": (annotation_xml("orphan_xml.jpg"), None),
    }
    directory = write_voc(tmp_path, entries, None)
    records, summary = voc.load_voc_directory(directory, split=None)
    assert [record.image_id for record in records] == ["a", "b"]
    assert summary.split is None
    assert summary.num_candidates == 4
    assert summary.counts[voc.IMAGE_WITHOUT_ANNOTATION] == 1
    assert summary.counts[voc.ANNOTATION_WITHOUT_IMAGE] == 1
    assert "(all files)" in str(summary)


def test_split_file_and_layout_errors(tmp_path):
    directory = write_voc(tmp_path / "VOC2007", {}, [], split="test")
    with pytest.raises(
        FileNotFoundError, match=r"Available splits: \['test'\]"
    ):
        voc.load_voc_directory(directory, split="trainval")
    with pytest.raises(FileNotFoundError, match="Did you mean .*VOC2007"):
        voc.load_voc_directory(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        voc.load_voc_directory(tmp_path / "nowhere")


def test_summary_count_rejects_unknown_kind(tmp_path):
    directory = write_voc(tmp_path, {}, [])
    _, summary = voc.load_voc_directory(directory)
    with pytest.raises(ValueError, match="Unknown problem kind"):
        summary.count("typo")


def test_image_is_found_by_its_id_whatever_the_filename_tag(tmp_path):
    # A PNG image, a JPEG whose tag says .png, and an id with both a .jpg
    # and a .png file whose tag picks the .png: all kept.
    directory = write_voc(tmp_path, {}, ["png", "tag_png", "both"])
    image_dir = directory / "JPEGImages"
    Image.new("RGB", (WIDTH, HEIGHT)).save(image_dir / "png.png")
    Image.new("RGB", (WIDTH, HEIGHT)).save(image_dir / "tag_png.jpg")
    Image.new("RGB", (8, 6)).save(image_dir / "both.jpg")
    Image.new("RGB", (WIDTH, HEIGHT)).save(image_dir / "both.png")
    box = [object_xml("dog", (1, 1, 9, 9))]
    for image_id, tag in [
        ("png", "png.png"),
        ("tag_png", "tag_png.png"),
        ("both", "both.png"),
    ]:
        (directory / "Annotations" / f"{image_id}.xml").write_text(
            annotation_xml(tag, box)
        )
    records, summary = voc.load_voc_directory(directory)

    assert [pathlib.Path(r.image_path).name for r in records] == [
        "png.png",
        "tag_png.jpg",
        "both.png",
    ]
    assert [(r.width, r.height) for r in records] == [(WIDTH, HEIGHT)] * 3
    for record in records:
        np.testing.assert_array_equal(record.boxes, [[0, 0, 9, 9]])
    [problem] = summary.problems
    assert problem.kind == voc.FILENAME_MISMATCH
    assert problem.outcome == "kept"
    assert str(problem) == (
        f"{directory}/Annotations/tag_png.xml: <filename> is 'tag_png.png' but "
        "the image file is 'tag_png.jpg'; image kept (found by its id)"
    )
    assert summary.num_skipped_images == 0


def test_outcomes_table_in_the_reader_docstring_matches_the_code():
    from training.detection.data import voc_reader

    rows = {}
    for line in voc_reader.__doc__.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    assert set(rows) == set(voc.PROBLEM_KINDS)
    for kind, outcome in voc.OUTCOMES.items():
        assert rows[kind].startswith(outcome), kind
    assert set(voc.WARNING_KINDS) == {voc.FILENAME_MISMATCH, voc.CLIPPED_BOX}
    assert voc.FILENAME_MISMATCH not in voc.IMAGE_SKIPPING_KINDS


def test_available_splits_leave_out_per_class_files(tmp_path):
    from training.detection.data.voc_reader import available_splits

    directory = write_voc(tmp_path, {}, [], split="trainval")
    main = directory / "ImageSets" / "Main"
    for name in ("test", "dog_trainval", "dog_test", "my_split"):
        (main / f"{name}.txt").write_text("")
    assert available_splits(directory) == ["my_split", "test", "trainval"]
