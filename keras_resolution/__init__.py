"""keras_resolution: learnable feature-map resolution for Keras 3.

Resolution layers (Harper et al., "Differentiable Resizing: Resolution
Layers") make the output length, height and width of a feature map trainable
scales, able to downsample and upsample, with complexity budgets that the
optimizer respects. DiffStride2D and FixedSpectralPooling2D are the
comparators of the official DiffStride code, under the same budgets.
"""

from keras_resolution.budgets import ComplexityBudgetMixin
from keras_resolution.budgets import HingeCap
from keras_resolution.budgets import QuadraticTarget
from keras_resolution.budgets import ResolutionModel
from keras_resolution.callbacks import ComplexityLogger
from keras_resolution.callbacks import SizeRefresh
from keras_resolution.complexity import ComplexityLayer
from keras_resolution.complexity import complexity
from keras_resolution.complexity import complexity_floor
from keras_resolution.complexity import complexity_layers
from keras_resolution.complexity import flops
from keras_resolution.complexity import full_complexity
from keras_resolution.complexity import resolution_layers
from keras_resolution.complexity_definitions import COMPLEXITY_DEFINITIONS
from keras_resolution.complexity_definitions import parse_complexity_cap
from keras_resolution.constraints import ScaleBounds
from keras_resolution.diffstride import DiffStride2D
from keras_resolution.fixed_layers import AlignToMaxShape
from keras_resolution.fixed_layers import DCTResize
from keras_resolution.fixed_layers import FrozenDiffStride2D
from keras_resolution.fixed_layers import FrozenResolutionLayer
from keras_resolution.fixed_layers import FrozenSafeSubsample
from keras_resolution.freeze import freeze
from keras_resolution.freeze import register_freezer
from keras_resolution.layer import ResolutionLayer
from keras_resolution.layer import is_scale_variable
from keras_resolution.njet import NJetConv2D
from keras_resolution.njet import gaussian_derivative_basis
from keras_resolution.optimizers import ResolutionAdam
from keras_resolution.optimizers import ResolutionSGD
from keras_resolution.optimizers import swap_average_weights
from keras_resolution.resize import align_to_max_shape
from keras_resolution.resize import dct_resize
from keras_resolution.resize import resize_matrix
from keras_resolution.safe_subsample import SafeSubsample
from keras_resolution.spectral_pooling import FixedSpectralPooling2D

__all__ = [
    "COMPLEXITY_DEFINITIONS",
    "AlignToMaxShape",
    "ComplexityBudgetMixin",
    "ComplexityLayer",
    "ComplexityLogger",
    "DCTResize",
    "DiffStride2D",
    "FixedSpectralPooling2D",
    "FrozenDiffStride2D",
    "FrozenResolutionLayer",
    "FrozenSafeSubsample",
    "HingeCap",
    "NJetConv2D",
    "QuadraticTarget",
    "ResolutionAdam",
    "ResolutionLayer",
    "ResolutionModel",
    "ResolutionSGD",
    "SafeSubsample",
    "ScaleBounds",
    "SizeRefresh",
    "align_to_max_shape",
    "complexity",
    "complexity_floor",
    "complexity_layers",
    "dct_resize",
    "flops",
    "freeze",
    "full_complexity",
    "gaussian_derivative_basis",
    "is_scale_variable",
    "parse_complexity_cap",
    "register_freezer",
    "resize_matrix",
    "resolution_layers",
    "swap_average_weights",
]

__version__ = "0.1.0"
