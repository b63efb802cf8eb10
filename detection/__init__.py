"""YOLOv8 detection with KerasCV 0.9; all KerasCV-specific code lives here.

Public API:

- `baseline_yolov8`: KerasCV's YOLOv8 detector, the paper's baseline.
- `PANetYOLOV8Detector`: a `keras_cv.models.YOLOV8Detector` whose PANet is
  built by `detection.panet`, with injectable resolution hooks.
- `panet_complexity`: the PANet complexity ("area" or "linear").
- `build_backbone`: the supported backbones, offline, with optional weights.
- `resolution_yolov8`: the same detector with a Resolution PANet, trained
  under a hinge cap on PANet complexity (`ResolutionYOLOV8Detector`).
- `diffstride_yolov8`: the same detector whose bottom-up downsampling is
  learned by DiffStride, under the same hinge cap
  (`DiffStrideYOLOV8Detector`).
- `srf_yolov8`: the same detector whose top-down x2 upsamplings are an
  SRF-GAN generator, or a fixed bilinear / DCT / nearest x2
  (`SRFYOLOV8Detector`), for Table 1's upsampler rows.
- `SRFGenerator`: the SRF-GAN feature generator (learned x2 upsampling).
- `FeaturePatchDiscriminator`: the SRF-GAN per-position feature
  discriminator.
- `srf_gan_trainer`: SRF-GAN stage 1 on a trained baseline's top-down maps,
  alternating discriminator and generator steps (`SRFGANTrainer`).
- `PANetComplexityLogger`: PANet complexity and learned sizes in `logs`.
- `freeze_detector`: a trained detector with its PANet resolutions fixed
  (`FrozenYOLOV8Detector`); also what `keras_resolution.freeze` does for
  detectors once this package is imported.
"""

from detection.backbones import BACKBONES
from detection.backbones import PretrainedWeightsUnavailableWarning
from detection.backbones import RandomFrozenBackboneWarning
from detection.backbones import build_backbone
from detection.callbacks import PANetComplexityLogger
from detection.complexity import panet_complexity
from detection.complexity import panet_conv_layers
from detection.complexity import panet_layer_complexities
from detection.freeze import FrozenYOLOV8Detector
from detection.freeze import freeze_detector
from detection.diffstride import DiffStrideYOLOV8Detector
from detection.diffstride import diffstride_yolov8
from detection.feature_discriminator import FeaturePatchDiscriminator
from detection.panet import PANetHooks
from detection.panet import apply_path_aggregation_fpn
from detection.yolov8 import BOUNDING_BOX_FORMATS
from detection.yolov8 import PANetYOLOV8Detector
from detection.resolution import SCALE_STARTS
from detection.resolution import ResolutionYOLOV8Detector
from detection.resolution import resolution_yolov8
from detection.srf import SRFYOLOV8Detector
from detection.srf import srf_yolov8
from detection.srf_gan_training import SRFGANTrainer
from detection.srf_gan_training import srf_gan_trainer
from detection.srf_generator import SRFGenerator
from detection.yolov8 import baseline_yolov8
