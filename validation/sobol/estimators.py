"""Sobol' estimators on the outputs of a Saltelli design, their bootstrap, flags and warnings.

Pure numpy functions on the output blocks ``f(A)``, ``f(B)`` (N, m) and ``f(AB_i)`` (d, N, m) of
N base rows, d factors and m outputs (Saltelli et al. 2010, Comput. Phys. Commun. 181:259-270,
Table 2 (b) and (f)):

* first order  ``S_i  = mean(f(B) * (f(AB_i) - f(A))) / V``            (Saltelli et al. 2010)
* total order  ``ST_i = mean((f(A) - f(AB_i))**2) / (2 V)``            (Jansen 1999)
* ``V`` = variance (ddof 0) of the pooled ``f(A)``, ``f(B)`` (2N values).

Outputs are centred by a constant before estimation (by default the mean of all N(d+2) outputs,
as SALib >= 1.4 does); the estimators are unbiased for any constant shift, centring only reduces
their variance and rounding error. The bootstrap resamples base rows with replacement and
recomputes V, S1 and ST exactly on each resample as one count-matrix product; intervals are
percentiles of the replicates.

Small samples (case B13; SALib issues 102, 109, 135, 599): the estimators are unbiased but not
constrained to [0, 1] nor ``S_i <= ST_i``. Raw values are always reported; each (output, factor)
cell carries flags, and a :class:`SensitivityWarning` is emitted for small base samples, wide
confidence intervals and anomalies that the confidence intervals do not explain.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

__all__ = [
    "SensitivityWarning",
    "MIN_BASE_ROWS",
    "WIDE_CI",
    "FLAG_ORDER",
    "centring_constant",
    "pooled_moments",
    "zero_variance",
    "first_order",
    "total_order",
    "resample_counts",
    "bootstrap_intervals",
    "replicate_intervals",
    "dummy_indices",
    "nan_quantiles",
    "flag_conditions",
    "join_flags",
    "emit_warnings",
]

#: below this many base rows N a :class:`SensitivityWarning` is emitted by ``analyze``
MIN_BASE_ROWS = 1000
#: a confidence interval wider than this (hi - lo) gets the ``wide_ci`` flag / warning
WIDE_CI = 0.2
#: flag names, in the order they are joined in a cell
FLAG_ORDER = ("zero_variance", "S1<0", "ST<0", "S1>1", "ST>1", "S1>ST", "wide_ci", "boot_zero_var",
              "S1_below_dummy", "ST_below_dummy")


class SensitivityWarning(UserWarning):
    """Sensitivity estimates are unreliable: too few runs, wide CIs or out-of-range raw values."""


# --------------------------------------------------------------------------------------------
# Point estimates
# --------------------------------------------------------------------------------------------
def centring_constant(
    Y: np.ndarray, fA: np.ndarray, fB: np.ndarray, center: Literal["all", "pooled", "none"]
) -> np.ndarray:
    """The constant subtracted from every output before estimation, shape (m,).

    ``Y`` is all N(d+2) outputs (n_runs, m); ``fA``, ``fB`` are (N, m). "all": mean of ``Y``
    (SALib >= 1.4); "pooled": mean of f(A) and f(B) (scipy.stats.sobol_indices); "none": zero.
    """
    if center == "all":
        return Y.mean(axis=0)
    if center == "pooled":
        return (fA.mean(0) + fB.mean(0)) / 2.0
    return np.zeros(Y.shape[1])


def pooled_moments(
    fA: np.ndarray, fB: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pooled mean and variance of f(A), f(B) (both (N, m), already centred).

    Returns ``mu`` (m,), the deviations ``fA - mu`` and ``fB - mu`` (N, m) and the variance
    ``V`` (m,) of the 2N pooled values (ddof 0), formed from the deviations (two-pass).
    """
    N = fA.shape[0]
    mu = (fA.mean(0) + fB.mean(0)) / 2.0
    Ad, Bd = fA - mu, fB - mu
    V = (np.einsum("jm,jm->m", Ad, Ad) + np.einsum("jm,jm->m", Bd, Bd)) / (2 * N)
    return mu, Ad, Bd, V


def zero_variance(fA: np.ndarray, fB: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Outputs (m,) constant over the A and B rows, to rounding.

    ``fA``, ``fB`` (N, m) are centred by ``c`` (m,); an output is constant when its range is at
    most 8 machine epsilons of its largest magnitude (before centring).
    """
    ptp = np.maximum(fA.max(0), fB.max(0)) - np.minimum(fA.min(0), fB.min(0))
    scale = np.maximum(np.maximum(np.abs(fA).max(0), np.abs(fB).max(0)), np.abs(c))
    return ptp <= 8 * np.finfo(float).eps * np.maximum(scale, np.finfo(float).tiny)


def first_order(fB: np.ndarray, diff: np.ndarray, V: np.ndarray) -> np.ndarray:
    """First-order indices ``S1_i = mean_j f(B)_j (f(AB_i)_j - f(A)_j) / V`` (Saltelli et al. 2010,
    Table 2 (b)).

    ``fB`` (N, m) centred, ``diff = f(AB) - f(A)`` (d, N, m), ``V`` (m,) nonzero variance.
    Returns (m, d).
    """
    N = fB.shape[0]
    return np.einsum("jm,ijm->mi", fB, diff) / (N * V[:, None])


def total_order(diff: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Total-order indices ``ST_i = mean_j (f(A)_j - f(AB_i)_j)^2 / (2 V)`` (Jansen 1999;
    Saltelli et al. 2010, Table 2 (f)).

    ``diff = f(AB) - f(A)`` (d, N, m), ``V`` (m,) nonzero variance. Returns (m, d).
    """
    N = diff.shape[1]
    return np.einsum("ijm,ijm->mi", diff, diff) / (2 * N * V[:, None])


# --------------------------------------------------------------------------------------------
# Bootstrap of the base rows
# --------------------------------------------------------------------------------------------
def resample_counts(
    N: int, R: int, seed: int | np.random.Generator | None, dtype: type = np.float32
) -> np.ndarray:
    """How often each of N base rows is drawn in each of R resamples with replacement.

    Returns an (R, N) array of exact integer counts (rows sum to N) in ``dtype``. The draws are
    ``default_rng(seed).integers(0, N, size=(R, N))``, so they depend only on (seed, N, R).
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, N, size=(R, N))
    counts = np.bincount((idx + (np.arange(R) * N)[:, None]).ravel(), minlength=R * N)
    return counts.reshape(R, N).astype(dtype)


def _row_statistics(Ad, Bd, fB, diff, dtype) -> np.ndarray:
    """Per base row, the terms whose resample means give V, S1 and ST: (N, 2 + 2d, k).

    Columns: ``Ad + Bd``, ``Ad^2 + Bd^2`` (V from deviations: stable in float32 for any
    centring), ``fB * diff_i`` (S1 numerators), ``diff_i^2`` (ST numerators).
    """
    d, N, k = diff.shape
    stats = np.empty((N, 2 + 2 * d, k), dtype=dtype)
    stats[:, 0] = Ad + Bd
    stats[:, 1] = Ad * Ad + Bd * Bd
    stats[:, 2 : 2 + d] = (fB[None] * diff).transpose(1, 0, 2)
    stats[:, 2 + d :] = (diff * diff).transpose(1, 0, 2)
    return stats


def _replicates(C, stats, live, dtype):
    """S1 and ST of every resample from the count matrix ``C`` (R, N) and row statistics.

    Returns ``s1b``, ``stb`` (R, d, k) and ``zero`` (R, k): live outputs whose resample has zero
    variance (their replicates are NaN). Columns not ``live`` get a dummy variance of 1.
    """
    R, N = C.shape
    d = (stats.shape[1] - 2) // 2
    k = stats.shape[2]
    M = (C @ stats.reshape(N, -1)).reshape(R, 2 + 2 * d, k)
    M *= dtype(1.0 / N)
    Vb = M[:, 1] / 2.0 - (M[:, 0] / 2.0) ** 2  # (R, k)
    tol = 8 * np.finfo(dtype).eps * np.maximum(M[:, 1] / 2.0, np.finfo(dtype).tiny)
    zero = (Vb <= tol) & live  # constant outputs are filled in by the caller
    Vb = np.where(zero, np.nan, np.where(live, Vb, 1.0))
    s1b = M[:, 2 : 2 + d] / Vb[:, None, :]
    stb = 0.5 * M[:, 2 + d :] / Vb[:, None, :]
    return s1b, stb, zero


def nan_quantiles(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.nanquantile(x, q, axis=0)`` (linear method) without the per-column Python loop.

    ``x`` is (R, ...); returns (len(q), ...); all-NaN columns give NaN, silently.
    """
    xs = np.sort(x, axis=0)  # NaNs sort last
    n = np.sum(~np.isnan(x), axis=0)  # (...)
    out = np.full((len(q),) + x.shape[1:], np.nan)
    has = n > 0
    for j, qq in enumerate(q):
        pos = qq * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        frac = pos - lo
        vlo = np.take_along_axis(xs, lo[None], axis=0)[0]
        vhi = np.take_along_axis(xs, hi[None], axis=0)[0]
        out[j] = np.where(has, vlo + frac * (vhi - vlo), np.nan)
    return out


def bootstrap_intervals(
    fB: np.ndarray,
    diff: np.ndarray,
    Ad: np.ndarray,
    Bd: np.ndarray,
    constant: np.ndarray,
    *,
    n_resamples: int,
    seed: int | np.random.Generator | None,
    conf_level: float,
    chunk_size: int | None = None,
    dtype: type = np.float32,
    keep_resamples: bool = False,
) -> tuple[dict[str, np.ndarray | None], np.ndarray]:
    """Percentile bootstrap intervals of S1 and ST, resampling the N base rows.

    ``fB`` (N, m) centred outputs of B, ``diff = f(AB) - f(A)`` (d, N, m), ``Ad``, ``Bd`` (N, m)
    deviations from the pooled mean, ``constant`` (m,) zero-variance outputs (skipped). Outputs
    are processed ``chunk_size`` at a time (default: about 4M statistics per block); the
    count-matrix product runs in ``dtype``.

    Returns ``(bounds, boot_zero)``: ``bounds`` maps S1_lo, S1_hi, ST_lo, ST_hi to (m, d) arrays
    (NaN when ``n_resamples`` is 0 or the output is constant) and S1_boot, ST_boot to the
    (n_resamples, m, d) replicates if ``keep_resamples`` (else None); ``boot_zero`` (m,) marks
    outputs where some resample had zero variance (those replicates are dropped).
    """
    d, N, m = diff.shape
    R = int(n_resamples)
    bounds: dict = {k: np.full((m, d), np.nan) for k in ("S1_lo", "S1_hi", "ST_lo", "ST_hi")}
    bounds["S1_boot"] = bounds["ST_boot"] = None
    boot_zero = np.zeros(m, dtype=bool)
    if R == 0:
        return bounds, boot_zero
    C = resample_counts(N, R, seed, dtype)
    if keep_resamples:
        bounds["S1_boot"] = np.full((R, m, d), np.nan)
        bounds["ST_boot"] = np.full((R, m, d), np.nan)
    q = np.array([(1.0 - conf_level) / 2.0, (1.0 + conf_level) / 2.0])
    if chunk_size is None:
        # keep the (N, (2 + 2d) * chunk) statistics block around 4M values
        chunk_size = max(1, int(4_000_000 // (N * (2 + 2 * d))))
    for s in range(0, m, chunk_size):
        sl = slice(s, min(s + chunk_size, m))
        live = ~constant[sl]
        if not live.any():
            continue
        stats = _row_statistics(Ad[:, sl], Bd[:, sl], fB[:, sl], diff[:, :, sl], dtype)
        s1b, stb, zero = _replicates(C, stats, live, dtype)
        del stats
        anyzero = zero.any(axis=0)
        boot_zero[sl] = anyzero
        if anyzero.any():  # replicates with zero variance are NaN: drop them per column
            qs1, qst = nan_quantiles(s1b, q), nan_quantiles(stb, q)
        else:
            qs1, qst = np.quantile(s1b, q, axis=0), np.quantile(stb, q, axis=0)
        bounds["S1_lo"][sl], bounds["S1_hi"][sl] = qs1[0].T, qs1[1].T
        bounds["ST_lo"][sl], bounds["ST_hi"][sl] = qst[0].T, qst[1].T
        if keep_resamples:
            bounds["S1_boot"][:, sl] = s1b.transpose(0, 2, 1)
            bounds["ST_boot"][:, sl] = stb.transpose(0, 2, 1)
    return bounds, boot_zero


# --------------------------------------------------------------------------------------------
# Dummy factor (noise floor)
# --------------------------------------------------------------------------------------------
def _dummy_stats(Ad: np.ndarray, Bd: np.ndarray) -> np.ndarray:
    """Per base row the five terms whose means give the dummy's indices: (N, 5, m)."""
    return np.stack([Ad, Bd, Ad * Ad, Bd * Bd, Ad * Bd], axis=1)


def _dummy_from_means(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dummy S1, ST from the means (..., 5, m) of :func:`_dummy_stats` (NaN where V = 0)."""
    a, b, aa, bb, ab = (M[..., k, :] for k in range(5))
    mu = (a + b) / 2.0
    V = (aa + bb) / 2.0 - mu * mu
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = np.where(V > 0, (ab - a * b) / V, np.nan)
        st = np.where(V > 0, (bb - aa) / (2.0 * V), np.nan)
    return s1, st


def dummy_indices(Ad: np.ndarray, Bd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First- and total-order indices of a dummy factor the model ignores, (m,) each.

    A dummy input D changes no output, so the runs it would need are runs already made: the
    design with D taken from A and every other factor from B is B itself, and the one with
    only D taken from B is A. Sobol's (1993) forms of the estimators then read, with f centred
    on the pooled mean and V the pooled variance of f(A), f(B) (ddof 0),

    * ``S1_D = (mean(f(A) f(B)) - mean f(A) mean f(B)) / V`` (the covariance of two independent
      runs), and
    * ``ST_D = 1 - (mean f(A)^2 - f0^2) / V = (mean f(B)^2 - mean f(A)^2) / (2 V)``,

    both zero in expectation, with the sampling noise of an estimate from N base rows. Indices
    whose interval reaches below the dummy's upper bound are reported as indistinguishable from
    zero (the dummy-parameter screening of Khorashadi Zadeh et al. 2017, Environ. Model. Softw.
    91:210-222, as used by the R package sensobol; the estimators here are derived as above, not
    taken from it). No extra model runs. ``Ad``, ``Bd`` (N, m): deviations of f(A), f(B) from
    their pooled mean.
    """
    return _dummy_from_means(_dummy_stats(Ad, Bd).mean(axis=0))


# --------------------------------------------------------------------------------------------
# Independent randomisations: random-group jackknife intervals
# --------------------------------------------------------------------------------------------
def replicate_intervals(
    fB: np.ndarray,
    diff: np.ndarray,
    Ad: np.ndarray,
    Bd: np.ndarray,
    constant: np.ndarray,
    *,
    groups: int,
    conf_level: float,
    chunk_size: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Intervals of S1, ST and of the dummy's indices from R independent randomisations.

    The N base rows are R = ``groups`` contiguous blocks, each an independently scrambled
    Sobol' point set (:func:`~cityindex.validation.sobol.saltelli_design` with ``replicates``).
    The estimate of the whole design is a smooth function of R i.i.d. block means, so its
    standard error is estimated by the delete-one-group jackknife (random groups; Wolter 2007,
    "Introduction to Variance Estimation", 2nd ed., ch. 2 and 4):
    ``se^2 = (R - 1)/R * sum_r (theta_(r) - mean theta_(.))^2``, with theta_(r) the estimate
    without block r; the interval is ``theta +- t_(R-1, (1 + conf)/2) * se`` (Owen 1997; the
    t quantile for R i.i.d. replicates).

    ``fB`` (N, m) centred outputs of B, ``diff = f(AB) - f(A)`` (d, N, m), ``Ad``, ``Bd`` (N, m)
    deviations from the pooled mean, ``constant`` (m,) zero-variance outputs (NaN bounds).

    Returns ``(bounds, zero)``: ``bounds`` maps S1_lo, S1_hi, ST_lo, ST_hi to (m, d) arrays,
    S1_se, ST_se to (m, d), and dummy_S1_lo, dummy_S1_hi, dummy_ST_lo, dummy_ST_hi, dummy_S1_se,
    dummy_ST_se to (m,); ``zero`` (m,) marks outputs where some leave-one-group-out design has
    zero variance (their bounds are NaN).
    """
    from scipy.stats import t as student_t

    d, N, m = diff.shape
    R = int(groups)
    if R < 2 or N % R:
        raise ValueError(f"replicate intervals need >= 2 groups dividing N = {N}, got {R}")
    out: dict = {k: np.full((m, d), np.nan) for k in
                 ("S1_lo", "S1_hi", "ST_lo", "ST_hi", "S1_se", "ST_se")}
    for k in ("dummy_S1_lo", "dummy_S1_hi", "dummy_ST_lo", "dummy_ST_hi", "dummy_S1_se",
              "dummy_ST_se"):
        out[k] = np.full(m, np.nan)
    zero = np.zeros(m, dtype=bool)
    tq = float(student_t.ppf((1.0 + conf_level) / 2.0, R - 1))
    n_loo = N - N // R
    if chunk_size is None:
        chunk_size = max(1, int(4_000_000 // (N * (7 + 2 * d))))
    for s in range(0, m, chunk_size):
        sl = slice(s, min(s + chunk_size, m))
        k = sl.stop - sl.start
        stats = np.concatenate([
            _row_statistics(Ad[:, sl], Bd[:, sl], fB[:, sl], diff[:, :, sl], np.float64),
            _dummy_stats(Ad[:, sl], Bd[:, sl])], axis=1)             # (N, 7 + 2d, k)
        G = stats.reshape(R, N // R, -1, k).sum(axis=1)               # block sums
        M = (G.sum(axis=0)[None] - G) / n_loo                         # leave-one-block-out means
        Vb = M[:, 1] / 2.0 - (M[:, 0] / 2.0) ** 2                     # (R, k)
        tol = 8 * np.finfo(float).eps * np.maximum(M[:, 1] / 2.0, np.finfo(float).tiny)
        bad = (Vb <= tol).any(axis=0) & ~constant[sl]
        zero[sl] = bad
        Vs = np.where(Vb > tol, Vb, np.nan)
        s1 = M[:, 2:2 + d] / Vs[:, None, :]                           # (R, d, k)
        st = 0.5 * M[:, 2 + d:2 + 2 * d] / Vs[:, None, :]
        ds1, dst = _dummy_from_means(M[:, 2 + 2 * d:])                # (R, k)
        full = G.sum(axis=0) / N
        Vf = full[1] / 2.0 - (full[0] / 2.0) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            th = {"S1": (full[2:2 + d] / Vf).T, "ST": (0.5 * full[2 + d:2 + 2 * d] / Vf).T}
        th["dummy_S1"], th["dummy_ST"] = _dummy_from_means(full[2 + 2 * d:])
        for name, rep in (("S1", s1), ("ST", st), ("dummy_S1", ds1), ("dummy_ST", dst)):
            se = np.sqrt((R - 1) / R * ((rep - rep.mean(axis=0)) ** 2).sum(axis=0))
            se = se.T if rep.ndim == 3 else se
            lo, hi = th[name] - tq * se, th[name] + tq * se
            ok = ~(constant[sl] | bad)
            ok = ok[:, None] if se.ndim == 2 else ok
            out[f"{name}_se"][sl] = np.where(ok, se, np.nan)
            out[f"{name}_lo"][sl] = np.where(ok, lo, np.nan)
            out[f"{name}_hi"][sl] = np.where(ok, hi, np.nan)
    return out, zero


# --------------------------------------------------------------------------------------------
# Flags and warnings
# --------------------------------------------------------------------------------------------
def flag_conditions(
    S1, ST, S1_lo, S1_hi, ST_lo, ST_hi, constant, boot_zero, wide_ci: float,
    dummy_S1_hi=None, dummy_ST_hi=None,
) -> dict[str, np.ndarray]:
    """Boolean (m, d) mask per flag of :data:`FLAG_ORDER`.

    zero_variance: the output is constant; S1<0, ST<0, S1>1, ST>1, S1>ST: the raw estimate is
    outside the admissible region (whatever by how much); wide_ci: either interval is wider than
    ``wide_ci``; boot_zero_var: some resamples had zero variance. Only zero_variance is set for
    constant outputs. S1_below_dummy / ST_below_dummy: the index's lower bound is at or below
    the dummy's upper bound (``dummy_S1_hi``, ``dummy_ST_hi``, (m,)): indistinguishable from
    zero.
    """
    m, d = S1.shape
    ok = ~constant[:, None]
    width = np.fmax(S1_hi - S1_lo, ST_hi - ST_lo)
    below = {}
    for name, lo, dh in (("S1_below_dummy", S1_lo, dummy_S1_hi), ("ST_below_dummy", ST_lo,
                                                                   dummy_ST_hi)):
        if dh is None:
            below[name] = np.zeros((m, d), dtype=bool)
        else:
            with np.errstate(invalid="ignore"):
                below[name] = ok & (lo <= np.asarray(dh)[:, None])
    return {**below, **{
        "zero_variance": np.broadcast_to(constant[:, None], (m, d)),
        "S1<0": ok & (S1 < 0),
        "ST<0": ok & (ST < 0),
        "S1>1": ok & (S1 > 1),
        "ST>1": ok & (ST > 1),
        "S1>ST": ok & (S1 > ST),
        "wide_ci": ok & (width > wide_ci),
        "boot_zero_var": np.broadcast_to((boot_zero & ~constant)[:, None], (m, d)),
    }}


def join_flags(conds: dict[str, np.ndarray]) -> np.ndarray:
    """Object (m, d) array of the ';'-joined flag names set in each cell (``""`` when clean)."""
    shape = next(iter(conds.values())).shape
    flags = np.full(shape, "", dtype=object)
    for name in FLAG_ORDER:
        mask = conds[name]
        if mask.any():
            cur = flags[mask]
            flags[mask] = np.where(cur == "", name, cur + ";" + name)
    return flags


def emit_warnings(
    N, d, small_n, min_base, conds, constant, S1, ST, S1_lo, S1_hi, ST_lo, ST_hi, wide_ci, R
) -> None:
    """Emit the :class:`SensitivityWarning` s of ``analyze`` (attributed to its caller).

    One warning each for a small base sample (``small_n``), for cells with an interval wider than
    ``wide_ci``, and for anomalies the interval does not explain (the whole interval outside
    [0, 1] or below the other index; without a bootstrap, any raw anomaly).
    """
    if small_n:
        warnings.warn(
            f"only N = {N} base rows ({N * (d + 2)} runs) for {d} factors: Sobol' estimates are "
            f"unreliable below N = {min_base} (they can be negative, exceed 1, or give S1 > ST); "
            "raw values are reported unclipped - check the confidence intervals or raise N",
            SensitivityWarning,
            stacklevel=3,
        )
    n_wide = int(conds["wide_ci"].sum())
    if n_wide:
        warnings.warn(
            f"{n_wide} of {int((~constant).sum()) * d} (output, factor) cells have a confidence "
            f"interval wider than {wide_ci}; raise N",
            SensitivityWarning,
            stacklevel=3,
        )
    if R > 0:
        ok = ~constant[:, None]
        # anomalies the CI does not explain: the whole interval is outside the admissible region
        sig = ok & ((S1_hi < 0) | (ST_hi < 0) | (S1_lo > 1) | (ST_lo > 1) | (S1_lo > ST_hi))
    else:
        sig = conds["S1<0"] | conds["ST<0"] | conds["S1>1"] | conds["ST>1"] | conds["S1>ST"]
    n_sig = int(sig.sum())
    if n_sig:
        warnings.warn(
            f"{n_sig} (output, factor) cells have raw estimates outside [0, 1] or S1 > ST beyond "
            "their confidence interval; values are reported unclipped (see the 'flag' column)",
            SensitivityWarning,
            stacklevel=3,
        )
