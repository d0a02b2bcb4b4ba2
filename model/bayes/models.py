"""PyMC model builders (PyMC is imported inside the functions, never at module import).

Both builders share priors (notes §(a)): α ~ N(0, 0.5), λ ~ HalfNormal(1), σ ~ HalfNormal(1),
γ ~ Beta(2, 2), ν ~ Gamma(2, 0.1) for Student-t errors.

- :func:`build_marginal` integrates the latent scores out. For unit c with observed set O_c,
  x_O ~ MVN(α_O, B_O B_Oᵀ + diag σ_O²); its log density is evaluated for all units at once by
  Woodbury / the matrix-determinant lemma in the innovation space (M = number of aggregates with
  an innovation, ≈ 10): K_c = I + B_Oᵀ D_O⁻¹ B_O, s_c = B_Oᵀ D_O⁻¹ (x_O − α_O),
  log p = −½ [n_c log 2π + log|D_O| + log|K_c| + rᵀD⁻¹r − s_cᵀ K_c⁻¹ s_c].
  This is the per-unit MvNormal over each unit's observed set, batched over all missingness
  patterns in one (C, M, M) Cholesky instead of one MvNormal per pattern group.
- :func:`build_explicit` keeps the innovations v (ZeroSumNormal over units, which pins the
  location) and puts a Normal or Student-t likelihood on the observed cells only (long format).
"""

from __future__ import annotations

import numpy as np

from .structure import LatentStructure, Standardised


def _coords(struct: LatentStructure, data: Standardised) -> dict:
    return {"indicator": struct.indicators, "loading_param": struct.lambda_names,
            "gamma_param": struct.gamma_names, "unit": [str(u) for u in data.units],
            "node": struct.nodes,
            "innovation": [struct.nodes[k] for k in struct.innovations]}


def _common(struct: LatentStructure, data: Standardised):
    import pymc as pm
    import pytensor.tensor as pt

    alpha = pm.Normal("alpha", 0.0, 0.5, dims="indicator")
    lam_free = pm.HalfNormal("lam", 1.0, dims="loading_param")
    sigma = pm.HalfNormal("sigma", 1.0, dims="indicator")
    if struct.n_gamma:
        gamma = pm.Beta("gamma", 2.0, 2.0, dims="gamma_param")
    else:
        gamma = pt.zeros((0,))
    lam = pm.Deterministic("loading", lam_free[struct.lambda_index], dims="indicator")
    A = struct.build_A(gamma, pt)                     # (N, M)
    return alpha, lam, sigma, A


def marginal_logp_fn(mask: np.ndarray, P: int, M: int):
    """Per-unit marginal log density (value (C, P) filled with 0 where missing) as a PyTensor
    function of (value, alpha (P,), B (P, M), sigma (P,))."""
    import pytensor.tensor as pt

    maskc = np.asarray(mask, dtype=float)
    n_obs = maskc.sum(1)

    def logp(value, alpha, B, sigma):
        alpha = alpha.reshape((P,))
        B = B.reshape((P, M))
        sigma = sigma.reshape((P,))
        dinv = maskc / sigma ** 2                                   # (C, P)
        r = maskc * (value - alpha)                                 # (C, P)
        K = pt.eye(M)[None] + (B.T[None, :, :] * dinv[:, None, :]) @ B   # (C, M, M)
        s = (r * dinv) @ B                                          # (C, M)
        L = pt.linalg.cholesky(K)
        u = pt.linalg.solve_triangular(L, s[..., None], lower=True)[..., 0]
        logdet = 2.0 * pt.sum(pt.log(pt.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
        return -0.5 * (n_obs * np.log(2 * np.pi) + pt.sum(maskc * pt.log(sigma ** 2), -1)
                       + logdet + pt.sum(r * r * dinv, -1) - pt.sum(u * u, -1))

    return logp


def build_marginal(struct: LatentStructure, data: Standardised):
    """Gaussian model with the latent scores integrated out. Observed variable ``x``:
    (unit, indicator), one log-likelihood term per unit."""
    import pymc as pm

    with pm.Model(coords=_coords(struct, data)) as model:
        alpha, lam, sigma, A = _common(struct, data)
        B = lam[:, None] * A[struct.ind_node]                      # (P, M)
        pm.CustomDist("x", alpha, B, sigma,
                      logp=marginal_logp_fn(data.mask, len(struct.indicators), struct.n_innov),
                      signature="(p),(p,m),(p)->(p)", observed=data.filled,
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
                       rng: np.random.Generator, chunk: int = 64) -> np.ndarray:
    """Draw θ | x, parameters for every posterior draw (Gaussian model, the WGI formula
    generalised: v | x ~ N(K⁻¹s, K⁻¹), θ = A v).

    alpha, sigma: (S, P); lam: (S, P) per-indicator loadings; gamma: (S, n_gamma).
    Returns (S, C, N).
    """
    S = alpha.shape[0]
    mask = data.mask.astype(float)
    Zf = data.filled
    C, M, N = Zf.shape[0], struct.n_innov, struct.n_nodes
    out = np.empty((S, C, N))
    eye = np.eye(M)
    for lo in range(0, S, chunk):
        sl = slice(lo, min(S, lo + chunk))
        A = struct.build_A(gamma[sl])                               # (s, N, M)
        B = lam[sl][:, :, None] * A[:, struct.ind_node, :]          # (s, P, M)
        dinv = mask[None] / sigma[sl][:, None, :] ** 2              # (s, C, P)
        r = mask[None] * (Zf[None] - alpha[sl][:, None, :])         # (s, C, P)
        K = eye + np.einsum("scp,spm,spn->scmn", dinv, B, B, optimize=True)
        s = np.einsum("scp,spm->scm", r * dinv, B)
        L = np.linalg.cholesky(K)
        mean = np.linalg.solve(K, s[..., None])[..., 0]
        z = rng.standard_normal(mean.shape)
        dev = np.linalg.solve(np.swapaxes(L, -1, -2), z[..., None])[..., 0]
        v = mean + dev                                              # (s, C, M)
        out[sl] = np.einsum("snm,scm->scn", A, v)
    return out
