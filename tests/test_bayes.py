"""Tests of the Bayesian latent-score model (model/bayes). Small fits only (whole file < 90 s
on 2 cores); the full-size simulation check is benchmarks/bench_bayes.py."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from cityindex.model.bayes import (ConvergenceError, ConvergenceWarning, LatentScoreModel,
                         framework_of_shape,
                         LatentStructure, loading_error, rank_coverage, simulate, standardise)
from cityindex.model.bayes.models import conditional_scores, tree_messages
from cityindex.model.bayes.structure import FIXED_ONE
from cityindex.model.bayes.summaries import hdi
from cityindex.model.errors import DataError
from cityindex.model.framework import Framework

ROOT = Path(__file__).resolve().parents[1]


def small_framework() -> Framework:
    """Index → 3 dims; D3 has 2 sub-dims (shared γ); S5 has one indicator (collapsed);
    S2 has two indicators (shared λ)."""
    return framework_of_shape({"D1": [3, 2], "D2": [3, 1], "D3": [3, 3]}, flip_every=5,
                              name="small")


FW = small_framework()


# ---------------------------------------------------------------- no sampling
def test_import_is_lazy():
    code = ("import sys, cityindex.model.bayes, cityindex.model.bayes.fast; "
            "print('pymc' in sys.modules, 'pytensor' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


@pytest.mark.slow  # compiles three PyMC models (the oracle)
@pytest.mark.parametrize("shape,missing", [
    ({"D1": [3, 2], "D2": [3, 1], "D3": [3, 3]}, 0.15),   # shared γ, collapsed and 2-λ nodes
    ({"A": [2], "B": [4]}, 0.3),                           # no γ at all
    ({"A": [3, 3, 2], "B": [2, 2]}, 0.0),                  # no missing cell
])
def test_compiled_kernel_equals_pymc_logp_and_gradient(shape, missing):
    """The compiled marginal posterior (model.bayes.fast) equals PyMC's model.logp() and
    its gradient (unconstrained scale, Jacobians included) at random points, on missing
    patterns of every kind."""
    from cityindex.model.bayes.fast import MarginalPosterior
    from cityindex.model.bayes.models import build_marginal

    fw = framework_of_shape(shape, flip_every=3, name="k")
    sim = simulate(fw, 60, missing_rate=missing, seed=5)
    struct = LatentStructure.from_framework(fw, "equal")
    data = standardise(sim.X, fw)
    model = build_marginal(struct, data)
    lp, dlp = model.compile_logp(jacobian=True), model.compile_dlogp(jacobian=True)
    post = MarginalPosterior(struct, data)
    P, L, G = len(struct.indicators), struct.n_lambda, struct.n_gamma
    assert [v.name for v in model.value_vars][:2] == ["alpha", "reliability_logodds__"]
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.normal(0, 1.5, P + L + G)
        point = {"alpha": x[:P], "reliability_logodds__": x[P:P + L]}
        if G:
            point["gamma_logodds__"] = x[P + L:]
        mine, grad = post.logp_grad(x)
        assert mine == pytest.approx(float(lp(point)), rel=1e-10, abs=1e-6)
        np.testing.assert_allclose(grad, dlp(point), rtol=1e-8, atol=1e-8)


def test_structure_identification_rules():
    st = LatentStructure.from_framework(FW)
    gi = dict(zip(st.nodes, st.gamma_index))
    assert st.nodes[0] == "Index"
    assert gi["S4"] == FIXED_ONE                      # single indicator → collapsed
    assert gi["S5"] == gi["S6"] and gi["S5"] >= 0     # 2-child node → shared γ
    assert gi["D1"] != gi["D2"]                       # 3 children → free γ's
    li = dict(zip(st.indicators, st.lambda_index))
    assert li["I04"] == li["I05"]                     # 2 indicators → shared λ
    free = LatentStructure.from_framework(FW, two_child="free")
    assert free.n_lambda == len(FW.indicators)
    A = st.build_A(np.full(st.n_gamma, 0.6))
    assert np.allclose(np.diag(A @ A.T), 1.0)         # latents standardised


def test_tree_messages_equal_dense_mvnormal_and_conditional():
    sim = simulate(FW, 30, missing_rate=0.3, seed=3)
    st, d = LatentStructure.from_framework(FW), standardise(sim.X, FW)
    rng = np.random.default_rng(0)
    P = len(st.indicators)
    al, lam, sg = rng.normal(0, .3, P), rng.uniform(.3, .9, P), rng.uniform(.3, 1, P)
    ga = rng.uniform(.2, .9, st.n_gamma)
    lp = tree_messages(st, d.filled, d.mask.astype(float), al, lam, sg, ga)[0]
    A = st.build_A(ga)
    B = lam[:, None] * A[st.ind_node]
    Sig = B @ B.T + np.diag(sg ** 2)
    ref = [multivariate_normal(al[o], Sig[np.ix_(o, o)]).logpdf(d.Z[c, o])
           for c in range(30) for o in [d.mask[c]]]
    np.testing.assert_allclose(lp, ref, rtol=1e-10)
    S = 20000
    th = conditional_scores(st, d, *(np.tile(v, (S, 1)) for v in (al, lam, sg, ga)), rng)
    c, o = 2, d.mask[2]
    cov = A @ B[o].T
    mean = cov @ np.linalg.solve(Sig[np.ix_(o, o)], d.Z[c, o] - al[o])
    var = np.diag(A @ A.T - cov @ np.linalg.solve(Sig[np.ix_(o, o)], cov.T))
    np.testing.assert_allclose(th[:, c].mean(0), mean, atol=0.03)
    np.testing.assert_allclose(th[:, c].var(0), var, rtol=0.06)


def test_standardise_orients_and_errors():
    sim = simulate(FW, 40, seed=1)
    d = standardise(sim.X, FW)
    assert np.allclose(np.nanmean(d.Z, 0), 0) and np.allclose(np.nanstd(d.Z, 0, ddof=1), 1)
    # oriented data correlate positively with the true index score
    r = pd.DataFrame(d.Z, index=sim.X.index).corrwith(sim.scores["Index"])
    assert (r > 0).mean() > 0.9
    with pytest.raises(DataError, match="lacks"):
        standardise(sim.X.drop(columns="I01"), FW)
    bad = sim.X.copy()
    bad.iloc[0] = np.nan
    with pytest.raises(DataError, match="no observed"):
        standardise(bad, FW)


def test_parameter_validation():
    with pytest.raises(ValueError, match="marginalise"):
        LatentScoreModel(likelihood="student_t", marginalise=True)
    with pytest.raises(ValueError, match="likelihood"):
        LatentScoreModel(likelihood="cauchy")
    with pytest.raises(ValueError):
        LatentScoreModel(draws=0)


def test_hdi_matches_normal_interval():
    x = np.random.default_rng(0).standard_normal((200_000, 2))
    lo, hi = hdi(x, 0.9)
    np.testing.assert_allclose(hi, 1.645, atol=0.03)
    np.testing.assert_allclose(lo, -1.645, atol=0.03)


# ---------------------------------------------------------------- fits
@pytest.fixture(scope="module")
def fitted():
    sim = simulate(FW, 120, missing_rate=0.15, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = LatentScoreModel(chains=2, draws=400, tune=400, seed=1).fit(sim.X, FW)
    return m, sim


@pytest.mark.slow
def test_fit_marginal(fitted):
    m, sim = fitted
    c = m.convergence_
    assert c["marginalised"] and c["max_rhat"] < 1.05 and c["divergences"] == 0
    assert {"ess_bulk", "ess_tail", "r_hat"} <= set(m.diagnostics_.columns)
    assert m.posterior_["posterior"]["score"].shape == (2, 400, 120, len(m.structure_.nodes))
    cov = rank_coverage(m, sim)
    assert cov["coverage"] >= 0.75
    assert loading_error(m, sim)["loading_rmse"] < 0.15
    # scores track the truth
    assert np.corrcoef(m.scores_["Index"], sim.scores["Index"])[0, 1] > 0.6


@pytest.mark.slow
def test_outputs(fitted, tmp_path):
    m, _ = fitted
    ls = m.latent_scores()
    assert list(ls.columns) == ["unit", "node", "mean", "sd", "hdi_5", "hdi_95"]
    assert len(ls) == 120 * len(m.structure_.nodes)
    assert (ls["hdi_5"] <= ls["mean"]).all() and (ls["mean"] <= ls["hdi_95"]).all()
    rd = m.rank_draws()
    assert rd.shape == (800, 120) and rd.to_numpy().min() == 1
    pr = m.posterior_ranks("Index", top_k=(10, 20))
    assert {"rank_median", "rank_lo", "rank_hi", "p_top_10", "p_top_20"} <= set(pr.columns)
    assert (pr["rank_lo"] <= pr["rank_median"]).all()
    assert np.isclose(pr["p_top_10"].sum(), 10)
    w = m.implied_weights(pca_weights=pd.Series(1 / 15, index=FW.indicators))
    assert np.isclose(w["mean"].sum(), 1) and np.isclose(w["nominal_z"].sum(), 1)
    assert {"lo", "hi", "pca", "outside"} <= set(w.columns)
    pp = m.ppc(n_draws=100)
    assert len(pp) == 5 * len(FW.indicators) and pp["p_value"].between(0, 1).all()
    loo = m.loo()
    assert np.isfinite(loo.elpd)
    tab = m.parameter_table()
    assert "r_hat" in tab.columns and tab["parameter"].str.startswith("loading").any()
    path = m.save(tmp_path / "post.nc")
    import xarray as xr
    back = xr.open_datatree(path, engine="h5netcdf")
    assert "score" in back["posterior"].data_vars


@pytest.mark.slow
def test_strict_raises_on_bad_chains(fitted):
    m, sim = fitted
    with pytest.raises(ConvergenceError):
        LatentScoreModel(chains=2, draws=15, tune=0, seed=1, strict=True).fit(sim.X, FW)


@pytest.mark.slow
def test_compare_likelihoods_small():
    from cityindex.model.bayes import compare_likelihoods

    sim = simulate(FW, 40, missing_rate=0.1, seed=4, likelihood="student_t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        comp, fits = compare_likelihoods(sim.X, FW, chains=2, draws=150, tune=150, seed=0)
    assert set(comp.index) == {"normal", "student_t"}
    assert "nu" in fits["student_t"].posterior_["posterior"]
    assert not fits["normal"].convergence_["marginalised"]


def test_vectorised_diagnostics_equal_arviz():
    """R-hat (rank-normalised split, bulk and tail) and bulk/tail ESS of many series at once
    equal ArviZ's per-series values, on AR(1) chains from fast to very slow mixing, a chain
    that is off, ties, and a constant series."""
    import arviz as az
    import xarray as xr

    from cityindex.model.bayes.summaries import ess_bulk, ess_tail, rhat_rank

    rng = np.random.default_rng(3)
    K, n = 12, 400
    phi = np.linspace(0.0, 0.97, K)
    x = np.zeros((4, n, K))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=(4, K))
    x[2, :, :3] += 0.5                       # one chain off for three series
    x[:, :, 5] = np.round(x[:, :, 5])        # ties
    x[:, :, 7] = 2.0                         # constant
    ds = xr.Dataset({"v": (("chain", "draw", "k"), x)})
    ref_r = np.asarray(az.rhat(ds)["v"])
    got_r = rhat_rank(x)
    np.testing.assert_allclose(np.delete(got_r, 7), np.delete(ref_r, 7), rtol=1e-12)
    assert np.isnan(got_r[7])
    np.testing.assert_allclose(ess_bulk(x), np.asarray(az.ess(ds, method="bulk")["v"]),
                               rtol=1e-10)
    np.testing.assert_allclose(ess_tail(x, 0.05),
                               np.asarray(az.ess(ds, method="tail", prob=0.05)["v"]),
                               rtol=1e-10)
    assert got_r[4] < 1.01 < got_r[0]        # the off chain is caught
