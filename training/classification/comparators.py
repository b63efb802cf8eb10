"""The models a classification run can train, by name (`--model`).

* `resolution`: a Resolution model (`--transform dct` or `dft`), or with
  `--transform fixed` its fixed baseline (`build_classifier`);
* the comparators of issue 11, ResNet-18 only (image data), each a method
  of `keras_resolution.applications.build_spectral_classifier`:
  `diffstride` (the official DiffStride ResNet-18), `spectral` (fixed
  spectral pooling at the same sites), and the hybrid of both, with its
  spectral pooling directly before global average pooling (`hybrid`, the
  paper's placement) or before the final BN and ReLU (`hybrid-pre-bn`);
* the N-Jet networks of issue 12 (image data), each a
  `keras_resolution.applications.build_njet_classifier`: the N-Jet
  ResNet-18 without (`njet-resnet18`) and with safe subsampling at its
  stride-2 sites (`njet-resnet18-safe`), and the official N-Jet NiN
  without (`njet-nin`, the released model) and with safe subsampling
  where the original NiN pools (`njet-nin-safe`);
* MSNet of issue 12 (`msnet`, image data): a low-resolution ResNet-18 on
  the image at half size and a high-resolution one adding the upsampled
  low features, trained jointly; its complexity is a curve over the
  early-exit threshold tau, calibrated after training
  (`keras_resolution.applications.msnet`).

`training.cli` repeats `MODELS` as its `--model` choices, so that building
the parser does not import Keras (tests/classification checks they agree).
"""

RESOLUTION = "resolution"

# Comparator name -> `build_spectral_classifier` arguments.
SPECTRAL_MODELS = {
    "diffstride": {"method": "diffstride"},
    "spectral": {"method": "spectral"},
    "hybrid": {"method": "hybrid", "spectral_position": "pre_gap"},
    "hybrid-pre-bn": {"method": "hybrid", "spectral_position": "pre_bn"},
}
# Comparator name -> `build_njet_classifier` arguments.
NJET_MODELS = {
    "njet-resnet18": {"network": "resnet18", "safe_subsample": False},
    "njet-resnet18-safe": {"network": "resnet18", "safe_subsample": True},
    "njet-nin": {"network": "nin", "safe_subsample": False},
    "njet-nin-safe": {"network": "nin", "safe_subsample": True},
}
MSNET = "msnet"
COMPARATOR_MODELS = (*SPECTRAL_MODELS, *NJET_MODELS, MSNET)
MODELS = (RESOLUTION,) + COMPARATOR_MODELS

# Comparators without a learned rate: no budget term and no target, a
# single point per seed in the Figure 3 sweep. (The N-Jet layers of the
# N-Jet models still learn sigma, but without safe subsampling sigma sets
# no map size.)
# MSNet learns no rate either: its cost is set after training by tau.
FIXED_RATE_MODELS = ("spectral", "njet-resnet18", "njet-nin", MSNET)

# Models with no `keras_resolution.ComplexityLayer`: their complexity is
# that of the fixed sizes at their sites, as for the `fixed` baseline.
SIZE_MEASURED_MODELS = ("njet-resnet18", "njet-nin", MSNET)
