"""Interval conventions on the command line (issue 16, item 5): every command that prints an
interval takes its level and quantile rule and records them in its manifest."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cityindex.cli import app
from cityindex.cli.common import interval_conventions
from cityindex.model.errors import MethodError


def test_interval_conventions_map_level_and_rule():
    assert interval_conventions(0.90, "inverted_cdf") == {
        "level": 0.90, "percentiles": [5.0, 95.0], "quantile": "inverted_cdf"}
    assert interval_conventions(0.95, "type7") == {
        "level": 0.95, "percentiles": [2.5, 97.5], "quantile": "linear"}
    with pytest.raises(MethodError, match="--quantile"):
        interval_conventions(0.9, "type9")


def test_uncertainty_level_and_quantile_recorded(tmp_path):
    out = tmp_path / "u"
    r = CliRunner().invoke(app, ["uncertainty", "--n", "30", "--level", "0.8", "--quantile",
                                 "type7", "-o", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["intervals"] == {"level": 0.8, "percentiles": [10.0, 90.0], "quantile": "linear"}
    assert man["ranking"] == {"round": None, "ties": "min", "publish": "rounded"}
    st = pd.read_csv(out / "rank_stats.csv")
    assert {"q10", "q90", "n_valid"} <= set(st.columns)
    # type 7 interpolates: some band limits are not whole ranks
    assert ((st["q10"] % 1) != 0).any()


def test_uncertainty_default_band_is_5_95_inverted_cdf(tmp_path):
    out = tmp_path / "u"
    r = CliRunner().invoke(app, ["uncertainty", "--n", "20", "-o", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["intervals"]["percentiles"] == [5.0, 95.0]
    st = pd.read_csv(out / "rank_stats.csv").dropna(subset=["q5"])  # not ranked: no band
    assert ((st["q5"] % 1) == 0).all() and ((st["q95"] % 1) == 0).all()


def test_bad_quantile_rule_is_one_line_before_any_work(tmp_path):
    for cmd in (["uncertainty"], ["compare"], ["publish", "--no-band"], ["ranks"]):
        r = CliRunner().invoke(app, cmd + ["--quantile", "type9", "-o", str(tmp_path / "x")])
        assert r.exit_code == 2 and "--quantile" in r.output, (cmd, r.output)
