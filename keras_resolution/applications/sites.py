"""Resize sites: where a classifier changes resolution, and its complexity there.

Each classifier of `keras_resolution.applications` resizes at named sites.
A Resolution model has a `ResolutionLayer` named `<site>_resolution` at each
site; its fixed baseline has a pass-through `Identity` layer named
`<site>_fixed` at the same place. The DiffStride, spectral-pooling and
hybrid ResNet-18s (`spectral_resnet18`) name theirs `<site>_diffstride`
and `<site>_spectral`; the N-Jet networks (`njet_networks`) name the
`SafeSubsample` that their N-Jet layer at a site holds `<site>_safe` (it
sits inside that layer, not in `model.layers`). All can then be measured
the same way:
`site_sizes` reads the spatial sizes at every site, and `size_complexity`
turns them into a complexity (for a baseline, the paper's C_base).
"""

import keras
from keras import layers

from keras_resolution.budgets import QuadraticTarget
from keras_resolution.budgets import ResolutionModel
from keras_resolution.complexity_definitions import measure
from keras_resolution.layer import ResolutionLayer
from keras_resolution.transforms import TRANSFORMS

FIXED = "fixed"
FIXED_SUFFIX = "_fixed"
RESOLUTION_SUFFIX = "_resolution"
DIFFSTRIDE_SUFFIX = "_diffstride"
SPECTRAL_SUFFIX = "_spectral"
SAFE_SUFFIX = "_safe"
# Sites whose layer reports its own `output_sizes` (a `ComplexityLayer`).
_MEASURED_SUFFIXES = (RESOLUTION_SUFFIX, DIFFSTRIDE_SUFFIX, SPECTRAL_SUFFIX)


def check_transform(transform):
    """Returns `transform` if it is `"dct"`, `"dft"` or `"fixed"`, else raises
    a `ValueError` naming it.

    Args:
        transform: The transform of a Resolution model, or `"fixed"` for a
            baseline.

    Returns:
        `transform`.
    """
    known = TRANSFORMS + (FIXED,)
    if transform not in known:
        raise ValueError(f"Unknown `transform` {transform!r}: expected one of {', '.join(known)}.")
    return transform


def resize_site(x, name, transform, resolution_kwargs):
    """The site `name`: a `ResolutionLayer` (`<name>_resolution`) for a
    Resolution model, or the `Identity` marker (`<name>_fixed`) of a
    baseline, applied to `x`.

    Args:
        x: Symbolic tensor.
        name: Site name.
        transform: `"dct"`, `"dft"` or `"fixed"`.
        resolution_kwargs: Extra `ResolutionLayer` arguments.

    Returns:
        Symbolic tensor.
    """
    if transform == FIXED:
        return layers.Identity(name=name + FIXED_SUFFIX)(x)
    return ResolutionLayer(
        scale=1.0, transform=transform, name=name + RESOLUTION_SUFFIX, **resolution_kwargs
    )(x)


def site_sizes(model):
    """`{site: spatial output sizes}` of a classifier's resize sites.

    For a Resolution, DiffStride or safe-subsampling N-Jet model these are
    the current learned sizes (for the last input size each layer saw);
    for a baseline, its fixed sizes.

    Args:
        model: A classifier from `build_classifier`.

    Returns:
        Dict from site name to a tuple of ints.
    """
    sizes = {}
    for layer in model.layers:
        if layer.name.endswith(FIXED_SUFFIX):
            sizes[layer.name[: -len(FIXED_SUFFIX)]] = tuple(layer.output.shape[1:-1])
        else:
            for suffix in _MEASURED_SUFFIXES:
                if layer.name.endswith(suffix):
                    sizes[layer.name[: -len(suffix)]] = tuple(int(d) for d in layer.output_sizes)
        subsample = getattr(layer, "safe_subsample", None)  # an N-Jet layer's
        if subsample is not None and subsample.name.endswith(SAFE_SUFFIX):
            sizes[subsample.name[: -len(SAFE_SUFFIX)]] = tuple(
                int(d) for d in subsample.output_sizes
            )
    return sizes


def size_complexity(model, definition="linear"):
    """Complexity from the integer sizes at a classifier's resize sites.

    For a baseline these are its fixed feature-map sizes, which is how the
    paper computes the complexity of its fixed-architecture baselines
    (C_base); for a Resolution model, its current learned integer sizes.
    Per site: the length (1D), height + width (`"linear"`) or height * width
    (`"area"`).

    Args:
        model: A classifier from `build_classifier`.
        definition: `"linear"` or `"area"`.

    Returns:
        Python float (0.0 for a model without resize sites).
    """
    return float(sum(measure(sizes, definition) for sizes in site_sizes(model).values()))


fixed_complexity = size_complexity  # C_base of a baseline built with transform="fixed"


def budgeted_model(inputs, outputs, name, learns_rate, target_budget, penalty_weight,
                   complexity_definition):
    """The classifier as a model: under the quadratic target
    `penalty_weight * (C / C_full - target_budget)^2` when it has a learnable
    rate (`learns_rate`), else a plain `keras.Model` (a fixed baseline)."""
    if not learns_rate:
        return keras.Model(inputs, outputs, name=name)
    return ResolutionModel(
        inputs,
        outputs,
        penalty=QuadraticTarget(target_budget, weight=penalty_weight),
        complexity_definition=complexity_definition,
        name=name,
    )
