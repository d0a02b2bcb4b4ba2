"""``analyze``: Sobol' indices of many outputs of a Saltelli design, with bootstrap intervals.

Checks the inputs, then runs the estimators of :mod:`cityindex.validation.sobol.estimators`
(centring, point estimates, bootstrap of the base rows, flags, warnings) and packs a
:class:`~cityindex.validation.sobol.result.SobolResult`.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from cityindex.validation.sobol.design import SaltelliDesign
from cityindex.validation.sobol.estimators import (
    MIN_BASE_ROWS,
    WIDE_CI,
    _dummy_from_means,
    _dummy_stats,
    bootstrap_intervals,
    centring_constant,
    dummy_indices,
    nan_quantiles,
    replicate_intervals,
    resample_counts,
    emit_warnings,
    first_order,
    flag_conditions,
    join_flags,
    pooled_moments,
    total_order,
    zero_variance,
)
from cityindex.validation.sobol.result import SobolResult

__all__ = ["analyze"]


def analyze(
    design: SaltelliDesign,
    Y: np.ndarray,
    *,
    n_resamples: int = 1000,
    conf_level: float = 0.95,
    seed: int | np.random.Generator | None = None,
    output_names: Sequence | None = None,
    center: Literal["all", "pooled", "none"] = "all",
    constant_fill: float = np.nan,
    min_base: int = MIN_BASE_ROWS,
    wide_ci: float = WIDE_CI,
    keep_resamples: bool = False,
    chunk_size: int | None = None,
    boot_dtype: type = np.float32,
    warn: bool = True,
    interval: Literal["auto", "replicates", "bootstrap"] = "auto",
) -> SobolResult:
    """First-order (Saltelli 2010) and total-order (Jansen 1999) Sobol' indices of many outputs.

    Parameters
    ----------
    design : SaltelliDesign
    Y : float array (N (d + 2),) or (N (d + 2), m), outputs of every run in ``design.matrix()``
        row order (duplicate runs included; case B12). Must be finite.
    n_resamples : int >= 0, bootstrap resamples of the N base rows (0: no CIs, bounds are NaN).
    conf_level : float in (0, 1), level of the percentile intervals.
    seed : int, numpy Generator or None, seeds the bootstrap; resample indices depend only on (seed, N,
        n_resamples), so one output analysed alone gets the same CI as inside a batch.
    output_names : m labels (default 0..m-1).
    center : constant subtracted from Y before estimation: "all" = mean of all N(d+2) outputs
        (SALib >= 1.4), "pooled" = mean of f(A), f(B) (scipy.stats.sobol_indices), "none" (the
        textbook formula on raw Y: still unbiased, but S1's variance grows with mean(Y)^2, so
        outputs far from 0, e.g. ranks, give useless S1 estimates; for comparison only).
    constant_fill : value reported for S1/ST/CI of outputs with zero variance (default NaN; 0.0 is
        SALib's choice). Such outputs always get the flag ``zero_variance``; no RuntimeWarning.
    min_base : warn (SensitivityWarning) when N < min_base.
    wide_ci : flag ``wide_ci`` (and warn) when an interval is wider than this.
    keep_resamples : keep the bootstrap replicates in the result (memory n_resamples*m*d*16 B).
    chunk_size : outputs processed per block in the bootstrap (bounds memory; default automatic).
    boot_dtype : float type of the bootstrap count-matrix product (default float32: twice as fast;
        the per-row statistics are formed in float64 from centred outputs, so replicates carry
        about 1e-6 relative rounding, far below bootstrap noise). np.float64 makes CIs agree across
        output batchings to ~1e-12 instead of ~1e-6. Point estimates are always float64.
    warn : emit SensitivityWarning(s) (flags are set regardless).
    interval : "replicates" (the design's ``groups >= 2`` independent randomisations: the
        pooled estimate +- t_(R-1) times its delete-one-group jackknife SE; Owen 1997, Wolter
        2007), "bootstrap" (percentile bootstrap of the base rows: exact for method="random"
        designs, too wide for a scrambled Sobol' net, whose rows are not independent) or "auto"
        (replicates when the design has groups >= 2, else bootstrap).

    Dummy factor: every result also carries the indices of a dummy input the model ignores,
    estimated from f(A), f(B) at no extra runs
    (:func:`~cityindex.validation.sobol.estimators.dummy_indices`), with intervals of the same
    kind; cells whose lower bound is at or below the dummy's upper bound are flagged
    ``S1_below_dummy`` / ``ST_below_dummy`` (indistinguishable from zero).

    Returns
    -------
    SobolResult

    Estimators (Saltelli et al. 2010, CPC 181:259, Table 2 (b), (f)):
    ``S1_i = mean_j f(B)_j (f(AB_i)_j - f(A)_j) / V``, ``ST_i = mean_j (f(A)_j - f(AB_i)_j)^2 / (2V)``,
    ``V = var([f(A); f(B)])`` (ddof 0). The bootstrap resamples base rows j with replacement and
    recomputes V, S1, ST on each resample (exactly, as a count-matrix product); intervals are
    percentiles of the replicates. Sobol' 2001; OECD/JRC Handbook 2008, Step 7.

    Raises
    ------
    TypeError if ``design`` is not a SaltelliDesign; ValueError for a wrong Y shape, non-finite Y,
    bad ``conf_level``, ``n_resamples``, ``center`` or ``output_names`` length.

    Warns
    -----
    SensitivityWarning when N < min_base, when some interval is wider than ``wide_ci``, or when
    a raw estimate is outside [0, 1] / S1 > ST by more than its confidence interval explains.
    """
    _check_settings(design, conf_level, n_resamples, center)
    fA, fB, fAB = design.split(Y)  # views: (N, m), (N, m), (d, N, m)
    Y2 = _finite_outputs(Y, design.n_runs)
    N, d, m = design.n_base, design.d, fA.shape[1]
    outputs = _output_labels(output_names, m)

    c = centring_constant(Y2, fA, fB, center)  # per output; the estimators are shift-unbiased
    diff = fAB - fA[None]  # f(AB_i) - f(A): shift-invariant, (d, N, m)
    fA, fB = fA - c, fB - c
    mu, Ad, Bd, V = pooled_moments(fA, fB)
    constant = zero_variance(fA, fB, c)
    V = np.maximum(V, 0.0)
    Vsafe = np.where(constant | (V <= 0), 1.0, V)
    S1, ST = first_order(fB, diff, Vsafe), total_order(diff, Vsafe)

    if interval not in ("auto", "replicates", "bootstrap"):
        raise ValueError(f"interval must be 'auto', 'replicates' or 'bootstrap', got {interval!r}")
    groups = int(getattr(design, "groups", 1))
    kind = ("replicates" if groups >= 2 else "bootstrap") if interval == "auto" else interval
    if kind == "replicates" and groups < 2:
        raise ValueError("replicate intervals need a design with groups >= 2 "
                         "(saltelli_design(..., replicates=R))")
    dS1, dST = dummy_indices(Ad, Bd)
    R = int(n_resamples) if kind == "bootstrap" else 0
    if kind == "replicates":
        ci, boot_zero = replicate_intervals(fB, diff, Ad, Bd, constant, groups=groups,
                                            conf_level=conf_level, chunk_size=chunk_size)
        ci["S1_boot"] = ci["ST_boot"] = None
    else:
        ci, boot_zero = bootstrap_intervals(
            fB, diff, Ad, Bd, constant, n_resamples=R, seed=seed, conf_level=conf_level,
            chunk_size=chunk_size, dtype=boot_dtype, keep_resamples=keep_resamples,
        )
        ci.update(_dummy_bootstrap(Ad, Bd, R, seed, conf_level, constant))
    dummy = {"dummy_S1": np.where(constant, np.nan, dS1), "dummy_ST": np.where(constant, np.nan, dST)}
    dummy.update({k: ci.pop(k) for k in list(ci) if k.startswith("dummy_")})
    dummy = {k: v for k, v in dummy.items() if not k.endswith("_se")}
    se = {k: ci.pop(k) for k in ("S1_se", "ST_se") if k in ci}
    # zero-variance outputs: explicit fill, flagged
    for arr in (S1, ST, ci["S1_lo"], ci["S1_hi"], ci["ST_lo"], ci["ST_hi"]):
        arr[constant] = constant_fill
    if keep_resamples and R > 0:
        ci["S1_boot"][:, constant] = np.nan
        ci["ST_boot"][:, constant] = np.nan

    bounds = (ci["S1_lo"], ci["S1_hi"], ci["ST_lo"], ci["ST_hi"])
    conds = flag_conditions(S1, ST, *bounds, constant, boot_zero, wide_ci,
                            dummy.get("dummy_S1_hi"), dummy.get("dummy_ST_hi"))
    small_n = N < min_base
    if warn:
        emit_warnings(N, d, small_n, min_base, conds, constant, S1, ST, *bounds, wide_ci,
                      R if kind == "bootstrap" else groups)

    return SobolResult(
        factors=list(design.problem.names), outputs=outputs, S1=S1, ST=ST, **ci,
        variance=np.where(constant, 0.0, V), mean=mu + c, constant=constant,
        flags=join_flags(conds), n_base=N, n_resamples=R, conf_level=float(conf_level),
        seed=seed, small_n=small_n, problem=design.problem, interval=kind,
        groups=groups if kind == "replicates" else 1, **dummy, **se,
    )


def _dummy_bootstrap(Ad, Bd, R, seed, conf_level, constant) -> dict:
    """Percentile bootstrap bounds (m,) of the dummy's indices, with the base-row resamples of
    :func:`bootstrap_intervals` (same seed, same counts)."""
    m = Ad.shape[1]
    keys = ("dummy_S1_lo", "dummy_S1_hi", "dummy_ST_lo", "dummy_ST_hi")
    if R == 0:
        return {k: np.full(m, np.nan) for k in keys}
    C = resample_counts(Ad.shape[0], R, seed, np.float64)
    st = _dummy_stats(Ad, Bd)                                  # (N, 5, m)
    M = (C @ st.reshape(st.shape[0], -1)).reshape(R, 5, m) / Ad.shape[0]
    s1, stt = _dummy_from_means(M)
    q = np.array([(1.0 - conf_level) / 2.0, (1.0 + conf_level) / 2.0])
    a, b = nan_quantiles(s1, q), nan_quantiles(stt, q)
    out = dict(zip(keys, (a[0], a[1], b[0], b[1])))
    return {k: np.where(constant, np.nan, v) for k, v in out.items()}


def _check_settings(design, conf_level, n_resamples, center) -> None:
    if not isinstance(design, SaltelliDesign):
        raise TypeError(f"design must be a SaltelliDesign, got {type(design).__name__}")
    if not (0.0 < conf_level < 1.0):
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise ValueError(f"n_resamples must be an int >= 0, got {n_resamples!r}")
    if center not in ("all", "pooled", "none"):
        raise ValueError(f"center must be 'all', 'pooled' or 'none', got {center!r}")


def _finite_outputs(Y, n_runs: int) -> np.ndarray:
    """``Y`` as an (n_runs, m) float array; ValueError naming the rows with non-finite values."""
    Y2 = np.asarray(Y, dtype=float).reshape(n_runs, -1)
    if not np.isfinite(Y2).all():
        bad = np.flatnonzero(~np.isfinite(Y2).all(axis=1))
        raise ValueError(
            f"Y has non-finite values in {bad.size} design row(s) (first: {bad[:5].tolist()}); "
            "Sobol' estimates need an output for every run"
        )
    return Y2


def _output_labels(output_names, m: int) -> list:
    if output_names is None:
        return list(range(m))
    outputs = list(output_names)
    if len(outputs) != m:
        raise ValueError(f"output_names has {len(outputs)} labels for {m} outputs")
    return outputs
