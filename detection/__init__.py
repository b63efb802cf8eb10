"""YOLOv8 detection with KerasCV 0.9; all KerasCV-specific code lives here.

Public API:

- `build_backbone`: the supported backbones, offline, with optional weights.
"""

from detection.backbones import BACKBONES
from detection.backbones import PretrainedWeightsUnavailableWarning
from detection.backbones import build_backbone
