"""The explorer's data and page, the per-unit views behind them, the ``explore`` command, and
the JRC sections of the report (issue 18). The browser test is tests/test_explorer_browser.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import explorer_synth as S  # noqa: E402

ASEM = ROOT / "tests" / "data" / "coinr_asem"
ASEM_ARGS = ["-f", str(ASEM / "asem_imeta.csv"), "--data", str(ASEM / "asem_idata.csv"),
             "--method", str(ROOT / "data" / "methods" / "asem.yaml"),
             "--space", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]
N = 240


@pytest.fixture(scope="module")
def synth():
    """A light audit of 240 synthetic units with a three-year history."""
    import cityindex as ci

    r = S.result(N)
    a = ci.audit(r, space=S.space(r), light=True, quick=True, n_ua=100, n_sa=16, seed=0)
    a["IDX"].history = S.history(N, n=20)
    return a


@pytest.fixture(scope="module")
def data(synth):
    from cityindex.report.explorer import explorer_data

    return explorer_data(synth)


def _page_json(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page,
                  flags=re.S)
    return json.loads(m.group(1))


def test_data_schema_and_alignment(synth, data):
    assert data["schema"] == "cityindex-explorer/1"
    (b,) = data["indices"]
    a = synth["IDX"]
    units = list(a.result.scores.index)
    assert b["units"]["code"] == units and b["root"] == "IDX"
    assert [n["code"] for n in b["nodes"]][:2] == ["IDX", "D1"]      # tree order, root first
    assert {n["code"] for n in b["nodes"]} == set(a.framework.nodes)
    for arr in (b["units"]["name"], b["observed_share"], b["flags"], b["strengths"],
                b["weaknesses"], b["drivers"], b["groups"]["region"]):
        assert len(arr) == len(units)
    assert set(b["scores"]) == set(a.framework.aggregates)
    for code, blk in b["scores"].items():
        assert set(blk) >= {"score", "rank", "q5", "q95", "median"}
        np.testing.assert_allclose(np.array(blk["rank"], float), a.result.ranks[code].to_numpy())
        lo, hi = np.array(blk["q5"], float), np.array(blk["q95"], float)
        ranked = ~np.isnan(np.array(blk["rank"], float))   # no band without a rank (issue 13)
        assert (lo[ranked] <= hi[ranked]).all()
    rs = a.uncertainty.rank_stats.reindex(units)
    np.testing.assert_allclose(b["scores"]["IDX"]["width"], rs["width"].to_numpy())
    assert b["band"] == {"lo": 5, "hi": 95, "label": "5–95 %", "n": 100}
    assert set(b["indicators"]) == set(a.framework.indicators)
    ind = b["indicators"]["x11"]
    raw = a.result.raw.reindex(units)["x11"]
    assert ind["observed"] == [int(v) for v in raw.notna()]
    assert ind["of"] == int(raw.notna().sum())
    # imputed cells: no raw value, an imputed one
    k = ind["observed"].index(0)
    assert ind["raw"][k] is None and ind["imputed"][k] is not None
    assert b["noun"] == ["unit", "units"]


def test_flags_and_strengths_follow_the_profiles(synth, data):
    from cityindex.profiles import city_profile

    a = synth["IDX"]
    (b,) = data["indices"]
    units = b["units"]["code"]
    share = a.result.raw.reindex(units)[a.framework.indicators].notna().mean(axis=1)
    assert [("mostly imputed" in f) for f in b["flags"]] == list(share < 0.5)
    assert sum("mostly imputed" in f for f in b["flags"]) >= N // 50
    for u in units[:5] + units[100:103]:
        p = city_profile(a, u)
        i = units.index(u)
        assert b["strengths"][i] == list(p.strongest["indicator"])
        assert b["weaknesses"][i] == list(p.weakest["indicator"])
        top = p.drivers.head(3)
        assert [d[0] for d in b["drivers"][i]] == list(top["factor"])
        # strengths and weaknesses only from observed values
        obs = {c for c in b["indicators"] if b["indicators"][c]["observed"][i]}
        assert set(b["strengths"][i]) | set(b["weaknesses"][i]) <= obs


def test_history_block_is_aligned(synth, data):
    (b,) = data["indices"]
    h = b["history"]
    assert h["years"] == [2019, 2020, 2021]
    hist = synth["IDX"].history
    for node in ("IDX", "D2"):
        blk = h["nodes"][node]
        assert set(blk) == {"score", "rank", "q5", "q95", "median"}
        assert len(blk["rank"]) == 3 and len(blk["rank"][0]) == N
        u = b["units"]["code"][7]
        want = hist[(hist["year"] == 2020) & (hist["unit"] == u) & (hist["node"] == node)]
        assert blk["rank"][1][7] == want["rank"].iloc[0]
        assert blk["q95"][1][7] == want["q95"].iloc[0]
        assert blk["score"][1][7] == pytest.approx(want["score"].iloc[0], rel=1e-5)


def test_history_needs_its_columns(synth):
    from cityindex.unit_views import history_blocks

    a = synth["IDX"]
    keep = a.history
    try:
        a.history = keep.drop(columns="rank")
        with pytest.raises(ValueError, match="rank"):
            history_blocks(a)
        a.history = None
        assert history_blocks(a) is None
    finally:
        a.history = keep


def test_embedded_json_is_safe_and_round_trips(synth, data):
    from cityindex.report.explorer import embed_json, render_explorer

    page = render_explorer(data)
    # the page's own two script elements are the only ones; no data value closes them
    assert page.count("</script") == 2 and page.lower().count("<script") == 2
    assert "\u2028" not in page and "\u2029" not in page
    assert "window.__pwned" in page          # the hostile names are there, escaped
    assert '<img src=x' not in page
    back = _page_json(page)
    assert back["indices"][0]["units"]["name"][10:13] == S.HOSTILE
    assert back == json.loads(json.dumps(data))
    assert embed_json({"a": "</script>&<!--"}) == '{"a":"\\u003c/script\\u003e\\u0026\\u003c!--"}'
    with pytest.raises(ValueError):
        embed_json({"x": float("nan")})


def test_page_is_offline_and_escapes_the_title(data):
    from cityindex.report.explorer import render_explorer

    page = render_explorer({**data, "title": "<b>x</b> @@DATA@@"})
    assert "<title>&lt;b&gt;x&lt;/b&gt; @@DATA@@</title>" in page
    assert page.count('id="explorer-data"') == 1
    # no URL is loaded: no src/href to a scheme, no link element; the only http string is the
    # SVG namespace the script creates elements in
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "<link" not in page.lower()
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # the program inserts data with textContent only
    js = page[page.rindex("<script>"):]
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js


def test_assets_are_package_data():
    from importlib import resources

    from cityindex.report.explorer import ASSETS

    for name in ASSETS:
        assert resources.files("cityindex.report").joinpath(name).is_file(), name
    toml = (ROOT / "pyproject.toml").read_text()
    for name in ASSETS:
        assert name in toml


def test_unit_views_against_independent_values():
    """Coherence figures and BoD figures of an audit against independent computations
    (pingouin's Cronbach α, scipy's Spearman ρ, the raw data's missing cells)."""
    import pingouin as pg
    from scipy.stats import spearmanr

    import cityindex as ci
    from cityindex.validation.weight_audit import weight_audit

    r = ci.compute(str(ASEM / "asem_imeta.csv"), str(ASEM / "asem_idata.csv"), method="asem")
    A = ci.audit(r, space="coinr_asem", light=True, quick=True, n_ua=50, n_sa=16)
    a = A["Index"]
    # the independent values below are on the imputed table: the imputed-data audit
    a.weights = weight_audit(r, loo=True, n_boot=0, bod=True, observed=False)
    c = a.coherence_figures()
    fw, agg = r.framework, r.aggregated
    def z(df):   # standardised α = pingouin's α of z-scored items; not given for 2 items
        return (df - df.mean()) / df.std(ddof=1)

    alphas = {p: pg.cronbach_alpha(z(agg[fw.children(p)].dropna()))[0]
              for p in fw.aggregates if len(fw.children(p)) > 2}
    assert c["n_groups"] == len(alphas)
    assert c["n_alpha_ok"] == sum(v >= 0.7 for v in alphas.values())
    assert c["alpha_min"] == pytest.approx(min(alphas.values()), abs=1e-9)
    ip = [agg[i].corr(agg[fw.parent(i)]) for i in fw.indicators
          if len(fw.children(fw.parent(i))) > 1]
    assert c["indicator_parent_range"] == pytest.approx((min(ip), max(ip)), abs=1e-9)
    f = a.bod_figures()
    bod = a.weights.bod
    assert f["spearman_with_index"] == pytest.approx(
        spearmanr(bod["bod_score"], bod["index_score"]).statistic, abs=1e-12)
    assert f["n_frontier"] == int((bod["bod_score"] > 1 - 1e-9).sum())
    loo = a.loo_table()
    assert len(loo) == len(fw.indicators) + len(fw.aggregates) - 1
    assert loo["mean_abs_shift"].is_monotonic_decreasing
    t = a.unit_table()
    assert t["rank"].is_monotonic_increasing
    assert list(t.columns[:3]) == ["unit", "name", "rank"]
    assert (t["q5"] <= t["median"]).all() and (t["median"] <= t["q95"]).all()
    sob = a.sobol_units()
    assert set(sob["unit"]) == set(r.scores.index)
    assert len(sob) == len(r.scores) * len(a.space.names)


runner = CliRunner()


def test_explore_command_with_history(tmp_path):
    from cityindex.cli import app

    hist = pd.DataFrame({"year": [2017, 2018] * 3, "unit": ["AUT"] * 2 + ["BEL"] * 2
                         + ["NLD"] * 2, "node": "Index", "score": [60.0, 61, 55, 54, 70, 71],
                         "rank": [10, 9, 20, 21, 3, 2], "q5": [8, 7, 15, 16, 1, 1],
                         "q95": [14, 12, 25, 27, 6, 5]})
    hp = tmp_path / "history.csv"
    hist.to_csv(hp, index=False)
    out = tmp_path / "explore"
    res = runner.invoke(app, ["explore", *ASEM_ARGS, "--n", "60", "--n-sobol", "16", "--quiet",
                              "--history", str(hp), "--out", str(out)],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "explorer →" in res.output
    page = (out / "explorer.html").read_text()
    d = _page_json(page)
    b = d["indices"][0]
    assert b["code"] == "Index" and len(b["units"]["code"]) == 51
    assert b["history"]["years"] == [2017, 2018]
    i = b["units"]["code"].index("BEL")
    ranks = b["history"]["nodes"]["Index"]["rank"]
    assert [ranks[0][i], ranks[1][i]] == [20, 21]
    assert b["history"]["nodes"]["Index"]["q95"][1][i] == 27
    j = b["units"]["code"].index("DEU")                    # no history: nulls
    assert [ranks[0][j], ranks[1][j]] == [None, None]
    assert sum(v is not None for v in ranks[0]) == 3
    assert b["groups"]["EurAsia_group"][i] == "Europe"     # COINr group columns as filters
    man = json.loads((out / "manifest.json").read_text())
    assert man["command"] == "explore"
    # a history without its columns: one line, exit 2, nothing written
    hist.drop(columns="rank").to_csv(hp, index=False)
    out2 = tmp_path / "explore2"
    res = runner.invoke(app, ["explore", *ASEM_ARGS, "--history", str(hp), "--out", str(out2)])
    assert res.exit_code == 2 and "rank" in res.output and not out2.exists()


@pytest.mark.slow
def test_audit_report_jrc_sections(tmp_path):
    """A quick ASEM audit: the report's new sections, the wording of a non-city index, one
    small script, the explorer beside it and the per-unit Sobol table."""
    from cityindex.cli import app
    from cityindex.report.html import SECTIONS

    out = tmp_path / "asem"
    res = runner.invoke(app, ["audit", "--quick", "--quiet", *ASEM_ARGS, "--n", "100",
                              "--n-sobol", "16", "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (out / "index.html").read_text()
    headings = re.findall(r"<h3[^>]*>([^<]+)</h3>", html)
    for s in SECTIONS + ["All units: ranks and bands"]:
        assert s in headings, s
    assert not any("Published" in h for h in headings)       # no published table given
    assert "2021" not in html and "cities" not in html.lower().replace("cityindex", "")
    assert "within ±3 places of the nominal rank" in html
    assert "Cronbach's α" in html and "Pearson correlations" in html
    # one script (the search boxes), no external source
    assert html.lower().count("<script") == 1 and "<script src" not in html.lower()
    assert 'data-filter-table="index-units-table"' in html
    assert html.count('<tr data-unit="') == 51
    # notes use words, not stage keys
    notes = html[html.index("<b>Notes</b>"):html.index("</div>", html.index("<b>Notes</b>"))]
    assert "Bayesian model" in notes and "rank_sets" not in notes and "<b>bayes</b>" not in notes
    # key figures once: the index section links to them
    assert html.count("Mean absolute rank shift over") == 1
    assert 'href="explorer.html"' in html.replace("href=explorer.html", 'href="explorer.html"')
    assert (out / "explorer.html").is_file()
    sob = pd.read_csv(out / "tables" / "Index_sobol_units.csv")
    assert {"unit", "name", "factor", "S1", "ST", "ST_lo", "ST_hi"} <= set(sob.columns)
    assert sob["unit"].nunique() == 51
    assert "Index_sobol_units" in pd.ExcelFile(out / "tables.xlsx").sheet_names
    sc = pd.read_csv(out / "tables" / "Index_scenarios.csv")
    assert {"assumption", "alternative", "spearman", "mean_abs_shift"} <= set(sc.columns)
    assert "quick mode" in html[html.index("Leave-one-out and benefit"):][:400]
