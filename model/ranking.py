"""Publication conventions: how scores become ranks (rounding, ties, what is not ranked).

One function turns scores into ranks everywhere in the engine (:func:`rank_scores`): the
nominal :class:`~cityindex.model.pipeline.IndexResult`, every uncertainty replication, the
comparisons, the audit, the profiles and the publication table. Its conventions come from the
method key ``ranking`` (see :class:`Ranking` and :func:`ranking_for`)::

    ranking: {round: 3, ties: min, publish: rounded}
    overrides:
      nodes: {Health: {ranking: {round: 2}}}

* ``round: <decimals>`` — rank the score rounded to that many decimals (half away from zero,
  as spreadsheets and statistical offices round), so units whose published values are equal
  share a rank. The UNDP Human Development Index publishes the HDI to 3 decimals and ranks that
  published value, ties sharing the best rank (UNDP, *Human Development Report 2021/2022*,
  statistical annex, Table 1). Default: no rounding.
* ``ties: min | dense | average | ordinal | max`` — what tied units get (R's ``rank``
  ``ties.method``; scipy's ``rankdata`` methods): ``min`` = competition ranking "1 2 2 4",
  the default and COINr's (``rank(-x, ties.method = "min")``); ``dense`` "1 2 2 3";
  ``average`` "1 2.5 2.5 4"; ``ordinal`` "1 2 3 4" (tied units in their order of appearance);
  ``max`` "1 3 3 4".
* ``publish: rounded | raw`` — which score a publication table prints next to the rank: the
  rounded one (default when ``round`` is set) or the unrounded one.

Missing scores: a unit whose score is NaN is *not ranked* — it gets no rank (NaN), and it does
not count for anyone else's rank (ranks run 1..n over the units that have a score). A NaN is
never ranked last.

Unrounded scores closer than ``rtol`` × max(1, max |score|) are ties: scores that are equal in
exact arithmetic can differ in the last bits with the order of summation (the lesson of
Copeland's half-sums, case B08). Rounded scores are compared exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import MethodError

TIES = ("min", "dense", "average", "ordinal", "max")
PUBLISH = ("rounded", "raw")
#: keys of the ``ranking`` method section
KEYS = frozenset({"round", "ties", "publish"})
#: relative tolerance under which unrounded scores are ties
RTOL = 1e-10
#: largest number of decimals a ``round`` key may ask for
MAX_DECIMALS = 12

__all__ = ["TIES", "PUBLISH", "Ranking", "rank_scores", "round_half_away", "ranking_for",
           "check_ranking", "not_ranked_reason"]


@dataclass(frozen=True)
class Ranking:
    """The conventions by which the scores of one node are ranked and published.

    Attributes
    ----------
    round : int or None
        Decimals of the score that is ranked (None: the unrounded score).
    ties : str
        One of :data:`TIES` (default "min", COINr's).
    publish : str
        "rounded" (the score printed beside the rank is rounded to ``round`` decimals) or "raw".
    """

    round: int | None = None
    ties: str = "min"
    publish: str = "rounded"

    def __post_init__(self) -> None:
        check_ranking({"round": self.round, "ties": self.ties, "publish": self.publish}, "")

    def rank(self, scores: Any, axis: int = -1) -> np.ndarray:
        """Ranks of ``scores`` under these conventions (see :func:`rank_scores`)."""
        return rank_scores(scores, ties=self.ties, round=self.round, axis=axis)

    def published(self, scores: Any) -> np.ndarray:
        """The scores as published: rounded when ``round`` is set and ``publish`` is
        "rounded", else unchanged (NaN stays NaN)."""
        x = np.asarray(scores, dtype=float)
        if self.round is None or self.publish == "raw":
            return x
        return round_half_away(x, self.round)

    def describe(self) -> str:
        """One line for reports and manifests."""
        r = (f"scores rounded to {self.round} decimals before ranking"
             if self.round is not None else "unrounded scores ranked")
        return (f"{r}; ties: {self.ties}; published score: "
                f"{'rounded' if self.round is not None and self.publish == 'rounded' else 'raw'}; "
                "units without a score are not ranked")

    def to_dict(self) -> dict:
        return {"round": self.round, "ties": self.ties, "publish": self.publish}


def check_ranking(section: Mapping, where: str = "") -> None:
    """Validate a ``ranking`` method section (or an override of it).

    Raises
    ------
    MethodError naming the key and the valid values.
    """
    if not isinstance(section, Mapping):
        raise MethodError(f"{where}'ranking' must be a mapping, got {type(section).__name__}")
    unknown = set(section) - KEYS
    if unknown:
        raise MethodError(f"{where}unknown key(s) {sorted(unknown)} in 'ranking'; valid: "
                          f"{sorted(KEYS)}")
    r = section.get("round")
    if r is not None and not (isinstance(r, int) and not isinstance(r, bool)
                              and 0 <= r <= MAX_DECIMALS):
        raise MethodError(f"{where}ranking.round must be an integer number of decimals in "
                          f"0..{MAX_DECIMALS} (or null), got {r!r}")
    t = section.get("ties", "min")
    if t not in TIES:
        raise MethodError(f"{where}ranking.ties must be one of {', '.join(TIES)}, got {t!r}")
    p = section.get("publish", "rounded")
    if p not in PUBLISH:
        raise MethodError(f"{where}ranking.publish must be 'rounded' or 'raw', got {p!r}")


def ranking_for(method: Any, code: str | None = None, level: int | None = None) -> Ranking:
    """The :class:`Ranking` of node ``code`` at ``level`` under a method spec: the ``ranking``
    section, then its level override, then its node override (keys merge). A method without a
    ranking section (or ``None``) gives the defaults."""
    if method is None:
        return Ranking()
    resolve = getattr(method, "resolve_ranking", None)
    spec = resolve(code, level) if resolve is not None else {}
    return Ranking(**spec)


def round_half_away(x: Any, decimals: int) -> np.ndarray:
    """Round to ``decimals`` decimals, halves away from zero (0.0285 → 0.029 at 3 decimals).

    numpy's ``round`` rounds halves to even and works on the binary value (0.0285 is stored as
    0.028499999…); publications round the decimal value they print. The scaled value is first
    rounded to 6 decimals of the last published digit, which removes the representation error
    of a decimal half without moving any value that is not within 1e-6 of a half. NaN stays NaN.
    """
    x = np.asarray(x, dtype=float)
    f = 10.0 ** int(decimals)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.round(x * f, 6)
        out = np.sign(s) * np.floor(np.abs(s) + 0.5) / f
    return np.where(np.isfinite(x), out, x)


def rank_scores(scores: Any, ties: str = "min", round: int | None = None, axis: int = -1,
                higher_is_better: bool = True, rtol: float = RTOL) -> np.ndarray:
    """Ranks of scores under the publication conventions; NaN is never ranked.

    Parameters
    ----------
    scores : array-like of any shape (units along ``axis``, e.g. replications × units).
    ties : one of :data:`TIES` ("min" = competition ranking, COINr's; see the module docstring).
    round : decimals to round the scores to before ranking (half away from zero), or None.
    axis : the axis along which units are ranked.
    higher_is_better : rank 1 = highest score (default) or lowest.
    rtol : unrounded scores closer than ``rtol`` × max(1, max |score|) are ties (0: exact).

    Returns
    -------
    float ndarray of the same shape: ranks 1..n over the n units with a score in each slice,
    NaN where the score is NaN. ±inf are ranked (first or last).

    Raises
    ------
    ValueError for an unknown ``ties``.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    s = np.moveaxis(np.asarray(scores, dtype=float), axis, -1)
    if round is not None:
        s = round_half_away(s, round)
        rtol = 0.0
    if not higher_is_better:
        s = -s
    nan = np.isnan(s)
    any_nan = bool(nan.any())
    n = s.shape[-1]
    if n == 0:
        return np.moveaxis(s.copy(), -1, axis)
    # Best first: argsort of -s. numpy sorts NaN after every number in every sort kind, but
    # its vectorised sort is several times slower on rows holding NaN, so NaN is sorted as
    # -inf (the last place) unless a genuine -inf must stay ahead of it. Only ordinal ties
    # need the input order within a tie (a stable sort); the other conventions give a tie
    # group one rank whatever its order, so they take numpy's faster default sort.
    kind = "stable" if ties == "ordinal" else "quicksort"
    if any_nan and not np.isneginf(s).any():
        s = np.where(nan, -np.inf, s)
    order = np.argsort(-s, axis=-1, kind=kind)
    srt = np.take_along_axis(s, order, axis=-1)
    with np.errstate(invalid="ignore"):
        if rtol > 0:
            finite = np.where(np.isfinite(s), np.abs(s), 0.0)
            scale = np.maximum(1.0, finite.max(axis=-1, keepdims=True))
            same = ((srt[..., :-1] - srt[..., 1:]) <= rtol * scale) | (srt[..., :-1] == srt[..., 1:])
        else:
            same = srt[..., :-1] == srt[..., 1:]
    # unranked cells (NaN, or NaN sorted as -inf) come last: they never share a rank with a
    # score, and their own ranks are replaced by NaN below
    new = np.empty(s.shape, dtype=bool)
    new[..., 0] = True
    new[..., 1:] = ~same
    pos = np.broadcast_to(np.arange(1, n + 1, dtype=float), s.shape)
    if ties == "ordinal":
        r_sorted = pos
    elif ties == "dense":
        r_sorted = np.cumsum(new, axis=-1, dtype=float)
    else:
        start = np.maximum.accumulate(np.where(new, pos, 0.0), axis=-1)   # first pos of group
        if ties == "min":
            r_sorted = start
        else:  # last position of each group: reverse running minimum of the group ends
            is_end = np.empty(s.shape, dtype=bool)
            is_end[..., :-1] = new[..., 1:]
            is_end[..., -1] = True
            end = np.where(is_end, pos, np.inf)
            end = np.flip(np.minimum.accumulate(np.flip(end, -1), axis=-1), -1)
            r_sorted = end if ties == "max" else (start + end) / 2.0
    r = np.empty(s.shape, dtype=float)
    np.put_along_axis(r, order, r_sorted, axis=-1)
    if any_nan:
        r[nan] = np.nan
    return np.moveaxis(r, -1, axis)


def not_ranked_reason(score: float) -> str:
    """Why a unit has no rank (empty when it has one)."""
    return "not ranked: no score" if np.isnan(score) else ""
