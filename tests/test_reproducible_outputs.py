"""Byte-identical outputs for the same seed (issue 15): two ``audit --quick`` runs differ only in
manifest.json (the date, the wall times, the command line); every figure (PNG, SVG), table
(CSV, XLSX), index.html and results.json is the same, byte for byte — ``diff -r`` shows only
manifest.json. The second run audits the indices one after the other (``--workers 1``), the
first side by side in forked processes (the default on a machine with two CPUs or more): how
the work is spread must not change a byte either."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityindex.cli import app

pytestmark = pytest.mark.slow  # two audit runs


def _files(root: Path) -> set[str]:
    return {str(Path(d, f).relative_to(root)) for d, _, fs in os.walk(root) for f in fs}


def test_two_quick_audits_differ_only_in_the_manifest(tmp_path):
    runs = []
    for name, extra in (("one", []), ("two", ["--workers", "1"])):
        out = tmp_path / name
        res = CliRunner().invoke(app, ["audit", "--quick", "--seed", "3", "--quiet", "-o",
                                       str(out)] + extra)
        assert res.exit_code == 0, res.output
        runs.append(out)
    a, b = runs
    assert _files(a) == _files(b)
    kinds = {Path(f).suffix for f in _files(a)}
    assert {".csv", ".png", ".svg", ".xlsx", ".html", ".json"} <= kinds
    differ = sorted(f for f in _files(a)
                    if not filecmp.cmp(a / f, b / f, shallow=False))
    assert differ == ["manifest.json"], differ
    man = json.loads((a / "manifest.json").read_text())
    assert "time" in man and "timings" in man and man["timings"]["total_s"] > 0
    listed = {f["path"] for f in man["files"]}
    assert listed == _files(a) - {"manifest.json"}
    for text_file in ("index.html", "results.json"):
        text = (a / text_file).read_text()
        assert "total_s" not in text and " UTC" not in text
    assert "<dc:date>" not in (a / "figures" / "gdci_sobol.svg").read_text()
