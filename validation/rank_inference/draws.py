"""Ranks of scores, and :class:`ScoreDraws`: the score uncertainty that rank inference starts from.

Conventions: higher score = better; rank ``r_j = 1 + #{k : theta_k > theta_j}`` (1 = best, ties
share the smallest rank, "competition" ranking).

A :class:`ScoreDraws` holds point estimates ``theta_hat`` (p units) and their covariance
``Sigma_hat`` (p x p), optionally the R x p score draws they were estimated from, and says where
the uncertainty comes from (``source``) and what it assumes (``assumption``), so that every rank
set built from it can state its premise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

__all__ = ["point_ranks", "draw_ranks", "ScoreDraws"]


# ----------------------------------------------------------------------------------------------
# ranks
# ----------------------------------------------------------------------------------------------
def point_ranks(scores: Any, ties: str = "min") -> np.ndarray:
    """Competition ("min") ranks, 1 = highest score: ``r_j = 1 + #{k : s_k > s_j}``.

    Parameters
    ----------
    scores : array-like, shape (n_units,) or (n_draws, n_units)
        Ranked along the last axis.
    ties : tie convention of :func:`cityindex.model.ranking.rank_scores` (default "min").

    Returns
    -------
    numpy.ndarray, same shape as ``scores``: int64 when every score is a number; float64 with
    NaN for the units whose score is NaN otherwise (NaN is never ranked and not counted, so the
    ranks run 1..n over the units with a score), and float64 for ``ties="average"``.
    """
    x = np.asarray(scores, dtype=float)
    r = draw_ranks(x[None, :], ties=ties)[0] if x.ndim == 1 else draw_ranks(x, ties=ties)
    return r.astype(np.int64) if r.dtype.kind == "i" else r


def draw_ranks(draws: Any, ties: str = "min") -> np.ndarray:
    """Rank every row (draw) of an (S, K) array, 1 = highest, ties share the smallest rank.

    Vectorised (one sort along the rows, no Python loop over draws), through
    :func:`cityindex.model.ranking.rank_scores` with exact ties. A NaN score (a degenerate
    replicate of that unit) is never ranked: it gets NaN and does not count for the other units'
    ranks in that draw.

    Parameters
    ----------
    draws : array-like, shape (S, K)
    ties : "min" (default), "max", "dense", "average" or "ordinal".

    Returns
    -------
    numpy.ndarray, shape (S, K): int32 when there is no NaN (and ties are not "average"),
    float64 with NaN where the score is NaN otherwise.

    Raises
    ------
    ValueError
        ``draws`` is not 2-D; unknown ``ties``.
    """
    from cityindex.model.ranking import rank_scores

    x = np.asarray(draws, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {x.shape}")
    r = rank_scores(x, ties=ties, axis=1, rtol=0.0)
    if ties == "average" or np.isnan(r).any():
        return r
    return r.astype(np.int32)


# ----------------------------------------------------------------------------------------------
# shared input checks (private; used by the frequentist and Bayesian modules too)
# ----------------------------------------------------------------------------------------------
def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0) or not np.isfinite(alpha):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return alpha


def _unit_labels(units: Any, n: int, default: Any = None) -> np.ndarray:
    if units is None:
        if default is not None:
            return np.asarray(default)
        return np.arange(n)
    labels = np.asarray(list(units))
    if labels.shape != (n,):
        raise ValueError(f"units has {labels.size} labels but there are {n} units")
    if len(pd.unique(labels)) != n:
        raise ValueError("units labels must be unique")
    return labels


def _draws_frame(draws: Any) -> pd.DataFrame:
    """``draws`` as a float DataFrame (R x p; columns = units), checked: 2-D, >= 2 rows, finite."""
    if isinstance(draws, pd.DataFrame):
        frame = draws
    else:
        arr = np.asarray(draws, dtype=float)
        if arr.ndim != 2:
            raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {arr.shape}")
        frame = pd.DataFrame(arr)
    if frame.ndim != 2 or frame.shape[1] < 1:
        raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {frame.shape}")
    if not (frame.dtypes == np.float64).all():
        frame = frame.astype(float)
    if frame.shape[0] < 2:
        raise ValueError("draws needs at least 2 rows to estimate a covariance")
    if not np.isfinite(frame.to_numpy(dtype=float)).all():
        raise ValueError("draws contain non-finite values (NaN or inf)")
    return frame


_ZERO_VAR_RTOL = 1e-12  # Var(theta_j - theta_k) <= 1e-12 * max_j Var(theta_j) counts as zero


# ----------------------------------------------------------------------------------------------
# ScoreDraws
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class ScoreDraws(Result):
    """The score uncertainty of p units: estimates ``theta_hat`` and covariance ``Sigma_hat``.

    The input of every rank-inference routine (:func:`rank_confidence_sets`, :func:`rank_sets`,
    …).  Build it with :meth:`from_draws` (R x p draws: bootstrap, posterior, Monte Carlo),
    :meth:`from_estimates` (estimates with standard errors or a covariance) or
    :meth:`from_ranks` (replicated ranks, descriptive only).

    Parameters
    ----------
    estimates : pandas.Series, shape (p,)
        theta_hat, higher = better; the index holds the unit labels (unique).  An array is
        accepted and labelled 0..p-1 (or by the ``draws`` columns).
    cov : numpy.ndarray, shape (p, p)
        Sigma_hat, symmetric positive semi-definite (stored symmetrised, ``(S + S^T) / 2``).
    draws : pandas.DataFrame, shape (R, p), optional
        The draws Sigma_hat was estimated from, columns = the units in the order of
        ``estimates``; ``None`` when built from estimates.
    source : str
        Where the uncertainty comes from: "measurement", "bayes", "uncertainty", "estimates", …
    assumption : str
        What the uncertainty assumes, in words (e.g. "10 % multiplicative measurement error in
        every indicator value, 200 draws").
    note : str
        Anything done to the draws on the way (e.g. the jitter of :meth:`separable`).

    Raises
    ------
    ValueError
        Fewer than 2 units, estimates not 1-D or not finite, duplicate unit labels, cov of the
        wrong shape, not finite, not symmetric or not positive semi-definite; draws not 2-D, with
        fewer than 2 rows, not finite, or with columns other than the units.  A pair of units
        whose difference has zero variance is allowed here (the frequentist routines reject it;
        see :meth:`separable`).
    """

    estimates: pd.Series
    cov: np.ndarray
    draws: pd.DataFrame | None = None
    source: str = ""
    assumption: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        draws = None if self.draws is None else _draws_frame(self.draws)
        est = self.estimates
        if isinstance(est, pd.Series):
            theta = est.to_numpy(dtype=float)
            index = est.index
        else:
            theta = np.asarray(est, dtype=float)
            index = None
        if theta.ndim != 1 or theta.size < 2:
            raise ValueError(
                f"estimates must be 1-D with at least 2 units, got shape {theta.shape}")
        p = theta.size
        if index is None:
            index = draws.columns if draws is not None and draws.shape[1] == p \
                else pd.RangeIndex(p)
        if not index.is_unique:
            dup = list(index[index.duplicated()][:5])
            raise ValueError(f"unit labels must be unique; repeated: {dup}")
        if not np.isfinite(theta).all():
            raise ValueError("estimates contain non-finite values (NaN or inf)")
        sigma = np.asarray(self.cov, dtype=float)
        if sigma.shape != (p, p):
            raise ValueError(f"cov has shape {sigma.shape}, expected ({p}, {p}) for {p} estimates")
        if not np.isfinite(sigma).all():
            raise ValueError("cov contains non-finite values (NaN or inf)")
        scale = max(float(np.abs(np.diag(sigma)).max()), np.finfo(float).tiny)
        if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-10 * scale):
            raise ValueError("cov must be symmetric")
        sigma = 0.5 * (sigma + sigma.T)
        # positive semi-definite up to 1e-8 · scale: sigma + 1e-8 · scale · I has a Cholesky
        # factor (a few ms; the eigenvalues, ~30x slower, only for the message)
        try:
            np.linalg.cholesky(sigma + (1e-8 * scale) * np.eye(p))
        except np.linalg.LinAlgError:
            eig_min = float(np.linalg.eigvalsh(sigma).min())
            raise ValueError(
                f"cov is not positive semi-definite (smallest eigenvalue {eig_min:.3g})"
            ) from None
        if draws is not None:
            if draws.shape[1] != p:
                raise ValueError(f"draws have {draws.shape[1]} columns but there are {p} estimates")
            if not draws.columns.equals(index):
                raise ValueError("draws columns must be the units of estimates, in the same order")
        set_(self, "estimates", pd.Series(theta, index=index, name="estimate"))
        set_(self, "cov", sigma)
        set_(self, "draws", draws)
        for name in ("source", "assumption", "note"):
            set_(self, name, str(getattr(self, name) or ""))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_draws(cls, draws: Any, estimates: Any = None, source: str = "",
                   assumption: str = "") -> "ScoreDraws":
        """Score uncertainty estimated from R x p draws (bootstrap, posterior, Monte Carlo).

        theta_hat = ``estimates`` when given (e.g. the nominal index scores, so that rank sets are
        centred on the ranks actually published), else the draws' column means; Sigma_hat = the
        sample covariance of the draws (``numpy.cov``, divisor R - 1).

        Parameters
        ----------
        draws : DataFrame (columns = units) or array, shape (R, p), R >= 2
        estimates : Series (indexed by unit; extra units ignored) or array of p values, optional
        source, assumption : str
            See the class.

        Raises
        ------
        ValueError
            As the class; a unit of the draws with no estimate.
        """
        frame = _draws_frame(draws)
        x = frame.to_numpy(dtype=float)
        if estimates is None:
            theta = x.mean(axis=0)
        elif isinstance(estimates, pd.Series):
            est = estimates.reindex(frame.columns)
            if est.isna().any():
                missing = list(est.index[est.isna()][:5])
                raise ValueError(f"no estimate for unit(s) {missing}")
            theta = est.to_numpy(dtype=float)
        else:
            theta = np.asarray(estimates, dtype=float)
            if theta.shape != (frame.shape[1],):
                raise ValueError(f"estimates have shape {theta.shape} but draws have "
                                 f"{frame.shape[1]} columns")
        sigma = np.atleast_2d(np.cov(x, rowvar=False))
        return cls(pd.Series(theta, index=frame.columns), sigma, frame, source=source,
                   assumption=assumption)

    @classmethod
    def from_estimates(cls, estimates: Any, se: Any = None, cov: Any = None,
                       source: str = "estimates", assumption: str = "") -> "ScoreDraws":
        """Score uncertainty given as estimates with standard errors or with a covariance.

        Parameters
        ----------
        estimates : Series (index = unit labels) or array, shape (p,)
        se : array-like, shape (p,), optional
            Standard errors of independent estimates: Sigma_hat = diag(se**2).
        cov : array-like, shape (p, p), optional
            Sigma_hat.  Give exactly one of ``se`` and ``cov``.

        Raises
        ------
        ValueError
            Neither or both of se and cov; se of the wrong shape, negative or not finite; as the
            class.
        """
        if (cov is None) == (se is None):
            raise ValueError("give exactly one of cov (covariance matrix) or se (standard errors)")
        if cov is None:
            theta = np.asarray(estimates, dtype=float)
            s = np.asarray(se, dtype=float)
            if s.shape != theta.shape:
                raise ValueError(f"se has shape {s.shape} but estimates have shape {theta.shape}")
            if not np.isfinite(s).all() or (s < 0).any():
                raise ValueError("se must be finite and non-negative")
            cov = np.diag(s**2)
        return cls(estimates, cov, None, source=source, assumption=assumption)

    @classmethod
    def from_ranks(cls, ranks: Any, units: Sequence, seed: Any = 0) -> "ScoreDraws":
        """Replicated ranks (R x p, e.g. an uncertainty analysis) as score draws.

        Replications that mix normalisations share no score scale; their ranks do.  The draws are
        ``-rank`` (higher = better) plus a uniform jitter of +-0.001 rank, which breaks the exact
        ties of pairs whose order never changes (their difference would otherwise have zero
        variance) without changing any ordering.  Sets built from them describe the spread of
        ranks over the replications; they are not confidence statements (source "uncertainty").

        Parameters
        ----------
        ranks : array-like, shape (R, p)
        units : p labels
        seed : int or numpy Generator (the jitter)

        Raises
        ------
        ValueError
            ranks not 2-D; ``units`` of the wrong length or not unique; as :meth:`from_draws`.
        """
        r = np.asarray(ranks, dtype=float)
        if r.ndim != 2:
            raise ValueError(f"ranks must be 2-D (n_draws, n_units), got shape {r.shape}")
        units = list(units)
        _unit_labels(units, r.shape[1])  # length and uniqueness
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(-r + rng.uniform(-1e-3, 1e-3, size=r.shape), columns=units)
        assumption = (f"descriptive only: the spread of {r.shape[0]} replicated rankings "
                      "(scores = -rank, jittered by +-0.001); not a confidence statement")
        return cls.from_draws(frame, source="uncertainty", assumption=assumption)

    # ------------------------------------------------------------------ views
    @property
    def units(self) -> pd.Index:
        """The p unit labels."""
        return self.estimates.index

    @property
    def n_units(self) -> int:
        return int(self.estimates.size)

    @property
    def n_draws(self) -> int | None:
        """R, or ``None`` when not built from draws."""
        return None if self.draws is None else int(self.draws.shape[0])

    @property
    def se(self) -> pd.Series:
        """Standard errors sqrt(diag(Sigma_hat)), indexed by unit."""
        return pd.Series(np.sqrt(np.diag(self.cov)), index=self.units, name="se")

    def zero_variance_pairs(self) -> list[tuple[Any, Any]]:
        """Pairs of units (j, k), j before k, with Var(theta_j - theta_k) = 0 (relative to the
        largest variance, tolerance 1e-12): the max-t statistic is undefined for them."""
        i, j = self._zero_variance_index()
        labels = self.units
        return [(labels[a], labels[b]) for a, b in zip(i.tolist(), j.tolist())]

    def _zero_variance_index(self) -> tuple[np.ndarray, np.ndarray]:
        sigma = self.cov
        d = np.diag(sigma)
        scale = max(float(np.abs(d).max()), np.finfo(float).tiny)
        var_diff = d[:, None] + d[None, :] - 2.0 * sigma
        return np.nonzero(np.triu(var_diff <= _ZERO_VAR_RTOL * scale, k=1))

    # ------------------------------------------------------------------ transformations
    def separable(self, seed: Any = 0) -> "ScoreDraws":
        """A copy usable by the max-t rank inference when some pair has a zero-variance difference.

        Units whose scores are equal in every draw (e.g. all their indicator values zero) have a
        zero-variance difference, which the studentised statistic cannot use.  When there are such
        pairs, a uniform jitter of +-1e-4 x the largest per-unit score SD (1e-9 if every SD is 0)
        is added to every draw: the tied units are never told apart and no other ordering changes.
        theta_hat is kept when it was given, and recomputed as the jittered draws' mean when it was
        the draws' mean; Sigma_hat is recomputed.  Without draws, the jitter's variance
        ``eps**2 / 3`` is added to the diagonal of Sigma_hat instead.  The returned object's
        ``note`` says what was done.  Returns ``self`` when there is no such pair.
        """
        i, _ = self._zero_variance_index()
        n = int(i.size)
        if n == 0:
            return self
        v = np.diag(self.cov)
        eps = 1e-4 * float(np.sqrt(v.max())) or 1e-9
        what = (f"{n} pairs of units have equal scores in every draw (e.g. all their indicator "
                "values zero); a uniform jitter of ±1e-4 × the largest per-unit score SD was "
                "added so the sets can be computed (such units are never told apart)")
        note = "; ".join(x for x in (self.note, what) if x)
        if self.draws is None:
            cov = self.cov + np.eye(self.n_units) * (eps**2 / 3.0)
            return ScoreDraws(self.estimates, cov, None, self.source, self.assumption, note)
        rng = np.random.default_rng(seed)
        jittered = self.draws + rng.uniform(-eps, eps, size=self.draws.shape)
        estimates = None if self._estimates_are_mean() else self.estimates
        out = ScoreDraws.from_draws(jittered, estimates, self.source, self.assumption)
        object.__setattr__(out, "note", note)
        return out

    def subset(self, units: Iterable) -> "ScoreDraws":
        """The score uncertainty of some units only (in the order given).

        With draws, Sigma_hat is recomputed from the selected columns (as if built from them) and
        theta_hat is the selection of the given estimates, or the selected draws' means.

        Raises
        ------
        ValueError
            An unknown or repeated unit, fewer than 2 units.
        """
        wanted = list(units)
        pos = self.units.get_indexer(wanted)
        if (pos < 0).any():
            missing = [u for u, q in zip(wanted, pos) if q < 0][:5]
            raise ValueError(f"unknown unit(s) {missing}")
        if len(set(pos.tolist())) != len(pos):
            raise ValueError("subset units must be unique")
        if self.draws is None:
            return ScoreDraws(self.estimates.iloc[pos], self.cov[np.ix_(pos, pos)], None,
                              self.source, self.assumption, self.note)
        estimates = None if self._estimates_are_mean() else self.estimates.iloc[pos]
        out = ScoreDraws.from_draws(self.draws.iloc[:, pos], estimates, self.source,
                                    self.assumption)
        object.__setattr__(out, "note", self.note)
        return out

    def _estimates_are_mean(self) -> bool:
        """Whether theta_hat is (bit for bit) the draws' column means, as from_draws sets it."""
        return self.draws is not None and np.array_equal(
            self.estimates.to_numpy(), self.draws.to_numpy(dtype=float).mean(axis=0))

    # ------------------------------------------------------------------ results protocol
    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit, estimate, se``."""
        return pd.DataFrame({"unit": self.units.to_numpy(),
                             "estimate": self.estimates.to_numpy(),
                             "se": np.sqrt(np.diag(self.cov))})

    def _facts(self) -> dict:
        se = np.sqrt(np.diag(self.cov))
        return {"units": self.n_units,
                "draws": self.n_draws if self.n_draws is not None else "none (estimates only)",
                "source": self.source or "–", "assumption": self.assumption or "–",
                "median se": float(np.median(se)), "min se": float(se.min()),
                "max se": float(se.max())}

    def summary(self) -> Summary:
        """Where the uncertainty comes from, what it assumes, and the spread of the SEs."""
        s = Summary("Score uncertainty for rank inference")
        s.add_dict(self._facts())
        if self.note:
            s.add_text(f"Note: {self.note}")
        return s

    def to_dict(self) -> dict:
        """JSON-safe: source, assumption, note, n_units, n_draws and the per-unit table."""
        return json_safe({"source": self.source, "assumption": self.assumption,
                          "note": self.note, "n_units": self.n_units, "n_draws": self.n_draws,
                          "table": self.to_frame()})

    def _repr_lines(self) -> Iterable[str]:
        draws = f"{self.n_draws} draws" if self.draws is not None else "no draws"
        yield f"{self.n_units} units, {draws}, source {self.source or '?'!s}"
        if self.assumption:
            yield f"assumes: {self.assumption}"
        if self.note:
            yield f"note: {self.note}"
