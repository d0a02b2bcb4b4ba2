"""One weight audit of an index: coherence, data-driven weights, effective weights, leave-one-out.

:func:`audit_weights` runs, on an index's ``aggregated`` table (units × codes, e.g.
``IndexResult.aggregated``):

* the coherence checks of :mod:`validation.coherence` (correlations with flags, Cronbach's α,
  KMO/Bartlett, PCA, data availability);
* PCA and factor-analysis weights per parent (:class:`model.weights.PCAWeights`,
  :class:`model.weights.FactorWeights`; OECD/JRC Handbook 2008 §6.1);
* correlation-ratio effective weights with bootstrap intervals vs nominal weights
  (:mod:`validation.effective_weights`; Paruolo, Saisana & Saltelli 2013);
* optimised weights per parent, "balance" and "infomax" (:class:`model.weights.OptimisedWeights`);
* benefit-of-the-doubt scores and weights per unit over all indicators
  (:class:`model.weights.BoDWeights`);
* with a ``score_fn``, leave-one-out: each indicator and aggregate removed in turn (siblings'
  weights renormalised), rank shift per unit and mean absolute shift per removed element.

and returns one :class:`WeightAudit`: ``.to_frame()`` (one row per indicator and aggregate),
``.summary()`` (a :class:`~cityindex.model.summary.Summary`), and the component tables as
attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from cityindex.model.errors import DataError, FrameworkError
from cityindex.model.framework import NO_OPEN_INDICATOR, Framework
from cityindex.model.progress import counted, report
from cityindex.model.weights import BoDWeights, FactorWeights, OptimisedWeights, PCAWeights, framework_weights

from cityindex.model.summary import Result, Summary, json_safe

from .coherence import Coherence, coherence_tables
from .effective_weights import EffectiveWeights, effective_weights

__all__ = ["WeightAudit", "weight_audit", "audit_weights", "remove_node", "leave_one_out", "rank_scores"]

ScoreFn = Callable[[Framework], pd.DataFrame]


# ------------------------------------------------------------------------------ leave-one-out
def remove_node(framework: Framework, code: str) -> Framework:
    """A copy of ``framework`` without ``code`` and its subtree.

    The siblings' weights are renormalised implicitly (weights are relative within a parent). A
    parent left with no child is kept with ``status: no_open_indicator`` (skipped in aggregation).

    Raises
    ------
    FrameworkError
        ``code`` unknown or the root.
    """
    if code not in framework.nodes:
        raise FrameworkError(f"cannot remove unknown node '{code}'")
    if code == framework.root:
        raise FrameworkError(f"cannot remove the root '{code}'")
    drop = {code}
    stack = [code]
    while stack:
        kids = framework.children(stack.pop(), active_only=False)
        drop.update(kids)
        stack.extend(kids)
    nodes = [n for c, n in framework.nodes.items() if c not in drop]
    kept = {n.code for n in nodes}
    has_kids = {n.parent for n in nodes if n.parent is not None}
    nodes = [replace(n, status=NO_OPEN_INDICATOR)
             if n.level > 1 and n.code not in has_kids and n.status is None else n for n in nodes]
    assert framework.root in kept
    return Framework(nodes, framework.name, framework.source, framework.origin)


def rank_scores(scores: pd.Series) -> pd.Series:
    """Ranks, 1 = highest score; ties share the best rank ("min"); missing scores stay NaN."""
    return scores.rank(ascending=False, method="min")


def leave_one_out(framework: Framework, score_fn: ScoreFn, elements: list[str] | None = None,
                  progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove each element in turn, recompute the index, compare ranks with the nominal ranks.

    Parameters
    ----------
    framework : Framework
    score_fn : callable (Framework) → DataFrame (units × codes, containing the root's column)
        e.g. ``lambda fw: compute_index(fw, data, method.restricted_to(fw)).aggregated``
        (leave-one-out passes frameworks with a node removed).
    elements : list of codes, default every indicator and every aggregate but the root
    progress : ``progress("leave-one-out", done, total)`` after each rebuild, or None

    Returns
    -------
    (summary, shifts)
        ``summary``: one row per removed element — ``removed``, ``level``, ``parent``,
        ``mean_abs_shift``, ``max_abs_shift``, ``n_changed`` (units whose rank moved).
        ``shifts``: units × removed elements, rank without the element − nominal rank
        (positive = fell down the ranking).

    Raises
    ------
    DataError
        ``score_fn`` output lacks the root column.
    """
    root = framework.root
    base = score_fn(framework)
    if root not in base.columns:
        raise DataError(f"score_fn output lacks the index column '{root}'")
    r0 = rank_scores(base[root])
    if elements is None:
        elements = list(framework.indicators) + [a for a in framework.aggregates if a != root]
    rows, shifts = [], {}
    tick = counted(progress, "leave-one-out rebuilds", len(elements))
    for el in elements:
        scores = score_fn(remove_node(framework, el))[root].reindex(r0.index)
        d = rank_scores(scores) - r0
        shifts[el] = d
        rows.append(dict(removed=el, level=framework.level(el), parent=framework.parent(el),
                         mean_abs_shift=float(d.abs().mean()), max_abs_shift=float(d.abs().max()),
                         n_changed=int((d.fillna(0) != 0).sum())))
        tick()
    return pd.DataFrame(rows), pd.DataFrame(shifts, index=r0.index)


# ------------------------------------------------------------------------------- the result
@dataclass(repr=False)
class WeightAudit(Result):
    """Everything one weight audit produced (see :func:`audit_weights`).

    Attributes
    ----------
    table : DataFrame, one row per indicator and aggregate (root excluded) — see ``to_frame``
    groups : DataFrame, one row per parent: α, KMO, Bartlett p, PC1 share, eigenvalues > 1,
        factors retained (PCA, FA), importance divergence, balance objective
    coherence : validation.coherence.Coherence
    effective : validation.effective_weights.EffectiveWeights
    correlations, cronbach, cronbach_items, kmo, kmo_items, pca, pca_components,
    availability, availability_units : the coherence tables
    pca_models, fa_models, balance_models, infomax_models : dict parent → fitted model (or the
        error message where the fit failed)
    bod : DataFrame (units): ``bod_score``, ``equal_weight_score`` (mean of indicators / max),
        ``index_score``; ``bod_weights`` (units × indicators, pie shares) or None
    loo, loo_shifts : leave-one-out summary and units × removed rank shifts (None without
        ``score_fn``)
    settings : dict
    """

    framework: Framework
    table: pd.DataFrame
    groups: pd.DataFrame
    coherence: Coherence
    effective: EffectiveWeights
    pca_models: dict
    fa_models: dict
    balance_models: dict
    infomax_models: dict
    bod: pd.DataFrame | None = None
    bod_weights: pd.DataFrame | None = None
    loo: pd.DataFrame | None = None
    loo_shifts: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)

    # component views
    @property
    def correlations(self):
        return self.coherence.correlations

    @property
    def cronbach(self):
        return self.coherence.cronbach

    @property
    def cronbach_items(self):
        return self.coherence.cronbach_items

    @property
    def kmo(self):
        return self.coherence.kmo

    @property
    def kmo_items(self):
        return self.coherence.kmo_items

    @property
    def pca(self):
        return self.coherence.pca

    @property
    def pca_components(self):
        return self.coherence.pca_components

    @property
    def availability(self):
        return self.coherence.availability

    @property
    def availability_units(self):
        return self.coherence.availability_units

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator and aggregate.

        Columns: ``code``, ``level``, ``parent``; weights within the parent, each normalised to
        sum to 1 over the siblings: ``nominal``, ``pca``, ``fa``, ``balance``, ``infomax``;
        ``nominal_index`` (nominal effective weight in the index); importances:
        ``importance_nominal`` (r² share with the parent as built), ``importance_balance``,
        ``importance_infomax``, ``S_parent``, ``S_parent_lo``, ``S_parent_hi``,
        ``S_share`` (+ ``_lo``/``_hi``, BCa bootstrap), ``S_share_reference`` (the share under
        independence given weight and SD, (w·σ)²/Σ(w·σ)²), ``beyond_scale`` (the reference is
        outside the interval: the gap is more than scale), ``S_index``, ``S_index_share``; correlations
        ``r_parent``, ``rho_parent``, ``r_index``; ``alpha_if_deleted``, ``msa``;
        ``loo_mean_abs_shift``; ``flags`` (``;``-joined).
        """
        return self.table.copy()

    def to_dict(self) -> dict:
        return json_safe({"index": self.framework.root, "elements": self.table,
                          "groups": self.groups, "bod": self.bod, "loo": self.loo,
                          "settings": {k: v for k, v in self.settings.items()
                                       if k != "effective_weights"}})

    def summary(self) -> Summary:
        """The audit at a glance: per-parent coherence, flags, the largest gaps between
        importance and nominal weight, BoD and leave-one-out."""
        fw, st = self.framework, self.settings
        s = Summary(f"Weight audit of {fw.root}")
        s.add_text(f"{len(fw.indicators)} indicators, {len(fw.aggregates)} aggregates, "
                   f"{st.get('n_units')} units (seed {st.get('seed')}, {st.get('n_boot')} "
                   "bootstrap resamples).")
        g = self.groups
        s.add_table(g[[c for c in ("group", "k", "alpha", "spearman_brown", "kmo", "pc1_ratio",
                                   "n_kaiser", "n_factors_pca", "n_factors_fa", "divergence")
                       if c in g]],
                    "Per parent: Cronbach α (standardised, 3+ children), Spearman–Brown (2), KMO, PC1 share, eigenvalues > 1, factors (PCA/FA),"
                    " Σ|importance share − nominal|", max_rows=None)
        low = g[g["alpha"] < st.get("alpha_threshold", 0.7)]["group"].tolist()
        if low:
            s.add_text(f"α below {st.get('alpha_threshold', 0.7)}: {', '.join(low)}.")
        flagged = self.table[self.table["flags"] != ""]
        s.add_table(flagged[["code", "parent", "flags"]],
                    f"Flags ({len(flagged)} of {len(self.table)} elements)", max_rows=None)
        t = self.table
        worst = t.assign(gap=(t["S_share"] - t["nominal"]).abs()).nlargest(5, "gap")
        s.add_table(worst[["code", "nominal", "S_share_reference", "S_share", "S_share_lo",
                           "S_share_hi", "beyond_scale"]],
                    "Largest gaps between importance share (correlation ratio, "
                    f"{st.get('level', 0.9):.0%} BCa bootstrap interval) and nominal weight, "
                    "with the scale-matched reference (w·σ)²/Σ(w·σ)²; beyond_scale: the "
                    "reference is outside the interval")
        if self.bod is not None:
            b = self.bod["bod_score"]
            n_top = int((b > 1 - 1e-9).sum())
            s.add_text(f"Benefit of the doubt: {n_top} of {len(b)} units score 1; median "
                       f"{b.median():.3f}, min {b.min():.3f}.")
            if n_top > 0.1 * len(b):
                s.add_text("Over 10 % of units at the frontier: without bounds on the weight "
                           "shares BoD hardly discriminates (set bod_lower_share/"
                           "bod_upper_share).")
        if self.loo is not None:
            s.add_table(self.loo.nlargest(5, "mean_abs_shift")[
                ["removed", "level", "mean_abs_shift", "max_abs_shift"]],
                "Leave-one-out: mean |rank shift| when removed, largest")
        return s

    def _repr_lines(self):
        return [f"index {self.framework.root}: {len(self.table)} elements, "
                f"{int((self.table['flags'] != '').sum())} flagged",
                f"leave-one-out: {'yes' if self.loo is not None else 'no'}; BoD: "
                f"{'yes' if self.bod is not None else 'no'}"]


def weight_audit(result, *, loo: bool = True, seed: int | None = None, n_boot: int = 1000,
                 level: float = 0.90, bod: bool = True, observed: bool = True, progress=None,
                 **kwargs) -> WeightAudit:
    """Audit the weights of an index result (see the module docstring and
    :func:`audit_weights` for the keyword arguments).

    Parameters
    ----------
    result : IndexResult
    loo : rebuild the index without each indicator and aggregate in turn (leave-one-out; the
        only part that recomputes the index, under the reduced frameworks).
    seed : bootstrap seed (default: the result's method seed).
    observed : True (default): coherence, PCA/FA weights and effective weights on the observed
        cells only (:func:`cityindex.model.availability.observed_aggregated`; EM covariance for
        α, KMO, PCA and the PCA/FA weights, pairwise pairs for correlations and correlation
        ratios), with the imputed-data figures beside them (``pca_imputed``, ``fa_imputed``,
        ``S_share_imputed``, ``coherence.imputed``). Optimised and BoD weights need complete
        data and stay on the imputed table (stated in ``settings``).
    progress : ``progress(step, done, total)`` by sub-step (coherence, effective weights,
        PCA/FA and optimised weights, benefit of the doubt, leave-one-out rebuilds), or None.

    Returns
    -------
    WeightAudit
    """
    from cityindex.model.availability import observed_aggregated
    from cityindex.model.pipeline import compute_index

    score_fn = None
    if loo:
        def score_fn(f):  # scores of the ranked units (no rank without data)
            return compute_index(f, result.data, result.method.restricted_to(f)).scores
    seed = result.method.seed if seed is None else seed
    return audit_weights(result.framework, result.aggregated, score_fn,
                         data=result.raw.loc[result.aggregated.index], seed=seed,
                         n_boot=n_boot, level=level, bod=bod, progress=progress,
                         observed=observed_aggregated(result) if observed else None, **kwargs)


def _imputed_shares(eff: EffectiveWeights, A: pd.DataFrame) -> pd.DataFrame:
    """Importance shares within each parent on the imputed table ``A``, with the bandwidths
    the observed-data fit chose (one smoother per pair, no bandwidth search, no bootstrap):
    ``code``, ``weight``."""
    from .effective_weights import correlation_ratio

    t = eff.table[eff.table["target"] == "parent"]
    S = {}
    for r in t.itertuples():
        x, y = A[r.code].to_numpy(float), A[r.target_code].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        h = r.bandwidth if np.isfinite(r.bandwidth) else "gcv"
        S[r.code] = correlation_ratio(x[ok], y[ok], h, eff.settings.get("adjust", True))["S"]
    out = t[["code", "group"]].assign(S=t["code"].map(S))
    tot = out.groupby("group")["S"].transform("sum")
    out["weight"] = np.where(tot > 0, out["S"] / tot, np.nan)
    return out[["code", "weight"]]


# --------------------------------------------------------------------------------- assembly
def audit_weights(framework: Framework, aggregated: pd.DataFrame,
                  score_fn: ScoreFn | None = None, *, data: pd.DataFrame | None = None,
                  observed: pd.DataFrame | None = None,
                  seed: int = 0, n_boot: int = 1000, level: float = 0.90,
                  redundancy: float = 0.9, weak: float = 0.3, alpha_threshold: float = 0.7,
                  opt_lower: float = 0.01, bod: bool = True,
                  bod_lower_share: float | None = None, bod_upper_share: float | None = None,
                  progress=None) -> WeightAudit:
    """Audit the weights of an index (see the module docstring).

    Parameters
    ----------
    framework : Framework
    aggregated : DataFrame, units × codes
        Normalised indicators and every aggregate's score (``IndexResult.aggregated``); the index
        is the unit label.
    score_fn : callable (Framework) → DataFrame (units × codes), optional
        Recomputes the index under another framework; enables leave-one-out.
    data : DataFrame, optional
        Indicator data with missing values as NaN, for the availability tables (default: the
        indicator columns of ``aggregated``).
    observed : DataFrame, optional
        The observed-data table (units × codes, NaN where not observed; see
        :func:`cityindex.model.availability.observed_aggregated`): when given, coherence,
        PCA/FA and effective weights are computed on it (EM covariance, pairwise pairs) and
        the same on ``aggregated`` (the imputed data) are kept beside them.
    seed, n_boot, level : bootstrap of the correlation ratios (and optimiser restarts)
    redundancy, weak, alpha_threshold : flag thresholds (|r| > 0.9 between siblings; |r| < 0.3
        with the parent; α < 0.7)
    opt_lower : lower bound of optimised normalised weights
    bod, bod_lower_share, bod_upper_share : benefit-of-the-doubt over all indicators (needs
        complete, non-negative indicator values; skipped with a note in ``settings`` otherwise)
    progress : ``progress(step, done, total)`` by sub-step (:mod:`cityindex.model.progress`)

    Returns
    -------
    WeightAudit

    Raises
    ------
    DataError
        ``aggregated`` lacks a framework column or has fewer than 5 units.
    """
    codes = list(framework.indicators) + list(framework.aggregates)
    missing = [c for c in codes if c not in aggregated.columns]
    if missing:
        raise DataError(f"aggregated table lacks columns {missing[:8]}")
    if len(aggregated) < 5:
        raise DataError(f"weight audit needs at least 5 units; got {len(aggregated)}")
    root = framework.root
    A = aggregated[codes].apply(pd.to_numeric, errors="coerce").astype(float)

    if observed is not None:
        miss = [c for c in codes if c not in observed.columns]
        if miss:
            raise DataError(f"observed table lacks columns {miss[:8]}")
        O = observed[codes].reindex(A.index).apply(pd.to_numeric, errors="coerce").astype(float)
        how = "em"
    else:
        O, how = A, "listwise"
    report(progress, "coherence (correlations, α, KMO, PCA)", 0, 1)
    coh = coherence_tables(framework, O, data, redundancy=redundancy, weak=weak,
                           alpha_threshold=alpha_threshold, missing=how)
    if observed is not None:
        coh.imputed = coherence_tables(framework, A, data, redundancy=redundancy, weak=weak,
                                       alpha_threshold=alpha_threshold)
        coh.settings["observed_only"] = True
    report(progress, "coherence (correlations, α, KMO, PCA)", 1, 1)
    eff = effective_weights(framework, O, n_boot=n_boot, seed=seed, level=level,
                            progress=progress)
    tick = counted(progress, "PCA, factor and optimised weights", 4)
    pca_w, pca_m = framework_weights(framework, O, lambda: PCAWeights(missing=how))
    tick()
    fa_w, fa_m = framework_weights(framework, O, lambda: FactorWeights(missing=how))
    tick()
    imputed_w = {}
    if observed is not None:
        imputed_w["pca_imputed"] = framework_weights(framework, A, PCAWeights)[0]
        imputed_w["fa_imputed"] = framework_weights(framework, A, FactorWeights)[0]
        imputed_w["S_share_imputed"] = _imputed_shares(eff, A)
    bal_w, bal_m = framework_weights(framework, A, lambda: OptimisedWeights(
        "balance", lower=opt_lower, seed=seed))
    tick()
    inf_w, inf_m = framework_weights(framework, A, lambda: OptimisedWeights(
        "infomax", lower=opt_lower, seed=seed))
    tick()

    nodes = [c for c in codes if c != root]
    nw = framework.normalised_weights()
    effw = framework.effective_weights()
    t = pd.DataFrame(dict(code=nodes, level=[framework.level(c) for c in nodes],
                          parent=[framework.parent(c) for c in nodes]))
    t["nominal"] = [nw[c] for c in nodes]
    t["nominal_index"] = [effw[framework.indicators_under(c)].sum() for c in nodes]
    for name, w in (("pca", pca_w), ("fa", fa_w), ("balance", bal_w), ("infomax", inf_w)):
        t[name] = t["code"].map(w.set_index("code")["weight"])
    for name, w in imputed_w.items():
        t[name] = t["code"].map(w.set_index("code")["weight"])

    def importances(models):
        out = {}
        for m in models.values():
            if not isinstance(m, str):
                out.update(m.importances_.to_dict())
        return t["code"].map(out)

    corr = coh.correlations
    par = corr[corr["relation"] == "parent"].set_index("code")
    idx = corr[corr["relation"] == "index"].set_index("code")
    t["r_parent"] = t["code"].map(par["pearson"])
    t["rho_parent"] = t["code"].map(par["spearman"])
    t["r_index"] = t["code"].map(idx["pearson"]).where(t["parent"] != root, t["r_parent"])
    r2 = t["r_parent"] ** 2
    t["importance_nominal"] = r2 / r2.groupby(t["parent"]).transform("sum")
    t["importance_balance"] = importances(bal_m)
    t["importance_infomax"] = importances(inf_m)

    et = eff.table
    ep = et[et["target"] == "parent"].set_index("code")
    ei = et[et["target"] == "index"].set_index("code")
    for col, src in (("S_parent", "S"), ("S_parent_lo", "S_lo"), ("S_parent_hi", "S_hi"),
                     ("S_share", "share"), ("S_share_lo", "share_lo"), ("S_share_hi", "share_hi"),
                     ("S_share_reference", "reference"), ("beyond_scale", "beyond_scale")):
        t[col] = t["code"].map(ep[src])
    t["S_index"] = t["code"].map(ei["S"]).where(t["parent"] != root, t["S_parent"])
    t["S_index_share"] = t["code"].map(ei["share"])
    items = coh.cronbach_items.set_index("code")
    t["alpha_if_deleted"] = t["code"].map(items["alpha_if_deleted"])
    t["msa"] = t["code"].map(coh.kmo_items.set_index("code")["msa"])

    # flags per element
    flags = {c: [] for c in nodes}
    for r in corr[corr["flags"] != ""].itertuples():
        for f in r.flags.split(";"):
            if r.relation == "sibling":
                flags[r.code].append(f"{f}:{r.other}")
                flags[r.other].append(f"{f}:{r.code}")
            elif r.relation == "index":
                flags[r.code].append(f"{f}_index")
            else:
                flags[r.code].append(f)
    for r in items[items["raises_alpha"]].reset_index().itertuples():
        flags[r.code].append("raises_alpha_if_deleted")
    if n_boot:
        for r in t.itertuples():
            if np.isfinite(r.S_share_hi) and r.S_share_hi < r.nominal:
                flags[r.code].append("importance_below_nominal")
            elif np.isfinite(r.S_share_lo) and r.S_share_lo > r.nominal:
                flags[r.code].append("importance_above_nominal")
            if pd.notna(r.beyond_scale) and bool(r.beyond_scale):
                flags[r.code].append("importance_beyond_scale")
    t["flags"] = t["code"].map(lambda c: ";".join(flags[c]))

    settings = dict(seed=seed, n_boot=n_boot, level=level, redundancy=redundancy, weak=weak,
                    alpha_threshold=alpha_threshold, opt_lower=opt_lower, n_units=len(A),
                    missing=coh.settings["missing"], effective_weights=eff.settings,
                    observed_only=observed is not None)
    if observed is not None:
        settings["on_imputed_data"] = ("optimised (balance, infomax) and benefit-of-the-doubt "
                                       "weights: they need complete data")

    # benefit of the doubt over all indicators
    bod_df = bod_w = None
    if bod:
        X = A[framework.indicators]
        try:
            m = BoDWeights(bod_lower_share, bod_upper_share).fit(X, progress=progress)
            tot = X.sum(axis=1)
            bod_df = pd.DataFrame(dict(bod_score=m.scores_,
                                       equal_weight_score=tot / tot.max(),
                                       index_score=A[root]))
            bod_w = m.shares_
        except DataError as exc:
            settings["bod_skipped"] = str(exc)
        report(progress, f"benefit of the doubt ({len(X)} linear programmes)", len(X), len(X))

    loo = shifts = None
    if score_fn is not None:
        loo, shifts = leave_one_out(framework, score_fn, progress=progress)
        t["loo_mean_abs_shift"] = t["code"].map(loo.set_index("removed")["mean_abs_shift"])
    else:
        t["loo_mean_abs_shift"] = np.nan

    # per-parent table
    g = coh.per_group()
    g["n_factors_pca"] = g["group"].map(
        {p: (m.n_factors_ if not isinstance(m, str) else np.nan) for p, m in pca_m.items()})
    g["n_factors_fa"] = g["group"].map(
        {p: (m.n_factors_ if not isinstance(m, str) else np.nan) for p, m in fa_m.items()})
    dv = eff.divergence[eff.divergence["target"] == "parent"].set_index("group")
    g["divergence"] = g["group"].map(dv["sum_abs_diff"])
    g["kl"] = g["group"].map(dv["kl"])
    g["balance_objective"] = g["group"].map(
        {p: (m.objective_ if not isinstance(m, str) else np.nan) for p, m in bal_m.items()})

    return WeightAudit(framework, t, g, coh, eff, pca_m, fa_m, bal_m, inf_m, bod_df, bod_w,
                       loo, shifts, settings)
