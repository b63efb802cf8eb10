"""`load_detection_data`, the job's one entry point, on data a user really has."""

import logging

import numpy as np
import pytest
from voc_fixtures import DEFECTS
from voc_fixtures import write_defective_voc

from training.detection.data import sources
from training.detection.data.embedded import EMBEDDED_CLASSES
from training.detection.data.embedded import SCALE_BANDS
from training.detection.data.embedded import EmbeddedConfig
from training.detection.data.errors import DataError
from training.detection.data.errors import DataNotFoundError
from training.detection.data.errors import DataProblemError
from training.detection.data.sources import load_detection_data
from training.detection.data.voc_annotation import VOC_CLASSES

READER_LOGGER = "training.detection.data.voc_reader"
DOG, CAT, PERSON = (VOC_CLASSES.index(name) for name in ("dog", "cat", "person"))


def _warnings(caplog):
    return [r for r in caplog.records if r.name == READER_LOGGER and r.levelno == logging.WARNING]


def test_each_defect_has_its_documented_outcome(tmp_path, caplog):
    voc = write_defective_voc(tmp_path / "VOCdevkit", batch_size=4)
    with caplog.at_level(logging.INFO, logger=READER_LOGGER):
        data = load_detection_data(str(voc.directory), batch_size=4)

    assert data.directory == str(voc.voc_directory)
    assert data.class_names == VOC_CLASSES and data.size_bands is None
    assert (data.train_split, data.eval_split) == ("trainval", "test")
    ids = [record.image_id for record in data.train]
    assert ids == list(voc.train_ids) == [
        "good_00", "good_01", "good_02", "good_03",
        "tag_says_png", "tag_other_name", "png_image", "unknown_class",
    ]  # fmt: skip
    assert [record.image_id for record in data.evaluation] == ["test_00", "test_01"]
    by_id = {record.image_id: record for record in data.train}
    # Kept with a warning: the image is found by its id, boxes read.
    assert by_id["tag_says_png"].image_path.endswith("JPEGImages/tag_says_png.jpg")
    np.testing.assert_array_equal(by_id["tag_says_png"].boxes, [[4, 3, 24, 40]])
    assert by_id["png_image"].image_path.endswith("JPEGImages/png_image.png")
    np.testing.assert_array_equal(by_id["png_image"].classes, [PERSON])
    # Unknown class: that object skipped, the dog kept.
    np.testing.assert_array_equal(by_id["unknown_class"].classes, [DOG])
    np.testing.assert_array_equal(by_id["unknown_class"].boxes, [[4, 3, 24, 40]])

    summary = data.train_summary
    assert {k: n for k, n in summary.counts.items() if n} == voc.problem_counts == {
        "filename_mismatch": 2, "unknown_class": 1,
        "image_without_annotation": 1, "malformed_xml": 1,
    }  # fmt: skip
    by_path = {problem.path.rsplit("/", 1)[-1]: problem for problem in summary.problems}
    assert by_path["tag_says_png.xml"].message == (
        "<filename> is 'tag_says_png.png' but the image file is "
        "'tag_says_png.jpg'; image kept (found by its id)"
    )
    assert by_path["tag_other_name.xml"].outcome == "kept"
    assert by_path["unknown_class.xml"].message == (
        "unknown class 'unicorn' (object 2); object skipped"
    )
    assert by_path["no_annotation.jpg"].message == (
        "image has no annotation no_annotation.xml; skipped"
    )
    assert by_path["malformed_xml.xml"].message.startswith("malformed XML (")
    for image_id, (kind, outcome, _) in DEFECTS.items():
        found = [p for p in summary.problems if image_id in p.path]
        assert [p.kind for p in found] == ([kind] if kind else []), image_id
        assert all(p.outcome == outcome for p in found), image_id
    assert summary.unknown_class_names == {"unicorn": 1}
    assert data.eval_summary.problems == ()

    # One warning, for trainval only; it lists every problem.
    [warning] = _warnings(caplog)
    text = warning.getMessage()
    assert "(split 'trainval'): 8 of 10 images loaded" in text
    assert "5 problems (" in text
    for image_id in ("tag_says_png", "tag_other_name", "unknown_class",
                     "no_annotation", "malformed_xml"):  # fmt: skip
        assert image_id in text
    assert data.description == (
        f"VOC data {voc.voc_directory} (20 classes): 8 training images "
        "(trainval), 2 evaluation images (test); 5 data problems (see the warnings)"
    )


def test_strict_stops_at_the_first_problem_naming_the_file(tmp_path):
    voc = write_defective_voc(tmp_path, batch_size=2)
    with pytest.raises(DataProblemError) as error:
        load_detection_data(str(voc.directory), batch_size=2, strict=True)
    assert str(error.value) == voc.strict_error
    assert error.value.kind == "filename_mismatch"
    assert isinstance(error.value, ValueError)


def test_fewer_usable_images_than_one_batch_is_an_error(tmp_path, caplog):
    voc = write_defective_voc(tmp_path, batch_size=4, fewer_than_batch=True)
    with caplog.at_level(logging.INFO, logger=READER_LOGGER):
        with pytest.raises(DataError) as error:
            load_detection_data(str(voc.directory), batch_size=4)
    assert str(error.value) == voc.error
    assert "\n" not in voc.error
    # The warning with the details was printed once, before the error.
    assert len(_warnings(caplog)) == 1
    # Three images are enough for a batch of 3.
    data = load_detection_data(str(voc.directory), batch_size=3)
    assert [r.image_id for r in data.train] == list(voc.train_ids)
    with pytest.raises(DataProblemError, match="no_annotation.jpg: image has no annotation"):
        load_detection_data(str(voc.directory), batch_size=3, strict=True)


def test_max_train_images_below_one_batch_names_the_option(tmp_path):
    voc = write_defective_voc(tmp_path, batch_size=4)
    with pytest.raises(DataError) as error:
        load_detection_data(str(voc.directory), batch_size=4, max_train_images=3)
    assert str(error.value) == (
        "--max-train-images 3 leaves fewer training images than one batch (--batch-size 4)."
    )
    data = load_detection_data(str(voc.voc_directory), batch_size=2,
                               max_train_images=2, max_eval_images=1)  # fmt: skip
    assert [len(data.train), len(data.evaluation)] == [2, 1]


def test_a_split_without_usable_images_is_an_error(tmp_path):
    voc = write_defective_voc(tmp_path)
    main = voc.voc_directory / "ImageSets" / "Main"
    (main / "broken.txt").write_text("malformed_xml\nno_annotation\n")
    with pytest.raises(DataError) as error:
        load_detection_data(str(voc.directory), eval_split="broken")
    assert str(error.value) == (
        f"--eval-split broken: {main}/broken.txt has no usable image (2 listed; "
        "2 skipped (image_without_annotation: 1, malformed_xml: 1), see the warning above)."
    )
    (main / "empty.txt").write_text("\n")
    with pytest.raises(DataError, match=r"^--train-split empty: .* has no usable image \(0 listed\)\.$"):
        load_detection_data(str(voc.directory), train_split="empty")


def test_missing_split_says_which_splits_exist(tmp_path):
    voc = write_defective_voc(tmp_path)
    (voc.voc_directory / "ImageSets" / "Main" / "dog_trainval.txt").write_text("")
    main = voc.voc_directory / "ImageSets" / "Main"
    with pytest.raises(DataNotFoundError) as error:
        load_detection_data(str(voc.directory), train_split="train")
    assert str(error.value) == (
        f"--train-split train: no split file {main}/train.txt; splits there: test, trainval."
    )
    assert isinstance(error.value, FileNotFoundError)
    with pytest.raises(DataNotFoundError, match="^--eval-split val: no split file"):
        load_detection_data(str(voc.directory), eval_split="val")
    with pytest.raises(DataError, match="^--train-split 'trainval.txt': give a split name"):
        load_detection_data(str(voc.directory), train_split="trainval.txt")


def test_same_split_for_training_and_evaluation_is_read_and_warned_once(tmp_path, caplog):
    voc = write_defective_voc(tmp_path)
    with caplog.at_level(logging.INFO, logger=READER_LOGGER):
        data = load_detection_data(str(voc.directory), eval_split="trainval")
    assert data.train == data.evaluation and len(data.train) == 8
    assert len(_warnings(caplog)) == 1
    assert data.description.endswith("; 5 data problems (see the warnings)")


def test_evaluation_only_needs_no_training_split(tmp_path):
    voc = write_defective_voc(tmp_path)
    (voc.voc_directory / "ImageSets" / "Main" / "trainval.txt").unlink()
    data = load_detection_data(str(voc.directory), batch_size=64, include_train=False)
    assert data.train == [] and data.train_summary is None and data.train_split is None
    assert [r.image_id for r in data.evaluation] == ["test_00", "test_01"]
    assert data.description.endswith("(20 classes): 2 evaluation images (test)")


@pytest.mark.parametrize(
    "classes",
    ["dog,cat", " dog , cat ", "--classes dog,cat", "--classes=dog,cat", ["dog", "cat"], ("dog", "cat")],
)
def test_class_names_in_every_form(tmp_path, classes):
    voc = write_defective_voc(tmp_path)
    data = load_detection_data(str(voc.directory), class_names=classes)
    assert data.class_names == ("dog", "cat")
    # person objects are now of an unknown class: skipped, images kept.
    assert data.train_summary.unknown_class_names == {"person": 2, "unicorn": 1}
    by_id = {record.image_id: record for record in data.train}
    np.testing.assert_array_equal(by_id["good_00"].classes, [0])
    np.testing.assert_array_equal(by_id["good_01"].classes, [1])
    assert by_id["good_02"].num_objects == 0 and by_id["png_image"].num_objects == 0


def test_class_names_from_a_file(tmp_path):
    voc = write_defective_voc(tmp_path / "data")
    names = tmp_path / "names.txt"
    names.write_text("# my classes\ncat\n\ndog\nperson\n")
    for value in (str(names), f"--classes {names}", f"--classes={names}", names):
        data = load_detection_data(str(voc.directory), class_names=value)
        assert data.class_names == ("cat", "dog", "person")
    by_id = {record.image_id: record for record in data.train}
    np.testing.assert_array_equal(by_id["good_00"].classes, [1])


@pytest.mark.parametrize(
    "classes, error_type, message",
    [
        ("missing.txt", DataNotFoundError,
         "--classes missing.txt: no such file (expected one class name per line)."),
        ("dog,cat,dog", DataError,
         "--classes 'dog,cat,dog' has duplicates: ['dog']. Received: ['dog', 'cat', 'dog']"),
        ("dog,,cat", DataError, "--classes 'dog,,cat' has an empty name at position 2."),
        ("--classes", DataError, "--classes is empty: give names (a,b,c) or a file."),
        ([], DataError, "--classes must not be empty."),
    ],
)  # fmt: skip
def test_bad_class_lists_are_one_line_errors(tmp_path, classes, error_type, message):
    voc = write_defective_voc(tmp_path)
    with pytest.raises(error_type) as error:
        load_detection_data(str(voc.directory), class_names=classes)
    assert str(error.value) == message


def test_class_file_with_duplicates_names_the_file(tmp_path):
    voc = write_defective_voc(tmp_path / "data")
    names = tmp_path / "names.txt"
    names.write_text("dog\ncat\ndog\n")
    with pytest.raises(DataError, match=f"^--classes file {names} has duplicates: \\['dog'\\]"):
        load_detection_data(str(voc.directory), class_names=str(names))
    names.write_text("\n# nothing\n")
    with pytest.raises(DataError, match=f"^--classes file {names} must not be empty.$"):
        load_detection_data(str(voc.directory), class_names=str(names))


def test_data_paths_that_are_not_voc_directories(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError) as error:
        load_detection_data(str(missing))
    assert str(error.value) == (
        f"--data {missing}: no such directory; expected 'embedded', 'voc2007' or a "
        "VOCdevkit directory (with Annotations/, JPEGImages/ and ImageSets/Main/)."
    )
    with pytest.raises(DataNotFoundError, match=r"^--data .*: not a VOCdevkit directory: no Annotations/"):
        load_detection_data(str(tmp_path))
    write_defective_voc(tmp_path / "devkit")
    (tmp_path / "devkit" / "VOC2012" / "Annotations").mkdir(parents=True)
    data = load_detection_data(str(tmp_path / "devkit"))  # VOC2007 preferred
    assert data.directory == str(tmp_path / "devkit" / "VOC2007")
    (tmp_path / "devkit" / "VOC2007").rename(tmp_path / "devkit" / "VOC2010")
    (tmp_path / "devkit" / "VOC2012" / "JPEGImages").mkdir()
    with pytest.raises(DataError, match=r"holds several VOC folders \(VOC2010, VOC2012\); pass one"):
        load_detection_data(str(tmp_path / "devkit"))
    (tmp_path / "devkit" / "VOC2010" / "JPEGImages").rename(tmp_path / "images")
    with pytest.raises(DataNotFoundError, match="has Annotations/ but no JPEGImages/ folder"):
        load_detection_data(str(tmp_path / "devkit" / "VOC2010"))


@pytest.mark.parametrize(
    "option, kwargs",
    [
        ("--batch-size", dict(batch_size=0)),
        ("--max-train-images", dict(max_train_images=-1)),
        ("--max-eval-images", dict(max_eval_images="many")),
    ],
)
def test_bad_numbers_name_their_option(tmp_path, option, kwargs):
    with pytest.raises(DataError, match=f"^{option} must be an integer >= 1, got "):
        load_detection_data(str(tmp_path), **kwargs)


def test_embedded_data_has_its_classes_splits_and_size_bands(tmp_path, monkeypatch):
    small = EmbeddedConfig(seed=1, num_train=6, num_val=1, num_test=3)
    monkeypatch.setattr(sources, "EMBEDDED_CONFIG", small)
    data = load_detection_data("embedded", batch_size=4, cache_dir=tmp_path)
    assert data.class_names == EMBEDDED_CLASSES
    assert data.size_bands == SCALE_BANDS
    assert (data.train_split, data.eval_split) == ("train", "test")
    assert [len(data.train), len(data.evaluation)] == [6, 3]
    assert data.description == (
        "embedded shapes, seed 1 (5 classes): 6 training images (train), "
        "3 evaluation images (test)"
    )
    short = r"^--train-split train: .* 6 usable images, fewer than one batch \(--batch-size 8\)\.$"
    with pytest.raises(DataError, match=short):
        load_detection_data("embedded", batch_size=8, cache_dir=tmp_path)
