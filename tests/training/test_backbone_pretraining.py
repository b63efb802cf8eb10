"""The pretrained backbone cache: created, loadable, reused, hash-checked,
rebuilt when the recipe or the files change, and deterministic.

Every test uses a tiny recipe (40 crops of 32x32, one epoch); the real
training runs twice in the whole module (the shared entry and the
determinism check), the other rebuilds use a stand-in trainer.
"""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from detection import build_backbone  # noqa: E402
from training import cli  # noqa: E402
from training.detection import backbone_pretraining as bp  # noqa: E402

TINY = dict(crop_size=32, crops_per_class=8, val_crops_per_class=2,
            object_size_range=(6.0, 30.0), epochs=1, batch_size=8)


def tiny_recipe(**changes):
    return bp.BackbonePretrainingRecipe(**{**TINY, **changes})


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """One real pretraining into a module cache; returns (dir, path, weights)."""
    cache_dir = tmp_path_factory.mktemp("cache")
    trained = {}
    real = bp.train_backbone

    def recording(recipe, verbose=1):
        backbone, metrics = real(recipe, verbose=verbose)
        trained["weights"] = [w.copy() for w in backbone.get_weights()]
        return backbone, metrics

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bp, "train_backbone", recording)
        path = bp.ensure_pretrained_backbone(tiny_recipe(), cache_dir, verbose=0)
    return cache_dir, path, trained["weights"]


def fake_trainer(calls):
    """A stand-in `train_backbone`: random weights, no training."""

    def train(recipe, verbose=1):
        calls.append(recipe)
        return build_backbone(recipe.backbone, recipe.crop_size), {
            "train_accuracy": 0.0, "val_accuracy": 0.0}

    return train


def copy_entry(source_dir, target_dir, recipe):
    for source, target in zip(bp.backbone_cache_paths(recipe, source_dir),
                              bp.backbone_cache_paths(recipe, target_dir)):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return bp.backbone_cache_paths(recipe, target_dir)


def test_creates_weights_and_sidecar_that_build_backbone_loads(cached):
    cache_dir, path, trained_weights = cached
    recipe = tiny_recipe()
    assert path == cache_dir / "backbones" / f"yolo_v8_xs-{recipe.hash()}.weights.h5"
    sidecar = bp.read_sidecar(recipe, cache_dir)
    assert sidecar["hash"] == recipe.hash()
    assert bp.BackbonePretrainingRecipe(**sidecar["recipe"]) == recipe
    for key in ("train_accuracy", "val_accuracy", "train_seconds", "created", "weights_sha256"):
        assert key in sidecar
    assert 0.0 <= sidecar["val_accuracy"] <= 1.0
    # Loaded at another image size than the crops': the detector's.
    loaded = build_backbone("yolo_v8_xs", 64, weights=path).get_weights()
    assert len(loaded) == len(trained_weights)
    for a, b in zip(loaded, trained_weights):
        np.testing.assert_array_equal(a, b)
    # No temporary files are left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, path.name.replace(".weights.h5", ".json")])


def test_second_call_reuses_without_training(cached, monkeypatch):
    cache_dir, path, _ = cached
    mtimes = [p.stat().st_mtime_ns for p in bp.backbone_cache_paths(tiny_recipe(), cache_dir)]

    def fail(*args, **kwargs):
        raise AssertionError("train_backbone called for a cached recipe")

    monkeypatch.setattr(bp, "train_backbone", fail)
    assert bp.ensure_pretrained_backbone(tiny_recipe(), cache_dir, verbose=0) == path
    assert [p.stat().st_mtime_ns
            for p in bp.backbone_cache_paths(tiny_recipe(), cache_dir)] == mtimes


@pytest.mark.parametrize("damage", ["hash", "recipe", "corrupt", "weights", "missing"])
def test_a_mismatching_or_corrupt_entry_is_rebuilt(cached, tmp_path, monkeypatch, capsys,
                                                   damage):
    recipe = tiny_recipe()
    weights_path, sidecar_path = copy_entry(cached[0], tmp_path, recipe)
    sidecar = json.loads(sidecar_path.read_text())
    if damage == "hash":
        sidecar["hash"] = "0" * 12
        sidecar_path.write_text(json.dumps(sidecar))
    elif damage == "recipe":
        sidecar["recipe"]["epochs"] = 2
        sidecar_path.write_text(json.dumps(sidecar))
    elif damage == "corrupt":
        sidecar_path.write_text('{"recipe": ')
    elif damage == "weights":
        weights_path.write_bytes(weights_path.read_bytes()[:-10] + b"0" * 10)
    else:
        weights_path.unlink()
    calls = []
    monkeypatch.setattr(bp, "train_backbone", fake_trainer(calls))
    assert bp.ensure_pretrained_backbone(recipe, tmp_path, verbose=1) == weights_path
    assert calls == [recipe]
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("pretrain-backbone: rebuilding")
    rebuilt = json.loads(sidecar_path.read_text())
    assert rebuilt["hash"] == recipe.hash()
    assert bp.cache_problem(recipe, weights_path, sidecar_path) is None
    build_backbone("yolo_v8_xs", 32, weights=weights_path)


def test_changing_any_field_changes_the_hash_and_the_path(tmp_path):
    recipe = tiny_recipe()
    assert tiny_recipe().hash() == recipe.hash()
    assert len(recipe.hash()) == 12
    changes = dict(crop_size=64, crops_per_class=9, val_crops_per_class=3,
                   object_size_range=(6.0, 29.0), epochs=2, batch_size=4, optimizer="sgd",
                   learning_rate=1e-3, seed=1, generator_version="other")
    paths = {bp.backbone_cache_paths(recipe, tmp_path)[0]}
    for name, value in changes.items():
        changed = tiny_recipe(**{name: value})
        assert changed.hash() != recipe.hash(), name
        paths.add(bp.backbone_cache_paths(changed, tmp_path)[0])
    assert len(paths) == len(changes) + 1
    # A recipe read back from JSON (lists for tuples) is the same recipe.
    again = bp.BackbonePretrainingRecipe(**json.loads(recipe.to_json()))
    assert again == recipe and again.hash() == recipe.hash()


def test_force_retrains_bit_identically(cached, tmp_path):
    cache_dir, path, _ = cached
    again = bp.ensure_pretrained_backbone(tiny_recipe(), tmp_path, verbose=0, force=True)
    assert again != path
    first = build_backbone("yolo_v8_xs", 32, weights=path).get_weights()
    second = build_backbone("yolo_v8_xs", 32, weights=again).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert (bp.read_sidecar(tiny_recipe(), tmp_path)["val_accuracy"]
            == bp.read_sidecar(tiny_recipe(), cache_dir)["val_accuracy"])


def test_crops_are_deterministic_balanced_and_split():
    recipe = tiny_recipe()
    images, labels = bp.generate_crops(recipe, "train")
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [8] * 5
    again, _ = bp.generate_crops(recipe, "train")
    np.testing.assert_array_equal(images, again)
    val, val_labels = bp.generate_crops(recipe, "val")
    assert val.shape[0] == 10 and not np.array_equal(val[:1], images[:1])


@pytest.mark.parametrize("changes, name", [
    (dict(crop_size=48), "crop_size"), (dict(epochs=0), "epochs"),
    (dict(object_size_range=(6.0, 40.0)), "object_size_range"),
    (dict(optimizer="rmsprop"), "optimizer"), (dict(backbone="vgg"), "backbone"),
])
def test_invalid_recipes_name_the_field(changes, name):
    with pytest.raises(ValueError, match=name):
        tiny_recipe(**changes)


def test_cli_prints_path_hash_and_accuracy_and_reuses_the_cache(cached, monkeypatch, capsys):
    cache_dir, path, _ = cached
    monkeypatch.setattr(bp, "train_backbone", fake_trainer(calls := []))
    argv = ["pretrain-backbone", "--crop-size", "32", "--crops-per-class", "8",
            "--val-crops-per-class", "2", "--object-size-range", "6", "30", "--epochs", "1",
            "--batch-size", "8", "--cache-dir", str(cache_dir), "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert str(path) in out and tiny_recipe().hash() in out and "val accuracy" in out
    assert calls == []


def test_cli_help_shows_the_default_recipe(capsys):
    with pytest.raises(SystemExit):
        cli.main(["pretrain-backbone", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = bp.BackbonePretrainingRecipe()
    assert f"(default: {defaults.epochs})" in text
    assert f"(default: {defaults.learning_rate})" in text
    assert "--force" in text and "--cache-dir" in text


def test_a_shipped_entry_is_copied_instead_of_pretraining(cached, tmp_path, monkeypatch, capsys):
    recipe = tiny_recipe()
    shipped = tmp_path / "shipped" / "backbones"
    copy_entry(cached[0], shipped.parent, recipe)
    monkeypatch.setattr(bp, "SHIPPED_DIR", shipped)
    calls = []
    monkeypatch.setattr(bp, "train_backbone", fake_trainer(calls))
    path = bp.ensure_pretrained_backbone(recipe, tmp_path / "cache", verbose=1)
    assert calls == [] and path == bp.backbone_cache_paths(recipe, tmp_path / "cache")[0]
    assert path.read_bytes() == cached[1].read_bytes()
    assert bp.cache_problem(recipe, *bp.backbone_cache_paths(recipe, tmp_path / "cache")) is None
    assert "copied from the project's shipped backbones" in capsys.readouterr().err
    # --force trains; a shipped entry that fails its check is not used.
    bp.ensure_pretrained_backbone(recipe, tmp_path / "forced", verbose=0, force=True)
    assert calls == [recipe]
    weights, _ = bp.backbone_cache_paths(recipe, shipped.parent)
    weights.write_bytes(weights.read_bytes()[:-10] + b"0" * 10)
    bp.ensure_pretrained_backbone(recipe, tmp_path / "other", verbose=0)
    assert calls == [recipe, recipe]


def test_the_project_ships_the_default_recipes_backbone():
    recipe = bp.BackbonePretrainingRecipe()
    assert bp.cache_problem(recipe, *bp.backbone_cache_paths(recipe, bp.SHIPPED_DIR.parent)) is None
