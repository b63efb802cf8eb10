"""training.detection.config: options that only some models read."""

import pytest

from training.cli import _detection_config
from training.cli import build_parser
from training.detection.config import DetectionConfig
from training.detection.config import resolve_config


def test_static_sizes_from_the_command_line_reach_the_config():
    args = build_parser().parse_args(["train", "--data", "embedded", "--static-sizes"])
    assert _detection_config(args).static_sizes is True
    args = build_parser().parse_args(["train", "--data", "embedded"])
    assert _detection_config(args).static_sizes is False
    assert resolve_config(DetectionConfig(data="embedded", static_sizes=True)).static_sizes


@pytest.mark.parametrize("model", ["baseline", "diffstride"])
def test_static_sizes_are_refused_for_models_without_learned_sizes(model):
    with pytest.raises(ValueError, match=f"^--static-sizes does not apply to --model {model}\\.$"):
        resolve_config(DetectionConfig(data="embedded", model=model, static_sizes=True))
