"""Tests of ``cityindex audit`` / ``cityindex profile`` and the report package (issue 8)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cityindex.cli import app

pytestmark = pytest.mark.slow  # full-report / golden-run fixtures (see README: fast loop)

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"
ASEM_ARGS = ["-f", str(ASEM / "asem_imeta.csv"), "--data", str(ASEM / "asem_idata.csv"),
             "--method", str(ROOT / "data" / "methods" / "asem.yaml"),
             "--space", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]

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


def test_every_command_registered_once():
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert len(names) == len(set(names)), names
    assert {"audit", "profile", "compute", "validate", "uncertainty", "sensitivity", "weights",
            "compare", "ranks", "bayes"} <= set(names)


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
    # issue 18 allows one small inline script (the search box of the table of all units); no
    # other script and no external one
    assert html.lower().count("<script") == 1 and "<script>" in html
    assert len(html[html.index("<script>"):html.index("</script>")]) < 2000
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
    from cityindex.model import Framework
    fw = Framework.load(ROOT / "data" / "frameworks" / "gdci.yaml")
    t = fw.tree_frame()
    assert len(t) == len(fw.nodes)
    empty = set(t.loc[t["status"] == "no open indicator", "code"])
    assert empty == set(fw.empty_aggregates)
    ind = t[t["level"] == 1]
    assert ind["index_weight"].sum() == pytest.approx(1.0)


def test_rank_uncertainty_figure():
    import numpy as np
    from matplotlib.figure import Figure

    from cityindex.report import figures as F

    n = 60
    stats = pd.DataFrame({"nominal": np.arange(1, n + 1), "median": np.arange(1, n + 1) + 1.0,
                          "q5": np.arange(1, n + 1) - 3.0, "q95": np.arange(1, n + 1) + 5.0},
                         index=[f"u{i}" for i in range(n)])
    fig = F.rank_uncertainty(stats, top=50)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].get_xticklabels()) == 50


# ----------------------------------------------------------------------- QA fixes (report)
GDCI_ARGS = ["-f", "gdci", "--n", "100", "--n-sobol", "16"]


@pytest.fixture(scope="module")
def gdci_run(tmp_path_factory):
    """One quick GDCI audit with profiles (given twice, by name and in Chinese)."""
    out = tmp_path_factory.mktemp("audit") / "gdci"
    res = _invoke(["audit", "--quick", "--quiet", *GDCI_ARGS, "--profile", "Shanghai",
                   "--profile", "上海", "--profile", "Xinfu", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_observed_share_and_mostly_imputed_flag(gdci_run):
    rk = pd.read_csv(gdci_run / "tables" / "GDCI_rankings.csv")
    assert "observed_share" in rk.columns
    assert rk["observed_share"].between(0, 1).all()
    low = set(rk.loc[rk["observed_share"] < 0.5, "unit"])
    assert {"XX-XINFU", "XX-ISKRA", "ET-DUKEM"} <= low
    wid = pd.read_csv(gdci_run / "tables" / "GDCI_widest_bands.csv")
    assert {"unit", "name", "nominal_rank", "observed_share"} <= set(wid.columns)
    html = (gdci_run / "index.html").read_text()
    # issue 13: Xinfu (no observed indicator) is no longer ranked but listed with the reason;
    # the ranked units with under half of their indicators observed (Dukem) carry the mark
    assert "Dukem †" in html or "Dukem (9%)" in html
    assert "Xinfu" in html and "no observed indicator under GDCI" in html
    assert "fewer than 50% of their" in html


def test_rank_sets_measurement_error_columns(gdci_run):
    rs = pd.read_csv(gdci_run / "tables" / "GDCI_rank_sets.csv")
    assert list(rs.columns[:3]) == ["unit", "name", "nominal_rank"]
    for c in ("simultaneous_lower", "simultaneous_upper", "marginal_lower", "marginal_upper"):
        assert c in rs.columns
    assert "estimate" not in rs.columns
    assert rs["nominal_rank"].is_monotonic_increasing
    assert (rs["simultaneous_lower"] <= rs["simultaneous_upper"]).all()
    assert (rs["simultaneous_lower"] <= rs["marginal_lower"]).all()
    assert (rs["marginal_upper"] <= rs["simultaneous_upper"]).all()
    html = (gdci_run / "index.html").read_text()
    assert "10% multiplicative measurement error in every indicator value" in html
    assert "methodological" in html


def _cells(html: str, table_after: str) -> list[str]:
    i = html.index(table_after)
    j = html.index("</table>", i)
    return re.findall(r"<td>([^<]*)</td>", html[i:j])


def test_ranks_shown_as_integers(gdci_run):
    html = (gdci_run / "index.html").read_text()
    i = html.index('id="profile-GDCI_CN-SHANGHAI"')
    block = html[i:html.index("Regional peers", i)]
    rows = re.findall(r"<tr>(.*?)</tr>", block, flags=re.S)
    cells = [re.findall(r"<td>([^<]*)</td>", r) for r in rows if "<td>" in r]
    assert cells and all(re.fullmatch(r"\d+|–", c[k]) for c in cells for k in (4, 5, 6, 7))
    wid = _cells(html, "Widest bands")
    # rank columns print as integers (the share column legitimately prints e.g. 0.000)
    assert not any(re.fullmatch(r"[1-9]\d*\.0+", c) for c in wid)
    # CSV keeps the raw values
    lv = pd.read_csv(gdci_run / "tables" / "profile_GDCI_CN-SHANGHAI_levels.csv")
    assert lv["median"].notna().all()


def test_profiles_deduped_observed_only_and_no_nan_bands(gdci_run):
    html = (gdci_run / "index.html").read_text()
    assert html.count('id="profile-GDCI_CN-SHANGHAI"') == 1
    lv = pd.read_csv(gdci_run / "tables" / "profile_GDCI_CN-SHANGHAI_levels.csv")
    assert lv[["median", "q5", "q95"]].notna().all().all()    # PS, INN_innovator: 1 indicator
    st = pd.read_csv(gdci_run / "tables" / "profile_GDCI_XX-XINFU_strongest.csv")
    wk = pd.read_csv(gdci_run / "tables" / "profile_GDCI_XX-XINFU_weakest.csv")
    assert set(st["indicator"]) | set(wk["indicator"]) <= {"ctry_internet_users_pct"}
    # Xinfu (unidentified, no coordinates, no country) has no observed GDCI indicator at all
    assert "11 of 11 indicators are imputed" in html


def test_profile_helpers_case_and_data_names():
    from cityindex.cli.common import load_inputs
    from cityindex.profiles import resolve_cities

    assert resolve_cities(["fr-paris", "Paris (France)", "FR-PARIS"]) == ["FR-PARIS"]
    assert resolve_cities(["Shanghai", "上海"]) == ["CN-SHANGHAI"]
    fw, d, m = load_inputs(str(ASEM / "asem_imeta.csv"), ASEM / "asem_idata.csv",
                           ROOT / "data" / "methods" / "asem.yaml")
    assert resolve_cities(["Austria", "aut", "Singapore"], data=[d]) == ["AUT", "SGP"]


def test_profile_command_asem_names():
    args = [a for a in ASEM_ARGS]
    res = _invoke(["profile", "Austria", "aut", *args, "--n", "30"])
    assert res.exit_code == 0, res.output
    assert res.output.count("Austria (AUT") == 1
    assert "Rank neighbours" in res.output


def test_rank_legends_outside_the_data():
    import numpy as np

    from cityindex.report import figures as F

    n = 120
    r = np.arange(1, n + 1, dtype=float)
    stats = pd.DataFrame({"nominal": r, "median": r, "q5": np.maximum(1, r - 40),
                          "q95": r + 40}, index=[f"u{i}" for i in range(n)])
    for fig in (F.rank_uncertainty(stats), F.rank_uncertainty(stats, top=50)):
        fig.canvas.draw()
        ax = fig.axes[0]
        leg = ax.get_legend().get_window_extent()
        box = ax.get_window_extent()
        assert leg.x0 >= box.x1 or leg.y0 >= box.y1 or leg.x1 <= box.x0 or leg.y1 <= box.y0


def test_bayes_weights_figure_labels_nominal_z():
    from cityindex.report import figures as F

    iw = pd.DataFrame({"mean": [0.5, 0.5], "lo": [0.4, 0.4], "hi": [0.6, 0.6],
                       "nominal_z": [0.45, 0.55]}, index=["a", "b"])
    fig = F.bayes_weights(iw)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("nominal_z" in t for t in labels)


def test_failed_stages_never_crash_rendering(tmp_path, monkeypatch):
    """A failed uncertainty stage (no bands) and a Bayesian timeout: the report is written, the
    key figures say the fit timed out, the published section has no band column."""
    from cityindex.cli.common import load_inputs
    import cityindex.auditing as A
    from cityindex.report.html import write_report

    import cityindex.bayes_job as B
    from cityindex.model import compute_index

    class FakeJob:
        def __init__(self, result, s):
            self.s, self.wall, self.timed_out, self.message = s, 3.0, False, ""

        def result(self):
            self.timed_out = True
            self.message = (f"the fit did not finish within {self.s.bayes_timeout:.0f} s and "
                            "was stopped (raise --bayes-timeout to allow more)")
            raise TimeoutError(self.message)

        def stop(self):
            pass

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(B, "BackgroundBayes", FakeJob)
    monkeypatch.setattr(A, "_uncertainty", boom)
    monkeypatch.setattr(A, "_weights", boom)
    s = A.AuditSettings(quick=False, n_ua=50, n_sa=16, n_boot=0, bayes_timeout=7)
    res = A.audit(compute_index(*load_inputs("gdci", None, None)), settings=s)
    a = res.indices["GDCI"]
    assert a.uncertainty is None and a.published is not None
    assert "in_band" not in a.published_comparison()
    assert "published_in_band" not in a.headline()
    assert a.status["bayes"].state == "timeout" and a.status["uncertainty"].state == "failed"
    write_report(res, tmp_path, {"command": "audit"})
    html = (tmp_path / "index.html").read_text()
    key = html[html.index("Key figures"):html.index('<h2 id="gdci"')]
    assert "timed out" in key and "7 s" in key
    # wall times are recorded in manifest.json only (issue 15: index.html byte-identical)
    assert "bayes_fit_background" in (tmp_path / "manifest.json").read_text()
    assert "bayes_fit_background" not in html
    assert 'id="incomplete"' in html  # the failed sections are marked at the top


def test_negative_seed_and_bad_timeout_rejected():
    for opt in (["--seed", "-1"], ["--bayes-timeout", "0"]):
        res = runner.invoke(app, ["audit", "--quick", "-f", "gdci", *opt])
        assert res.exit_code == 2, res.output
    import cityindex.auditing as A
    with pytest.raises(ValueError):
        A.AuditSettings(seed=-1)
