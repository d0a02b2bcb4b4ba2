"""Score draws for rank inference.

Sources of score uncertainty accepted by ``validation.rank_inference``: Bayesian posterior draws
(``model.bayes``), uncertainty-analysis replications, and — built here — a bootstrap over
indicator measurement error: each draw perturbs every observed indicator value multiplicatively,
x·(1 + ε), ε ~ N(0, sd²), and recomputes the index with the nominal method, so the draws are on
one common score scale (as rank confidence sets need).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .engine import prepare, run_replications
from .space import UncertaintySpace


def measurement_score_draws(result, sd: float = 0.10, draws: int = 200, seed: int | None = None
                            ) -> pd.DataFrame:
    """Index scores of ``result`` (an IndexResult) under measurement error: DataFrame
    (draws × units).

    Each draw perturbs the data and goes through the full pipeline (treatment and
    normalisation included) with the result's method once.
    """
    space = UncertaintySpace.from_dict({"assumptions": {"measurement": {"measurement": {
        "kind": "multiplicative", "sd": float(sd), "draws": int(draws)}}}}, result.framework,
        result.method)
    p = prepare(result, space, seed)
    out = run_replications(p, np.arange(draws)[:, None])
    return pd.DataFrame(out["index_scores"], columns=p.units).rename_axis("draw")


def rank_score_draws(ranks: np.ndarray, units, seed: int = 0) -> pd.DataFrame:
    """Uncertainty-analysis replications as score draws for rank inference.

    Replications mix normalisations, so their raw index scores share no scale; their ranks do.
    The draws are −rank (higher = better) plus a uniform jitter of ±0.001 rank, which breaks
    the exact ties of pairs whose order never changes (their difference would otherwise have
    zero variance) without changing any ordering.
    """
    rng = np.random.default_rng(seed)
    R = -np.asarray(ranks, dtype=float)
    return pd.DataFrame(R + rng.uniform(-1e-3, 1e-3, size=R.shape), columns=list(units))


def bayes_score_draws(result, seed: int = 0, quick: bool = False) -> pd.DataFrame:
    """Posterior draws of the index's latent score (draws × units) from the hierarchical
    Bayesian model fitted on the treated indicators (model.bayes)."""
    from cityindex.model.bayes import LatentScoreModel

    chains, draws = (2, 200) if quick else (4, 1000)
    m = LatentScoreModel(chains=chains, draws=draws, tune=draws, seed=seed)
    m.fit(result.treated, result.framework)
    return pd.DataFrame(m.score_draws(result.framework.root), columns=list(m.data_.units))


def separable_draws(draws: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Make score draws (draws × units) usable by the max-t rank inference.

    Units whose scores are equal in every draw (e.g. all their indicator values zero) have a
    zero-variance difference, which the studentised statistic cannot use. When there are such
    pairs, a uniform jitter of ±1e-4 × the largest per-unit score SD is added to every draw:
    the tied units are never told apart and no other ordering changes. Returns (draws, note);
    the note is "" when the draws were left as they are.
    """
    S = draws.to_numpy(dtype=float)
    C = np.cov(S, rowvar=False)
    v = np.diag(C)
    var_diff = v[:, None] + v[None, :] - 2 * C
    tied = np.triu(var_diff <= 1e-12 * max(float(v.max()), 1e-300), k=1)
    n = int(tied.sum())
    if n == 0:
        return draws, ""
    rng = np.random.default_rng(seed)
    eps = 1e-4 * float(np.sqrt(v.max())) or 1e-9
    out = draws + rng.uniform(-eps, eps, size=draws.shape)
    note = (f"{n} pairs of units have equal scores in every draw (e.g. all their indicator "
            "values zero); a uniform jitter of ±1e-4 × the largest per-unit score SD was added so "
            "the sets can be computed (such units are never told apart)")
    return out, note


def centred_inputs(draws: pd.DataFrame, estimates: pd.Series | None = None
                   ) -> dict:
    """Keyword arguments for ``rank_inference`` functions: θ̂ = ``estimates`` (e.g. the nominal
    index scores, so the sets are centred on the ranks actually published) with Σ̂ the sample
    covariance of the draws; without estimates, the draws' mean (a posterior, say)."""
    if estimates is None:
        return {"draws": draws}
    est = pd.Series(estimates).reindex(draws.columns)
    if est.isna().any():
        missing = list(est.index[est.isna()][:5])
        raise ValueError(f"no estimate for unit(s) {missing}")
    return {"estimates": est, "cov": np.cov(draws.to_numpy(dtype=float), rowvar=False)}
