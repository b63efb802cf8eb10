"""keras_resolution.applications as a public API: its names, the names kept
in `applications.classifiers`, and the old registered name of
MeanVariancePooling1D."""

import json
import zipfile

import keras
import numpy as np

import keras_resolution
from keras_resolution import applications
from keras_resolution.applications import classifiers
from keras_resolution.applications import radio_cnn
from keras_resolution.applications import resnet18
from keras_resolution.applications import sites
from keras_resolution.applications import msnet
from keras_resolution.applications import njet_networks
from keras_resolution.applications import spectral_resnet18

# Every name `applications.classifiers` held before the architectures got
# modules of their own; the training job and others import them from there.
CLASSIFIERS_NAMES = (
    "ARCHITECTURES", "FIXED", "FIXED_SUFFIX", "MeanVariancePooling1D",
    "RESOLUTION_SUFFIX", "budget_reference", "build_classifier",
    "check_transform", "fixed_complexity", "radio_cnn_layers",
    "resnet18_layers", "site_sizes", "size_complexity",
)  # fmt: skip
# Added with the comparators of issue 11.
SPECTRAL_NAMES = (
    "SPECTRAL_METHODS", "build_spectral_classifier", "spectral_budget_reference",
    "spectral_resnet18_layers",
)  # fmt: skip
# Issue 12: exported from their own modules only.
OWN_MODULE_NAMES = {
    njet_networks: ("NJET_NETWORKS", "SubsampleLike", "build_njet_classifier",
                    "njet_budget_reference", "njet_nin_layers", "njet_resnet18_layers"),
    msnet: ("CalibratedEarlyExit", "branch_complexities", "calibrate_threshold",
            "msnet_resnet18"),
}  # fmt: skip


def test_public_names():
    assert applications.__all__ == [
        "ARCHITECTURES", "MeanVariancePooling1D", "SPECTRAL_METHODS", "budget_reference",
        "build_classifier", "build_spectral_classifier", "radio_cnn_layers",
        "resnet18_layers", "site_sizes", "size_complexity", "spectral_budget_reference",
        "spectral_resnet18_layers",
        *OWN_MODULE_NAMES[njet_networks], *OWN_MODULE_NAMES[msnet],
    ]  # fmt: skip
    own = {name: module for module, names in OWN_MODULE_NAMES.items() for name in names}
    for name in applications.__all__:
        source = own.get(name, classifiers)
        assert getattr(applications, name) is getattr(source, name), name
    assert set(CLASSIFIERS_NAMES + SPECTRAL_NAMES) == set(classifiers.__all__)
    assert classifiers.spectral_resnet18_layers is spectral_resnet18.spectral_resnet18_layers
    assert classifiers.resnet18_layers is resnet18.resnet18_layers
    assert classifiers.radio_cnn_layers is radio_cnn.radio_cnn_layers
    assert classifiers.MeanVariancePooling1D is radio_cnn.MeanVariancePooling1D
    assert classifiers.fixed_complexity is classifiers.size_complexity is sites.size_complexity
    for name in keras_resolution.__all__:
        assert hasattr(keras_resolution, name), name


def test_modules_have_docstrings():
    for module in (applications, classifiers, radio_cnn, resnet18, sites, spectral_resnet18,
                   njet_networks, msnet):
        assert module.__doc__ and len(module.__doc__.split()) > 20, module.__name__


def _rename_layer_class(path, old, new):
    """Rewrites config.json of a .keras file: the registered name `old` of
    a layer class becomes `new`, as a file saved under `new` would have it."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    count = 0

    def visit(node):
        nonlocal count
        if isinstance(node, dict):
            if node.get("registered_name") == old:
                node["registered_name"] = new
                node["module"] = "training.classification.models"
                count += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return count


def test_mean_variance_pooling_loads_under_its_old_registered_name(tmp_path):
    old = "training.classification>MeanVariancePooling1D"
    assert keras.saving.get_registered_object(old) is radio_cnn.MeanVariancePooling1D
    assert keras.saving.get_registered_name(radio_cnn.MeanVariancePooling1D) == (
        "keras_resolution>MeanVariancePooling1D"
    )
    model = applications.build_classifier("radio_cnn", (16, 2), 4, "fixed", filters=4)
    x = np.random.default_rng(0).normal(size=(3, 16, 2)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    path = str(tmp_path / "old_name.keras")
    model.save(path)
    assert _rename_layer_class(path, "keras_resolution>MeanVariancePooling1D", old) == 1
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("mean_variance_pool")) is radio_cnn.MeanVariancePooling1D
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), expected)
