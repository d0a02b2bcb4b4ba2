"""Weight models (PCA/FA, optimised, BoD), correlation-ratio effective weights, leave-one-out and
the assembled weight audit.

Analytic / constructed oracles: y = Σ w_i x_i with independent uniform x_i has correlation ratios
S_i = w_i²/Σ w_j²; two independent latent factors give a known two-factor structure; BoD scores
are bounded by the equal-weight score / max and by 1 (Cherchye et al. 2007).
"""


import numpy as np
import pandas as pd
import pytest

from cityindex.model.errors import DataError, FrameworkError, MethodError
from cityindex.model.framework import Framework, Node
from cityindex.model.weights import (BoDWeights, FactorWeights, OptimisedWeights, PCAWeights,
                           framework_weights, handbook_weights, n_factors_handbook, varimax)
from cityindex.validation.effective_weights import (bca_interval, correlation_ratio,
                                                    effective_weights, local_linear,
                                                    scale_reference)
from cityindex.validation.weight_audit import audit_weights, leave_one_out, remove_node

from conftest import read_asem as _read  # fixtures fw, agg: tests/conftest.py


def make_score_fn(normalised):
    """Tiny weighted-arithmetic aggregation up the tree (stand-in for compute_index)."""
    def score(f):
        out = normalised[f.indicators].copy()
        for a in f.aggregates:  # ordered by level
            kids = f.children(a)
            w = np.array([f.nodes[k].weight for k in kids])
            out[a] = out[kids].to_numpy() @ w / w.sum()
        return out
    return score


# ------------------------------------------------------------------ correlation ratio
def test_correlation_ratio_analytic_linear():
    rng = np.random.default_rng(42)
    n, w = 300, np.array([1.0, 2.0, 3.0])
    X = rng.uniform(size=(n, 3))
    y = X @ w
    truth = w ** 2 / (w ** 2).sum()
    for i in range(3):
        res = correlation_ratio(X[:, i], y, n_boot=200, seed=i)
        assert res["lo"] <= truth[i] <= res["hi"], (i, res["S"], truth[i])
        assert res["S"] == pytest.approx(truth[i], abs=0.05)


def test_correlation_ratio_nonlinear_and_edges():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 400)
    y = x ** 2 + 0.1 * rng.normal(size=400)       # Pearson r ≈ 0, S high
    var_m = np.var(x ** 2)
    truth = var_m / (var_m + 0.01)
    res = correlation_ratio(x, y)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.1
    assert res["S"] == pytest.approx(truth, abs=0.03)
    assert correlation_ratio(np.ones(20), rng.normal(size=20))["S"] == 0.0
    with pytest.raises(DataError):
        correlation_ratio([1, 2, 3], [1, 2, 3])
    # reproducible with the seed
    a = correlation_ratio(x[:100], y[:100], n_boot=50, seed=7)
    b = correlation_ratio(x[:100], y[:100], n_boot=50, seed=7)
    assert a["lo"] == b["lo"] and a["hi"] == b["hi"]


def test_correlation_ratio_linear_gaussian_is_squared_correlation():
    """Bivariate normal: E(y|x) = ρx, so the correlation ratio is ρ² (independent value)."""
    rng = np.random.default_rng(5)
    for rho in (0.3, 0.7, 0.95):
        x = rng.normal(size=4000)
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=4000)
        assert correlation_ratio(x, y)["S"] == pytest.approx(rho ** 2, abs=0.02)


def test_binned_estimate_agrees_with_exact_smoother():
    """The binned smoother (128 grid points) against the exact O(n²) local-linear smoother at
    the same bandwidth: the adjusted ratio agrees to < 0.005."""
    rng = np.random.default_rng(8)
    for make in (lambda x: np.sin(3 * x), lambda x: x ** 2, lambda x: np.exp(x)):
        x = rng.normal(size=300)
        y = make(x) + 0.4 * rng.normal(size=300)
        r = correlation_ratio(x, y)
        fit, df = local_linear(x, y, r["bandwidth"])
        n = len(x)
        exact = 1 - (((y - fit) ** 2).sum() / (n - df)) / (((y - y.mean()) ** 2).sum() / (n - 1))
        assert r["S"] == pytest.approx(exact, abs=0.005)


def test_bca_interval_against_normal_theory():
    """For replicates drawn from N(θ̂, s²) with zero acceleration, BCa equals the percentile
    interval θ̂ ± z s; a shifted bootstrap median moves the interval the other way (z0)."""
    rng = np.random.default_rng(0)
    boot = rng.normal(0.5, 0.1, 200_000)
    jack = np.zeros(50)
    lo, hi = bca_interval(0.5, boot, jack, 0.90)
    assert lo == pytest.approx(0.5 - 1.6449 * 0.1, abs=0.002)
    assert hi == pytest.approx(0.5 + 1.6449 * 0.1, abs=0.002)
    lo2, hi2 = bca_interval(0.45, boot, jack, 0.90)   # replicates sit 0.5 SD above θ̂
    # z0 = Φ⁻¹(P(boot < 0.45)) = −0.5: quantiles at Φ(2 z0 ± 1.645) → 0.5 + 0.1 (−1 ± 1.645)
    assert lo2 == pytest.approx(0.5 + 0.1 * (-1 - 1.6449), abs=0.003)
    assert hi2 == pytest.approx(0.5 + 0.1 * (-1 + 1.6449), abs=0.003)


def test_effective_weight_bca_coverage_by_simulation():
    """Coverage of the 90 % BCa interval of the correlation ratio in the linear-Gaussian case
    (truth ρ² = 0.36), 120 data sets of n = 150, 1,000 resamples each: the hit rate must lie in
    the binomial 99 % band around 0.90 (0.82–0.97). Larger check: benchmarks/bench_effective_weights.py."""
    rng = np.random.default_rng(2026)
    rho, n, sims = 0.6, 150, 120
    hits = 0
    for s in range(sims):
        x = rng.normal(size=n)
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=n)
        r = correlation_ratio(x, y, n_boot=1000, seed=s)
        hits += r["lo"] <= rho ** 2 <= r["hi"]
        assert r["lo"] <= r["S"] <= r["hi"] or abs(r["S"] - r["lo"]) < 0.02
    assert 0.82 <= hits / sims <= 0.97, hits / sims


def test_scale_reference_equals_independence_value():
    """y = Σ w_i x_i with independent x_i of SDs σ_i: the correlation ratios are
    w_i²σ_i²/Σ w_j²σ_j² (= the reference shares), estimated from data."""
    rng = np.random.default_rng(11)
    w, sd = np.array([0.5, 0.3, 0.2]), np.array([1.0, 3.0, 0.5])
    X = rng.normal(size=(20000, 3)) * sd
    y = X @ w
    truth = (w * sd) ** 2 / np.sum((w * sd) ** 2)
    np.testing.assert_allclose(scale_reference(w, sd), truth, rtol=1e-12)
    est = np.array([correlation_ratio(X[:, i], y)["S"] for i in range(3)])
    np.testing.assert_allclose(est, truth, atol=0.02)
    # through effective_weights: nominal shares are w, reference shares (w σ)²/Σ(w σ)²
    fw = Framework([Node("I", level=2), *(Node(f"x{i}", parent="I", weight=float(w[i]))
                                          for i in range(3))], "t")
    agg = pd.DataFrame(X[:2000], columns=["x0", "x1", "x2"]).assign(I=y[:2000])
    ew = effective_weights(fw, agg, n_boot=200, seed=1)
    t = ew.table.set_index("code")
    np.testing.assert_allclose(t.loc[["x0", "x1", "x2"], "nominal"], w / w.sum())
    np.testing.assert_allclose(t.loc[["x0", "x1", "x2"], "reference"],
                               scale_reference(w, X[:2000].std(axis=0, ddof=1)), rtol=1e-12)
    # the shares differ from the nominal weights by far more than from the reference: scale
    assert (t["share"] - t["nominal"]).abs().max() > 0.4
    assert t["diff_ref"].abs().max() < 0.03
    assert t.loc["x1", "share_lo"] > t.loc["x1", "nominal"] and not t.loc["x1", "beyond_scale"]


def test_effective_weights_asem(fw, agg):
    ew = effective_weights(fw, agg, n_boot=50, seed=0)
    t = ew.table
    par = t[t.target == "parent"]
    assert set(par.code) == set(fw.indicators) | (set(fw.aggregates) - {"Index"})
    for _, sub in par.groupby("group"):
        assert sub["share"].sum() == pytest.approx(1.0)
        assert sub["nominal"].sum() == pytest.approx(1.0)
    assert (t.S_lo <= t.S_hi).all() and t.share_lo.notna().all()
    assert t.S.between(0, 1).all()
    assert set(ew.divergence.columns) >= {"group", "sum_abs_diff", "kl"}


# --------------------------------------------------------------------------- PCA / FA
def two_factor_data(n=3000, noise=(0.3, 0.8), seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 2))
    cols = {}
    for j in range(3):
        cols[f"a{j}"] = f[:, 0] + noise[0] * rng.normal(size=n)
    for j in range(3):
        cols[f"b{j}"] = f[:, 1] + noise[1] * rng.normal(size=n)
    return pd.DataFrame(cols)


@pytest.mark.parametrize("model", [PCAWeights, FactorWeights])
def test_factor_weights_known_structure(model):
    X = two_factor_data()
    m = model().fit(X)
    assert m.n_factors_ == 2
    groups = m.assignment_
    assert groups[["a0", "a1", "a2"]].nunique() == 1
    assert groups[["b0", "b1", "b2"]].nunique() == 1
    assert groups["a0"] != groups["b0"]
    assert m.weights_.sum() == pytest.approx(1.0)
    # equal within a block; block shares follow the factors' explained variance
    wa, wb = m.weights_[["a0", "a1", "a2"]], m.weights_[["b0", "b1", "b2"]]
    assert wa.std() < 0.01 and wb.std() < 0.01
    assert wa.mean() > wb.mean()
    if model is FactorWeights:  # common-factor loadings λ = 1/√(1+σ²)
        la, lb = 1 / (1 + 0.3 ** 2), 1 / (1 + 0.8 ** 2)
        assert wa.sum() == pytest.approx(la / (la + lb), abs=0.02)
    else:  # PCA: eigenvalues of an exchangeable block: 1 + 2ρ
        ra, rb = 1 / (1 + 0.3 ** 2), 1 / (1 + 0.8 ** 2)
        ea, eb = 1 + 2 * ra, 1 + 2 * rb
        assert wa.sum() == pytest.approx(ea / (ea + eb), abs=0.02)
    assert m.explained_variance_.sum() == pytest.approx(m.eigenvalues_.iloc[:2].sum(), rel=0.2)
    assert m.loadings_.shape == (6, 2)


def test_handbook_rules():
    assert n_factors_handbook(np.array([3.0, 1.5, 0.9, 0.6])) == 2
    assert n_factors_handbook(np.array([1.5, 1.2, 1.1, 1.0, 0.2])) == 3   # cumulative > 60 %
    assert n_factors_handbook(np.array([0.9, 0.9, 0.9, 0.9, 0.9])) >= 1
    L = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]])
    w, assign, share = handbook_weights(L)
    assert list(assign) == [0, 0, 1] and w.sum() == pytest.approx(1)
    rot, T = varimax(np.random.default_rng(0).normal(size=(6, 2)))
    np.testing.assert_allclose(T @ T.T, np.eye(2), atol=1e-10)
    with pytest.raises(MethodError):
        PCAWeights(n_factors=0)
    with pytest.raises(DataError):
        PCAWeights().fit(pd.DataFrame(dict(a=[1.0, 2, 3, 4], b=[1.0, 1, 1, 1])))


def test_framework_pca_weights_asem(fw, agg):
    w, models = framework_weights(fw, agg, PCAWeights)
    assert set(w.code) == set(fw.indicators) | (set(fw.aggregates) - {"Index"})
    for parent, sub in w.groupby("parent"):
        if len(sub) == 2:  # two children: no factor structure, weights reported as missing
            assert sub["weight"].isna().all() and isinstance(models[parent], str)
        else:
            assert sub["weight"].sum() == pytest.approx(1.0)


def test_two_children_get_no_pca_weights_or_kmo():
    """A 2×2 correlation matrix has eigenvectors (1, ±1)/√2 and KMO 0.5 whatever r is."""
    from cityindex.validation.coherence import kmo_table

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    agg = pd.DataFrame({"a": x, "b": 0.3 * x + rng.normal(size=200), "c": rng.normal(size=200)})
    agg["P"] = agg[["a", "b"]].mean(axis=1)
    agg["Q"] = agg["c"]
    agg["I"] = agg[["P", "Q"]].mean(axis=1)
    from cityindex.model.framework import Node
    fw2 = Framework([Node("I", level=3), Node("P", parent="I", level=2),
                     Node("Q", parent="I", level=2), Node("a", parent="P"),
                     Node("b", parent="P"), Node("c", parent="Q")])
    w, models = framework_weights(fw2, agg, PCAWeights)
    assert w.set_index("code").loc[["a", "b"], "weight"].isna().all()
    assert w.set_index("code").loc["c", "weight"] == 1.0
    top, _ = kmo_table(fw2, agg)
    assert top.set_index("group").loc["P", "kmo"] != top.set_index("group").loc["P", "kmo"]


# ------------------------------------------------------------------------- optimised
def test_optimised_balance_equalises_importance():
    rng = np.random.default_rng(5)
    f = rng.normal(size=300)
    X = pd.DataFrame(dict(a=3 * f + rng.normal(size=300), b=f + rng.normal(size=300),
                          c=0.5 * f + 2 * rng.normal(size=300), d=rng.normal(size=300) * 4))
    m = OptimisedWeights("balance", lower=0.0).fit(X)
    np.testing.assert_allclose(m.importances_, 0.25, atol=1e-3)
    assert m.weights_.sum() == pytest.approx(1) and m.success_
    assert abs(m.initial_importances_ - 0.25).max() > 0.05   # equal weights were unbalanced
    # custom targets
    t = dict(a=0.4, b=0.3, c=0.2, d=0.1)
    m2 = OptimisedWeights("balance", targets=t, lower=0.0).fit(X)
    np.testing.assert_allclose(m2.importances_, list(t.values()), atol=1e-3)
    # infomax: at least as informative as equal weights
    m3 = OptimisedWeights("infomax").fit(X)
    r_eq = [np.corrcoef(X[c], X.mean(axis=1))[0, 1] for c in X]
    assert m3.correlations_.sum() >= sum(r_eq) - 1e-9
    with pytest.raises(MethodError):
        OptimisedWeights("nope")


# ------------------------------------------------------------------------------- BoD
def test_bod_properties(fw, agg):
    X = agg[[c for c in fw.codes_at_level(2)]]
    m = BoDWeights().fit(X)
    s = m.scores_
    tot = X.sum(axis=1)
    eq = tot / tot.max()
    assert (s <= 1 + 1e-9).all()
    assert (s >= eq - 1e-9).all()
    assert s[tot.idxmax()] == pytest.approx(1.0)
    assert (m.status_ == 0).all()
    np.testing.assert_allclose((m.weights_ * X).sum(axis=1), s, atol=1e-9)
    assert s.min() < 1   # pillars discriminate: not everyone is efficient
    # share bounds are respected
    mb = BoDWeights(lower_share=0.05, upper_share=0.4).fit(X)
    sh = mb.shares_.dropna()
    assert (sh.to_numpy() >= 0.05 - 1e-7).all() and (sh.to_numpy() <= 0.4 + 1e-7).all()
    assert (mb.scores_ <= m.scores_ + 1e-9).all()   # constraints can only lower scores
    with pytest.raises(DataError):
        BoDWeights().fit(X.assign(Physical=np.nan))
    with pytest.raises(MethodError):
        BoDWeights(lower_share=0.5).fit(X)


def test_bod_frontier_reduction_keeps_the_optimum():
    """The BoD programmes keep only undominated units' constraints: scores equal the full
    programme's (every unit's constraint) solved directly with linprog, and every unit
    dropped is weakly dominated by a kept one (brute force)."""
    from scipy import optimize

    from cityindex.model.weights import _undominated

    rng = np.random.default_rng(3)
    v = rng.uniform(size=(60, 4)) ** 2
    v[7] = v[3]                                  # an exact duplicate
    v[11] = v[5] * 0.5                           # a dominated row
    keep = _undominated(v)
    assert keep[3] and not keep[7] and not keep[11]
    for k in np.flatnonzero(~keep):
        assert any((v[j] >= v[k]).all() for j in np.flatnonzero(keep))
    m = BoDWeights().fit(pd.DataFrame(v))
    for c in range(len(v)):
        full = optimize.linprog(-v[c], A_ub=v, b_ub=np.ones(len(v)), bounds=[(0, None)] * 4,
                                method="highs")
        assert m.scores_.iloc[c] == pytest.approx(-full.fun, abs=1e-9)


# ---------------------------------------------------------------------- leave-one-out
def test_leave_one_out(fw, agg):
    score = make_score_fn(agg[fw.indicators])
    np.testing.assert_allclose(score(fw)["Index"], agg["Index"], atol=1e-9)
    f2 = remove_node(fw, "Political")
    assert "Political" not in f2.nodes and "Embs" not in f2.nodes
    assert f2.children("Conn") == [c for c in fw.children("Conn") if c != "Political"]
    with pytest.raises(FrameworkError):
        remove_node(fw, "Index")
    summary, shifts = leave_one_out(fw, score, ["LPI", "Political", "Sust"])
    assert shifts.shape == (51, 3)
    # removing Sust: the index becomes Conn
    expected = agg["Conn"].rank(ascending=False, method="min") - agg["Index"].rank(
        ascending=False, method="min")
    np.testing.assert_allclose(shifts["Sust"], expected)
    assert summary.set_index("removed").loc["Sust", "mean_abs_shift"] == pytest.approx(
        expected.abs().mean())


# ------------------------------------------------------------------------------ audit
def test_audit_weights_asem(fw, agg):
    score = make_score_fn(agg[fw.indicators])
    au = audit_weights(fw, agg, score, seed=1, n_boot=50, data=_read("asem_raw.csv"))
    t = au.to_frame()
    assert len(t) == len(fw.indicators) + len(fw.aggregates) - 1
    for col in ("parent", "nominal", "pca", "fa", "balance", "infomax", "S_parent", "S_parent_lo",
                "S_parent_hi", "r_parent", "flags", "loo_mean_abs_shift"):
        assert col in t
    for col in ("nominal", "pca", "fa", "balance", "infomax"):
        sums = t.groupby("parent")[col].sum(min_count=1).dropna()  # PCA/FA: NaN for 2 children
        assert len(sums) >= 9
        np.testing.assert_allclose(sums, 1.0, atol=1e-9)
    assert "Ship" in t[t["flags"].str.contains("weak_parent")].code.tolist()
    text = au.summary().as_text()
    assert "Cronbach" in text and "Leave-one-out" in text
    assert au.loo is not None and au.availability["availability"].min() < 1
    b = au.bod
    assert (b.bod_score <= 1 + 1e-9).all() and (b.bod_score >= b.equal_weight_score - 1e-9).all()
    for name in ("correlations", "cronbach", "kmo", "pca", "availability"):
        assert getattr(au, name) is getattr(au.coherence, name) and len(getattr(au, name))
    # leave-one-out: one row per indicator and aggregate below the root
    assert sorted(au.loo["removed"]) == sorted(c for c in fw.nodes if c != fw.root
                                               and c not in fw.empty_aggregates)
    with pytest.raises(DataError):
        audit_weights(fw, agg.drop(columns="LPI"))


def test_effective_weights_pair_without_enough_data_is_nan_not_an_error():
    """An indicator observed for 4 units has no correlation ratio: its row is NaN and named in
    settings["no_ratio"]; its siblings' shares are over themselves (sum to 1)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    X[4:, 2] = np.nan
    fw3 = Framework([Node("I", level=2), *(Node(f"x{i}", parent="I") for i in range(3))], "t")
    agg3 = pd.DataFrame(X, columns=["x0", "x1", "x2"]).assign(I=np.nanmean(X, axis=1))
    ew = effective_weights(fw3, agg3, n_boot=100, seed=0)
    t = ew.table.set_index("code")
    assert np.isnan(t.loc["x2", "S"]) and np.isnan(t.loc["x2", "share_lo"])
    assert t.loc[["x0", "x1"], "share"].sum() == pytest.approx(1.0)
    assert (t.loc[["x0", "x1"], "share_lo"] <= t.loc[["x0", "x1"], "share"]).all()
    assert ew.settings["no_ratio"] == ["x2~I (4 complete pairs)"]
