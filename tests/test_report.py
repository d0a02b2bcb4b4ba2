"""Tests of ``cityindex audit`` / ``cityindex profile`` and the report package (issue 8)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from validation.cli import app
from validation.cli_audit import register

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"
ASEM_ARGS = ["-f", str(ASEM / "asem_imeta.csv"), "--data", str(ASEM / "asem_idata.csv"),
             "--method", str(ROOT / "data" / "methods" / "asem.yaml"),
             "--space", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]

register(app)
runner = CliRunner()


def _invoke(args):
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def asem_run(tmp_path_factory):
    """One quick audit of the COINr ASEM example (small samples)."""
    out = tmp_path_factory.mktemp("audit") / "asem"
    res = _invoke(["audit", "--quick", "--quiet", *ASEM_ARGS, "--n", "100", "--n-sobol", "16",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_register_is_idempotent():
    n = len(app.registered_commands)
    register(app)
    assert len(app.registered_commands) == n
    names = {c.name for c in app.registered_commands}
    assert {"audit", "profile"} <= names


def test_run_folder_contents(asem_run):
    for name in ("index.html", "results.json", "manifest.json", "tables.xlsx"):
        assert (asem_run / name).is_file(), name
    results = json.loads((asem_run / "results.json").read_text())
    assert results["figures"]
    for fig in results["figures"]:
        assert (asem_run / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (asem_run / "figures" / f"{fig}.svg").read_text().lstrip().startswith("<?xml")
    sheets = pd.ExcelFile(asem_run / "tables.xlsx").sheet_names
    assert len(sheets) == len(results["tables"])
    rankings = pd.read_csv(asem_run / "tables" / "Index_rankings.csv")
    assert {"unit", "score", "rank", "ua_q5", "ua_q95", "ua_median"} <= set(rankings.columns)
    assert (rankings["ua_q5"] <= rankings["ua_q95"]).all()
    man = json.loads((asem_run / "manifest.json").read_text())
    assert man["command"] == "audit" and len(man["data"]["sha256"]) == 64


def test_html_is_self_contained_and_states_figures(asem_run):
    html = (asem_run / "index.html").read_text()
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "<link" not in html.lower()
    results = json.loads((asem_run / "results.json").read_text())
    h = results["indices"]["Index"]["headline"]
    assert f"{h['mean_abs_rank_shift']:.2f}" in html
    assert f"{h['share_band_wider_than_10']:.1%}" in html
    for d in h["top_drivers"]:
        assert d["factor"] in html
    assert len(h["top_drivers"]) == 3
    # quick mode skips the Bayesian model with a note
    assert "skipped in --quick mode" in html
    n_img = html.count('src="data:image/png;base64,')
    assert n_img == len(results["figures"])


def test_corrupted_input_writes_nothing(tmp_path):
    df = pd.read_csv(ASEM / "asem_idata.csv")
    col = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])][-1]
    df[col] = df[col].astype(object)
    df.loc[3, col] = "n/a?"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    out = tmp_path / "reports" / "run"
    args = ["audit", "--quick", "--quiet", *ASEM_ARGS, "--out", str(out)]
    args[args.index("--data") + 1] = str(bad)
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    msg = res.output.strip() if not res.stderr_bytes else res.stderr.strip()
    assert msg.startswith("error:") and len(msg.splitlines()) == 1, msg
    assert not out.exists()
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_profile_command():
    res = _invoke(["profile", "上海", "-f", "gdci", "--n", "50"])
    assert res.exit_code == 0, res.output
    assert "Shanghai (CN-SHANGHAI" in res.output
    for part in ("Regional peers", "Rank neighbours", "Strongest indicators",
                 "What drives the rank band"):
        assert part in res.output


def test_profile_unknown_city_one_line():
    res = runner.invoke(app, ["profile", "Atlantis-on-Sea", "-f", "gdci"])
    assert res.exit_code == 2
    assert "unknown city" in res.output and len(res.output.strip().splitlines()) == 1


def test_tree_marks_empty_subdimensions():
    from model import Framework
    from validation.report.html import tree_table

    fw = Framework.load(ROOT / "data" / "frameworks" / "gdci.yaml")
    t = tree_table(fw)
    assert len(t) == len(fw.nodes)
    empty = set(t.loc[t["status"] == "no open indicator", "code"])
    assert empty == set(fw.empty_aggregates)
    ind = t[t["level"] == 1]
    assert ind["index_weight"].sum() == pytest.approx(1.0)


def test_rank_uncertainty_figure():
    import numpy as np
    from matplotlib.figure import Figure

    from validation.report import figures as F

    n = 60
    stats = pd.DataFrame({"nominal": np.arange(1, n + 1), "median": np.arange(1, n + 1) + 1.0,
                          "q5": np.arange(1, n + 1) - 3.0, "q95": np.arange(1, n + 1) + 5.0},
                         index=[f"u{i}" for i in range(n)])
    fig = F.rank_uncertainty(stats, top=50)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].get_xticklabels()) == 50
