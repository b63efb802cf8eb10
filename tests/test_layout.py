"""The floors of README's layout: each package imports only those below it,
and only `detection` imports KerasCV."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "keras_resolution": {"detection", "training", "keras_cv", "tensorflow"},
    "detection": {"training"},
    "training": {"keras_cv"},
}


def imported_packages(path):
    """Top-level package names imported anywhere in a file (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_no_floor_above_it(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {file: names for file, names in offenders.items() if names} == {}


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    import keras_cv.layers\n    from training import cli\n")
    assert imported_packages(module) == {"keras_cv", "training"}
