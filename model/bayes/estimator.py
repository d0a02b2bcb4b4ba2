"""`LatentScoreModel`: estimator-style Bayesian hierarchical factor model for composite indices.

Sources: Kaufmann, Kraay & Mastruzzi (2010, World Bank PRWP 5430: unobserved-components model,
scores as precision-weighted averages of the available sources); Høyland, Moene & Willumsen
(2012, J. Dev. Econ. 97:1: Bayesian latent-variable indices with posterior rank intervals);
project notes ``bayes_and_rank_inference.md`` §3, §(a), §(c), §(d).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..framework import Framework
from .structure import LatentStructure, standardise
from .summaries import hdi, ranks_desc

_LIKELIHOODS = ("normal", "student_t")


class ConvergenceWarning(UserWarning):
    """max R-hat > 1.01 or at least one divergent transition."""


class ConvergenceError(RuntimeError):
    """Raised instead of :class:`ConvergenceWarning` when ``strict=True``."""


class LatentScoreModel:
    """Hierarchical Bayesian factor model of a composite index.

    Model (non-centred, notes §(a)); indicators are oriented by direction and z-scored on their
    observed values, every aggregate node n has a latent score θ[c, n] ~ N(0, 1) marginally::

        θ[c, root] = v[c, root]
        θ[c, a]    = γ_a θ[c, parent(a)] + √(1 − γ_a²) v[c, a]          v ~ N(0, 1)
        x[c, i]    ~ Normal | StudentT(ν)(α_i + λ_i θ[c, parent(i)], σ_i)  observed cells only
        λ_i = √ρ_i, σ_i = √(1 − ρ_i), ρ ~ Beta(2, 2)  (standardised loadings, reliability ρ)
        α ~ N(0, .5), γ ~ Beta(2, 2), ν ~ Gamma(2, .1)

    Identification: scale by unit-variance latents; sign by λ > 0 and γ ∈ (0, 1); location by
    the N(0, 1) prior (marginal model) or a ZeroSumNormal over units (explicit model). A node
    with one active child is collapsed (γ = 1; a single-indicator lowest aggregate takes its
    parent's score); the two children of a 2-child node share one loading (γ, and λ with
    ``two_child="equal"``). See :mod:`model.bayes.structure`.

    Missing cells are never imputed: the likelihood covers observed cells only (MAR assumed).

    Parameters
    ----------
    likelihood : {"normal", "student_t"}
    marginalise : bool or None
        Integrate the latent scores out (Gaussian only) and draw them afterwards from their
        conditional per posterior draw. None → True for "normal", False for "student_t".
    chains, draws, tune : int
    seed : int
        Seeds the sampler and the conditional score draws.
    target_accept : float
    sampler : str or None
        None or ``"fast"`` (default): the Gaussian marginal model runs on the compiled
        log posterior of :mod:`.fast` with nutpie's NUTS (no PyMC graph to compile); otherwise
        the ``nuts_sampler`` of ``pm.sample`` for the PyMC model ("nutpie", "pymc", …), also
        used for the explicit and Student-t models.
    two_child : {"equal", "free"}
    strict : bool
        Raise :class:`ConvergenceError` instead of warning.
    cores : int or None
        Parallel chains (default min(chains, CPU count)).

    Attributes (after ``fit``)
    ----------
    posterior_ : xarray.DataTree — groups posterior (alpha, reliability, loading, sigma,
        gamma[, nu],
        score (chain, draw, unit, node)), sample_stats, observed_data, constant_data
        [, log_likelihood after ``loo``].
    diagnostics_ : DataFrame — per parameter: ess_bulk, ess_tail, r_hat, mcse.
    convergence_ : dict — max_rhat, min_ess_bulk, min_ess_tail (parameters and scores),
        divergences, sampling_s, postprocess_s, marginalised, sampler.
    scores_ : DataFrame (units × nodes) posterior mean scores (z-scale, higher = better).
    loadings_ : Series (indicators) posterior mean λ.
    structure_, data_ : the latent structure and standardised data.

    Raises
    ------
    ValueError
        Invalid parameters (e.g. ``marginalise=True`` with Student-t errors).
    model.errors.DataError
        Invalid X (see :func:`model.bayes.structure.standardise`).
    """

    def __init__(self, likelihood: str = "normal", marginalise: bool | None = None,
                 chains: int = 4, draws: int = 1000, tune: int = 1000, seed: int = 0,
                 target_accept: float = 0.9, sampler: str | None = None,
                 two_child: str = "equal", strict: bool = False, cores: int | None = None,
                 progressbar: bool = False):
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {_LIKELIHOODS}, not {likelihood!r}")
        if marginalise and likelihood != "normal":
            raise ValueError("marginalise=True needs likelihood='normal' (the Student-t "
                             "marginal has no closed form)")
        for name, val in (("chains", chains), ("draws", draws)):
            if not (isinstance(val, (int, np.integer)) and val >= 1):
                raise ValueError(f"{name} must be a positive integer, not {val!r}")
        if not (isinstance(tune, (int, np.integer)) and tune >= 0):
            raise ValueError(f"tune must be a non-negative integer, not {tune!r}")
        if not 0 < target_accept < 1:
            raise ValueError("target_accept must lie in (0, 1)")
        if two_child not in ("equal", "free"):
            raise ValueError(f"two_child must be 'equal' or 'free', not {two_child!r}")
        self.likelihood = likelihood
        self.marginalise = marginalise
        self.chains, self.draws, self.tune, self.seed = int(chains), int(draws), int(tune), seed
        self.target_accept = target_accept
        self.sampler = sampler
        self.two_child = two_child
        self.strict = strict
        self.cores = cores
        self.progressbar = progressbar

    # ------------------------------------------------------------------ fitting
    @property
    def _marginal(self) -> bool:
        return self.likelihood == "normal" if self.marginalise is None else bool(self.marginalise)

    def fit(self, X: pd.DataFrame, framework: Framework) -> "LatentScoreModel":
        """Fit on X (units × indicators: treated values, NaN = missing; extra columns ignored).

        Returns self. Warns :class:`ConvergenceWarning` (or raises :class:`ConvergenceError`
        with ``strict``) when max R-hat > 1.01 or any transition diverged.
        """
        import xarray as xr

        from .models import build_explicit, build_marginal, conditional_scores

        if not (self._marginal and self.sampler in (None, "fast")):
            import pymc as pm

        self.framework_ = framework
        self.structure_ = struct = LatentStructure.from_framework(framework, self.two_child)
        self.data_ = data = standardise(X, framework)
        self.X_ = X[struct.indicators].apply(pd.to_numeric).astype(float)
        cores = self.cores or min(self.chains, os.cpu_count() or 1)
        t0 = time.perf_counter()
        if self._marginal and self.sampler in (None, "fast"):
            dt = self._sample_fast(struct, data, cores)
            model = None
        else:
            model = (build_marginal(struct, data) if self._marginal
                     else build_explicit(struct, data, self.likelihood))
            with model, warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=FutureWarning)
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                dt = pm.sample(draws=self.draws, tune=self.tune, chains=self.chains,
                               cores=cores, random_seed=self.seed,
                               nuts_sampler=self.sampler or "nutpie",
                               nuts={"target_accept": self.target_accept},
                               progressbar=self.progressbar, compute_convergence_checks=False)
        t1 = time.perf_counter()
        post = dt["posterior"].to_dataset()
        if self._marginal:
            S = self.chains * self.draws
            flat = lambda name: post[name].stack(s=("chain", "draw")).transpose("s", ...).values
            gamma = (flat("gamma") if struct.n_gamma else np.zeros((S, 0)))
            rng = np.random.default_rng([int(self.seed), 20240517])
            theta = conditional_scores(struct, data, flat("alpha"), flat("loading"),
                                       flat("sigma"), gamma, rng)
            post["score"] = xr.DataArray(
                theta.reshape(self.chains, self.draws, *theta.shape[1:]),
                dims=("chain", "draw", "unit", "node"),
                coords={"chain": post.chain, "draw": post.draw,
                        "unit": [str(u) for u in data.units], "node": struct.nodes})
            dt["posterior"] = xr.DataTree(post)
        dt["observed_data"] = xr.DataTree(xr.Dataset(
            {"z": (("unit", "indicator"), data.Z)},
            coords={"unit": [str(u) for u in data.units], "indicator": struct.indicators}))
        dt["constant_data"] = xr.DataTree(xr.Dataset(
            {"oriented_mean": ("indicator", data.mean), "oriented_sd": ("indicator", data.sd)},
            coords={"indicator": struct.indicators}))
        self.model_ = model
        self.posterior_ = dt
        self._post = dt["posterior"].to_dataset()
        self._diagnose(sampling_s=t1 - t0, postprocess_s=time.perf_counter() - t1)
        return self

    def _sample_fast(self, struct, data, cores: int):
        """NUTS on the compiled marginal posterior (:mod:`.fast`): a DataTree with the groups
        ``posterior`` (alpha, reliability, gamma, loading, sigma) and ``sample_stats``."""
        import xarray as xr

        from .fast import MarginalPosterior, sample_marginal

        post = MarginalPosterior(struct, data)
        x, diverging = sample_marginal(post, draws=self.draws, tune=self.tune,
                                       chains=self.chains, cores=cores, seed=int(self.seed),
                                       target_accept=self.target_accept)
        p = post.split(x)
        dims = {"alpha": "indicator", "reliability": "loading_param", "gamma": "gamma_param",
                "loading": "indicator", "sigma": "indicator"}
        coords = {"chain": np.arange(self.chains), "draw": np.arange(self.draws),
                  "indicator": struct.indicators, "loading_param": struct.lambda_names,
                  "gamma_param": struct.gamma_names}
        ds = xr.Dataset({k: (("chain", "draw", dims[k]), v) for k, v in p.items()
                         if k != "gamma" or struct.n_gamma}, coords=coords,
                        attrs={"inference_library": "nutpie (compiled marginal kernel)"})
        stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)},
                           coords={"chain": coords["chain"], "draw": coords["draw"]})
        return xr.DataTree.from_dict({"posterior": ds, "sample_stats": stats})

    def _param_names(self) -> list[str]:
        names = ["alpha", "reliability"]
        if self.structure_.n_gamma:
            names.append("gamma")
        if "nu" in self._post:
            names.append("nu")
        return names

    def _diagnose(self, sampling_s: float, postprocess_s: float) -> None:
        """R-hat and ESS of every parameter (``arviz.summary``) and of the index's latent
        score of every unit (vectorised rank-normalised split R-hat, bulk and tail ESS with
        the 5 %/95 % quantiles; :mod:`.summaries`, equal to ArviZ's values). The scores of
        lower nodes are draws given the parameters and the data, so their mixing follows the
        parameters'; they are left out for speed."""
        import arviz as az

        from .summaries import ess_bulk, ess_tail, rhat_rank

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diag = az.summary(self.posterior_, var_names=self._param_names(),
                              kind="diagnostics")
        root = self.structure_.nodes.index(self.framework_.root)
        sc = self._post["score"].values[..., root]             # (chain, draw, unit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s_rhat = float(np.nanmax(rhat_rank(sc)))
            s_ess = float(np.nanmin(ess_bulk(sc)))
            s_tail = float(np.nanmin(ess_tail(sc)))
        self.diagnostics_ = diag
        stats = self.posterior_["sample_stats"]
        div = int(stats["diverging"].sum()) if "diverging" in stats else 0
        self.convergence_ = {
            "max_rhat": float(max(diag["r_hat"].max(), s_rhat)),
            "max_rhat_params": float(diag["r_hat"].max()),
            "min_ess_bulk": float(min(diag["ess_bulk"].min(), s_ess)),
            "min_ess_tail": float(min(diag["ess_tail"].min(), s_tail)),
            "min_ess_bulk_params": float(diag["ess_bulk"].min()),
            "divergences": div,
            "sampling_s": round(sampling_s, 2),
            "postprocess_s": round(postprocess_s, 2),
            "marginalised": self._marginal,
            "sampler": str(self.posterior_["posterior"].attrs.get("inference_library", "")),
            "diagnosed": "parameters and the index's latent score of every unit",
        }
        bad = self.convergence_["max_rhat"] > 1.01 or div > 0
        if bad:
            msg = (f"sampler did not converge cleanly: max R-hat "
                   f"{self.convergence_['max_rhat']:.3f} (target ≤ 1.01), {div} divergences; "
                   "increase tune/draws or target_accept")
            if self.strict:
                raise ConvergenceError(msg)
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "posterior_"):
            raise RuntimeError("call fit(X, framework) first")

    def _flat(self, name: str) -> np.ndarray:
        da = self._post[name]
        return da.stack(s=("chain", "draw")).transpose("s", ...).values

    def _node(self, node: str | None) -> str:
        node = node or self.structure_.nodes[0]
        if node not in self.structure_.nodes:
            raise ValueError(f"unknown node {node!r}; latent nodes: {self.structure_.nodes}")
        return node

    def score_draws(self, node: str | None = None) -> np.ndarray:
        """Posterior draws of θ for ``node`` (default: the index): array (S, C)."""
        self._check_fitted()
        k = self.structure_.nodes.index(self._node(node))
        return self._flat("score")[:, :, k]

    @property
    def scores_(self) -> pd.DataFrame:
        self._check_fitted()
        m = self._post["score"].mean(("chain", "draw")).values
        return pd.DataFrame(m, index=self.data_.units, columns=self.structure_.nodes)

    @property
    def loadings_(self) -> pd.Series:
        self._check_fitted()
        return pd.Series(self._post["loading"].mean(("chain", "draw")).values,
                         index=self.structure_.indicators, name="loading")

    # ------------------------------------------------------------------ outputs
    def latent_scores(self, prob: float = 0.90) -> pd.DataFrame:
        """Tidy scores: columns unit, node, mean, sd, hdi_5, hdi_95 (90 % HDI); one row per
        unit × node (C·N rows), z-scale, higher = better."""
        self._check_fitted()
        th = self._flat("score")                                    # (S, C, N)
        lo, hi = hdi(th, prob)
        C, N = th.shape[1:]
        lo_name = f"hdi_{round(50 * (1 - prob))}"
        hi_name = f"hdi_{round(100 - 50 * (1 - prob))}"
        return pd.DataFrame({
            "unit": np.repeat(np.asarray(self.data_.units), N),
            "node": np.tile(self.structure_.nodes, C),
            "mean": th.mean(0).ravel(), "sd": th.std(0, ddof=1).ravel(),
            lo_name: lo.ravel(), hi_name: hi.ravel()})

    def rank_draws(self, node: str | None = None) -> pd.DataFrame:
        """Ranks per posterior draw: DataFrame (S draws × C units), 1 = best."""
        r = ranks_desc(self.score_draws(node))
        return pd.DataFrame(r, columns=self.data_.units)

    def posterior_ranks(self, node: str | None = None, top_k=(10,),
                        prob: float = 0.90, quantile: str = "inverted_cdf") -> pd.DataFrame:
        """Per unit: score_mean, rank_mean, rank_median, rank_lo/rank_hi (equal-tailed
        ``prob`` interval, quantile rule ``quantile``: "inverted_cdf" (default, whole ranks) or
        "linear" (R type 7); default 5–95 %), p_top_<k> = P(rank ≤ k).
        Indexed by unit, sorted as the units of X."""
        th = self.score_draws(node)
        r = ranks_desc(th)
        a = (1 - prob) / 2
        out = pd.DataFrame({
            "score_mean": th.mean(0),
            "rank_mean": r.mean(0),
            "rank_median": np.quantile(r, 0.5, axis=0, method=quantile),
            "rank_lo": np.quantile(r, a, axis=0, method=quantile),
            "rank_hi": np.quantile(r, 1 - a, axis=0, method=quantile)},
            index=self.data_.units)
        for k in np.atleast_1d(top_k):
            out[f"p_top_{int(k)}"] = (r <= int(k)).mean(0)
        return out

    def implied_weights(self, node: str | None = None, normalised: pd.DataFrame | None = None,
                        pca_weights: pd.Series | None = None, prob: float = 0.90) -> pd.DataFrame:
        """Implied (regression / Thomson factor-score) weights of the indicators in ``node``.

        Per draw, w = Σ_y⁻¹ c with Σ_y = BBᵀ + diag σ², c = Cov(x, θ_node), normalised to
        w̃ = w / Σw (notes §3). Columns: mean, lo, hi (equal-tailed ``prob`` interval) — on the
        z-scale of oriented indicators — beside ``nominal_z``: the nominal weight put on the same
        z-scale, i.e. the nominal effective weight in the index times the SD of the normalised
        indicator, renormalised to sum to 1 (b_p in the notes; ``normalised`` is the index's
        normalised indicators, default min–max of X). ``nominal_z`` is therefore *not* the
        nominal weight of the framework (a weight on the normalised scale); it is the weight
        that nominal aggregation puts on each standardised indicator, comparable with the
        implied weights. Then ``pca`` when given, and ``outside`` = ``nominal_z`` outside the
        interval. Indexed by indicator (P rows).

        With ``two_child="equal"`` (the default identification rule) the two indicators of a
        2-indicator node share one loading by construction, so their split within the pair
        follows from that assumption (and their error variances), not from the data.
        """
        self._check_fitted()
        node = self._node(node)
        st = self.structure_
        k = st.nodes.index(node)
        gamma = self._flat("gamma") if st.n_gamma else np.zeros((self._flat("alpha").shape[0], 0))
        lam, sigma = self._flat("loading"), self._flat("sigma")
        A = st.build_A(gamma)                                       # (S, N, M)
        B = lam[:, :, None] * A[:, st.ind_node, :]                  # (S, P, M)
        Sig = B @ np.swapaxes(B, 1, 2) + np.einsum("sp,pq->spq", sigma ** 2, np.eye(len(lam[0])))
        c = np.einsum("spm,sm->sp", B, A[:, k, :])
        w = np.linalg.solve(Sig, c[..., None])[..., 0]
        w = w / w.sum(1, keepdims=True)
        a = (1 - prob) / 2
        out = pd.DataFrame({"mean": w.mean(0), "lo": np.quantile(w, a, 0),
                            "hi": np.quantile(w, 1 - a, 0)}, index=st.indicators)
        eff = self.framework_.effective_weights(node).reindex(st.indicators).fillna(0.0)
        if normalised is None:
            Xo = self.X_
            sd_n = Xo.std(ddof=1) / (Xo.max() - Xo.min())
        else:
            sd_n = normalised[st.indicators].std(ddof=1)
        b = eff * sd_n.reindex(st.indicators)
        out["nominal_z"] = b / b.sum()
        if pca_weights is not None:
            out["pca"] = pd.Series(pca_weights).reindex(st.indicators)
        out["outside"] = (out["nominal_z"] < out["lo"]) | (out["nominal_z"] > out["hi"])
        out.index.name = "indicator"
        return out

    def ppc(self, n_draws: int = 400, prob: float = 0.90, seed: int | None = None) -> pd.DataFrame:
        """Posterior predictive check on observed cells (conditional on the scores).

        For ``n_draws`` thinned draws, replicate x_rep = α + λθ + σε (t(ν) errors for
        Student-t) on each indicator's observed cells and compare statistics sd, q05, q50, q95,
        skew with the observed ones. Tidy: indicator, statistic, observed, rep_mean, rep_lo,
        rep_hi, p_value = P(T_rep ≥ T_obs). P × 5 rows.
        """
        self._check_fitted()
        st, d = self.structure_, self.data_
        S = self._flat("alpha").shape[0]
        rng = np.random.default_rng(self.seed if seed is None else seed)
        idx = np.linspace(0, S - 1, min(n_draws, S)).astype(int)
        al, lam, sg = self._flat("alpha")[idx], self._flat("loading")[idx], self._flat("sigma")[idx]
        th = self._flat("score")[idx][:, :, st.ind_node]           # (s, C, P)
        shape = th.shape
        if "nu" in self._post:
            nu = self._flat("nu")[idx]
            eps = rng.standard_t(nu[:, None, None], size=shape)
        else:
            eps = rng.standard_normal(shape)
        rep = al[:, None, :] + lam[:, None, :] * th + sg[:, None, :] * eps
        rep = np.where(d.mask[None], rep, np.nan)

        def stats(x, axis):
            q = np.nanquantile(x, [0.05, 0.5, 0.95], axis=axis)
            m = np.nanmean(x, axis=axis, keepdims=True)
            dev = x - m
            sd = np.sqrt(np.nanmean(dev ** 2, axis=axis))
            skew = np.nanmean(dev ** 3, axis=axis) / sd ** 3
            return {"sd": np.nanstd(x, axis=axis, ddof=1), "q05": q[0], "q50": q[1],
                    "q95": q[2], "skew": skew}

        obs = stats(d.Z, 0)
        reps = stats(rep, 1)
        a = (1 - prob) / 2
        rows = []
        for name in obs:
            for j, ind in enumerate(st.indicators):
                t = reps[name][:, j]
                rows.append((ind, name, obs[name][j], t.mean(), np.quantile(t, a),
                             np.quantile(t, 1 - a), float((t >= obs[name][j]).mean())))
        return pd.DataFrame(rows, columns=["indicator", "statistic", "observed", "rep_mean",
                                           "rep_lo", "rep_hi", "p_value"])

    def loo(self):
        """PSIS-LOO (``az.loo``) from ``pm.compute_log_likelihood``. Pointwise terms are units
        (marginal model: log p(x_c,O | params)) or observed cells (explicit model: log p(x_ci |
        θ, params)) — compare models only with the same kind of terms."""
        self._check_fitted()
        import arviz as az
        import pymc as pm

        if "log_likelihood" not in self.posterior_.children:
            if self.model_ is None:           # the compiled marginal kernel: no PyMC model
                self._marginal_log_likelihood()
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pm.compute_log_likelihood(self.posterior_, var_names=["x"],
                                              model=self.model_, progressbar=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return az.loo(self.posterior_, var_name="x")

    def _marginal_log_likelihood(self) -> None:
        """Pointwise log p(x_c,O | params) per posterior draw (tree messages, vectorised over
        draws) as the ``log_likelihood`` group, variable ``x`` (chain, draw, unit)."""
        import xarray as xr

        from .models import tree_messages

        st, d = self.structure_, self.data_
        gamma = self._flat("gamma") if st.n_gamma else np.zeros((self.chains * self.draws, 0))
        ll = np.concatenate([
            tree_messages(st, d.filled, d.mask.astype(float), self._flat("alpha")[sl],
                          self._flat("loading")[sl], self._flat("sigma")[sl], gamma[sl])[0]
            for sl in (slice(lo, lo + 500) for lo in range(0, len(gamma), 500))])
        ll = ll.reshape(self.chains, self.draws, -1)
        self.posterior_["log_likelihood"] = xr.DataTree(xr.Dataset(
            {"x": (("chain", "draw", "unit"), ll)},
            coords={"chain": np.arange(self.chains), "draw": np.arange(self.draws),
                    "unit": [str(u) for u in d.units]}))

    def save(self, path: str | Path) -> Path:
        """Write ``posterior_`` (all groups) to netCDF (h5netcdf); read back with
        ``arviz.from_netcdf`` / ``xarray.open_datatree``."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.posterior_.to_netcdf(path, engine="h5netcdf")
        return path

    def parameter_table(self, prob: float = 0.90) -> pd.DataFrame:
        """Tidy parameter table: one row per parameter (alpha, loading, sigma, gamma[, nu]) with
        mean, sd, equal-tailed ``prob`` interval, ess_bulk, ess_tail, r_hat, mcse."""
        self._check_fitted()
        import arviz as az

        names = ["alpha", "loading", "sigma"] + [n for n in ("gamma", "nu") if n in self._post]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tab = az.summary(self.posterior_, var_names=names, kind="all", ci_prob=prob,
                             ci_kind="eti")
        tab.index.name = "parameter"
        return tab.reset_index()

    def __repr__(self) -> str:
        return (f"LatentScoreModel(likelihood={self.likelihood!r}, marginalise="
                f"{self.marginalise!r}, chains={self.chains}, draws={self.draws}, "
                f"tune={self.tune}, seed={self.seed})")


def compare_likelihoods(X: pd.DataFrame, framework: Framework, **kwargs):
    """Fit Normal and Student-t explicit-latent models (same per-cell pointwise terms) and
    compare them by PSIS-LOO (``az.compare``).

    ``kwargs`` go to :class:`LatentScoreModel` (chains, draws, tune, seed, …). Returns
    (comparison DataFrame from ``az.compare``, {"normal": model, "student_t": model}).
    """
    import arviz as az

    kwargs = {**kwargs, "marginalise": False}
    fits = {lk: LatentScoreModel(likelihood=lk, **kwargs).fit(X, framework)
            for lk in _LIKELIHOODS}
    for m in fits.values():
        m.loo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = az.compare({k: m.posterior_ for k, m in fits.items()}, var_name="x")
    return comp, fits
