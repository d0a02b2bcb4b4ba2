"""Sobol' sampling: the factor problem, plain unit-cube samples and the Saltelli A / B / AB_i design.

Each uncertain assumption is a *factor* that is either continuous-uniform on [0, 1) (mapped to its
real meaning later, e.g. a weight-noise draw) or discrete with ``L`` equally likely levels (e.g.
normalisation in {minmax, zscore}). Points come from a scrambled Sobol' sequence
(``scipy.stats.qmc.Sobol``, Owen scrambling) or from ``numpy.random.default_rng``.

Discrete factors (case B12; SALib issues 98, 195, 341, 581): a level is ``floor(u * L)`` clipped to
``L - 1``, which gives each level probability exactly ``1/L`` (rounding ``u * (L - 1)`` does not:
it halves the end levels). Rows of ``AB_i`` that coincide with ``A`` (same level drawn in A and B)
are legitimate runs; the estimator uses the full output vector in design order, duplicates
included. Callers may cache duplicate rows but must hand back one output per design row.

The design is the "radial" A/B/AB layout of Saltelli et al. (2010, Comput. Phys. Commun.
181:259-270), Sobol' (2001, Mathematics and Computers in Simulation 55:271-280) and the OECD/JRC
Handbook on Constructing Composite Indicators (2008), Step 7, pp. 117-131.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy.stats import qmc

from cityindex.validation.sobol.estimators import SensitivityWarning

__all__ = ["SobolProblem", "SaltelliDesign", "sample_uniform", "saltelli_design"]


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
    groups : int >= 1
        Independent randomisations the base rows come from: base rows ``g * N/groups`` to
        ``(g + 1) * N/groups - 1`` are one independently scrambled Sobol' point set (Owen 1997;
        see :func:`saltelli_design`). With ``groups >= 2``, :func:`analyze` takes its intervals
        from the spread between the groups instead of a bootstrap of the rows.
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
    groups: int = 1

    def __post_init__(self) -> None:
        A = self.problem._check_U(self.A)
        B = self.problem._check_U(self.B)
        if A.shape != B.shape:
            raise ValueError(f"A {A.shape} and B {B.shape} must have the same shape")
        if A.shape[0] < 2:
            raise ValueError("a Saltelli design needs at least 2 base rows")
        if self.order not in ("blocks", "salib"):
            raise ValueError(f"order must be 'blocks' or 'salib', got {self.order!r}")
        g = self.groups
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 or A.shape[0] % g:
            raise ValueError(f"groups must be an int >= 1 dividing the {A.shape[0]} base rows, "
                             f"got {g!r}")
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

    def first_groups(self, k: int, Y: np.ndarray) -> tuple["SaltelliDesign", np.ndarray]:
        """The design made of the first ``k`` independent groups and its outputs.

        ``Y`` (N (d + 2),) or (N (d + 2), m) in this design's row order. Returns the sub-design
        (N k / groups base rows, ``groups = k``, "blocks" order) and its outputs (2-D) in that
        order: a smaller design of the same kind at no extra model runs (convergence against N).
        Raises ValueError if k is not in 1..groups.
        """
        if not 1 <= k <= self.groups:
            raise ValueError(f"k must be in 1..{self.groups}, got {k}")
        n = self.n_base // self.groups * k
        fA, fB, fAB = self.split(Y)
        Z = np.concatenate([fA[None, :n], fAB[:, :n], fB[None, :n]], axis=0)
        sub = SaltelliDesign(self.problem, self.A[:n], self.B[:n], "blocks", k)
        return sub, Z.reshape(-1, Z.shape[-1])

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
    replicates: int = 1,
) -> SaltelliDesign:
    """Build the A / B / AB_i design with ``n`` base rows (``n (d + 2)`` runs).

    ``A`` and ``B`` are the first and last d columns of one 2d-dimensional scrambled Sobol'
    sample of n points (Saltelli et al. 2010, sec. 5), or of uniform random numbers for
    method="random". Each 1-D projection of a 2^k-point scrambled Sobol' net is exactly
    stratified, so discrete levels ``floor(u * L)`` occur with equal frequency (+-1; case B12).

    With ``replicates = R >= 2`` the n base rows are R independently scrambled Sobol' point sets
    of n / R points each (R independent randomisations of the design; Owen 1997, "Scrambled net
    variance for integrals of smooth functions", Ann. Statist. 25:1541-1562; L'Ecuyer & Lemieux
    2002, "Recent advances in randomized quasi-Monte Carlo methods", §2). The rows of one
    scrambled net are not independent, so bootstrapping them misstates the error (for smooth
    models the net's error is far below the bootstrap's); the R sets are independent and
    identically distributed, so the spread between them estimates the error honestly
    (:func:`~cityindex.validation.sobol.analyze`). The sets are seeded by
    ``numpy.random.SeedSequence(seed).spawn(R)``.

    Parameters
    ----------
    problem : SobolProblem
    n : int, base rows N (a power of 2 for method="sobol", else a SensitivityWarning)
    seed : int, numpy Generator or None; the same int seed gives the same design.
    method : "sobol" or "random"
    order : row order of ``matrix()`` / expected ``Y``; see :class:`SaltelliDesign`.
    replicates : independent randomisations R >= 1 (n / R rows each; a power of 2 for
        method="sobol").

    Raises
    ------
    ValueError for n < 2, an unknown method/order, or R < 1 / R not dividing n.
    """
    n = _check_n(n)
    if n < 2:
        raise ValueError("a Saltelli design needs n >= 2 base rows")
    R = replicates
    if isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 1 or n % R:
        raise ValueError(f"replicates must be an int >= 1 dividing n = {n}, got {R!r}")
    d = problem.d
    if R == 1:
        seeds = [seed]
    elif isinstance(seed, np.random.Generator):
        seeds = seed.spawn(R)
    else:
        seeds = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(R)]
    parts = []
    for sd in seeds:
        if method == "sobol":
            parts.append(_sobol_points(2 * d, n // R, sd))
        elif method == "random":
            parts.append(np.random.default_rng(sd).random((n // R, 2 * d)))
        else:
            raise ValueError(f"method must be 'sobol' or 'random', got {method!r}")
    U = np.concatenate(parts, axis=0)
    return SaltelliDesign(problem, U[:, :d], U[:, d:], order=order, groups=int(R))
