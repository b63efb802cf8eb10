"""The models a classification run can train, by name (`--model`).

* `resolution`: a Resolution model (`--transform dct` or `dft`), or with
  `--transform fixed` its fixed baseline (`build_classifier`);
* the comparators of issue 11, ResNet-18 only (image data), each a method
  of `keras_resolution.applications.build_spectral_classifier`:
  `diffstride` (the official DiffStride ResNet-18), `spectral` (fixed
  spectral pooling at the same sites), and the hybrid of both, with its
  spectral pooling directly before global average pooling (`hybrid`, the
  paper's placement) or before the final BN and ReLU (`hybrid-pre-bn`).

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
MODELS = (RESOLUTION,) + tuple(SPECTRAL_MODELS)

# Comparators without a learned rate: no budget term and no target, a
# single point per seed in the Figure 3 sweep.
FIXED_RATE_MODELS = ("spectral",)
