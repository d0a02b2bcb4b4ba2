"""Simulation check: data with known scores and loadings in the shape of a framework.

``simulate`` draws from the model of :class:`~model.bayes.estimator.LatentScoreModel` (with the
same identification constraints), so a fit can be checked for rank-interval coverage
(:func:`rank_coverage`) and loading recovery (:func:`loading_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..framework import Framework, Node
from .structure import LatentStructure


def framework_of_shape(shape: dict[str, list[int]], flip_every: int = 4,
                       name: str = "synthetic") -> Framework:
    """A 4-level synthetic framework: Index → dimensions (keys of ``shape``) → sub-dimensions
    S1, S2, … with ``shape[dim][k]`` indicators I01, I02, … each; every ``flip_every``-th
    indicator has direction −1 (so orientation is exercised)."""
    nodes = [Node("Index", level=4)]
    k_sub = k_ind = 0
    for dim, sizes in shape.items():
        nodes.append(Node(dim, parent="Index", level=3))
        for size in sizes:
            k_sub += 1
            nodes.append(Node(f"S{k_sub}", parent=dim, level=2))
            for _ in range(size):
                k_ind += 1
                nodes.append(Node(f"I{k_ind:02d}", parent=f"S{k_sub}", level=1,
                                  direction=-1 if k_ind % flip_every == 0 else 1))
    return Framework(nodes, name=name)


@dataclass
class SimulatedData:
    """X: units × indicators (raw scale, direction applied, NaN = missing); scores: units ×
    latent nodes (true θ); loadings: true λ per indicator on the z-scale of the observed data
    (λ / SD of the observed cells), i.e. what the fit estimates; gamma, sigma: true values;
    mask: True where observed."""

    X: pd.DataFrame
    scores: pd.DataFrame
    loadings: pd.Series
    gamma: pd.Series
    sigma: pd.Series
    mask: pd.DataFrame


def simulate(framework: Framework, n_units: int, missing_mask=None, missing_rate: float = 0.0,
             seed: int = 0, likelihood: str = "normal", nu: float = 5.0,
             two_child: str = "equal") -> SimulatedData:
    """Simulate n_units × indicators from the hierarchical factor model.

    True values: γ ~ U(0.5, 0.85), λ ~ U(0.55, 0.9) (shared where the 2-child rule applies),
    σ = √(1 − λ²), α = 0; each indicator is then rescaled (x·scale + shift, scale ~ U(0.5, 20))
    and multiplied by its direction so orientation is exercised.

    missing_mask : array-like (n_units × P), True = missing (e.g. the real panel's pattern), or
        None with ``missing_rate`` cells missing completely at random (each unit keeps ≥ 1
        observed cell, each indicator ≥ 3).

    Raises ValueError on a mask of the wrong shape.
    """
    rng = np.random.default_rng(seed)
    st = LatentStructure.from_framework(framework, two_child)
    P, C = len(st.indicators), int(n_units)
    gamma = rng.uniform(0.5, 0.85, st.n_gamma)
    lam = st.expand_lambda(rng.uniform(0.55, 0.9, st.n_lambda))
    sigma = np.sqrt(1 - lam ** 2)
    A = st.build_A(gamma)
    theta = rng.standard_normal((C, st.n_innov)) @ A.T             # (C, N)
    if likelihood == "student_t":
        eps = rng.standard_t(nu, (C, P)) * np.sqrt((nu - 2) / nu)
    else:
        eps = rng.standard_normal((C, P))
    x = lam * theta[:, st.ind_node] + sigma * eps
    if missing_mask is not None:
        miss = np.asarray(missing_mask, dtype=bool)
        if miss.shape != (C, P):
            raise ValueError(f"missing_mask has shape {miss.shape}, expected {(C, P)}")
    else:
        miss = rng.random((C, P)) < missing_rate
        miss[np.arange(C), rng.integers(0, P, C)] = False          # ≥ 1 observed per unit
        miss[:3] = False
    obs = ~miss
    xo = np.where(obs, x, np.nan)
    z_loadings = lam / np.nanstd(xo, axis=0, ddof=1)
    scale = rng.uniform(0.5, 20, P)
    shift = rng.normal(0, 50, P)
    direction = framework.directions.reindex(st.indicators).to_numpy(dtype=float)
    raw = direction * (xo * scale + shift)
    units = pd.Index([f"U{k:04d}" for k in range(C)], name="unit")
    return SimulatedData(
        X=pd.DataFrame(raw, index=units, columns=st.indicators),
        scores=pd.DataFrame(theta, index=units, columns=st.nodes),
        loadings=pd.Series(z_loadings, index=st.indicators, name="loading"),
        gamma=pd.Series(gamma, index=st.gamma_names, name="gamma"),
        sigma=pd.Series(sigma, index=st.indicators, name="sigma"),
        mask=pd.DataFrame(obs, index=units, columns=st.indicators))


def rank_coverage(model, sim: SimulatedData, node: str | None = None,
                  prob: float = 0.90) -> dict:
    """Share of units whose true rank lies in the fitted model's ``prob`` posterior rank
    interval, and the mean interval width (in ranks)."""
    from .summaries import ranks_desc

    node = node or model.structure_.nodes[0]
    pr = model.posterior_ranks(node, prob=prob)
    true_rank = ranks_desc(sim.scores[node].reindex(pr.index).to_numpy())
    inside = (pr["rank_lo"].to_numpy() <= true_rank) & (true_rank <= pr["rank_hi"].to_numpy())
    return {"coverage": float(inside.mean()),
            "mean_width": float((pr["rank_hi"] - pr["rank_lo"] + 1).mean())}


def loading_error(model, sim: SimulatedData) -> dict:
    """Posterior-mean loadings vs the true z-scale loadings: max |error| and RMSE."""
    err = model.loadings_ - sim.loadings.reindex(model.loadings_.index)
    return {"loading_max_abs_error": float(err.abs().max()),
            "loading_rmse": float(np.sqrt((err ** 2).mean()))}
