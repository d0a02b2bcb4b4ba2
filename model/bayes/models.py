"""PyMC model builders (PyMC is imported inside the functions, never at module import).

Both builders share priors: α ~ N(0, 0.5), γ ~ Beta(2, 2), ν ~ Gamma(2, 0.1) for Student-t
errors (notes §(a)); loadings are standardised, λ = √ρ and σ = √(1 − ρ) with reliability
ρ ~ Beta(2, 2), because the indicators are z-scored (Var x = 1 = λ² + σ²). This departs from
the notes' λ, σ ~ HalfNormal(1): on ASEM (51 units) the free-σ version fell into Heywood cases
(σ → 0, λ → 1) and chains settled on different indicators to define a weakly coherent pillar
(R-hat 2.3, 415 divergences); the reliability prior keeps λ away from 0 and 1.

- :func:`build_marginal` integrates the latent scores out. For unit c with observed set O_c,
  x_O ~ MVN(α_O, B_O B_Oᵀ + diag σ_O²) with B = Λ A; because the latent covariance is a tree,
  this density is computed exactly by Gaussian message passing up the tree
  (:func:`tree_messages`), vectorised over all units and all missingness patterns at once —
  equivalent to, and much cheaper than, one MvNormal per missingness-pattern group (with
  10–20 % missing cells nearly every city has its own pattern).
- :func:`build_explicit` keeps the innovations v (ZeroSumNormal over units, which pins the
  location) and puts a Normal or Student-t likelihood on the observed cells only (long format).
"""

from __future__ import annotations

import numpy as np

from .structure import FIXED_ONE, ROOT, LatentStructure, Standardised


def _coords(struct: LatentStructure, data: Standardised) -> dict:
    return {"indicator": struct.indicators, "loading_param": struct.lambda_names,
            "gamma_param": struct.gamma_names, "unit": [str(u) for u in data.units],
            "node": struct.nodes,
            "innovation": [struct.nodes[k] for k in struct.innovations]}


def _common(struct: LatentStructure, data: Standardised):
    import pymc as pm
    import pytensor.tensor as pt

    alpha = pm.Normal("alpha", 0.0, 0.5, dims="indicator")
    # standardised loadings: reliability ρ = λ², σ = √(1 − ρ) (indicators are z-scored)
    rel = pm.Beta("reliability", 2.0, 2.0, dims="loading_param")
    if struct.n_gamma:
        gamma = pm.Beta("gamma", 2.0, 2.0, dims="gamma_param")
    else:
        gamma = pt.zeros((0,))
    rel_i = rel[struct.lambda_index]
    lam = pm.Deterministic("loading", pt.sqrt(rel_i), dims="indicator")
    sigma = pm.Deterministic("sigma", pt.sqrt(1.0 - rel_i), dims="indicator")
    A = struct.build_A(gamma, pt)                     # (N, M)
    return alpha, lam, sigma, A


def tree_messages(struct: LatentStructure, z: np.ndarray, mask: np.ndarray, alpha, lam, sigma,
                  gamma, xp=np):
    """Upward (leaves → root) Gaussian message passing on the tree, one unit per row.

    The data below node n, as a function of θ_n, is exp(c_n − ½ τ_n θ_n² + h_n θ_n). Leaves
    (observed cells only): τ = λ²/σ², h = λ(x − α)/σ², c = log N(x; α, σ²). A node sums its
    children's messages; passing θ_n = g θ_p + s v (s = √(1 − g²)) up to the parent integrates
    v out: with q = 1 + τ s², the parent receives τ g²/q, h g/q and c − ½ log q + s² h²/(2q).
    At the root (θ ~ N(0, 1)) log p(x_c,O) = c − ½ log(1 + τ) + h²/(2(1 + τ)).

    This is the exact per-unit MvNormal log density over each unit's observed set (any
    missingness pattern) in O(P + N) elementwise operations per unit — no per-pattern Cholesky.
    Works for numpy (parameters with leading draw dimensions: alpha (..., P), gamma (..., G))
    and PyTensor (``xp=pytensor.tensor``). Returns (logp (..., C), tau list, h list) with one
    (..., C) array per node.
    """
    a = alpha[..., None, :]
    lam_ = lam[..., None, :]
    s2 = sigma[..., None, :] ** 2
    r = z - a
    tau_l = mask * lam_ ** 2 / s2
    h_l = mask * lam_ * r / s2
    c_l = mask * (-0.5 * xp.log(2 * np.pi * s2) - 0.5 * r ** 2 / s2)
    N = struct.n_nodes
    inc: list[list] = [[] for _ in range(N)]
    cols_of = [np.flatnonzero(struct.ind_node == k) for k in range(N)]
    tau, h = [None] * N, [None] * N
    logp = None
    for k in reversed(range(N)):                   # children before parents
        t_terms, h_terms, c_terms = [], [], []
        if len(cols_of[k]):
            cols = cols_of[k]
            t_terms.append(tau_l[..., cols].sum(-1))
            h_terms.append(h_l[..., cols].sum(-1))
            c_terms.append(c_l[..., cols].sum(-1))
        for (tt, hh, cc) in inc[k]:
            t_terms.append(tt); h_terms.append(hh); c_terms.append(cc)
        t_k, h_k, c_k = sum(t_terms), sum(h_terms), sum(c_terms)
        tau[k], h[k] = t_k, h_k
        gi = struct.gamma_index[k]
        if gi == ROOT:
            q = 1.0 + t_k
            logp = c_k - 0.5 * xp.log(q) + h_k ** 2 / (2 * q)
        elif gi == FIXED_ONE:
            inc[struct.parent[k]].append((t_k, h_k, c_k))
        else:
            g = gamma[..., gi][..., None]
            s2k = 1.0 - g ** 2
            q = 1.0 + t_k * s2k
            inc[struct.parent[k]].append((t_k * g ** 2 / q, h_k * g / q,
                                         c_k - 0.5 * xp.log(q) + s2k * h_k ** 2 / (2 * q)))
    return logp, tau, h


def build_marginal(struct: LatentStructure, data: Standardised):
    """Gaussian model with the latent scores integrated out (:func:`tree_messages`).
    Observed variable ``x``: (unit, indicator); one log-likelihood term per unit."""
    import pymc as pm
    import pytensor.tensor as pt

    P = len(struct.indicators)
    mask = data.mask.astype(float)

    def logp(value, alpha, lam, sigma, gamma):
        alpha, lam, sigma = alpha.reshape((P,)), lam.reshape((P,)), sigma.reshape((P,))
        gamma = gamma.reshape((struct.n_gamma,))
        return tree_messages(struct, value, mask, alpha, lam, sigma, gamma, pt)[0]

    with pm.Model(coords=_coords(struct, data)) as model:
        alpha, lam, sigma, _ = _common(struct, data)
        gamma = model["gamma"] if struct.n_gamma else pt.zeros((0,))
        pm.CustomDist("x", alpha, lam, sigma, gamma, logp=logp,
                      signature="(p),(p),(p),(g)->(p)", observed=data.filled,
                      dims=("unit", "indicator"))
    return model


def build_explicit(struct: LatentStructure, data: Standardised, likelihood: str = "normal"):
    """Model with explicit latent innovations; likelihood on observed cells (``x``, dim
    ``cell``). Deterministic ``score`` (unit, node)."""
    import pymc as pm
    import pytensor.tensor as pt

    cidx, pidx = np.nonzero(data.mask)
    coords = _coords(struct, data)
    coords["cell"] = np.arange(len(cidx))
    with pm.Model(coords=coords) as model:
        alpha, lam, sigma, A = _common(struct, data)
        v = pm.ZeroSumNormal("v", dims=("innovation", "unit"))     # zero sum over units
        theta = pt.dot(A, v)                                        # (N, C)
        pm.Deterministic("score", theta.T, dims=("unit", "node"))
        mu = alpha[pidx] + lam[pidx] * theta[struct.ind_node[pidx], cidx]
        if likelihood == "student_t":
            nu = pm.Gamma("nu", 2.0, 0.1)
            pm.StudentT("x", nu=nu, mu=mu, sigma=sigma[pidx], observed=data.Z[cidx, pidx],
                        dims="cell")
        else:
            pm.Normal("x", mu=mu, sigma=sigma[pidx], observed=data.Z[cidx, pidx], dims="cell")
    return model


def conditional_scores(struct: LatentStructure, data: Standardised, alpha, lam, sigma, gamma,
                       rng: np.random.Generator, chunk: int = 500) -> np.ndarray:
    """Draw θ | x, parameters jointly for every posterior draw (Gaussian model): upward
    messages (:func:`tree_messages`), then top-down sampling θ_root ~ N(h/(1+τ), 1/(1+τ)),
    θ_n | θ_p ~ N((g θ_p/s² + h_n)/(1/s² + τ_n), 1/(1/s² + τ_n)) — the WGI score formula
    generalised to the tree.

    alpha, lam, sigma: (S, P) (per-indicator loadings); gamma: (S, n_gamma). Returns (S, C, N).
    """
    S = alpha.shape[0]
    mask = data.mask.astype(float)
    Zf = data.filled
    C, N = Zf.shape[0], struct.n_nodes
    out = np.empty((S, C, N))
    for lo in range(0, S, chunk):
        sl = slice(lo, min(S, lo + chunk))
        g_all = gamma[sl]
        _, tau, h = tree_messages(struct, Zf, mask, alpha[sl], lam[sl], sigma[sl], g_all)
        for k in range(N):                                          # parents first
            gi = struct.gamma_index[k]
            if gi == ROOT:
                prec = 1.0 + tau[k]
                mean = h[k] / prec
            elif gi == FIXED_ONE:
                out[sl, :, k] = out[sl, :, struct.parent[k]]
                continue
            else:
                g = g_all[:, gi][:, None]
                s2 = 1.0 - g ** 2
                prec = 1.0 / s2 + tau[k]
                mean = (g * out[sl, :, struct.parent[k]] / s2 + h[k]) / prec
            out[sl, :, k] = mean + rng.standard_normal(mean.shape) / np.sqrt(prec)
    return out
