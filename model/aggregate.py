"""Aggregation of children into their parent (OECD/JRC Handbook 2008, Step 6; COINr 1.1.14
``Aggregate`` with ``a_amean``, ``a_gmean``, ``a_hmean``, ``a_genmean``, ``a_copeland``).

All means are weighted and skip missing children, renormalising the weights over the children a
unit has (as COINr does); ``min_availability`` sets a unit's score to missing when it has fewer
than that share of its children. Inputs broadcast: ``X`` (..., units, children) with ``w``
(..., children), so the uncertainty engine can pass many weight sets at once.
"""

from __future__ import annotations

import numpy as np

from . import stages
from .errors import DataError, MethodError
from .stages import register


def _weights(X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(w, float)[..., None, :]
    avail = ~np.isnan(X)
    wa = np.where(avail, w, 0.0)
    return wa, wa.sum(axis=-1)


@register("aggregation", "arithmetic")
def arithmetic(X, w):
    """Σ w·x / Σ w over available children."""
    wa, den = _weights(X, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sum(wa * np.nan_to_num(X), axis=-1) / den, np.nan)


@register("aggregation", "geometric", positive=True)
def geometric(X, w):
    """exp(Σ w·log x / Σ w); every observed x must be > 0 (checked by :func:`aggregate`)."""
    wa, den = _weights(X, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.log(np.where(np.isnan(X), 1.0, X))
        return np.where(den > 0, np.exp(np.sum(wa * logs, axis=-1) / den), np.nan)


@register("aggregation", "harmonic", positive=True)
def harmonic(X, w):
    """Σ w / Σ (w / x); every observed x must be > 0."""
    wa, den = _weights(X, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.sum(wa / np.where(np.isnan(X), 1.0, X), axis=-1)
        return np.where(den > 0, den / inv, np.nan)


@register("aggregation", "generalised", params={"p"}, defaults={"p": 1.0})
def generalised(X, w, p=1.0):
    """(Σ w·x^p / Σ w)^(1/p); p = 0 is the geometric mean."""
    if p == 0:
        return geometric(X, w)
    wa, den = _weights(X, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sum(wa * np.where(np.isnan(X), 1.0, X) ** p, axis=-1)
        return np.where(den > 0, (s / den) ** (1.0 / p), np.nan)


def outranking_matrix(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted outranking matrix O (units × units): O_ij = Σ w_k [x_ik > x_jk] + ½ Σ w_k
    [x_ik = x_jk], weights scaled to sum 1 over the children both units have (Munda & Nardo
    2009; COINr ``outrankMatrix``). Diagonal 0."""
    X = np.asarray(X, float)
    w = np.asarray(w, float)
    both = ~np.isnan(X)[:, None, :] & ~np.isnan(X)[None, :, :]
    wb = np.where(both, w, 0.0)
    tot = wb.sum(axis=-1)
    gt = (X[:, None, :] > X[None, :, :]) & both
    eq = (X[:, None, :] == X[None, :, :]) & both
    with np.errstate(invalid="ignore", divide="ignore"):
        O = (np.sum(wb * gt, axis=-1) + 0.5 * np.sum(wb * eq, axis=-1)) / tot
    np.fill_diagonal(O, 0.0)
    return O


@register("aggregation", "copeland", vectorised=False)
def copeland(X, w, tol=1e-9):
    """Copeland score: #{j: O_ij > ½} − #{j: O_ij < ½}, compared with a tolerance so that
    floating-point half-sums count as draws (case B08)."""
    if np.ndim(X) != 2:
        raise MethodError("Copeland aggregation takes one weight set at a time")
    O = outranking_matrix(X, w)
    n = O.shape[0]
    off = ~np.eye(n, dtype=bool)
    wins = np.sum((O > 0.5 + tol) & off, axis=1)
    losses = np.sum((O < 0.5 - tol) & off, axis=1)
    return (wins - losses).astype(float)


@register("aggregation", "max", vectorised=False)
def maximum(X, w):
    """The largest available child (weights ignored)."""
    out = np.nanmax(np.where(np.isnan(X).all(-1, keepdims=True), 0, X), axis=-1)
    return np.where(np.isnan(X).all(-1), np.nan, out)


@register("aggregation", "min", vectorised=False)
def minimum(X, w):
    """The smallest available child (weights ignored)."""
    out = np.nanmin(np.where(np.isnan(X).all(-1, keepdims=True), 0, X), axis=-1)
    return np.where(np.isnan(X).all(-1), np.nan, out)


def needs_positive(method: str, p: float = 1.0) -> bool:
    """Whether an aggregation method needs strictly positive children (geometric, harmonic, a
    generalised mean with p ≤ 0)."""
    return bool(stages.get("aggregation", method).options.get("positive")) or (
        method == "generalised" and p <= 0)


def aggregate(X: np.ndarray, w: np.ndarray, method: str = "arithmetic", p: float = 1.0,
              min_availability: float | None = None, codes=None, units=None, *,
              node: str | None = None, where=None) -> np.ndarray:
    """Aggregate children ``X`` (units × children) with weights ``w`` (children,).

    Parameters
    ----------
    method : a registered aggregation method; ``max``/``min`` ignore the weights.
    p : power of the generalised mean.
    min_availability : a unit with fewer than this share of its children observed gets NaN.
    codes, units : labels, used in error messages only.
    node : the parent being aggregated, for error messages.
    where : optional callable ``(unit, column) -> str`` locating a cell in the input file
        (e.g. :meth:`IndicatorData.where`), for error messages.

    Returns
    -------
    array (units,) of parent scores.

    Raises
    ------
    DataError naming the non-positive cells when a geometric or harmonic mean (or a
    generalised mean with p ≤ 0) meets a value ≤ 0 — e.g. a min-max [0, 100] zero (case B05);
    MethodError for an unknown method.
    """
    X = np.asarray(X, float)
    m = stages.get("aggregation", method)
    if needs_positive(method, p):
        bad = ~np.isnan(X) & (X <= 0)
        if bad.any():
            idx = np.argwhere(bad)
            cells = []
            for cell in idx:
                i, j = cell[-2], cell[-1]
                unit = units[i] if units is not None else i
                code = codes[j] if codes is not None else j
                cells.append((unit, code, X[tuple(cell)]))
            unit, code, value = cells[0]
            loc = where(unit, code) if where is not None else f"unit {unit}, column '{code}'"
            listed = ", ".join(f"{u}/{c}={v:g}" for u, c, v in cells[:10])
            more = f" and {len(cells) - 10} more" if len(cells) > 10 else ""
            of = f" of '{node}'" if node else ""
            raise DataError(
                f"{loc}: the {method} mean{of} needs positive values but this cell is {value:g} "
                f"({len(cells)} non-positive cell(s), unit/column=value: {listed}{more}); "
                "normalise to a strictly positive range, e.g. min-max [1, 100]")
    out = m.func(X, w, p=p) if "p" in m.params else m.func(X, w)
    if min_availability:
        share = np.mean(~np.isnan(X), axis=-1)
        out = np.where(share + 1e-12 >= min_availability, out, np.nan)
    return out


def rank_desc(scores: np.ndarray, axis: int = -1, rtol: float = 1e-10) -> np.ndarray:
    """Ranks with 1 = highest score, ties sharing the smallest rank ("min"), NaN not ranked.

    The default conventions of :func:`cityindex.model.ranking.rank_scores` (kept under this name
    for callers that want no rounding and minimum ties): works along ``axis`` of an array of any
    shape (replications × units, …); scores closer than ``rtol`` × max(1, max |score|) to the
    next higher one are ties (case B08); a NaN score gets no rank and does not count.
    """
    from .ranking import rank_scores

    return rank_scores(scores, ties="min", axis=axis, rtol=rtol)
