"""Statistical coherence of a composite index: correlations, Cronbach's α, KMO/Bartlett, PCA.

The checks of the OECD/JRC *Handbook on Constructing Composite Indicators* (2008), Step 4
("multivariate analysis") and of JRC statistical audits, on the scores of an index at every
level of its framework:

* correlations (Pearson and Spearman, with two-sided p-values) of each node with its parent and
  with the index, and of children with each other inside a parent, with COINr-style flags
  (``get_corr_flags``: |r| > 0.9 between siblings = redundancy; a negative correlation inside a
  parent; a weak correlation, |r| < 0.3, of a node with its own parent);
* Cronbach's α per parent on standardised items (Cronbach 1951; ≥ 0.7 by Nunnally's rule) with
  α-if-item-deleted and the corrected item–rest correlation; for a parent of two children the
  inter-item correlation and its Spearman–Brown reliability instead (α is not a useful figure
  for two items);
* every correlation's p-value adjusted for multiplicity (Holm by default, or
  Benjamini–Hochberg) before a pair is called significant;
* the Kaiser–Meyer–Olkin measure of sampling adequacy (Kaiser 1974) with per-item MSA, and
  Bartlett's (1951) test of sphericity, per parent;
* PCA of the children of each parent (on their correlation matrix): eigenvalues, explained
  variance ratios and the number of components with eigenvalue > 1 (Kaiser rule);
* data availability per indicator and per unit.

Inputs are a :class:`model.framework.Framework` and an ``aggregated`` table (units × codes: the
normalised indicators and every aggregate's score, e.g. ``IndexResult.aggregated``).

Missing values: correlations use **pairwise** deletion (each pair on the units where both are
present; ``n`` is reported). Cronbach's α, KMO/Bartlett and PCA — functions of one covariance
matrix — use ``missing="listwise"`` (units with any missing child dropped) or ``missing="em"``:
the EM maximum-likelihood covariance of the children from every observed cell (Little & Rubin
2019, ch. 11; :mod:`cityindex.model.em_covariance` says why EM rather than pairwise deletion),
with ``n`` the units with an observed child and ``n_complete`` the complete ones (Bartlett's
χ² uses ``n_complete``, the conservative choice).

:func:`coherence` of an index result is **observed-only**: it runs on the observed-data table
(:func:`cityindex.model.availability.observed_aggregated`: imputed cells set back to NaN, every
aggregate recomputed from the observed cells) with EM, and keeps the same statistics on the
imputed data (``Coherence.imputed``) beside them; :meth:`Coherence.comparison` lists both, with
sign flips and differences above 0.1 flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from cityindex.model.errors import DataError
from cityindex.model.framework import Framework
from cityindex.model.summary import Result, Summary, json_safe

__all__ = [
    "Coherence", "coherence", "coherence_tables", "correlations", "cronbach_alpha",
    "cronbach_alpha_cov", "cronbach_alpha_std", "mean_inter_item_r", "spearman_brown",
    "adjust_pvalues", "cronbach_table", "kmo_bartlett", "kmo_bartlett_corr",
    "kmo_table", "pca_table", "data_availability", "groups",
]


# ---------------------------------------------------------------------------------- helpers
def groups(framework: Framework) -> dict[str, list[str]]:
    """Every computable aggregate (root included) → its active children, bottom level first."""
    return {p: framework.children(p) for p in framework.aggregates}


def _columns(aggregated: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    missing = [c for c in codes if c not in aggregated.columns]
    if missing:
        raise DataError(f"aggregated table lacks columns {missing[:8]}"
                        f"{' …' if len(missing) > 8 else ''}")
    return aggregated[codes].apply(pd.to_numeric, errors="coerce").astype(float)


def _rankdata(v: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), computed with argsort — no scipy."""
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    ranks = np.empty(len(v))
    start = 0
    n = len(v)
    while start < n:
        stop = start + 1
        while stop < n and sv[stop] == sv[start]:
            stop += 1
        ranks[order[start:stop]] = (start + stop + 1) / 2.0
        start = stop
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """Pearson r with its two-sided t-test p-value, pairwise-complete. NaN if n < 3 or constant."""
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3:
        return np.nan, np.nan, n
    da, db = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((da @ da) * (db @ db))
    if den == 0:
        return np.nan, np.nan, n
    r = float(np.clip((da @ db) / den, -1.0, 1.0))
    if abs(r) >= 1.0:
        return r, 0.0, n
    t = r * np.sqrt((n - 2) / (1 - r * r))
    return r, float(2 * stats.t.sf(abs(t), n - 2)), n


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    return _pearson(_rankdata(a[ok]), _rankdata(b[ok]))


def _check_missing(missing: str) -> None:
    if missing not in ("listwise", "em"):
        raise DataError(f"missing={missing!r}; use 'listwise' or 'em'")


# ------------------------------------------------------------------------------ correlations
def adjust_pvalues(p, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values of a family of tests (NaN p-values are left out of the
    family and stay NaN).

    ``holm``: Holm (1979, *Scand. J. Statist.* 6:65) step-down, controls the family-wise error
    rate: p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)). ``bh``: Benjamini & Hochberg (1995,
    *JRSS-B* 57:289) step-up, controls the false discovery rate: p̃_(i) = min_{j ≥ i}
    min(1, m p_(j) / j). ``none``: the p-values as given.

    Raises
    ------
    ValueError for an unknown method.
    """
    p = np.asarray(p, dtype=float)
    if method not in ("holm", "bh", "none"):
        raise ValueError(f"p-value adjustment must be 'holm', 'bh' or 'none', got {method!r}")
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    order = np.argsort(q, kind="stable")
    qs = q[order]
    i = np.arange(1, m + 1)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - i + 1) * qs))
    else:
        adj = np.minimum.accumulate(np.minimum(1.0, m * qs / i)[::-1])[::-1]
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def correlations(framework: Framework, aggregated: pd.DataFrame, *, redundancy: float = 0.9,
                 weak: float = 0.3, negative: float = 0.0, alpha: float = 0.05,
                 p_adjust: str = "holm") -> pd.DataFrame:
    """Correlations within and across levels, with flags.

    Parameters
    ----------
    framework : Framework
    aggregated : DataFrame, units × codes
        Scores of indicators (normalised) and aggregates; other columns are ignored.
    redundancy : float
        Siblings with ``|r| > redundancy`` (Pearson) are flagged ``redundant`` (COINr
        ``get_corr_flags`` default 0.9).
    weak : float
        A node whose Pearson ``|r|`` with its own parent is below ``weak`` is flagged
        ``weak_parent``.
    negative : float
        Siblings, or a node and its parent/index, with Pearson ``r < negative`` **and**
        adjusted p < ``alpha`` (significantly negative) are flagged ``negative``.
    alpha : float
        Significance level of the ``significant`` column (adjusted Pearson p-value).
    p_adjust : {"holm", "bh", "none"}
        Multiplicity control over all the pairs of the table (:func:`adjust_pvalues`): Holm's
        family-wise error rate (default), Benjamini–Hochberg's false discovery rate, or none.

    Returns
    -------
    DataFrame, one row per pair
        ``code``, ``other``, ``relation`` (``parent`` = ``other`` is the node's parent,
        ``index`` = ``other`` is the root, ``sibling`` = both are children of ``group``),
        ``group`` (the parent the pair belongs to), ``level`` (of ``code``), ``n`` (pairwise
        complete units), ``pearson``, ``p_pearson``, ``p_adjusted`` (of ``p_pearson``, by
        ``p_adjust`` over the whole table), ``spearman``, ``p_spearman``, ``significant``
        (``p_adjusted < alpha``), ``flags`` (``;``-joined, empty when none).

    Raises
    ------
    DataError
        If ``aggregated`` lacks a column of the framework.
    """
    adjust_pvalues([], p_adjust)  # reject an unknown method before any work
    codes = [c for c in framework.nodes if c in set(framework.indicators) | set(framework.aggregates)]
    X = _columns(aggregated, codes)
    root = framework.root
    rows = []

    def add(code, other, relation, group):
        a, b = X[code].to_numpy(), X[other].to_numpy()
        r, p, n = _pearson(a, b)
        rs, ps, _ = _spearman(a, b)
        flags = []
        if np.isfinite(r):
            if relation == "sibling" and abs(r) > redundancy:
                flags.append("redundant")
            if relation == "parent" and abs(r) < weak:
                flags.append("weak_parent")
        rows.append(dict(code=code, other=other, relation=relation, group=group,
                         level=framework.level(code), n=n, pearson=r, p_pearson=p,
                         spearman=rs, p_spearman=ps, flags=flags))

    for code in codes:
        if code == root:
            continue
        parent = framework.parent(code)
        add(code, parent, "parent", parent)
        if parent != root:
            add(code, root, "index", root)
    for parent, kids in groups(framework).items():
        for a, b in combinations(kids, 2):
            add(a, b, "sibling", parent)
    cols = ["code", "other", "relation", "group", "level", "n", "pearson", "p_pearson",
            "p_adjusted", "spearman", "p_spearman", "significant", "flags"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    adj = adjust_pvalues(out["p_pearson"].to_numpy(float), p_adjust)
    out["p_adjusted"] = adj
    sig = np.isfinite(adj) & (adj < alpha)
    out["significant"] = sig
    neg = sig & (out["pearson"].to_numpy(float) < negative)
    out["flags"] = [";".join((["negative"] if ng else []) + f)
                    for ng, f in zip(neg, out["flags"])]
    return out[cols]


# ------------------------------------------------------------------------------- Cronbach α
def cronbach_alpha(items: pd.DataFrame | np.ndarray) -> float:
    """Cronbach's α of the columns of ``items`` (units × items), listwise deletion.

    α = k/(k−1) · (1 − Σ var(item) / var(Σ items)), sample variances (ddof 1).
    Source: Cronbach (1951), Psychometrika 16:297; Handbook (2008) p. 72.
    NaN when fewer than 2 items or 2 complete units, or the total has zero variance.
    """
    X = np.asarray(items, dtype=float)
    X = X[np.isfinite(X).all(axis=1)]
    n, k = X.shape
    if k < 2 or n < 2:
        return np.nan
    total = X.sum(axis=1).var(ddof=1)
    if total == 0:
        return np.nan
    return float(k / (k - 1) * (1 - X.var(axis=0, ddof=1).sum() / total))


def cronbach_alpha_std(R: np.ndarray) -> float:
    """Standardised Cronbach's α of items with correlation (or covariance) matrix ``R``
    (k × k): α_std = k r̄ / (1 + (k − 1) r̄), r̄ the mean inter-item correlation — α of the
    items scaled to unit variance, so that an item's own spread does not weigh in
    (Cronbach 1951; Falk & Savalei 2011, *J. Pers. Assess.* 93:445). NaN for k < 2."""
    r_bar = mean_inter_item_r(R)
    k = np.asarray(R).shape[0]
    if k < 2 or not np.isfinite(r_bar):
        return np.nan
    return float(k * r_bar / (1 + (k - 1) * r_bar))


def mean_inter_item_r(R: np.ndarray) -> float:
    """Mean off-diagonal correlation of a correlation or covariance matrix (k × k); NaN for
    k < 2 or an item of zero variance."""
    R = np.asarray(R, float)
    k = R.shape[0]
    d = np.sqrt(np.diag(R))
    if k < 2 or not np.all(np.isfinite(R)) or (d <= 0).any():
        return np.nan
    C = R / np.outer(d, d)
    return float(C[~np.eye(k, dtype=bool)].mean())


def spearman_brown(r: float, k: float = 2) -> float:
    """Reliability of a sum of ``k`` parallel items whose correlation is ``r``:
    k r / (1 + (k − 1) r) (Spearman 1910; Brown 1910). For two items this is the reliability
    figure to give instead of Cronbach's α (Eisinga, te Grotenhuis & Pelzer 2013, *Int. J.
    Public Health* 58:637)."""
    r = float(r)
    return k * r / (1 + (k - 1) * r) if np.isfinite(r) and (1 + (k - 1) * r) != 0 else np.nan


def _reliability_row(S, k: int, threshold: float) -> dict:
    """α (standardised, k ≥ 3) or the inter-item correlation and Spearman–Brown (k = 2)."""
    r_bar = mean_inter_item_r(S) if S is not None and k >= 2 else np.nan
    if k >= 3:
        a = cronbach_alpha_std(S) if S is not None else np.nan
        sb, stat = np.nan, "standardised alpha"
    else:
        a = np.nan
        sb = spearman_brown(r_bar) if k == 2 else np.nan
        stat = "Spearman-Brown (2 items)" if k == 2 else "none (1 item)"
    rel = a if k >= 3 else sb
    return dict(alpha=a, mean_r=r_bar, spearman_brown=sb, statistic=stat,
                low=bool(np.isfinite(rel) and rel < threshold))


def cronbach_alpha_cov(S: np.ndarray) -> float:
    """Cronbach's α of items with covariance matrix ``S`` (k × k):
    α = k/(k−1) · (1 − tr S / 1ᵀS1) — the same formula as :func:`cronbach_alpha`, written in
    the covariance (Cronbach 1951). NaN for k < 2 or a total of zero variance."""
    S = np.asarray(S, float)
    k = S.shape[0]
    tot = S.sum()
    if k < 2 or not np.isfinite(tot) or tot <= 0:
        return np.nan
    return float(k / (k - 1) * (1 - np.trace(S) / tot))


def _em_group(aggregated: pd.DataFrame, kids: list[str]):
    """(EM covariance, info) of a parent's children, or (None, info) when undefined."""
    from cityindex.model.em_covariance import em_covariance

    X = _columns(aggregated, kids).to_numpy()
    try:
        _, S, info = em_covariance(X, ddof=1)
    except DataError:
        obs = np.isfinite(X)
        return None, {"n_used": int(obs.any(1).sum()), "n_complete": int(obs.all(1).sum())}
    return S, info


def _cronbach_em(framework, aggregated, threshold):
    top, items = [], []
    for parent, kids in groups(framework).items():
        S, info = _em_group(aggregated, kids)
        row = _reliability_row(S, len(kids), threshold)
        a = row["alpha"]
        top.append(dict(group=parent, level=framework.level(parent), k=len(kids),
                        n=info["n_used"], n_complete=info["n_complete"], **row))
        if len(kids) < 2:
            continue
        for j, kid in enumerate(kids):
            rest = [i for i in range(len(kids)) if i != j]
            if S is None:
                aid, r = np.nan, np.nan
            else:
                Sr = S[np.ix_(rest, rest)]
                aid = cronbach_alpha_std(Sr) if len(kids) > 3 else np.nan
                den = np.sqrt(S[j, j] * Sr.sum())
                r = float(S[j, rest].sum() / den) if den > 0 else np.nan
            items.append(dict(group=parent, code=kid, alpha_if_deleted=aid, item_rest_r=r,
                              raises_alpha=bool(np.isfinite(aid) and np.isfinite(a)
                                                and aid > a)))
    return pd.DataFrame(top), pd.DataFrame(items)


def cronbach_table(framework: Framework, aggregated: pd.DataFrame, *, threshold: float = 0.7,
                   missing: str = "listwise") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability per parent: standardised Cronbach's α for 3 or more children, the
    inter-item correlation and its Spearman–Brown reliability for 2 (α is not given for 2
    items); per child, α-if-item-deleted (when 3 or more children remain).

    Returns
    -------
    (per_parent, per_item) : DataFrames
        ``per_parent``: ``group``, ``level``, ``k`` (children), ``n`` (complete units;
        with ``missing="em"``: units with an observed child, and ``n_complete``),
        ``alpha`` (standardised α, :func:`cronbach_alpha_std`; NaN for k < 3), ``mean_r``
        (mean inter-item correlation), ``spearman_brown`` (k = 2 only,
        :func:`spearman_brown`), ``statistic`` (which of the two is the group's reliability),
        ``low`` (that reliability < ``threshold``). ``per_item``: ``group``, ``code``,
        ``alpha_if_deleted`` (standardised), ``item_rest_r`` (Pearson r of the item with the
        sum of the other items), ``raises_alpha`` (deleting it raises α). Listwise deletion
        within each parent, or the EM covariance (``missing="em"``).
    """
    _check_missing(missing)
    if missing == "em":
        return _cronbach_em(framework, aggregated, threshold)
    top, items = [], []
    for parent, kids in groups(framework).items():
        X = _columns(aggregated, kids).dropna()
        vals = X.to_numpy()
        S = np.atleast_2d(np.cov(vals, rowvar=False)) if len(X) >= 2 else None
        row = _reliability_row(S, len(kids), threshold)
        a = row["alpha"]
        top.append(dict(group=parent, level=framework.level(parent), k=len(kids), n=len(X),
                        **row))
        if len(kids) < 2:
            continue
        for j, kid in enumerate(kids):
            rest = np.delete(vals, j, axis=1)
            aid = (cronbach_alpha_std(np.atleast_2d(np.cov(rest, rowvar=False)))
                   if len(kids) > 3 and len(X) >= 2 else np.nan)
            r = _pearson(vals[:, j], rest.sum(axis=1))[0]
            items.append(dict(group=parent, code=kid, alpha_if_deleted=aid, item_rest_r=r,
                              raises_alpha=bool(np.isfinite(aid) and np.isfinite(a) and aid > a)))
    return pd.DataFrame(top), pd.DataFrame(items)


# ------------------------------------------------------------------------------- KMO / Bartlett
def kmo_bartlett(X: pd.DataFrame | np.ndarray) -> dict:
    """KMO (overall and per item) and Bartlett's sphericity test for the columns of ``X``.

    Listwise deletion. With R the correlation matrix and Q = R⁻¹ (pseudo-inverse if singular),
    partial correlations are −Q_ij/√(Q_ii Q_jj); KMO = Σ_{i≠j} r² / (Σ_{i≠j} r² + Σ_{i≠j} p²)
    (Kaiser 1974, Psychometrika 39:31). Bartlett (1951): χ² = −(n − 1 − (2k+5)/6)·ln|R| with
    k(k−1)/2 degrees of freedom.

    Returns
    -------
    dict with ``kmo`` (float), ``msa`` (array, per column), ``chi2``, ``df``, ``p``, ``n``, ``k``
    (all NaN for fewer than 2 columns or k+1 complete units).
    """
    A = np.asarray(X, dtype=float)
    A = A[np.isfinite(A).all(axis=1)]
    n, k = A.shape
    if k < 2 or n <= k or (A.std(axis=0) == 0).any():
        return dict(kmo=np.nan, msa=np.full(k, np.nan), chi2=np.nan, df=k * (k - 1) // 2,
                    p=np.nan, n=n, k=k)
    return kmo_bartlett_corr(np.corrcoef(A, rowvar=False), n)


def kmo_bartlett_corr(R: np.ndarray, n: int) -> dict:
    """KMO and Bartlett's test from a correlation matrix ``R`` (k × k) and ``n`` units (the
    formulas of :func:`kmo_bartlett`); NaN for k < 2 or n ≤ k."""
    R = np.asarray(R, float)
    k = R.shape[0]
    out = dict(kmo=np.nan, msa=np.full(k, np.nan), chi2=np.nan, df=k * (k - 1) // 2, p=np.nan,
               n=n, k=k)
    if k < 2 or not np.isfinite(R).all():
        return out
    Q = np.linalg.pinv(R)
    d = np.sqrt(np.abs(np.diag(Q)))
    P = -Q / np.outer(d, d)
    off = ~np.eye(k, dtype=bool)
    r2 = np.where(off, R ** 2, 0.0)
    p2 = np.where(off, P ** 2, 0.0)
    out["kmo"] = float(r2.sum() / (r2.sum() + p2.sum()))
    out["msa"] = r2.sum(axis=0) / (r2.sum(axis=0) + p2.sum(axis=0))
    sign, logdet = np.linalg.slogdet(R)
    if n <= k:
        pass
    elif sign > 0:
        chi2 = -(n - 1 - (2 * k + 5) / 6) * logdet
        out["chi2"] = float(chi2)
        out["p"] = float(stats.chi2.sf(chi2, out["df"]))
    else:  # singular R: perfectly collinear children, sphericity rejected outright
        out["chi2"], out["p"] = np.inf, 0.0
    return out


def kmo_table(framework: Framework, aggregated: pd.DataFrame, *, threshold: float = 0.6,
              missing: str = "listwise") -> tuple[pd.DataFrame, pd.DataFrame]:
    """KMO and Bartlett per parent; per-item MSA.

    Returns ``(per_parent, per_item)``: ``group``, ``k``, ``n``, ``kmo``, ``low_kmo`` (KMO <
    ``threshold``; Kaiser calls < 0.6 "mediocre"), ``bartlett_chi2``, ``bartlett_df``,
    ``bartlett_p``; and ``group``, ``code``, ``msa``. Parents with fewer than three children get
    NaN: the KMO of two variables is 0.5 whatever their correlation. With ``missing="em"``
    the correlation matrix is the EM estimate and ``n`` the complete units (for Bartlett).
    """
    _check_missing(missing)
    top, items = [], []
    for parent, kids in groups(framework).items():
        if len(kids) < 3:  # KMO of two variables is 0.5 by construction: not informative
            top.append(dict(group=parent, k=len(kids), n=len(aggregated), kmo=np.nan,
                            low_kmo=False, bartlett_chi2=np.nan, bartlett_df=np.nan,
                            bartlett_p=np.nan))
            items.extend(dict(group=parent, code=c, msa=np.nan) for c in kids)
            continue
        if missing == "em":
            from cityindex.model.em_covariance import cov_to_corr

            S, info = _em_group(aggregated, kids)
            res = (kmo_bartlett_corr(cov_to_corr(S), info["n_complete"]) if S is not None
                   else kmo_bartlett_corr(np.full((len(kids),) * 2, np.nan), 0))
        else:
            res = kmo_bartlett(_columns(aggregated, kids))
        top.append(dict(group=parent, k=res["k"], n=res["n"], kmo=res["kmo"],
                        low_kmo=bool(np.isfinite(res["kmo"]) and res["kmo"] < threshold),
                        bartlett_chi2=res["chi2"], bartlett_df=res["df"], bartlett_p=res["p"]))
        items.extend(dict(group=parent, code=c, msa=m) for c, m in zip(kids, res["msa"]))
    return pd.DataFrame(top), pd.DataFrame(items)


# ------------------------------------------------------------------------------------- PCA
def pca_eigenvalues(X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Eigenvalues of the correlation matrix of ``X`` (listwise), descending, via an SVD of the
    standardised data. Returns ``(eigenvalues, first_component_loadings, n)``."""
    A = np.asarray(X, dtype=float)
    A = A[np.isfinite(A).all(axis=1)]
    n, k = A.shape
    if n < 2 or k < 1:
        return np.full(k, np.nan), np.full(k, np.nan), n
    sd = A.std(axis=0, ddof=1)
    keep = sd > 0
    Z = np.zeros_like(A)
    Z[:, keep] = (A[:, keep] - A[:, keep].mean(axis=0)) / sd[keep]
    _, s, vt = np.linalg.svd(Z / np.sqrt(n - 1), full_matrices=False)
    ev = np.zeros(k)
    ev[: len(s)] = s ** 2
    v1 = vt[0] * np.sign(vt[0].sum() or 1.0)
    return ev, v1 * np.sqrt(ev[0]), n


def pca_table(framework: Framework, aggregated: pd.DataFrame, *, kaiser: float = 1.0,
              missing: str = "listwise") -> tuple[pd.DataFrame, pd.DataFrame]:
    """PCA of the children of each parent (correlation matrix, listwise deletion).

    Returns
    -------
    (per_parent, per_component) : DataFrames
        ``per_parent``: ``group``, ``k``, ``n``, ``pc1_ratio`` (share of variance of the first
        component), ``n_kaiser`` (components with eigenvalue > ``kaiser``),
        ``cum_ratio_kaiser``. ``per_component``: ``group``, ``component`` (1-based),
        ``eigenvalue``, ``ratio``, ``cumulative``.
    A constant child contributes a zero eigenvalue. With ``missing="em"``: eigenvalues of the
    EM correlation matrix, ``n`` the units with an observed child.
    """
    _check_missing(missing)
    top, comps = [], []
    for parent, kids in groups(framework).items():
        if missing == "em":
            from cityindex.model.em_covariance import cov_to_corr

            S, info = _em_group(aggregated, kids)
            n = info["n_used"]
            ev = (np.sort(np.clip(np.linalg.eigvalsh(cov_to_corr(S)), 0, None))[::-1]
                  if S is not None else np.full(len(kids), np.nan))
        else:
            ev, _, n = pca_eigenvalues(_columns(aggregated, kids))
        tot = ev.sum()
        ratio = ev / tot if tot > 0 else np.full_like(ev, np.nan)
        cum = np.cumsum(ratio)
        nk = int((ev > kaiser).sum())
        top.append(dict(group=parent, k=len(kids), n=n, pc1_ratio=ratio[0], n_kaiser=nk,
                        cum_ratio_kaiser=cum[nk - 1] if nk else 0.0))
        comps.extend(dict(group=parent, component=i + 1, eigenvalue=e, ratio=r, cumulative=c)
                     for i, (e, r, c) in enumerate(zip(ev, ratio, cum)))
    return pd.DataFrame(top), pd.DataFrame(comps)


# ---------------------------------------------------------------------------- availability
def data_availability(framework: Framework, data: pd.DataFrame, *, unit_threshold: float = 0.65,
                      indicator_threshold: float = 0.65) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Share of non-missing values per indicator and per unit.

    Parameters
    ----------
    data : DataFrame, units × (at least) the framework's indicators
        Raw or imputed indicator values; missing = NaN.
    unit_threshold, indicator_threshold : float
        Availability below this is flagged (COINr ``get_stats`` default 0.65).

    Returns
    -------
    (per_indicator, per_unit) : DataFrames
        ``code``, ``parent``, ``n_available``, ``availability``, ``low``; and ``unit``,
        ``n_available``, ``availability``, ``low`` plus one ``avail_<code>`` column per aggregate
        (share of that aggregate's indicators present for the unit).
    """
    inds = framework.indicators
    X = _columns(data, inds)
    present = X.notna()
    per_ind = pd.DataFrame(dict(code=inds, parent=[framework.parent(c) for c in inds],
                                n_available=present.sum(axis=0).to_numpy(),
                                availability=present.mean(axis=0).to_numpy()))
    per_ind["low"] = per_ind["availability"] < indicator_threshold
    per_unit = pd.DataFrame(dict(unit=X.index, n_available=present.sum(axis=1).to_numpy(),
                                 availability=present.mean(axis=1).to_numpy()))
    per_unit["low"] = per_unit["availability"] < unit_threshold
    for agg in framework.aggregates:
        per_unit[f"avail_{agg}"] = present[framework.indicators_under(agg)].mean(axis=1).to_numpy()
    return per_ind, per_unit


# ---------------------------------------------------------------------------------- bundle
@dataclass(repr=False)
class Coherence(Result):
    """All coherence tables of one index (see :func:`coherence`)."""

    correlations: pd.DataFrame
    cronbach: pd.DataFrame
    cronbach_items: pd.DataFrame
    kmo: pd.DataFrame
    kmo_items: pd.DataFrame
    pca: pd.DataFrame
    pca_components: pd.DataFrame
    availability: pd.DataFrame
    availability_units: pd.DataFrame
    settings: dict = field(default_factory=dict)
    #: the same statistics on the imputed data (``None`` when computed on one table only)
    imputed: "Coherence | None" = None

    @property
    def observed_only(self) -> bool:
        """Whether these statistics were computed on the observed cells only."""
        return bool(self.settings.get("observed_only", False))

    def comparison(self, threshold: float = 0.1) -> pd.DataFrame:
        """Observed-only statistics beside the imputed-data ones (empty without ``imputed``).

        One row per statistic: ``statistic`` (pearson, alpha, spearman_brown, kmo,
        pc1_ratio), ``group``,
        ``code``, ``other`` (the pair of a correlation), ``observed``, ``imputed``,
        ``difference`` (observed − imputed), ``n_observed``, ``flag``: "sign flip" when the
        two have opposite signs (both beyond ±0.01), "difference > 0.1" when
        |difference| > ``threshold``.
        """
        cols = ["statistic", "group", "code", "other", "observed", "imputed", "difference",
                "n_observed", "flag"]
        if self.imputed is None:
            return pd.DataFrame(columns=cols)
        key = ["code", "other", "relation"]
        c = self.correlations.merge(self.imputed.correlations[key + ["pearson"]], on=key,
                                    suffixes=("", "_imp"))
        rows = [dict(statistic="pearson", group=r.group, code=r.code, other=r.other,
                     observed=r.pearson, imputed=r.pearson_imp, n_observed=r.n)
                for r in c.itertuples()]
        for name, table, col in (("alpha", "cronbach", "alpha"),
                                 ("spearman_brown", "cronbach", "spearman_brown"),
                                 ("kmo", "kmo", "kmo"), ("pc1_ratio", "pca", "pc1_ratio")):
            o = getattr(self, table).set_index("group")
            i = getattr(self.imputed, table).set_index("group")
            if col not in o or col not in i:
                continue
            for g in o.index:
                if name in ("alpha", "spearman_brown") and np.isnan(o.at[g, col]) and np.isnan(
                        i[col].get(g, np.nan)):
                    continue  # α is not given for 2 items, Spearman–Brown only for 2
                rows.append(dict(statistic=name, group=g, code=g, other="",
                                 observed=o.at[g, col], imputed=i[col].get(g, np.nan),
                                 n_observed=o.at[g, "n"]))
        t = pd.DataFrame(rows)
        t["difference"] = t["observed"] - t["imputed"]
        flip = (np.sign(t["observed"]) * np.sign(t["imputed"]) < 0) & \
            (t["observed"].abs() > 0.01) & (t["imputed"].abs() > 0.01)
        big = t["difference"].abs() > threshold
        t["flag"] = np.where(flip, "sign flip", "")
        t["flag"] = [";".join(x for x in (f, "difference > 0.1" if b else "") if x)
                     for f, b in zip(t["flag"], big)]
        return t[cols]

    @property
    def flags(self) -> pd.DataFrame:
        """Correlation rows that carry at least one flag."""
        return self.correlations[self.correlations["flags"] != ""]

    def per_group(self) -> pd.DataFrame:
        """One row per parent: standardised α (3+ children), mean inter-item correlation and
        Spearman–Brown (2 children), KMO, Bartlett p, PC1 share, number of eigenvalues > 1."""
        cols = [c for c in ("group", "level", "k", "n", "alpha", "mean_r", "spearman_brown")
                if c in self.cronbach]
        out = self.cronbach[cols].merge(
            self.kmo[["group", "kmo", "bartlett_p"]], on="group").merge(
            self.pca[["group", "pc1_ratio", "n_kaiser"]], on="group")
        return out

    # results protocol
    def to_frame(self) -> pd.DataFrame:
        """One row per parent (see :meth:`per_group`)."""
        return self.per_group()

    def to_dict(self) -> dict:
        out = {"per_group": self.per_group(), "flags": self.flags, "settings": self.settings}
        if self.imputed is not None:
            cmp = self.comparison()
            out["imputed_per_group"] = self.imputed.per_group()
            out["observed_vs_imputed_flagged"] = cmp[cmp["flag"] != ""]
        return json_safe(out)

    def summary(self) -> Summary:
        s = Summary("Coherence")
        thr = self.settings.get("alpha_threshold", 0.7)
        s.add_text(f"Missing values: {self.settings.get('missing', '')}.",
                   f"Reliability below {thr} (standardised Cronbach's α for 3+ children, "
                   f"Spearman–Brown of the inter-item correlation for 2): "
                   + (", ".join(self.cronbach.loc[self.cronbach["low"], "group"])
                      or "none") + ".",
                   "Correlation p-values adjusted for multiplicity ("
                   + {"holm": "Holm, family-wise error rate", "bh": "Benjamini–Hochberg, false "
                      "discovery rate", "none": "none"}.get(self.settings.get("p_adjust",
                                                                               "holm"), "")
                   + ") over all the pairs.")
        s.add_table(self.per_group(), "Per parent: α, KMO, Bartlett p, PC1 share, "
                    "eigenvalues > 1" + (" (observed cells only)" if self.observed_only
                                         else ""), max_rows=None)
        if self.imputed is not None:
            cmp = self.comparison()
            g = cmp[cmp["statistic"] != "pearson"]
            s.add_table(g[["statistic", "group", "observed", "imputed", "difference", "flag"]],
                        "Observed-only vs imputed data, per parent", max_rows=None)
            f = cmp[(cmp["statistic"] == "pearson") & (cmp["flag"] != "")]
            s.add_table(f[["code", "other", "observed", "imputed", "n_observed", "flag"]],
                        f"Correlations that flip sign or move by more than 0.1 ({len(f)})")
        f = self.flags
        s.add_table(f[["code", "other", "relation", "pearson", "flags"]],
                    f"Flagged correlations ({len(f)})")
        return s

    def _repr_lines(self):
        return [f"{len(self.cronbach)} parents, {len(self.correlations)} correlations, "
                f"{len(self.flags)} flagged"]


def coherence(result, *, redundancy: float = 0.9, weak: float = 0.3, negative: float = 0.0,
              alpha_threshold: float = 0.7, observed: bool = True,
              p_adjust: str = "holm") -> Coherence:
    """Every coherence check on an index result (see the module docstring).

    Parameters
    ----------
    result : IndexResult — its framework and ``aggregated`` table (units × codes: normalised
        indicators and aggregate scores); its raw indicator values (units × indicators, NaN =
        missing) give the availability tables.
    redundancy, weak, negative, alpha_threshold : flag thresholds (see :func:`correlations`).
    p_adjust : multiplicity control of the correlations' p-values ("holm", "bh", "none").
    observed : True (default): the statistics on the observed cells only
        (:func:`cityindex.model.availability.observed_aggregated`; correlations pairwise, α,
        KMO/Bartlett and PCA from the EM covariance), with the imputed-data statistics in
        ``.imputed`` and :meth:`Coherence.comparison`; False: on the imputed data only.

    Returns
    -------
    Coherence
    """
    from cityindex.model.availability import observed_aggregated

    raw = result.raw.loc[result.aggregated.index]
    kw = dict(redundancy=redundancy, weak=weak, negative=negative,
              alpha_threshold=alpha_threshold, p_adjust=p_adjust)
    imputed = coherence_tables(result.framework, result.aggregated, raw, **kw)
    if not observed:
        return imputed
    obs = coherence_tables(result.framework, observed_aggregated(result), raw, missing="em",
                           **kw)
    obs.imputed = imputed
    obs.settings["observed_only"] = True
    return obs


def coherence_tables(framework: Framework, aggregated: pd.DataFrame,
                     data: pd.DataFrame | None = None, *, redundancy: float = 0.9,
                     weak: float = 0.3, negative: float = 0.0, alpha_threshold: float = 0.7,
                     missing: str = "listwise", p_adjust: str = "holm") -> Coherence:
    """Every coherence check on a framework and an ``aggregated`` table (units × codes).

    ``data`` (units × indicators, with NaN for missing) is used for the availability tables; by
    default the indicator columns of ``aggregated``. ``missing``: "listwise" or "em" for α,
    KMO/Bartlett and PCA (correlations are always pairwise); ``p_adjust``: multiplicity
    control of the correlations (:func:`adjust_pvalues`).
    """
    corr = correlations(framework, aggregated, redundancy=redundancy, weak=weak, negative=negative,
                        p_adjust=p_adjust)
    cr, cr_items = cronbach_table(framework, aggregated, threshold=alpha_threshold,
                                  missing=missing)
    km, km_items = kmo_table(framework, aggregated, missing=missing)
    pc, pc_comp = pca_table(framework, aggregated, missing=missing)
    av_i, av_u = data_availability(framework, aggregated if data is None else data)
    how = ("listwise (alpha, KMO, PCA)" if missing == "listwise" else
           "EM covariance of every observed cell (alpha, KMO, PCA; Bartlett on the complete "
           "units)")
    return Coherence(corr, cr, cr_items, km, km_items, pc, pc_comp, av_i, av_u,
                     settings=dict(redundancy=redundancy, weak=weak, negative=negative,
                                   alpha_threshold=alpha_threshold, p_adjust=p_adjust,
                                   missing=f"pairwise (correlations), {how}"))
