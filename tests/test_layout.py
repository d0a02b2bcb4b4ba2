"""The package layout of issue 12: one import namespace, layers that import downward only.

* ``model/`` installs as ``cityindex.model``, ``validation/`` as ``cityindex.validation``,
  ``data/`` as ``cityindex.data``; nothing imports a top-level ``model`` or ``validation``.
* Layers: model ← validation ← cityindex (audit, report, CLI, API). A lower layer that imports
  a higher one fails here, whether the import is at module level or inside a function.
* Every package folder is listed in pyproject.toml (else it is missing from the wheel).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"cityindex.model": ROOT / "model", "cityindex.validation": ROOT / "validation",
           "cityindex": ROOT / "cityindex"}
LAYER = {"cityindex.model": 0, "cityindex.validation": 1, "cityindex": 2}


def _module_name(path: Path) -> str:
    for pkg, folder in FOLDERS.items():
        if folder in path.parents:
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            return ".".join([pkg, *parts])
    raise AssertionError(path)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names
                    if node.module is None]
    return out


def _layer(module: str) -> int | None:
    for prefix in ("cityindex.model", "cityindex.validation"):
        if module == prefix or module.startswith(prefix + "."):
            return LAYER[prefix]
    if module == "cityindex" or module.startswith("cityindex."):
        return LAYER["cityindex"]
    return None


SOURCES = sorted(p for folder in FOLDERS.values() for p in folder.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_downward_only(path):
    own = _layer(_module_name(path))
    for line, mod in _imports(path):
        top = mod.split(".")[0]
        assert top not in ("model", "validation"), \
            f"{path.relative_to(ROOT)}:{line} imports top-level '{mod}'"
        layer = _layer(mod)
        assert layer is None or layer <= own, \
            f"{path.relative_to(ROOT)}:{line} ({_module_name(path)}) imports higher layer '{mod}'"


def test_layer_checker_catches_an_upward_import(tmp_path):
    """The checker itself: a model module importing the validation layer is reported."""
    bad = ROOT / "model" / "_layer_probe.py"
    try:
        bad.write_text("def f():\n    from cityindex.validation import engine\n")
        with pytest.raises(AssertionError, match="imports higher layer"):
            test_layers_import_downward_only(bad)
        bad.write_text("from ..validation import engine\n")
        with pytest.raises(AssertionError, match="imports higher layer"):
            test_layers_import_downward_only(bad)
    finally:
        bad.unlink()


def test_every_package_folder_is_listed_in_pyproject():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    mapping = conf["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]))
    # the bundled data folders are namespace packages holding only package data
    for sub in (ROOT / mapping["cityindex.data"]).iterdir():
        if sub.is_dir() and not sub.name.startswith((".", "_")) and any(sub.iterdir()):
            found.add(f"cityindex.data.{sub.name}")
    assert found == listed, f"not listed: {sorted(found - listed)}; stale: {sorted(listed - found)}"
    data = set(conf["package-data"])
    # beside the data packages, the report ships the explorer page's template, stylesheet and
    # script (issue 18)
    assert conf["package-data"].get("cityindex.report") == [
        "explorer_template.html", "explorer.css", "explorer.js"]
    data.discard("cityindex.report")
    assert data == {p for p in listed if p.startswith("cityindex.data")}, data
