"""Measurement-error score draws (validation.measurement), the ranks command and the
published-ranking audit (validation.compare.published)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cityindex as ci
from typer.testing import CliRunner

from cityindex.model import Framework, MethodSpec, compute_index, read_data
from cityindex.cli import app
from cityindex.validation.compare import published_rank_audit
from cityindex.validation.measurement import measurement_score_draws

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


def _asem():
    fw = Framework.load(ASEM / "asem_imeta.csv")
    return fw, read_data(ASEM / "asem_idata.csv", fw), MethodSpec.load(ROOT / "data/methods/asem.yaml")


def test_measurement_draws_shrink_to_nominal_scores():
    fw, data, method = _asem()
    nominal = compute_index(fw, data, method).index_scores
    # measurement error alone (imputed cells fixed): the draws shrink to the nominal
    tiny = measurement_score_draws(compute_index(fw, data, method), sd=1e-9, draws=5, seed=1,
                                   imputation=False)
    assert tiny.source == "measurement" and "1e-07 %" not in tiny.assumption
    pd.testing.assert_series_equal(tiny.estimates, nominal.loc[tiny.units], check_names=False)
    tiny = tiny.draws
    np.testing.assert_allclose(tiny.to_numpy(), np.tile(nominal.loc[tiny.columns], (5, 1)),
                               atol=1e-5)
    wide = measurement_score_draws(compute_index(fw, data, method), sd=0.2, draws=40, seed=1,
                                   imputation=False).draws
    again = measurement_score_draws(compute_index(fw, data, method), sd=0.2, draws=40, seed=1,
                                    imputation=False).draws
    pd.testing.assert_frame_equal(wide, again)
    assert (wide.std() > tiny.std()).all()
    # noise is centred: the mean draw stays close to the nominal score
    assert np.corrcoef(wide.mean(), nominal.loc[wide.columns])[0, 1] > 0.95


def test_published_audit_flags_outside_band():
    pub = pd.DataFrame({"code": ["A", "B", "C"], "rank": [1, 2, 3]})
    ours = pd.Series({"A": 2.0, "B": 1.0, "C": 9.0})
    band = pd.DataFrame({"lower": [1, 1, 5], "upper": [3, 2, 12]}, index=["A", "B", "C"])
    out = published_rank_audit(pub, ours, {"b": band})
    assert out["b_outside"].tolist() == [False, False, True]
    assert out["our_rank"].tolist() == [2.0, 1.0, 9.0]


def test_cli_ranks_on_asem(tmp_path):
    out = tmp_path / "ranks"
    pub = tmp_path / "pub.csv"
    pd.DataFrame({"code": ["CHE", "NLD", "DNK"], "rank": [1, 2, 3]}).to_csv(pub, index=False)
    res = CliRunner().invoke(app, [
        "ranks", "-f", str(ASEM / "asem_imeta.csv"), "-d", str(ASEM / "asem_idata.csv"),
        "-m", str(ROOT / "data/methods/asem.yaml"), "--space",
        str(ROOT / "data/spaces/coinr_asem.yaml"), "--n", "200", "--draws", "60", "--top", "10",
        "--published", str(pub), "-o", str(out)])
    assert res.exit_code == 0, res.output
    sets = pd.read_csv(out / "rank_sets.csv")
    assert len(sets) == 51
    assert (sets["simultaneous_lower"] <= sets["marginal_lower"]).all()
    assert (sets["simultaneous_upper"] >= sets["marginal_upper"]).all()
    assert ((sets["simultaneous_lower"] <= sets["rank"]) & (sets["rank"] <= sets["simultaneous_upper"])).all()
    audit = pd.read_csv(out / "published_audit.csv")
    assert list(audit["code"]) == ["CHE", "NLD", "DNK"]
    for name in ("tau_best.csv", "pairwise.csv", "manifest.json"):
        assert (out / name).exists()


def test_rank_score_draws_keep_every_ordering():
    from cityindex.validation.rank_inference import ScoreDraws

    ranks = np.array([[1, 2, 3], [1, 3, 2], [1, 2, 3]], float)
    S = ScoreDraws.from_ranks(ranks, ["A", "B", "C"], seed=0).draws
    assert list(S.columns) == ["A", "B", "C"]
    # higher score = better rank in every draw, and A's constant lead keeps a positive variance
    np.testing.assert_array_equal(np.argsort(-S.to_numpy(), axis=1), np.argsort(ranks, axis=1))
    assert (S["A"] - S["B"]).var() > 0


def test_cli_ranks_sources_are_validated(tmp_path):
    res = CliRunner().invoke(app, ["ranks", "--source", "nosuch", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "valid: measurement, uncertainty, bayes" in res.output
    assert not (tmp_path / "x").exists()


def test_rank_set_width_grows_with_the_assumed_error():
    """The width of the rank sets is set by the assumed error: median widths do not shrink
    as the relative SE grows (same seed, common random numbers), and the per-indicator row of
    the bundled data (the built-in 10 % for every indicator) equals the 10 % row."""
    from cityindex.validation.measurement import rank_set_width_curve

    r = ci.compute("brpci")
    c = rank_set_width_curve(r, sds=(0.02, 0.10, 0.40), draws=20, m=10, seed=0, n_boot=100)
    w = c["median_width_simultaneous"].to_numpy()
    assert w[0] <= w[1] <= w[2] and w[0] < w[2]
    assert np.isnan(c["relative_se"].iloc[-1]) and w[-1] == w[1]
    assert "error model of the framework and method" in c["error_model"].iloc[-1]


def test_audit_settings_rank_draws_defaults():
    from cityindex.auditing import AuditSettings
    from cityindex.model.errors import MethodError

    q, f = AuditSettings(quick=True), AuditSettings()
    assert (q.rank_draws, q.rank_imputations, q.rank_curve) == (200, 40, False)
    assert (f.rank_draws, f.rank_imputations, f.rank_curve) == (400, 100, True)
    with pytest.raises(MethodError, match="2 draws per set"):
        AuditSettings(rank_draws=50, rank_imputations=40)
