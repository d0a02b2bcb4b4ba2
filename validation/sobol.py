"""Variance-based (Sobol') sensitivity analysis: problem, Saltelli design, estimators, bootstrap CIs.

The uncertainty engine describes each uncertain assumption as a *factor* that is either
continuous-uniform on [0, 1) (mapped to its real meaning later, e.g. a weight-noise draw) or
discrete with ``L`` equally likely levels (e.g. normalisation in {minmax, zscore}). The workflow
reads like SALib::

    problem = SobolProblem(["weights", "normalisation", "winmax"], [None, 2, 5])
    design = saltelli_design(problem, n=4096, seed=1)      # A, B, AB_i  -> N(d+2) runs
    X = design.matrix()                                      # (N(d+2), d) unit-cube values
    lv = design.levels()                                     # discrete columns -> level indices
    Y = evaluate_all_rows(X, lv)                             # (N(d+2),) or (N(d+2), n_outputs)
    res = analyze(design, Y, seed=1)                         # SobolResult
    res.to_frame()                                           # tidy DataFrame

Estimators (Saltelli et al. 2010, Comput. Phys. Commun. 181:259-270, Table 2 (b) and (f)):

* first order  ``S_i  = mean(f(B) * (f(AB_i) - f(A))) / V``            (Saltelli et al. 2010)
* total order  ``ST_i = mean((f(A) - f(AB_i))**2) / (2 V)``            (Jansen 1999)
* ``V`` = variance (ddof 0) of the pooled ``f(A)``, ``f(B)`` (2N values).

``AB_i`` is ``A`` with column ``i`` taken from ``B`` (the "radial" A/B/AB design of Saltelli 2010,
Sobol' 2001, Mathematics and Computers in Simulation 55:271-280; OECD/JRC Handbook on Constructing
Composite Indicators 2008, Step 7, pp. 117-131). Outputs are centred by a constant before
estimation (by default the mean of all N(d+2) outputs, as SALib >= 1.4 does); the estimators are
unbiased for any constant shift, centring only reduces their variance and rounding error.

Discrete factors (case B12; SALib issues 98, 195, 341, 581): a level is ``floor(u * L)`` clipped to
``L - 1``, which gives each level probability exactly ``1/L`` (rounding ``u * (L - 1)`` does not:
it halves the end levels). Rows of ``AB_i`` that coincide with ``A`` (same level drawn in A and B)
are legitimate runs; the estimator uses the full output vector in design order, duplicates
included. Callers may cache duplicate rows but must hand back one output per design row.

Small samples (case B13; SALib issues 102, 109, 135, 599): the estimators are unbiased but not
constrained to [0, 1] nor ``S_i <= ST_i``. Raw values are always reported; a
:class:`SensitivityWarning` is emitted for small base samples, wide confidence intervals and
anomalies that the confidence intervals do not explain; clipped values only appear in explicitly
named extra columns (``to_frame(clipped=True)``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy.stats import qmc

__all__ = [
    "SensitivityWarning",
    "SobolProblem",
    "SaltelliDesign",
    "SobolResult",
    "sample_uniform",
    "saltelli_design",
    "analyze",
]

#: below this many base rows N a :class:`SensitivityWarning` is emitted by :func:`analyze`
MIN_BASE_ROWS = 1000
#: a confidence interval wider than this (hi - lo) gets the ``wide_ci`` flag / warning
WIDE_CI = 0.2

_FLAG_ORDER = ("zero_variance", "S1<0", "ST<0", "S1>1", "ST>1", "S1>ST", "wide_ci", "boot_zero_var")


class SensitivityWarning(UserWarning):
    """Sensitivity estimates are unreliable: too few runs, wide CIs or out-of-range raw values."""


# --------------------------------------------------------------------------------------------
# Problem and sampling
# --------------------------------------------------------------------------------------------
class SobolProblem:
    """Definition of the uncertain factors (SALib's ``problem`` dict, with discrete levels).

    Parameters
    ----------
    names : sequence of str, length d >= 1, unique
        Factor names.
    levels : sequence of (None | int), length d, optional
        ``None`` for a factor continuous-uniform on [0, 1); an int ``L >= 1`` for a discrete factor
        with ``L`` equally likely levels ``0..L-1`` (``L = 1`` is a fixed assumption: allowed so a
        configuration can switch a factor off; its S1 and ST are exactly 0). Default: all continuous.

    Raises
    ------
    ValueError
        Empty or duplicate names, length mismatch, or a level count that is not an int >= 1.
    """

    def __init__(self, names: Sequence[str], levels: Sequence[int | None] | None = None):
        names = [str(n) for n in names]
        if not names:
            raise ValueError("SobolProblem: at least one factor name is required")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"SobolProblem: duplicate factor names {dup}")
        if levels is None:
            levels = [None] * len(names)
        levels = list(levels)
        if len(levels) != len(names):
            raise ValueError(
                f"SobolProblem: {len(names)} names but {len(levels)} levels entries"
            )
        clean: list[int | None] = []
        for n, lv in zip(names, levels):
            if lv is None:
                clean.append(None)
                continue
            if isinstance(lv, bool) or not isinstance(lv, (int, np.integer)) or lv < 1:
                raise ValueError(
                    f"SobolProblem: factor {n!r} levels must be None (continuous) or an int >= 1,"
                    f" got {lv!r}"
                )
            clean.append(int(lv))
        self.names: list[str] = names
        self.levels: list[int | None] = clean

    # -- descriptive ---------------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Number of factors."""
        return len(self.names)

    @property
    def discrete_idx(self) -> list[int]:
        """Column indices of the discrete factors, in problem order."""
        return [i for i, lv in enumerate(self.levels) if lv is not None]

    @property
    def continuous_idx(self) -> list[int]:
        """Column indices of the continuous factors, in problem order."""
        return [i for i, lv in enumerate(self.levels) if lv is None]

    def index(self, name: str) -> int:
        """Column index of factor ``name`` (KeyError if unknown)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown factor {name!r}; factors are {self.names}") from None

    def __repr__(self) -> str:
        parts = [
            f"{n}:{'U[0,1)' if lv is None else f'{lv} levels'}"
            for n, lv in zip(self.names, self.levels)
        ]
        return f"SobolProblem({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SobolProblem)
            and self.names == other.names
            and self.levels == other.levels
        )

    def to_salib(self) -> dict:
        """SALib problem dict (all factors on [0, 1]); discrete mapping stays with this object."""
        return {"num_vars": self.d, "names": list(self.names), "bounds": [[0.0, 1.0]] * self.d}

    # -- mapping -------------------------------------------------------------------------------
    def map_levels(self, U: np.ndarray) -> np.ndarray:
        """Level indices of the discrete factors.

        Parameters
        ----------
        U : array (n, d) of unit-cube values in [0, 1).

        Returns
        -------
        int64 array (n, n_discrete): column k is factor ``discrete_idx[k]``, level
        ``floor(u * L)`` clipped to ``[0, L - 1]`` (each level has probability 1/L; case B12).

        Raises
        ------
        ValueError
            ``U`` is not 2-D with d columns, or has values outside [0, 1] or non-finite values.
        """
        U = self._check_U(U)
        idx = self.discrete_idx
        out = np.empty((U.shape[0], len(idx)), dtype=np.int64)
        for k, i in enumerate(idx):
            out[:, k] = _floor_levels(U[:, i], self.levels[i])
        return out

    def column(self, U: np.ndarray, name: str) -> np.ndarray:
        """Values of one factor: int64 level indices if discrete, the float u's if continuous.

        ``U`` is (n, d); returns shape (n,). Raises KeyError for an unknown name.
        """
        U = self._check_U(U)
        i = self.index(name)
        lv = self.levels[i]
        return U[:, i].copy() if lv is None else _floor_levels(U[:, i], lv)

    def _check_U(self, U: np.ndarray) -> np.ndarray:
        U = np.asarray(U, dtype=float)
        if U.ndim != 2 or U.shape[1] != self.d:
            raise ValueError(f"expected an (n, {self.d}) array of unit-cube values, got {U.shape}")
        if not np.all(np.isfinite(U)) or U.size and (U.min() < 0.0 or U.max() > 1.0):
            raise ValueError("unit-cube values must be finite and within [0, 1]")
        return U


def _floor_levels(u: np.ndarray, L: int) -> np.ndarray:
    """``floor(u * L)`` clipped to ``[0, L-1]`` (u == 1.0 maps to the top level)."""
    return np.minimum(np.floor(u * L), L - 1).astype(np.int64)


def _is_pow2(n: int) -> bool:
    return n > 0 and (n & (n - 1)) == 0


def sample_uniform(
    problem: SobolProblem,
    n: int,
    seed: int | np.random.Generator | None = None,
    method: Literal["sobol", "random"] = "sobol",
) -> np.ndarray:
    """Draw ``n`` points in the unit cube [0, 1)^d (plain Monte Carlo, e.g. for uncertainty analysis).

    Parameters
    ----------
    problem : SobolProblem
    n : int >= 1
    seed : int, numpy Generator or None
        Seeds ``scipy.stats.qmc.Sobol(scramble=True)`` or ``numpy.random.default_rng``; the same
        seed gives the same points.
    method : "sobol" (scrambled Sobol' sequence, Owen scrambling via scipy) or "random".

    Returns
    -------
    float array (n, d) in [0, 1). Map discrete columns with ``problem.map_levels``.

    Raises
    ------
    ValueError for n < 1 or an unknown method. A :class:`SensitivityWarning` is emitted when
    method="sobol" and n is not a power of 2 (the balance of the Sobol' net is then lost, which
    also unbalances discrete level frequencies).
    """
    n = _check_n(n)
    if method == "sobol":
        return _sobol_points(problem.d, n, seed)
    if method == "random":
        return np.random.default_rng(seed).random((n, problem.d))
    raise ValueError(f"method must be 'sobol' or 'random', got {method!r}")


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return int(n)


def _sobol_points(d: int, n: int, seed: int | None) -> np.ndarray:
    if not _is_pow2(n):
        warnings.warn(
            f"n={n} is not a power of 2: the scrambled Sobol' points lose their balance properties "
            "(discrete level frequencies are no longer exact); use n = 2**k",
            SensitivityWarning,
            stacklevel=3,
        )
    eng = qmc.Sobol(d=d, scramble=True, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy's own balance warning; ours is above
        return eng.random(n)


# --------------------------------------------------------------------------------------------
# Saltelli design
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SaltelliDesign:
    """The A / B / AB_i design of Saltelli et al. (2010): ``N (d + 2)`` model runs.

    Attributes
    ----------
    problem : SobolProblem
    A, B : float arrays (N, d) in [0, 1), two independent base samples.
    order : "blocks" or "salib"
        Row order of :meth:`matrix` and of the ``Y`` expected by :func:`analyze`.
        "blocks": ``[A; AB_1; ...; AB_d; B]`` as d + 2 consecutive blocks of N rows, i.e. row
        ``k * N + j`` is block k (0 = A, i = AB_i, d + 1 = B) of base row j.
        "salib": the same rows interleaved per base row, row ``j * (d + 2) + k`` (the order of
        ``SALib.sample.sobol.sample(..., calc_second_order=False)``).

    Raises
    ------
    ValueError on shape mismatch, values outside [0, 1], or an unknown order.
    """

    problem: SobolProblem
    A: np.ndarray
    B: np.ndarray
    order: Literal["blocks", "salib"] = "blocks"

    def __post_init__(self) -> None:
        A = self.problem._check_U(self.A)
        B = self.problem._check_U(self.B)
        if A.shape != B.shape:
            raise ValueError(f"A {A.shape} and B {B.shape} must have the same shape")
        if A.shape[0] < 2:
            raise ValueError("a Saltelli design needs at least 2 base rows")
        if self.order not in ("blocks", "salib"):
            raise ValueError(f"order must be 'blocks' or 'salib', got {self.order!r}")
        A.setflags(write=False)
        B.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", B)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_base(self) -> int:
        """N, the number of base rows."""
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.problem.d

    @property
    def n_runs(self) -> int:
        """Total number of model runs, N (d + 2)."""
        return self.n_base * (self.d + 2)

    def AB(self, i: int | str) -> np.ndarray:
        """``AB_i`` (N, d): A with column i (index or factor name) taken from B."""
        if isinstance(i, str):
            i = self.problem.index(i)
        out = self.A.copy()
        out[:, i] = self.B[:, i]
        return out

    def blocks(self) -> np.ndarray:
        """All runs as a (d + 2, N, d) array: block 0 = A, block i = AB_i (i = 1..d), d + 1 = B."""
        N, d = self.n_base, self.d
        X = np.empty((d + 2, N, d))
        X[0] = self.A
        X[1 : d + 1] = self.A
        for i in range(d):
            X[i + 1, :, i] = self.B[:, i]
        X[d + 1] = self.B
        return X

    # -- views for the caller ------------------------------------------------------------------
    def matrix(self) -> np.ndarray:
        """Every run as one (N (d + 2), d) float matrix in [0, 1), in this design's row ``order``."""
        X = self.blocks()
        if self.order == "salib":
            X = X.transpose(1, 0, 2)
        return X.reshape(-1, self.d)

    def levels(self) -> np.ndarray:
        """Discrete level indices of every run: int64 (N (d + 2), n_discrete), rows as :meth:`matrix`.

        Column k is factor ``problem.discrete_idx[k]``; level ``floor(u * L)`` (case B12).
        """
        return self.problem.map_levels(self.matrix())

    def column(self, name: str) -> np.ndarray:
        """One factor for every run, shape (N (d + 2),): int levels if discrete, u if continuous."""
        return self.problem.column(self.matrix(), name)

    # -- outputs -------------------------------------------------------------------------------
    def split(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split outputs in design order into ``f(A)`` (N, m), ``f(B)`` (N, m), ``f(AB)`` (d, N, m).

        ``Y`` is (N (d + 2),) or (N (d + 2), m); a 1-D ``Y`` gives m = 1.

        Raises
        ------
        ValueError if ``Y`` has the wrong number of rows or more than 2 dimensions.
        """
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or Y.shape[0] != self.n_runs:
            raise ValueError(
                f"Y must have shape ({self.n_runs},) or ({self.n_runs}, n_outputs) = N(d+2) rows "
                f"with N={self.n_base}, d={self.d}; got {Y.shape}"
            )
        m = Y.shape[1]
        N, d = self.n_base, self.d
        if self.order == "blocks":
            Z = Y.reshape(d + 2, N, m)
        else:
            Z = Y.reshape(N, d + 2, m).transpose(1, 0, 2)
        return Z[0], Z[d + 1], Z[1 : d + 1]

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def from_salib(cls, problem: SobolProblem, X: np.ndarray) -> "SaltelliDesign":
        """Wrap a sample from ``SALib.sample.sobol.sample(..., calc_second_order=False)``.

        ``X`` is (N (d + 2), d) in SALib's interleaved order with bounds [0, 1]; the result has
        ``order="salib"`` so ``matrix()`` returns ``X`` again and :func:`analyze` accepts the Y
        computed on ``X`` unchanged. Raises ValueError if the rows are not a valid A/AB/B layout.
        """
        X = np.asarray(X, dtype=float)
        d = problem.d
        if X.ndim != 2 or X.shape[1] != d or X.shape[0] % (d + 2):
            raise ValueError(
                f"SALib sample must be (N*(d+2), {d}) (calc_second_order=False); got {X.shape}"
            )
        Z = X.reshape(-1, d + 2, d)
        des = cls(problem, Z[:, 0], Z[:, d + 1], order="salib")
        if not np.array_equal(des.matrix(), X):
            raise ValueError("X is not an A / AB_i / B sample in SALib's order (calc_second_order=False?)")
        return des


def saltelli_design(
    problem: SobolProblem,
    n: int,
    seed: int | np.random.Generator | None = None,
    method: Literal["sobol", "random"] = "sobol",
    order: Literal["blocks", "salib"] = "blocks",
) -> SaltelliDesign:
    """Build the A / B / AB_i design with ``n`` base rows (``n (d + 2)`` runs).

    ``A`` and ``B`` are the first and last d columns of one 2d-dimensional scrambled Sobol'
    sample of n points (Saltelli et al. 2010, sec. 5), or of uniform random numbers for
    method="random". Each 1-D projection of a 2^k-point scrambled Sobol' net is exactly
    stratified, so discrete levels ``floor(u * L)`` occur with equal frequency (+-1; case B12).

    Parameters
    ----------
    problem : SobolProblem
    n : int, base rows N (a power of 2 for method="sobol", else a SensitivityWarning)
    seed : int, numpy Generator or None; the same int seed gives the same design.
    method : "sobol" or "random"
    order : row order of ``matrix()`` / expected ``Y``; see :class:`SaltelliDesign`.

    Raises
    ------
    ValueError for n < 2 or an unknown method/order.
    """
    n = _check_n(n)
    if n < 2:
        raise ValueError("a Saltelli design needs n >= 2 base rows")
    d = problem.d
    if method == "sobol":
        U = _sobol_points(2 * d, n, seed)
    elif method == "random":
        U = np.random.default_rng(seed).random((n, 2 * d))
    else:
        raise ValueError(f"method must be 'sobol' or 'random', got {method!r}")
    return SaltelliDesign(problem, U[:, :d], U[:, d:], order=order)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass(eq=False)
class SobolResult:
    """First- and total-order Sobol' indices for many outputs, with bootstrap percentile CIs.

    Arrays are indexed ``[output, factor]`` (shape (m, d)); values are **raw** estimates, never
    clipped (they can be < 0, > 1, or S1 > ST at small N; see :attr:`flags`).

    Attributes
    ----------
    factors : list[str] (d)
    outputs : list (m) output labels
    S1, ST : float (m, d) point estimates (NaN or the chosen fill for zero-variance outputs)
    S1_lo, S1_hi, ST_lo, ST_hi : float (m, d) percentile bootstrap bounds at ``conf_level``
    variance : float (m,) pooled variance of f(A), f(B) (ddof 0)
    mean : float (m,) pooled mean of f(A), f(B)
    constant : bool (m,) outputs with zero variance over the A and B rows
    flags : object (m, d) ';'-joined flags: zero_variance, S1<0, ST<0, S1>1, ST>1, S1>ST (raw
        value outside the admissible region, whatever its size), wide_ci (either CI wider than
        ``wide_ci``), boot_zero_var (some bootstrap resamples had zero variance and were dropped).
    n_base, n_resamples, conf_level, seed : design / bootstrap settings
    small_n : bool, n_base < ``min_base``
    S1_boot, ST_boot : (n_resamples, m, d) bootstrap replicates if ``keep_resamples`` else None
    """

    factors: list[str]
    outputs: list
    S1: np.ndarray
    ST: np.ndarray
    S1_lo: np.ndarray
    S1_hi: np.ndarray
    ST_lo: np.ndarray
    ST_hi: np.ndarray
    variance: np.ndarray
    mean: np.ndarray
    constant: np.ndarray
    flags: np.ndarray
    n_base: int
    n_resamples: int
    conf_level: float
    seed: int | None
    small_n: bool
    S1_boot: np.ndarray | None = field(default=None, repr=False)
    ST_boot: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def conf_int(self, which: Literal["S1", "ST"] = "S1") -> np.ndarray:
        """Percentile bootstrap interval, (m, d, 2) with [..., 0] = lower, [..., 1] = upper."""
        if which == "S1":
            return np.stack([self.S1_lo, self.S1_hi], axis=-1)
        if which == "ST":
            return np.stack([self.ST_lo, self.ST_hi], axis=-1)
        raise ValueError(f"which must be 'S1' or 'ST', got {which!r}")

    @property
    def interaction(self) -> np.ndarray:
        """Non-additive share per output, ``1 - sum_i S1_i`` (m,) (Handbook Step 7 figure)."""
        return 1.0 - self.S1.sum(axis=1)

    def to_frame(self, clipped: bool = False) -> pd.DataFrame:
        """Tidy table, one row per (output, factor).

        Columns: output, factor, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi, flag (``""`` when clean).
        With ``clipped=True`` two extra columns ``S1_clipped``, ``ST_clipped`` hold the raw values
        clipped to [0, 1] (for display only; the raw columns are unchanged).
        """
        m, d = self.S1.shape
        df = pd.DataFrame(
            {
                "output": np.repeat(np.asarray(self.outputs, dtype=object), d),
                "factor": np.tile(np.asarray(self.factors, dtype=object), m),
                "S1": self.S1.ravel(),
                "S1_lo": self.S1_lo.ravel(),
                "S1_hi": self.S1_hi.ravel(),
                "ST": self.ST.ravel(),
                "ST_lo": self.ST_lo.ravel(),
                "ST_hi": self.ST_hi.ravel(),
                "flag": self.flags.ravel(),
            }
        )
        if clipped:
            df["S1_clipped"] = np.clip(df["S1"].to_numpy(), 0.0, 1.0)
            df["ST_clipped"] = np.clip(df["ST"].to_numpy(), 0.0, 1.0)
        return df

    def output_frame(self) -> pd.DataFrame:
        """One row per output: output, mean, variance, constant, sum_S1, sum_ST, interaction."""
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "mean": self.mean,
                "variance": self.variance,
                "constant": self.constant,
                "sum_S1": self.S1.sum(axis=1),
                "sum_ST": self.ST.sum(axis=1),
                "interaction": self.interaction,
            }
        )

    def flag_counts(self) -> dict[str, int]:
        """How many (output, factor) cells carry each flag."""
        counts = {f: 0 for f in _FLAG_ORDER}
        for s in self.flags.ravel():
            if s:
                for f in s.split(";"):
                    counts[f] += 1
        return {k: v for k, v in counts.items() if v}

    def summary(self) -> str:
        """Readable text: per factor the S1/ST (single output) or their median over outputs."""
        lvl = int(round(self.conf_level * 100))
        lines = [
            f"Sobol' indices: {self.n_outputs} output(s), {len(self.factors)} factors, "
            f"N = {self.n_base} base rows ({self.n_base * (len(self.factors) + 2)} runs), "
            f"{self.n_resamples} bootstrap resamples, {lvl}% percentile CIs",
            "S1: Saltelli et al. (2010) Table 2(b); ST: Jansen (1999); raw values, not clipped",
        ]
        if self.small_n:
            lines.append(f"WARNING: N = {self.n_base} is small; estimates are unreliable")
        ok = ~self.constant
        if self.n_outputs == 1:
            lines.append(f"{'factor':<20}{'S1':>9}{'CI':>20}{'ST':>9}{'CI':>20}  flag")
            for i, f in enumerate(self.factors):
                lines.append(
                    f"{f:<20}{self.S1[0, i]:9.4f}  [{self.S1_lo[0, i]:7.4f},{self.S1_hi[0, i]:7.4f}]"
                    f"{self.ST[0, i]:9.4f}  [{self.ST_lo[0, i]:7.4f},{self.ST_hi[0, i]:7.4f}]"
                    f"  {self.flags[0, i]}"
                )
        else:
            lines.append(f"{int(ok.sum())} non-constant outputs; medians over them:")
            lines.append(f"{'factor':<20}{'median S1':>11}{'median ST':>11}{'max CI width':>14}")
            for i, f in enumerate(self.factors):
                if ok.any():
                    s1, st = np.median(self.S1[ok, i]), np.median(self.ST[ok, i])
                    w = max(
                        np.max(self.S1_hi[ok, i] - self.S1_lo[ok, i]),
                        np.max(self.ST_hi[ok, i] - self.ST_lo[ok, i]),
                    )
                else:
                    s1 = st = w = np.nan
                lines.append(f"{f:<20}{s1:11.4f}{st:11.4f}{w:14.4f}")
        fc = self.flag_counts()
        lines.append("flags: " + (", ".join(f"{k}={v}" for k, v in fc.items()) if fc else "none"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"SobolResult(outputs={self.n_outputs}, factors={self.factors}, N={self.n_base}, "
            f"resamples={self.n_resamples}, flags={self.flag_counts()})"
        )


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------
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
    if not isinstance(design, SaltelliDesign):
        raise TypeError(f"design must be a SaltelliDesign, got {type(design).__name__}")
    if not (0.0 < conf_level < 1.0):
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise ValueError(f"n_resamples must be an int >= 0, got {n_resamples!r}")
    if center not in ("all", "pooled", "none"):
        raise ValueError(f"center must be 'all', 'pooled' or 'none', got {center!r}")
    A, B, AB = design.split(Y)  # views: (N, m), (N, m), (d, N, m)
    Y2 = np.asarray(Y, dtype=float).reshape(design.n_runs, -1)
    if not np.isfinite(Y2).all():
        bad = np.flatnonzero(~np.isfinite(Y2).all(axis=1))
        raise ValueError(
            f"Y has non-finite values in {bad.size} design row(s) (first: {bad[:5].tolist()}); "
            "Sobol' estimates need an output for every run"
        )
    N, d = design.n_base, design.d
    m = A.shape[1]
    if output_names is None:
        outputs = list(range(m))
    else:
        outputs = list(output_names)
        if len(outputs) != m:
            raise ValueError(f"output_names has {len(outputs)} labels for {m} outputs")

    # ---- centring (a constant per output; the estimators are shift-unbiased) ----
    if center == "all":
        c = Y2.mean(axis=0)
    elif center == "pooled":
        c = (A.mean(0) + B.mean(0)) / 2.0
    else:
        c = np.zeros(m)
    diff = AB - A[None]  # f(AB_i) - f(A): shift-invariant, (d, N, m)
    A = A - c
    B = B - c

    # ---- point estimates (direct formulas) ----
    mu = (A.mean(0) + B.mean(0)) / 2.0
    Ad, Bd = A - mu, B - mu  # deviations from the pooled mean (two-pass variance)
    V = (np.einsum("jm,jm->m", Ad, Ad) + np.einsum("jm,jm->m", Bd, Bd)) / (2 * N)
    mean = mu + c
    ptp = np.maximum(A.max(0), B.max(0)) - np.minimum(A.min(0), B.min(0))
    scale = np.maximum(np.maximum(np.abs(A).max(0), np.abs(B).max(0)), np.abs(c))
    constant = ptp <= 8 * np.finfo(float).eps * np.maximum(scale, np.finfo(float).tiny)
    V = np.maximum(V, 0.0)
    Vsafe = np.where(constant | (V <= 0), 1.0, V)
    S1 = np.einsum("jm,ijm->mi", B, diff) / (N * Vsafe[:, None])  # (m, d)
    ST = np.einsum("ijm,ijm->mi", diff, diff) / (2 * N * Vsafe[:, None])
    variance = np.where(constant, 0.0, V)

    # ---- bootstrap ----
    R = int(n_resamples)
    S1_lo = np.full((m, d), np.nan)
    S1_hi = np.full((m, d), np.nan)
    ST_lo = np.full((m, d), np.nan)
    ST_hi = np.full((m, d), np.nan)
    boot_zero = np.zeros(m, dtype=bool)
    S1_boot = ST_boot = None
    if R > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, N, size=(R, N))
        counts = np.bincount((idx + (np.arange(R) * N)[:, None]).ravel(), minlength=R * N)
        C = counts.reshape(R, N).astype(boot_dtype)  # resample counts (exact integers), rows sum to N
        del idx, counts
        if keep_resamples:
            S1_boot = np.full((R, m, d), np.nan)
            ST_boot = np.full((R, m, d), np.nan)
        q = np.array([(1.0 - conf_level) / 2.0, (1.0 + conf_level) / 2.0])
        if chunk_size is None:
            # keep the (N, (2 + 2d) * chunk) statistics block around 4M values
            chunk_size = max(1, int(4_000_000 // (N * (2 + 2 * d))))
        for s in range(0, m, chunk_size):
            sl = slice(s, min(s + chunk_size, m))
            k = sl.stop - sl.start
            live = ~constant[sl]
            if not live.any():
                continue
            b, df = B[:, sl], diff[:, :, sl]  # (N,k), (d,N,k)
            ad, bd = Ad[:, sl], Bd[:, sl]  # V_b from deviations: stable in float32 for any centring
            stats = np.empty((N, 2 + 2 * d, k), dtype=boot_dtype)
            stats[:, 0] = ad + bd
            stats[:, 1] = ad * ad + bd * bd
            stats[:, 2 : 2 + d] = (b[None] * df).transpose(1, 0, 2)
            stats[:, 2 + d :] = (df * df).transpose(1, 0, 2)
            M = (C @ stats.reshape(N, -1)).reshape(R, 2 + 2 * d, k)
            M *= boot_dtype(1.0 / N)
            del stats
            Vb = M[:, 1] / 2.0 - (M[:, 0] / 2.0) ** 2  # (R, k)
            tol = 8 * np.finfo(boot_dtype).eps * np.maximum(M[:, 1] / 2.0, np.finfo(boot_dtype).tiny)
            zero = (Vb <= tol) & live  # constant outputs are filled in afterwards
            Vb = np.where(zero, np.nan, np.where(live, Vb, 1.0))
            s1b = M[:, 2 : 2 + d] / Vb[:, None, :]  # (R, d, k)
            stb = 0.5 * M[:, 2 + d :] / Vb[:, None, :]
            anyzero = zero.any(axis=0)
            boot_zero[sl] = anyzero
            if anyzero.any():  # replicates with zero variance are NaN: drop them per column
                qs1 = _nan_quantiles(s1b, q)
                qst = _nan_quantiles(stb, q)
            else:
                qs1 = np.quantile(s1b, q, axis=0)
                qst = np.quantile(stb, q, axis=0)
            S1_lo[sl], S1_hi[sl] = qs1[0].T, qs1[1].T
            ST_lo[sl], ST_hi[sl] = qst[0].T, qst[1].T
            if keep_resamples:
                S1_boot[:, sl] = s1b.transpose(0, 2, 1)
                ST_boot[:, sl] = stb.transpose(0, 2, 1)

    # ---- zero-variance outputs: explicit fill, flagged ----
    for arr in (S1, ST, S1_lo, S1_hi, ST_lo, ST_hi):
        arr[constant] = constant_fill
    if keep_resamples and R > 0:
        S1_boot[:, constant] = np.nan
        ST_boot[:, constant] = np.nan

    # ---- flags ----
    ok = ~constant[:, None]
    width = np.fmax(S1_hi - S1_lo, ST_hi - ST_lo)
    conds = {
        "zero_variance": np.broadcast_to(constant[:, None], (m, d)),
        "S1<0": ok & (S1 < 0),
        "ST<0": ok & (ST < 0),
        "S1>1": ok & (S1 > 1),
        "ST>1": ok & (ST > 1),
        "S1>ST": ok & (S1 > ST),
        "wide_ci": ok & (width > wide_ci),
        "boot_zero_var": np.broadcast_to((boot_zero & ~constant)[:, None], (m, d)),
    }
    flags = np.full((m, d), "", dtype=object)
    for name in _FLAG_ORDER:
        mask = conds[name]
        if mask.any():
            cur = flags[mask]
            flags[mask] = np.where(cur == "", name, cur + ";" + name)

    small_n = N < min_base
    if warn:
        _emit_warnings(
            N, d, small_n, min_base, conds, constant, S1, ST, S1_lo, S1_hi, ST_lo, ST_hi, wide_ci, R
        )

    return SobolResult(
        factors=list(design.problem.names),
        outputs=outputs,
        S1=S1,
        ST=ST,
        S1_lo=S1_lo,
        S1_hi=S1_hi,
        ST_lo=ST_lo,
        ST_hi=ST_hi,
        variance=variance,
        mean=mean,
        constant=constant,
        flags=flags,
        n_base=N,
        n_resamples=R,
        conf_level=float(conf_level),
        seed=seed,
        small_n=small_n,
        S1_boot=S1_boot,
        ST_boot=ST_boot,
    )


def _nan_quantiles(x: np.ndarray, q: np.ndarray) -> np.ndarray:
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


def _emit_warnings(
    N, d, small_n, min_base, conds, constant, S1, ST, S1_lo, S1_hi, ST_lo, ST_hi, wide_ci, R
):
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
