"""The pipeline's own xyxy -> box format conversion, against hand-computed values."""

import numpy as np
import pytest

from training.detection.data.box_format import BOX_FORMATS
from training.detection.data.box_format import convert_xyxy

# Two boxes in a 200 x 100 image: (10, 20)-(30, 60) and (0, 0)-(200, 100).
BOXES = [[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 200.0, 100.0]]
EXPECTED = {
    "xyxy": [[10, 20, 30, 60], [0, 0, 200, 100]],
    "rel_xyxy": [[0.05, 0.2, 0.15, 0.6], [0, 0, 1, 1]],
    "xywh": [[10, 20, 20, 40], [0, 0, 200, 100]],
    "center_xywh": [[20, 40, 20, 40], [100, 50, 200, 100]],
    "yxyx": [[20, 10, 60, 30], [0, 0, 100, 200]],
}


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_conversion_matches_hand_computed_values(target):
    converted = convert_xyxy(BOXES, target, width=200, height=100).numpy()
    assert converted.dtype == np.float32
    np.testing.assert_allclose(converted, EXPECTED[target], rtol=1e-6)


def test_batched_shapes_are_kept_and_formats_are_all_tested():
    batch = np.array([BOXES, BOXES], np.float32)  # (2, 2, 4)
    assert convert_xyxy(batch, "center_xywh").shape == (2, 2, 4)
    assert set(BOX_FORMATS) == set(EXPECTED)


def test_unknown_format_and_relative_without_size_raise():
    with pytest.raises(ValueError, match="bounding_box_format"):
        convert_xyxy(BOXES, "xywhr")
    with pytest.raises(ValueError, match="width"):
        convert_xyxy(BOXES, "rel_xyxy")


def test_the_data_package_does_not_import_keras_cv():
    import pathlib

    import training.detection.data as data

    for path in pathlib.Path(data.__file__).parent.glob("*.py"):
        assert "keras_cv" not in path.read_text(), path.name
