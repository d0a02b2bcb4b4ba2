"""The Bayesian latent-score model fitted to an index result: :func:`fit_bayes` and its
:class:`BayesResult` (the results protocol over :class:`~.estimator.LatentScoreModel`).

The result keeps the tables every view needs (posterior ranks, latent scores, implied weights,
diagnostics, convergence, the posterior draws of the index's latent score), so it can be pickled
from a background process without the sampler's trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..summary import Result, Summary, json_safe


@dataclass(repr=False)
class BayesResult(Result):
    """What a fit of the latent-score model to one index produced.

    Attributes
    ----------
    index : the root code.
    posterior_ranks : DataFrame (units): score_mean, rank_mean, rank_median, rank_lo, rank_hi
        (90 % equal-tailed interval), p_top_10.
    latent_scores : DataFrame, one row per unit × node (mean, sd, 90 % HDI; z-scale).
    implied_weights : DataFrame (indicators): implied weight in the index with its interval,
        beside nominal weights on the normalised and the z-scale and PCA weights.
    diagnostics : DataFrame (parameters): ess_bulk, ess_tail, r_hat, mcse.
    convergence : dict: max_rhat, min_ess_bulk, min_ess_tail, divergences, sampling_s, …
    settings : dict: likelihood, chains, draws, tune, seed.
    score_draws : DataFrame (draws × units) of the index's latent score, or None.
    model : the fitted :class:`LatentScoreModel` (None when the result came from another
        process).
    """

    index: str
    posterior_ranks: pd.DataFrame
    latent_scores: pd.DataFrame
    implied_weights: pd.DataFrame
    diagnostics: pd.DataFrame
    convergence: dict
    settings: dict
    score_draws: pd.DataFrame | None = None
    model: object = field(default=None, compare=False)
    #: units not fitted nor ranked (no observed indicator), with the reason (unit, reason)
    not_ranked: pd.DataFrame | None = None
    #: the ranking counts of the index result (n_units, n_ranked, n_flagged, n_not_ranked)
    counts: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """R-hat ≤ 1.01 everywhere and no divergent transition."""
        c = self.convergence
        return c.get("max_rhat", float("inf")) <= 1.01 and c.get("divergences", 1) == 0

    def __getstate__(self):  # the sampler's trace stays in this process
        state = dict(self.__dict__)
        state["model"] = None
        return state

    def to_frame(self) -> pd.DataFrame:
        """Posterior ranks, one row per fitted unit (units not ranked are in ``not_ranked``)."""
        return self.posterior_ranks.rename_axis("unit").reset_index()

    def ranks_table(self) -> pd.DataFrame:
        """Posterior ranks of every unit: the fitted ones, then the units not ranked with NaN
        ranks, ``status`` and ``reason``."""
        t = self.to_frame()
        t["status"] = "ranked"
        t["reason"] = ""
        if self.not_ranked is not None and len(self.not_ranked):
            nr = self.not_ranked[["unit", "reason"]].assign(status="not ranked: no data")
            t = pd.concat([t, nr], ignore_index=True)
        return t

    def to_dict(self) -> dict:
        return json_safe({"index": self.index, "convergence": self.convergence,
                          "settings": self.settings, "implied_weights":
                          self.implied_weights.rename_axis("code").reset_index(),
                          "posterior_ranks": self.to_frame(), "counts": self.counts,
                          "not_ranked": self.not_ranked if self.not_ranked is not None
                          else []})

    def summary(self) -> Summary:
        c, st = self.convergence, self.settings
        s = Summary(f"Bayesian latent-score model of {self.index}")
        s.add_text(f"{st.get('chains')} chains × {st.get('draws')} draws ({st.get('tune')} tuning"
                   f", {st.get('likelihood')} likelihood, seed {st.get('seed')}); max R-hat "
                   f"{c.get('max_rhat', float('nan')):.3f}, min bulk ESS "
                   f"{c.get('min_ess_bulk', float('nan')):.0f}, divergences "
                   f"{c.get('divergences')} — "
                   + ("converged." if self.converged else "NOT converged: do not publish."),
                   "An alternative aggregation model: posterior ranks of the latent score, with "
                   "90 % intervals; not a confidence band for the nominal ranks.",
                   "Fitted on the observed cells only (imputed cells are missing in the "
                   f"likelihood); {len(self.posterior_ranks)} units ranked"
                   + (f", {len(self.not_ranked)} not ranked (no observed indicator): "
                      + ", ".join(map(str, self.not_ranked['unit'][:8]))
                      if self.not_ranked is not None and len(self.not_ranked) else "") + ".")
        top = self.posterior_ranks.sort_values("rank_median").head(10)
        s.add_table(top.rename_axis("unit").reset_index()[
            ["unit", "rank_median", "rank_lo", "rank_hi"]], "Top 10 by posterior median rank")
        iw = self.implied_weights
        cols = [c for c in ("mean", "lo", "hi", "nominal_z", "nominal", "pca") if c in iw]
        s.add_table(iw[cols].rename_axis("code").reset_index(), "Implied weights in the index",
                    max_rows=None)
        return s

    def _repr_lines(self):
        c = self.convergence
        return [f"index {self.index}: {len(self.posterior_ranks)} units, "
                f"{self.settings.get('chains')}×{self.settings.get('draws')} draws",
                f"max R-hat {c.get('max_rhat', float('nan')):.3f}, divergences "
                f"{c.get('divergences')}"]


def _pca_weights(result):
    """Handbook PCA weights of all indicators on the observed cells (EM correlation; None when
    PCA is not defined on the data)."""
    from ..errors import CityIndexError
    from ..weights import PCAWeights

    inds = result.framework.indicators
    try:
        return PCAWeights(missing="em").fit(
            result.normalised[inds].where(result.observed[inds])).weights_
    except CityIndexError:
        return None


def bayes_input(result) -> pd.DataFrame:
    """What the latent-score model is fitted on: the treated indicator values (units ×
    indicators) with every imputed cell set back to NaN — missing exactly where the data had no
    value — for the units with at least one observed indicator (the others have no data to fit
    and are not ranked)."""
    inds = result.framework.indicators
    X = result.treated[inds].where(result.observed[inds])
    return X[result.observed[inds].any(axis=1)]


def fit_bayes(result, *, likelihood: str = "normal", chains: int = 4, draws: int = 1000,
              tune: int = 1000, seed: int | None = None, strict: bool = False,
              keep_draws: bool = True, target_accept: float = 0.9) -> BayesResult:
    """Fit the hierarchical latent-score model to an index result.

    Parameters
    ----------
    result : IndexResult — the model is fitted on its treated indicator values (units ×
        indicators) *on the observed cells only* (:func:`bayes_input`: imputed cells are
        missing, which the likelihood skips) and its framework; units with no observed
        indicator are not fitted and not ranked (``not_ranked``); implied weights are set
        beside the nominal weights on the scale of ``result.normalised``.
    likelihood, chains, draws, tune, strict, target_accept : see :class:`LatentScoreModel`.
    seed : default the result's method seed.
    keep_draws : keep the posterior draws of the index's latent score (draws × units), e.g. for
        rank confidence sets.

    Returns
    -------
    BayesResult

    Raises
    ------
    ConvergenceError with ``strict`` when R-hat > 1.01 or a transition diverged.
    """
    from .estimator import LatentScoreModel

    seed = result.method.seed if seed is None else int(seed)
    fw = result.framework
    m = LatentScoreModel(likelihood=likelihood, chains=chains, draws=draws, tune=tune,
                         seed=seed, strict=strict,
                         target_accept=target_accept).fit(bayes_input(result), fw)
    draws_df = (pd.DataFrame(m.score_draws(fw.root), columns=list(m.data_.units))
                .rename_axis("draw") if keep_draws else None)
    return BayesResult(
        index=fw.root, posterior_ranks=m.posterior_ranks(top_k=(10,)),
        latent_scores=m.latent_scores(),
        implied_weights=m.implied_weights(normalised=result.normalised,
                                          pca_weights=_pca_weights(result)),
        diagnostics=m.diagnostics_, convergence=dict(m.convergence_),
        settings=dict(likelihood=likelihood, chains=chains, draws=draws, tune=tune, seed=seed,
                      target_accept=target_accept),
        score_draws=draws_df, model=m,
        not_ranked=result.availability.not_ranked()[["unit", "reason"]],
        counts=result.availability.counts())
