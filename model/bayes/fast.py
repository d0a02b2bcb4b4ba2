"""The Gaussian latent-score model's log posterior and its exact gradient, compiled once.

The marginal model of :func:`.models.build_marginal` (latent scores integrated out) written
directly for the sampler, so no PyMC graph has to be built and compiled at every fit:

* the log density is the tree message passing of :func:`.models.tree_messages` (exact per-unit
  multivariate normal over the unit's observed cells);
* its gradient follows from Fisher's identity, ∇ log p(x) = E[∇ log p(x, θ) | x]: one upward
  pass (the messages) and one downward pass giving the posterior mean and variance of every
  node's score and its covariance with its parent's (the Gaussian smoother on a tree), after
  which every derivative is a closed form in those moments;
* the parameters are sampled on the unconstrained scale PyMC uses — α, logit ρ (reliability),
  logit γ — with the same priors (α ~ N(0, 0.5), ρ ~ Beta(2, 2), γ ~ Beta(2, 2)) and
  Jacobians, so the target density equals PyMC's ``model.logp()`` exactly (tested).

The kernel is a numba function with ``cache=True``: compiled on first use and kept on disk,
then loaded in well under a second by later runs (the model structure is data, so one compiled
kernel serves every framework). Sampling uses nutpie's NUTS through its Python-function
interface (Seyboldt et al., nutpie; Hoffman & Gelman 2014).
"""

from __future__ import annotations

import math

import numpy as np

from .structure import FIXED_ONE, ROOT, LatentStructure, Standardised

_LOG2PI = math.log(2.0 * math.pi)
_ALPHA_SD = 0.5
_LOG_BETA22 = math.log(6.0)  # 1 / B(2, 2)


def _kernel():
    """The compiled kernel (numba is imported on first use)."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        # error_model="numpy": at the edges (ρ or γ → 1) divisions give inf/nan, which the
        # sampler treats as a rejected (divergent) proposal, instead of raising
        _KERNEL = njit(cache=True, nogil=True, error_model="numpy")(_logp_grad_py)
    return _KERNEL


_KERNEL = None


def _logp_grad_py(x, Z, pat, pmask, ind_node, lam_idx, gam_idx, parent, n_lam, n_gam, grad):
    """Log posterior (unconstrained) of the marginal model and its gradient into ``grad``.

    ``x`` = [α (P), logit ρ (n_lam), logit γ (n_gam)]. Z: (C, P) data (0 where missing);
    ``pat``: (C,) missingness-pattern id of each unit; ``pmask``: (n_pat, P) observed cells of
    each pattern. Nodes are ordered parents before children.

    Everything that depends only on which cells are observed — the precisions τ, the factors
    q and their logs, the posterior variances — is computed once per pattern; per unit only the
    linear "information" h and the posterior means are propagated (no transcendental function
    per unit).
    """
    C, P = Z.shape
    N = parent.shape[0]
    n_pat = pmask.shape[0]
    alpha = x[:P]
    rho = 1.0 / (1.0 + np.exp(-x[P:P + n_lam]))
    g = 1.0 / (1.0 + np.exp(-x[P + n_lam:P + n_lam + n_gam]))
    lam = np.empty(P)
    s2 = np.empty(P)
    inv_s2 = np.empty(P)
    lam_s2 = np.empty(P)     # λ / σ²
    cell_c = np.empty(P)     # −½ log(2π σ²) per observed cell of indicator i
    for i in range(P):
        lam[i] = math.sqrt(rho[lam_idx[i]])
        s2[i] = 1.0 - rho[lam_idx[i]]
        inv_s2[i] = 1.0 / s2[i]
        lam_s2[i] = lam[i] * inv_s2[i]
        cell_c[i] = -0.5 * (_LOG2PI + math.log(s2[i]))
    inv_sg = np.empty(n_gam)  # 1 / (1 − γ²)
    for j in range(n_gam):
        inv_sg[j] = 1.0 / (1.0 - g[j] * g[j])
    # per pattern: subtree precision, upward factors, posterior variances
    tsub = np.zeros((n_pat, N))
    up_h = np.ones((n_pat, N))        # h passed up = up_h · h (1 for collapsed nodes)
    up_c = np.zeros((n_pat, N))       # coefficient of h² in the constant passed up
    v = np.empty((n_pat, N))
    a_dn = np.zeros((n_pat, N))       # m_k = a_dn · m_parent + h_k / prec_k
    inv_prec = np.empty((n_pat, N))
    logdet = np.zeros(n_pat)          # Σ over nodes of −½ log q (root included)
    lp_obs = np.zeros(n_pat)          # Σ over observed cells of −½ log(2π σ²)
    tau = np.empty(N)
    for t in range(n_pat):
        for k in range(N):
            tau[k] = 0.0
        for i in range(P):
            if pmask[t, i]:
                tau[ind_node[i]] += lam[i] * lam_s2[i]
                lp_obs[t] += cell_c[i]
        for k in range(N - 1, -1, -1):
            tsub[t, k] = tau[k]
            gi = gam_idx[k]
            if gi == ROOT:
                q = 1.0 + tau[k]
                logdet[t] += -0.5 * math.log(q)
                up_c[t, k] = 1.0 / (2.0 * q)
            elif gi == FIXED_ONE:
                tau[parent[k]] += tau[k]
            else:
                gk = g[gi]
                sk = 1.0 - gk * gk
                q = 1.0 + tau[k] * sk
                tau[parent[k]] += tau[k] * gk * gk / q
                up_h[t, k] = gk / q
                up_c[t, k] = sk / (2.0 * q)
                logdet[t] += -0.5 * math.log(q)
        for k in range(N):
            gi = gam_idx[k]
            if gi == ROOT:
                inv_prec[t, k] = 1.0 / (1.0 + tsub[t, k])
                v[t, k] = inv_prec[t, k]
            elif gi == FIXED_ONE:
                v[t, k] = v[t, parent[k]]
                a_dn[t, k] = 1.0
                inv_prec[t, k] = 0.0
            else:
                gk = g[gam_idx[k]]
                sk = 1.0 - gk * gk
                inv_prec[t, k] = 1.0 / (1.0 / sk + tsub[t, k])
                a_dn[t, k] = gk / sk * inv_prec[t, k]
                v[t, k] = inv_prec[t, k] + a_dn[t, k] * a_dn[t, k] * v[t, parent[k]]
    d_alpha = np.zeros(P)
    d_lam = np.zeros(P)      # ∂/∂λ_i
    d_s2 = np.zeros(P)       # ∂/∂σ_i²
    d_g = np.zeros(n_gam)
    h = np.empty(N)
    hsub = np.empty(N)
    m = np.empty(N)
    logp = 0.0
    for c in range(C):
        t = pat[c]
        logp += lp_obs[t] + logdet[t]
        for k in range(N):
            h[k] = 0.0
        for i in range(P):
            if pmask[t, i]:
                r = Z[c, i] - alpha[i]
                h[ind_node[i]] += lam_s2[i] * r
                logp -= 0.5 * r * r * inv_s2[i]
        for k in range(N - 1, -1, -1):            # upward: children before parents
            hsub[k] = h[k]
            logp += up_c[t, k] * h[k] * h[k]
            if gam_idx[k] != ROOT:
                h[parent[k]] += up_h[t, k] * h[k]
        for k in range(N):                        # downward: posterior means
            gi = gam_idx[k]
            if gi == ROOT:
                m[k] = hsub[k] * inv_prec[t, k]
            elif gi == FIXED_ONE:
                m[k] = m[parent[k]]
            else:
                p = parent[k]
                m[k] = a_dn[t, k] * m[p] + hsub[k] * inv_prec[t, k]
                # E ∂/∂g of −½ log(1 − g²) − (θ − g θp)² / (2 (1 − g²))
                gk = g[gi]
                isk = inv_sg[gi]
                e_pp = v[t, p] + m[p] * m[p]
                e_nn = v[t, k] + m[k] * m[k]
                e_np = a_dn[t, k] * v[t, p] + m[k] * m[p]
                e_res2 = e_nn - 2.0 * gk * e_np + gk * gk * e_pp
                d_g[gi] += isk * (gk + e_np - gk * e_pp - gk * e_res2 * isk)
        for i in range(P):                        # indicators: E ∂/∂α, ∂/∂λ, ∂/∂σ²
            if pmask[t, i]:
                k = ind_node[i]
                r = Z[c, i] - alpha[i]
                e2 = v[t, k] + m[k] * m[k]
                d_alpha[i] += r * inv_s2[i] - lam_s2[i] * m[k]
                d_lam[i] += (r * m[k] - lam[i] * e2) * inv_s2[i]
                res2 = r * r - 2.0 * lam[i] * r * m[k] + lam[i] * lam[i] * e2
                d_s2[i] += 0.5 * inv_s2[i] * (res2 * inv_s2[i] - 1.0)
    # priors and Jacobians (PyMC's unconstrained density, constants included)
    var_a = _ALPHA_SD * _ALPHA_SD
    for i in range(P):
        logp += -math.log(_ALPHA_SD) - 0.5 * _LOG2PI - 0.5 * alpha[i] * alpha[i] / var_a
        grad[i] = d_alpha[i] - alpha[i] / var_a
    for j in range(n_lam):
        d_rho = 0.0
        for i in range(P):
            if lam_idx[i] == j:
                d_rho += d_lam[i] / (2.0 * lam[i]) - d_s2[i]
        rj = rho[j]
        # Beta(2, 2) density and logit Jacobian: log 6 + 2 log ρ + 2 log(1 − ρ)
        logp += _LOG_BETA22 + 2.0 * math.log(rj) + 2.0 * math.log(1.0 - rj)
        grad[P + j] = d_rho * rj * (1.0 - rj) + 2.0 - 4.0 * rj
    for j in range(n_gam):
        gj = g[j]
        logp += _LOG_BETA22 + 2.0 * math.log(gj) + 2.0 * math.log(1.0 - gj)
        grad[P + n_lam + j] = d_g[j] * gj * (1.0 - gj) + 2.0 - 4.0 * gj
    ok = math.isfinite(logp)
    for j in range(grad.shape[0]):
        ok = ok and math.isfinite(grad[j])
    if not ok:                      # outside the support numerically: a rejected proposal
        for j in range(grad.shape[0]):
            grad[j] = 0.0
        return -np.inf
    return logp


class MarginalPosterior:
    """The target density of the Gaussian marginal model for one data set.

    Parameters
    ----------
    struct : LatentStructure; data : Standardised (units × indicators, NaN = missing).
    compiled : use the numba kernel (default); ``False`` runs the same code as plain Python
        (slow; for tests).
    """

    def __init__(self, struct: LatentStructure, data: Standardised, compiled: bool = True):
        if np.any(struct.parent[1:] >= np.arange(1, struct.n_nodes)):
            raise ValueError("nodes must be ordered parents before children")
        self.struct = struct
        self.Z = np.ascontiguousarray(data.filled, dtype=np.float64)
        patterns, pat = np.unique(np.asarray(data.mask, dtype=np.bool_), axis=0,
                                  return_inverse=True)
        self.args = (self.Z, np.ascontiguousarray(pat.ravel(), dtype=np.int64),
                     np.ascontiguousarray(patterns), np.asarray(struct.ind_node, np.int64),
                     np.asarray(struct.lambda_index, np.int64),
                     np.asarray(struct.gamma_index, np.int64),
                     np.asarray(struct.parent, np.int64), int(struct.n_lambda),
                     int(struct.n_gamma))
        self.P = len(struct.indicators)
        self.n_dim = self.P + struct.n_lambda + struct.n_gamma
        self._fn = _kernel() if compiled else _logp_grad_py

    def logp_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(log density, gradient) at the unconstrained point ``x`` (n_dim,)."""
        grad = np.empty(self.n_dim)
        return self._fn(x, *self.args, grad), grad

    def split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Constrained parameters of ``x`` (..., n_dim): alpha, reliability, gamma, and the
        per-indicator loading and sigma."""
        P, L = self.P, self.struct.n_lambda
        rho = 1.0 / (1.0 + np.exp(-x[..., P:P + L]))
        rel_i = rho[..., self.struct.lambda_index]
        return {"alpha": x[..., :P], "reliability": rho,
                "gamma": 1.0 / (1.0 + np.exp(-x[..., P + L:])),
                "loading": np.sqrt(rel_i), "sigma": np.sqrt(1.0 - rel_i)}

    def initial_point(self, seed: int) -> np.ndarray:
        """A jittered start near the prior centre (α = 0, ρ = γ = ½), as PyMC's jitter+adapt."""
        rng = np.random.default_rng(seed)
        return rng.uniform(-1.0, 1.0, self.n_dim)


def sample_marginal(post: MarginalPosterior, *, draws: int, tune: int, chains: int,
                    cores: int, seed: int, target_accept: float = 0.9
                    ) -> tuple[np.ndarray, np.ndarray]:
    """NUTS draws (nutpie) of the unconstrained parameters.

    Returns (x: array (chains, draws, n_dim), diverging: bool array (chains, draws)).
    """
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    def make_logp():
        return lambda x, **_: post.logp_grad(x)

    def make_expand(seed1, seed2, chain):
        return lambda x, **_: {"x": np.asarray(x, dtype=np.float64).copy()}

    model = from_pyfunc(post.n_dim, make_logp, make_expand, [np.dtype("float64")],
                        [(post.n_dim,)], ["x"], make_initial_point_fn=post.initial_point)
    # nutpie needs at least one tuning step (its adaptation windows assume one)
    trace = nutpie.sample(model, draws=draws, tune=max(int(tune), 1), chains=chains, cores=cores,
                          seed=seed, target_accept=target_accept, progress_bar=False)
    x = np.asarray(trace["posterior"]["x"].values, dtype=float)
    return x, np.asarray(trace["sample_stats"]["diverging"].values, dtype=bool)
