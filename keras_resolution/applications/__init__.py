"""Networks built in one call, as `keras.applications`: the classifiers of
the paper's matched-budget experiments (section 5.1), each as a Resolution
model under a complexity target or as its fixed baseline.

* `build_classifier(architecture, input_shape, num_classes, transform,
  target_budget)`: the entry point, for `"resnet18"` (32x32 images) and
  `"radio_cnn"` (I/Q frames), with `transform` `"dct"`, `"dft"` or
  `"fixed"` (the baseline);
* `build_spectral_classifier(method, input_shape, num_classes,
  target_budget)`: the comparators, the ResNet-18 of the official DiffStride
  code with `method` `"diffstride"`, `"spectral"` (fixed spectral pooling)
  or `"hybrid"` (DiffStride plus spectral pooling before global average
  pooling, or before the final BN/ReLU); `spectral_budget_reference` gives
  their C_full;
* `build_njet_classifier(network, input_shape, num_classes,
  target_budget, safe_subsample)`: the N-Jet ResNet-18 (`"resnet18"`) and
  the official N-Jet NiN (`"nin"`), every spatial convolution an
  `NJetConv2D`, with or without safe subsampling; `njet_budget_reference`
  gives their C_full;
* `msnet_resnet18(input_shape, num_classes)`: MSNet, a low-resolution
  ResNet-18 and a high-resolution one with the high-frequency residual, two
  heads; `CalibratedEarlyExit` and `calibrate_threshold` route each image
  to the low branch or on to the high one for a target average cost
  (`branch_complexities`: C_L and C_H);
* `resnet18_layers`, `radio_cnn_layers`, `spectral_resnet18_layers`,
  `njet_resnet18_layers`, `njet_nin_layers`: the same networks from a
  symbolic input, for use inside another model;
* `budget_reference`: an architecture's C_base (its baseline's complexity)
  and C_full; `site_sizes` and `size_complexity`: the sizes and the
  complexity at a classifier's resize sites;
* `MeanVariancePooling1D`: the radio CNN's pooling layer.

The modules: `classifiers` (build_classifier, build_spectral_classifier,
the budget references), `resnet18`, `radio_cnn`, `spectral_resnet18`,
`njet_networks`, `msnet`, and `sites` (the resize sites every architecture shares).

Example:

>>> from keras_resolution import applications
>>> model = applications.build_classifier("radio_cnn", (128, 2), 8, "dct", 0.25)
"""

from keras_resolution.applications.classifiers import ARCHITECTURES
from keras_resolution.applications.classifiers import budget_reference
from keras_resolution.applications.classifiers import build_classifier
from keras_resolution.applications.classifiers import build_spectral_classifier
from keras_resolution.applications.classifiers import spectral_budget_reference
from keras_resolution.applications.radio_cnn import MeanVariancePooling1D
from keras_resolution.applications.radio_cnn import radio_cnn_layers
from keras_resolution.applications.resnet18 import resnet18_layers
from keras_resolution.applications.sites import site_sizes
from keras_resolution.applications.sites import size_complexity
from keras_resolution.applications.spectral_resnet18 import SPECTRAL_METHODS
from keras_resolution.applications.spectral_resnet18 import spectral_resnet18_layers

from keras_resolution.applications.njet_networks import NJET_NETWORKS
from keras_resolution.applications.njet_networks import SubsampleLike
from keras_resolution.applications.njet_networks import build_njet_classifier
from keras_resolution.applications.njet_networks import njet_budget_reference
from keras_resolution.applications.njet_networks import njet_nin_layers
from keras_resolution.applications.njet_networks import njet_resnet18_layers
from keras_resolution.applications.msnet import CalibratedEarlyExit
from keras_resolution.applications.msnet import branch_complexities
from keras_resolution.applications.msnet import calibrate_threshold
from keras_resolution.applications.msnet import msnet_resnet18

__all__ = [
    "ARCHITECTURES",
    "MeanVariancePooling1D",
    "SPECTRAL_METHODS",
    "budget_reference",
    "build_classifier",
    "build_spectral_classifier",
    "radio_cnn_layers",
    "resnet18_layers",
    "site_sizes",
    "size_complexity",
    "spectral_budget_reference",
    "spectral_resnet18_layers",
    # N-Jet networks (issue 12, item 3)
    "NJET_NETWORKS",
    "SubsampleLike",
    "build_njet_classifier",
    "njet_budget_reference",
    "njet_nin_layers",
    "njet_resnet18_layers",
    # MSNet (issue 12, item 4)
    "CalibratedEarlyExit",
    "branch_complexities",
    "calibrate_threshold",
    "msnet_resnet18",
]
