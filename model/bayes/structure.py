"""Latent structure of the hierarchical factor model, derived from a :class:`Framework`.

Every aggregate node *n* (lowest aggregates up to the index) carries a latent score θ[c, n]
that is marginally N(0, 1). In non-centred form

    θ[root]   = v[root]
    θ[a]      = γ_a θ[parent(a)] + √(1 − γ_a²) v[a]            v ~ N(0, 1) independent

so θ = A v with A (nodes × innovations) a function of the γ's only (built by :func:`build_A`,
for numpy and PyTensor alike). Indicators load on their parent aggregate:
x[c, i] = α_i + λ_i θ[c, parent(i)] + ε. Hence, with B = Λ A (indicators × innovations),
x = α + B v + ε and Σ_y = B Bᵀ + diag(σ²).

Identification (notes §3 and §(a)):
- scale: every latent is marginally N(0, 1) (non-centred form);
- sign: λ > 0 (indicators oriented by direction first), γ ∈ (0, 1);
- 1-child rule: an aggregate with one active child is collapsed onto it: an aggregate child gets
  γ = 1 (no innovation of its own); a non-root aggregate with a single indicator in its subtree
  gets γ = 1 itself (it equals its parent's score and the indicator loads directly on it;
  otherwise its innovation would be confounded with the indicator's error);
- 2-child rule: the two children of a 2-child node share one loading (γ for aggregates; λ for
  indicators with ``two_child="equal"``), since only the product of the two is identified at the
  top of the tree and it is weakly identified elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from ..framework import Framework

FIXED_ONE = -1  # gamma index meaning "γ = 1 (collapsed)"
ROOT = -2       # gamma index of the root


@dataclass(frozen=True)
class LatentStructure:
    """Index arrays describing the tree for the model.

    Attributes
    ----------
    indicators : list of str, length P
    nodes : list of str, length N — aggregates, parents before children (root first)
    parent : int array (N,) — index of each node's parent in ``nodes`` (−1 for the root)
    gamma_index : int array (N,) — index into the γ parameter vector, ``FIXED_ONE`` or ``ROOT``
    n_gamma : int
    innovations : list of int — nodes with an innovation v of their own (length M)
    ind_node : int array (P,) — node index of each indicator's parent
    lambda_index : int array (P,) — index into the λ parameter vector
    n_lambda : int
    gamma_names, lambda_names : labels of the free parameters (for coordinates)
    """

    indicators: list[str]
    nodes: list[str]
    parent: np.ndarray
    gamma_index: np.ndarray
    n_gamma: int
    innovations: list[int]
    ind_node: np.ndarray
    lambda_index: np.ndarray
    n_lambda: int
    gamma_names: list[str] = field(default_factory=list)
    lambda_names: list[str] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_innov(self) -> int:
        return len(self.innovations)

    @property
    def lowest(self) -> list[str]:
        """Aggregates that have indicators as children."""
        return [self.nodes[k] for k in sorted(set(self.ind_node.tolist()))]

    @classmethod
    def from_framework(cls, framework: Framework, two_child: str = "equal") -> "LatentStructure":
        """Build the structure. ``two_child``: ``"equal"`` (share λ of 2 indicators) or
        ``"free"``; the γ's of two aggregate siblings are always shared."""
        if two_child not in ("equal", "free"):
            raise ValueError(f"two_child must be 'equal' or 'free', not {two_child!r}")
        fw = framework
        # parents before children: by level, descending
        nodes = sorted([fw.root] + [a for a in fw.aggregates if a != fw.root],
                       key=lambda c: -fw.level(c))
        pos = {c: k for k, c in enumerate(nodes)}
        parent = np.array([pos[fw.parent(c)] if fw.parent(c) is not None else -1 for c in nodes])
        gidx = np.full(len(nodes), FIXED_ONE)
        gidx[pos[fw.root]] = ROOT
        gnames: list[str] = []
        for p in nodes:
            kids = [k for k in fw.children(p) if fw.level(k) > 1]
            if not kids:
                continue
            if len(kids) == 1:
                continue  # 1-child rule: γ = 1
            if len(kids) == 2:
                gidx[pos[kids[0]]] = gidx[pos[kids[1]]] = len(gnames)
                gnames.append(f"{kids[0]}+{kids[1]}")
            else:
                for k in kids:
                    gidx[pos[k]] = len(gnames)
                    gnames.append(k)
        # an aggregate with a single indicator in its subtree is collapsed onto its parent
        # (its own innovation would be confounded with the indicator's error σ)
        for c in nodes:
            if c != fw.root and len(fw.indicators_under(c)) == 1:
                gidx[pos[c]] = FIXED_ONE
        # re-number γ's that are still used
        used = sorted({g for g in gidx.tolist() if g >= 0})
        remap = {g: k for k, g in enumerate(used)}
        gidx = np.array([remap.get(g, g) for g in gidx.tolist()])
        gnames = ["+".join(nodes[k] for k in range(len(nodes)) if gidx[k] == g)
                  for g in range(len(used))]
        innovations = [k for k in range(len(nodes)) if gidx[k] != FIXED_ONE]
        indicators = list(fw.indicators)
        ind_node = np.array([pos[fw.parent(i)] for i in indicators])
        lidx = np.empty(len(indicators), dtype=int)
        lnames: list[str] = []
        done: set[str] = set()
        for j, ind in enumerate(indicators):
            if ind in done:
                continue
            sibs = fw.children(fw.parent(ind))
            if two_child == "equal" and len(sibs) == 2:
                for s in sibs:
                    lidx[indicators.index(s)] = len(lnames)
                    done.add(s)
                lnames.append(f"{sibs[0]}+{sibs[1]}")
            else:
                lidx[j] = len(lnames)
                lnames.append(ind)
                done.add(ind)
        return cls(indicators, nodes, parent, gidx, len(gnames), innovations, ind_node, lidx,
                   len(lnames), gnames, lnames)

    # ------------------------------------------------------------------ matrices
    def build_A(self, gamma, xp=np):
        """θ = A v. ``gamma``: array (..., n_gamma) (numpy) or a PyTensor vector; returns
        (..., N, M). ``xp`` is ``numpy`` or ``pytensor.tensor``."""
        eye = np.eye(self.n_innov)
        col = {node: k for k, node in enumerate(self.innovations)}
        rows: list = [None] * self.n_nodes
        for k in range(self.n_nodes):
            g = self.gamma_index[k]
            if g == ROOT:
                rows[k] = eye[col[k]]
            elif g == FIXED_ONE:
                rows[k] = rows[self.parent[k]]
            else:
                gk = gamma[..., g][..., None]
                rows[k] = gk * rows[self.parent[k]] + xp.sqrt(1.0 - gk ** 2) * eye[col[k]]
        if xp is np:
            shape = np.broadcast_shapes(*[np.shape(r) for r in rows])
            rows = [np.broadcast_to(r, shape) for r in rows]
        return xp.stack(rows, axis=-2)

    def expand_lambda(self, lam):
        """Free λ parameters (..., n_lambda) → per-indicator loadings (..., P)."""
        return lam[..., self.lambda_index]


@dataclass(frozen=True)
class Standardised:
    """Oriented, z-scored data. ``Z``: (C, P) with NaN for missing; ``mean``/``sd`` per indicator
    on the oriented scale; ``units``: index of X."""

    Z: np.ndarray
    mask: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    units: pd.Index
    indicators: list[str]

    @property
    def filled(self) -> np.ndarray:
        return np.where(self.mask, self.Z, 0.0)


def standardise(X: pd.DataFrame, framework: Framework) -> Standardised:
    """Orient each indicator by its direction and z-score it on its observed values.

    Raises
    ------
    DataError
        X lacks indicator columns, has non-numeric ones, an indicator with < 3 observed values
        or zero spread, or a unit with no observed indicator.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError("X must be a pandas DataFrame (units × indicators)")
    inds = list(framework.indicators)
    missing = [c for c in inds if c not in X.columns]
    if missing:
        raise DataError(f"X lacks indicator columns {missing[:8]}{' …' if len(missing) > 8 else ''}")
    try:
        raw = X[inds].apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"X has non-numeric indicator values ({exc})") from None
    raw = np.where(np.isfinite(raw), raw, np.nan)
    raw = raw * framework.directions.reindex(inds).to_numpy(dtype=float)
    mask = ~np.isnan(raw)
    n_obs = mask.sum(0)
    bad = [inds[j] for j in np.flatnonzero(n_obs < 3)]
    if bad:
        raise DataError(f"indicators with fewer than 3 observed values: {bad}")
    mean = np.nanmean(raw, axis=0)
    sd = np.nanstd(raw, axis=0, ddof=1)
    flat = [inds[j] for j in np.flatnonzero(~(sd > 0))]
    if flat:
        raise DataError(f"indicators with zero spread: {flat}")
    empty = X.index[~mask.any(1)].tolist()
    if empty:
        raise DataError(f"units with no observed indicator: {empty[:8]}")
    return Standardised((raw - mean) / sd, mask, mean, sd, X.index, inds)


def equal_loading_pairs(framework: Framework) -> list[tuple[str, tuple[str, str]]]:
    """(node, (indicator, indicator)) for every node with exactly two children, both
    indicators: under ``two_child="equal"`` they share one loading by construction."""
    inds = set(framework.indicators)
    out = []
    for n in framework.aggregates:
        kids = list(framework.children(n))
        if len(kids) == 2 and set(kids) <= inds:
            out.append((n, (kids[0], kids[1])))
    return out


def collapsed_nodes(framework: Framework) -> list[str]:
    """Aggregates below the root with a single indicator: the model collapses them, so that
    indicator loads directly on the parent's latent score."""
    return [c for c in framework.aggregates if c != framework.root
            and len(framework.indicators_under(c)) == 1]
