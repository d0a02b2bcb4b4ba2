"""The wheel is the product (issue 12): built from this tree and installed into a fresh virtual
environment, it brings its bundled data, runs ``cityindex audit --quick`` from an empty folder,
imports as ``cityindex`` only (no top-level ``model`` or ``validation``).

To keep the test fast, the fresh environment reuses the test environment's installed
dependencies through a ``.pth`` path entry (that adds their folder to ``sys.path``, without the
editable install's import hook); the wheel itself is installed with ``--no-deps``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args, cwd, timeout=600):
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return res


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # build from a clean copy of the tracked tree (a build/ folder left in the checkout could
    # carry stale modules into the wheel)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    src = tmp / "src"
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "-q", "-w", str(tmp / "dist"), str(src)], cwd=tmp)
    assert res.returncode == 0, res.stderr[-2000:]
    wheel = next((tmp / "dist").glob("cityindex-*.whl"))
    env = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", str(env)], cwd=tmp).returncode == 0
    py = env / "bin" / "python"
    res = _run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=tmp)
    assert res.returncode == 0, res.stderr[-2000:]
    site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp).stdout.strip()
    (Path(site) / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp / "empty"
    empty.mkdir()
    return wheel, env, empty


def test_wheel_holds_the_bundled_data_and_no_top_level_packages(venv):
    wheel, _, _ = venv
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("cityindex/data/frameworks/gdci.yaml", "cityindex/data/methods/default.yaml",
              "cityindex/data/spaces/default.yaml", "cityindex/data/cities.csv",
              "cityindex/data/panel/panel.csv", "cityindex/data/published/gdci_2021_top100.csv",
              "cityindex/model/pipeline.py", "cityindex/validation/engine.py",
              "cityindex/report/explorer_template.html", "cityindex/report/explorer.js",
              "cityindex/report/explorer.css"):
        assert f in names, f
    tops = {n.split("/")[0] for n in names if not n.startswith("cityindex-")}
    assert tops == {"cityindex"}, tops


def test_api_from_an_empty_folder(venv):
    _, env, empty = venv
    code = ("import cityindex as ci; r = ci.compute('gdci'); print(r.summary().as_text()); "
            "print(ci.__file__)")
    res = _run([str(env / "bin" / "python"), "-c", code], cwd=empty)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Index result: GDCI" in res.stdout and "513 units scored" in res.stdout
    assert str(ROOT) not in res.stdout.splitlines()[-1]  # the installed copy, not the checkout
    for name in ("model", "validation"):
        res = _run([str(env / "bin" / "python"), "-c", f"import {name}"], cwd=empty)
        assert res.returncode != 0 and "ModuleNotFoundError" in res.stderr, name


def test_audit_quick_from_an_empty_folder(venv):
    _, env, empty = venv
    res = _run([str(env / "bin" / "cityindex"), "audit", "--quick", "--quiet", "--out", "r"],
               cwd=empty)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    for f in ("index.html", "results.json", "manifest.json", "tables.xlsx", "explorer.html"):
        assert (empty / "r" / f).is_file(), f
