"""Tests for detection.panet and detection.complexity."""

import keras
import numpy as np
import pytest

from detection import panet_complexity
from detection import panet_conv_layers
from detection import panet_layer_complexities
from detection.panet import PANetHooks
from detection.panet import apply_path_aggregation_fpn
from detection.yolov8 import baseline_yolov8

# P3, P4, P5 of the XS backbone at 320x320.
XS_FEATURE_SHAPES = [(40, 40, 64), (20, 20, 128), (10, 10, 256)]


def _panet_model(depth, hooks=None, shapes=XS_FEATURE_SHAPES):
    inputs = [keras.Input(shape) for shape in shapes]
    outputs = apply_path_aggregation_fpn(inputs, depth=depth, hooks=hooks)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("depth, expected", [(1, 22), (2, 26), (3, 30)])
def test_conv_count(depth, expected):
    assert len(panet_conv_layers(_panet_model(depth))) == expected


def test_outputs_keep_feature_shapes():
    model = _panet_model(1)
    assert [tuple(o.shape[1:]) for o in model.outputs] == XS_FEATURE_SHAPES


@pytest.mark.parametrize(
    "image_size, fpn_depth, expected",
    [(320, 1, 11_500), (320, 2, 15_500), (640, 1, 46_000)],
)
def test_baseline_complexity_matches_paper(image_size, fpn_depth, expected):
    model = baseline_yolov8(20, image_size=image_size, fpn_depth=fpn_depth)
    assert panet_complexity(model) == expected
    assert panet_complexity(model, "area") == expected


def test_linear_complexity():
    # Per conv H + W at 320: 4 convs at 20x20, 4 at 40x40, then 1 + 6 at
    # 20x20 and 1 + 6 at 10x10.
    expected = 4 * 40 + 4 * 80 + 7 * 40 + 7 * 20
    assert panet_complexity(_panet_model(1), "linear") == expected == 900


def test_layer_complexities_are_per_conv():
    per_layer = panet_layer_complexities(_panet_model(1))
    assert len(per_layer) == 22
    assert per_layer["pa_fpn_p3p4p5_pre_conv"] == 40 * 40
    assert per_layer["pa_fpn_p3p4p5_downsample1_conv"] == 20 * 20
    assert per_layer["pa_fpn_p3p4p5_downsample2_block_output_conv"] == 100


def test_complexity_rejects_bad_definition():
    with pytest.raises(ValueError, match="definition"):
        panet_complexity(_panet_model(1), "volume")


def test_complexity_rejects_model_without_panet():
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1, name="conv")]
    )
    with pytest.raises(ValueError, match="pa_fpn"):
        panet_complexity(model)


def test_complexity_needs_static_sizes():
    dynamic = [(None, None, channels) for channels in (64, 128, 256)]
    model = _panet_model(1, shapes=dynamic)
    with pytest.raises(ValueError, match="image_size"):
        panet_complexity(model)


def test_hooks_see_every_conv_concat_and_output():
    resized, aligned, outputs = [], [], []

    def resize(x, name):
        resized.append((name, tuple(x.shape[1:3])))
        return x

    def align(tensors, name):
        shapes = {tuple(t.shape[1:3]) for t in tensors}
        assert len(shapes) == 1, (name, shapes)  # The baseline agrees.
        aligned.append(name)
        return tensors

    def output(x, size, name):
        outputs.append((name, size, tuple(x.shape[1:3])))
        return x

    model = _panet_model(1, PANetHooks(resize, align, output))
    conv_names = [conv.name for conv in panet_conv_layers(model)]
    assert [f"{name}_conv" for name, _ in resized] == conv_names
    # Conv inputs: stride-2 convs see the larger map they halve.
    assert dict(resized)["pa_fpn_p3p4p5_downsample1"] == (40, 40)
    # 4 concatenations between levels + 1 inside each of the 4 CSP blocks.
    assert len(aligned) == len(set(aligned)) == 8
    assert "pa_fpn_p4p5_merge" in aligned
    assert "pa_fpn_p4p5_concat" in aligned
    assert outputs == [
        ("pa_fpn_output_1", (40, 40), (40, 40)),
        ("pa_fpn_output_2", (20, 20), (20, 20)),
        ("pa_fpn_output_3", (10, 10), (10, 10)),
    ]


def test_hooks_change_the_graph():
    # Halve the input of each CSP block's first conv, resize concatenation
    # branches to their largest shape, and resize the outputs back.
    def resize(x, name):
        if not name.endswith("_pre"):
            return x
        return keras.layers.AveragePooling2D(2, name=f"{name}_half")(x)

    def align(tensors, name):
        height = max(t.shape[1] for t in tensors)
        width = max(t.shape[2] for t in tensors)
        return [
            keras.layers.Resizing(height, width, name=f"{name}_{index}")(t)
            for index, t in enumerate(tensors)
        ]

    def output(x, size, name):
        return keras.layers.Resizing(*size, name=f"{name}_resize")(x)

    model = _panet_model(1, PANetHooks(resize, align, output))
    assert model.get_layer("pa_fpn_p4p5_pre_half")
    assert [tuple(o.shape[1:]) for o in model.outputs] == XS_FEATURE_SHAPES
    assert panet_complexity(model) < 11_500
    x = [np.ones((1, *shape), "float32") for shape in XS_FEATURE_SHAPES]
    assert all(np.isfinite(np.asarray(y)).all() for y in model(x))
